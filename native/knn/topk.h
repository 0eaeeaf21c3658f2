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

#include "knn/kernel_set.h"

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

// Candidate lists of the float pass: per row, the best `cap` keys offered so far, sorted ascending
// (unused slots hold kEmptyKey, above every real key), and the row's threshold, the cap-th best distance
// (+inf while the list is not full). An offer is inserted by shifting the worse keys up one slot, several
// at a time by the ISA level's `insert` (kernel_set.h). A row among N candidates receives about
// cap * (1 + ln(N / cap)) insertions.
class CandidateLists {
 public:
  static constexpr CandidateKey kEmptyKey = ~CandidateKey{0};

  // `pad` extra thresholds (+inf) let a kernel read whole tiles of thresholds past the last row.
  CandidateLists(int64_t rows, int64_t cap, int64_t pad, InsertKey insert)
      : insert_(insert),
        cap_(cap),
        stride_((cap + 7) / 8 * 8),
        keys_(rows * stride_, kEmptyKey),
        thr_(rows + pad, std::numeric_limits<float>::infinity()) {}

  // Empties rows [r0, r0 + count).
  void reset(int64_t r0, int64_t count) {
    std::fill(keys_.begin() + r0 * stride_, keys_.begin() + (r0 + count) * stride_, kEmptyKey);
    std::fill(thr_.begin() + r0, thr_.begin() + r0 + count, std::numeric_limits<float>::infinity());
  }

  float* thresholds() { return thr_.data(); }

  // Offers (dist, index) to the row; kept when it beats the row's cap-th best in pair order.
  void offer(int64_t row, float dist, int32_t index) {
    CandidateKey* e = keys_.data() + row * stride_;
    const CandidateKey key = candidate_key(dist, index);
    if (!(key < e[cap_ - 1])) return;
    insert_(e, cap_, key);
    if (e[cap_ - 1] != kEmptyKey) thr_[row] = key_dist(e[cap_ - 1]);
  }

  // The row's candidates, best first: row(r)[0, size(r)).
  const CandidateKey* row(int64_t r) const { return keys_.data() + r * stride_; }
  int64_t size(int64_t r) const {
    const CandidateKey* e = row(r);
    return std::lower_bound(e, e + cap_, kEmptyKey) - e;
  }

 private:
  InsertKey insert_;
  int64_t cap_, stride_;
  std::vector<CandidateKey> keys_;
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
