// Top lists for k-NN: the `cap` smallest (distance, index) pairs offered to each row.
//
// Order: (d1, i1) < (d2, i2) iff d1 < d2, or d1 == d2 and i1 < i2. It is total on distinct indices, so the
// kept set does not depend on the order in which pairs arrive (what makes the threaded search
// deterministic, whichever thread offers what when).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

namespace eos::knn_detail {

template <typename T>
inline bool pair_less(T da, int32_t ia, T db, int32_t ib) {
  return da < db || (da == db && ia < ib);
}

// A candidate of the float pass as one integer whose unsigned order is the pair order: the distance's
// bits made order-preserving (negatives flipped; -0 folded into +0) above the index. Comparing keys is a
// single integer comparison, which keeps the selection below branch-light.
using CandidateKey = uint64_t;

inline CandidateKey candidate_key(float dist, int32_t index) {
  uint32_t bits;
  const float folded = dist + 0.0f;  // -0 + 0 = +0
  std::memcpy(&bits, &folded, sizeof bits);
  bits = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
  return (static_cast<uint64_t>(bits) << 32) | static_cast<uint32_t>(index);
}
inline float key_dist(CandidateKey key) {
  uint32_t bits = static_cast<uint32_t>(key >> 32);
  bits = (bits & 0x80000000u) ? (bits & 0x7fffffffu) : ~bits;
  float dist;
  std::memcpy(&dist, &bits, sizeof dist);
  return dist;
}
inline int32_t key_index(CandidateKey key) { return static_cast<int32_t>(static_cast<uint32_t>(key)); }

// Candidate lists of the float pass, one per row, as buffers of 2 * cap keys: an offer is appended; a
// full buffer is cut back to its best cap (nth_element) and the row's threshold becomes the cap-th best
// distance. Offers above the threshold are refused; it only ever decreases, and every refused or cut pair
// is beaten by at least cap others, so what remains at the end is the exact top-cap set. Appending is much
// cheaper than a heap insertion for the thousands of offers a row gets early on.
class CandidateLists {
 public:
  // `pad` extra thresholds (+inf) let a kernel read whole tiles of thresholds past the last row.
  CandidateLists(int64_t rows, int64_t cap, int64_t pad)
      : cap_(cap), keys_(rows * 2 * cap), count_(rows, 0),
        thr_(rows + pad, std::numeric_limits<float>::infinity()) {}

  // Empties rows [r0, r0 + count).
  void reset(int64_t r0, int64_t count) {
    std::fill(count_.begin() + r0, count_.begin() + r0 + count, 0);
    std::fill(thr_.begin() + r0, thr_.begin() + r0 + count, std::numeric_limits<float>::infinity());
  }

  float* thresholds() { return thr_.data(); }

  // The caller has checked dist <= the row's threshold (a cheaper test in the hot loop); never NaN.
  void offer(int64_t row, float dist, int32_t index) {
    CandidateKey* e = keys_.data() + row * 2 * cap_;
    int32_t& n = count_[row];
    e[n++] = candidate_key(dist, index);
    if (n == 2 * cap_) {
      std::nth_element(e, e + cap_ - 1, e + 2 * cap_);
      n = static_cast<int32_t>(cap_);
      thr_[row] = key_dist(e[cap_ - 1]);
    }
  }

  // Cuts the row to its best min(cap, offered) candidates, sorted by pair order, and returns how many
  // there are: row(r)[0, returned).
  int64_t finish(int64_t row) {
    CandidateKey* e = keys_.data() + row * 2 * cap_;
    const int64_t n = count_[row];
    const int64_t kept = std::min<int64_t>(n, cap_);
    std::partial_sort(e, e + kept, e + n);
    count_[row] = static_cast<int32_t>(kept);
    return kept;
  }

  const CandidateKey* row(int64_t r) const { return keys_.data() + r * 2 * cap_; }

 private:
  int64_t cap_;
  std::vector<CandidateKey> keys_;
  std::vector<int32_t> count_;
  std::vector<float> thr_;
};

// A bounded max-heap of the k smallest (double distance, index) pairs, for the brute-force path.
// A fresh heap is full of sentinels (+inf, INT32_MAX) that every real pair beats.
class ExactTopK {
 public:
  explicit ExactTopK(int64_t k) : dist_(k), idx_(k) { clear(); }

  void clear() {
    std::fill(dist_.begin(), dist_.end(), std::numeric_limits<double>::infinity());
    std::fill(idx_.begin(), idx_.end(), std::numeric_limits<int32_t>::max());
  }

  void push(double d, int32_t j) {
    const int64_t k = static_cast<int64_t>(dist_.size());
    if (!pair_less(d, j, dist_[0], idx_[0])) return;
    int64_t hole = 0;  // sift the hole down from the root, moving larger children up
    for (;;) {
      int64_t child = 2 * hole + 1;
      if (child >= k) break;
      if (child + 1 < k && pair_less(dist_[child], idx_[child], dist_[child + 1], idx_[child + 1])) ++child;
      if (!pair_less(d, j, dist_[child], idx_[child])) break;
      dist_[hole] = dist_[child];
      idx_[hole] = idx_[child];
      hole = child;
    }
    dist_[hole] = d;
    idx_[hole] = j;
  }

  // Writes the kept pairs nearest first; distances rounded to float.
  void write_sorted(int32_t* out_idx, float* out_dist) {
    const int64_t k = static_cast<int64_t>(dist_.size());
    order_.resize(k);
    for (int64_t s = 0; s < k; ++s) order_[s] = s;
    std::sort(order_.begin(), order_.end(),
              [&](int64_t x, int64_t y) { return pair_less(dist_[x], idx_[x], dist_[y], idx_[y]); });
    for (int64_t s = 0; s < k; ++s) {
      out_idx[s] = idx_[order_[s]];
      out_dist[s] = static_cast<float>(dist_[order_[s]]);
    }
  }

 private:
  std::vector<double> dist_;
  std::vector<int32_t> idx_;
  std::vector<int64_t> order_;
};

}  // namespace eos::knn_detail
