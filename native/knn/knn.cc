// Exact k-NN search: a float32 candidate pass, an exact re-ranking, a certificate (see knn.h).
//
// Legend: nq queries, nb base rows, d features, k neighbours, m extra candidates, cap = k + m candidates
// kept per query; MR x NR = the micro-kernel's register tile (distance_tile.h).
//
// 1. Frame. Distances do not change under translation and scale by powers of two, but the float pass
//    |q|^2 + |b|^2 - 2 q.b loses accuracy when the norms dwarf the distances (embeddings far from the
//    origin). Every coordinate is therefore shifted by a rounded base mean and scaled into (-1, 1); the
//    shift has few significant bits, so integer-valued data stays exactly integer-valued.
// 2. Candidate pass. Query tiles x base tiles are packed into feature-major panels and swept by the
//    micro-kernel; only tiles with a distance below some row's current cap-th best reach the scalar
//    top-list update. Self-search pairs the row blocks as in a round-robin tournament: every round is a
//    set of disjoint block pairs, so each pair is computed once and updates both blocks' lists without
//    locks (half the arithmetic of a plain sweep).
// 3. Exact re-ranking. The cap candidates of a query get their double-precision distance
//    (knn_exact_dist2) and the best k by (distance, index) are the answer.
// 4. Certificate. The float pass errs by at most E = c (|a|^2 + |b|^2 + D) with c = 1.25 (2d + 8) 2^-24
//    (dot products and norms: 2 gamma_d; three roundings; the frame's rounding). With |b|^2 <= 2|a|^2 + 2D,
//    any row outside the candidates (float distance >= A, the cap-th best) has true distance
//    >= (A - 3c |a|^2) / (1 + 3c). When that exceeds the k-th exact distance, no such row can enter the
//    answer; otherwise the query is recomputed by brute force (rare: needs more than m rows tied, or
//    within rounding error, at the k-th place).
#include "knn/knn.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <numeric>
#include <thread>
#include <utility>
#include <vector>

#include "knn/distance_tile.h"
#include "knn/topk.h"

namespace eos {

using knn_detail::CandidateKey;
using knn_detail::CandidateLists;
using knn_detail::distance_tile;
using knn_detail::ExactTopK;
using knn_detail::kMR;
using knn_detail::key_dist;
using knn_detail::key_index;
using knn_detail::kNR;

namespace {

// (double(a) - double(b))^2, rounded on its own: the barrier keeps the compiler from fusing the product
// into the caller's addition (an FMA), whatever the flags, so every language's float64 loop agrees.
inline double rounded_square(float a, float b) {
  double square = (static_cast<double>(a) - static_cast<double>(b)) * (static_cast<double>(a) - static_cast<double>(b));
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  asm("" : "+x"(square));
#elif defined(__GNUC__) && defined(__aarch64__)
  asm("" : "+w"(square));
#endif
  return square;
}

// knn_exact_dist2 of q against four rows at once: four independent sums hide the addition latency, each
// evaluated exactly as knn_exact_dist2 evaluates it (same operations, same order).
void exact_dist2_x4(const float* q, const float* const b[4], int64_t d, double* out) {
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  for (int64_t t = 0; t < d; ++t) {
    s0 += rounded_square(q[t], b[0][t]);
    s1 += rounded_square(q[t], b[1][t]);
    s2 += rounded_square(q[t], b[2][t]);
    s3 += rounded_square(q[t], b[3][t]);
  }
  out[0] = s0;
  out[1] = s1;
  out[2] = s2;
  out[3] = s3;
}

}  // namespace

double knn_exact_dist2(const float* a, const float* b, int64_t d) {
  double sum = 0.0;
  for (int64_t t = 0; t < d; ++t) sum += rounded_square(a[t], b[t]);
  return sum;
}

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr int64_t kExtraCandidates = 8;
constexpr int64_t kPairListBudget = 48LL << 20;  // bytes of top lists the self-search may keep for all rows

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int lowest_bit(uint32_t m) { return __builtin_ctz(m); }  // m != 0
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// The coordinates the float pass works in: (x - shift) * scale, scale a power of two.
struct Frame {
  std::vector<float> shift;
  float scale = 1.0f;

  float map(float x, int64_t t) const { return (x - shift[t]) * scale; }
};

// Shift = base mean per feature, rounded to a multiple of 2^floor(log2(std)); scale = 2^-e with
// max |x - shift| in [2^(e-1), 2^e). Sums use fixed row chunks combined in order: thread-count independent.
Frame make_frame(const float* q, int64_t nq, const float* b, int64_t nb, int64_t d, int threads) {
  Frame f;
  f.shift.assign(d, 0.0f);
  const int64_t chunks = std::min<int64_t>(64, nb);
  std::vector<double> sum(chunks * d, 0.0), sum2(chunks * d, 0.0);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t c = 0; c < chunks; ++c) {
    double* s = sum.data() + c * d;
    double* s2 = sum2.data() + c * d;
    for (int64_t i = nb * c / chunks; i < nb * (c + 1) / chunks; ++i) {
      for (int64_t t = 0; t < d; ++t) {
        const double v = b[i * d + t];
        s[t] += v;
        s2[t] += v * v;
      }
    }
  }
  for (int64_t t = 0; t < d; ++t) {
    double s = 0.0, s2 = 0.0;
    for (int64_t c = 0; c < chunks; ++c) {
      s += sum[c * d + t];
      s2 += sum2[c * d + t];
    }
    const double mean = s / nb;
    const double var = std::max(0.0, s2 / nb - mean * mean);
    if (!(var > 0.0)) {
      f.shift[t] = static_cast<float>(mean);
    } else {
      const double quantum = std::ldexp(1.0, std::ilogb(std::sqrt(var)));
      f.shift[t] = static_cast<float>(std::nearbyint(mean / quantum) * quantum);
    }
  }
  auto max_abs = [&](const float* x, int64_t n) {
    float m = 0.0f;
#pragma omp parallel for schedule(static) reduction(max : m) num_threads(threads)
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t t = 0; t < d; ++t) m = std::max(m, std::fabs(x[i * d + t] - f.shift[t]));
    }
    return m;
  };
  float m = max_abs(b, nb);
  if (q != b) m = std::max(m, max_abs(q, nq));
  if (!std::isfinite(m)) {  // x - shift overflowed (values near FLT_MAX): no shift
    std::fill(f.shift.begin(), f.shift.end(), 0.0f);
    m = std::max(max_abs(b, nb), q != b ? max_abs(q, nq) : 0.0f);
  }
  if (m > 0.0f) {
    int e = 0;
    std::frexp(m, &e);
    f.scale = std::ldexp(1.0f, -e);
  }
  return f;
}

// Squared norms of the mapped rows (NaN-padded to a multiple of 96 = lcm of the tile shapes).
std::vector<float> mapped_norms(const float* x, int64_t n, int64_t d, const Frame& f, int threads) {
  std::vector<float> norms(round_up(n, 96) + 96, kNaN);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t i = 0; i < n; ++i) {
    float s = 0.0f;
    for (int64_t t = 0; t < d; ++t) {
      const float v = f.map(x[i * d + t], t);
      s += v * v;
    }
    norms[i] = s;
  }
  return norms;
}

// Packs rows [r0, r0 + count) of x into ceil(count / P) feature-major panels out[p][t][P]; the rows past
// `count` in the last panel are zeros. `norms` are copied alongside into pnorm, NaN-padded.
template <int P>
void pack_panels(const float* x, int64_t d, int64_t r0, int64_t count, const Frame& f, const float* norms,
                 float* out, float* pnorm) {
  const int64_t panels = ceil_div(count, P);
  for (int64_t p = 0; p < panels; ++p) {
    float* o = out + p * d * P;
    for (int j = 0; j < P; ++j) {
      const int64_t r = p * P + j;
      if (r < count) {
        const float* row = x + (r0 + r) * d;
        for (int64_t t = 0; t < d; ++t) o[t * P + j] = f.map(row[t], t);
        pnorm[r] = norms[r0 + r];
      } else {
        for (int64_t t = 0; t < d; ++t) o[t * P + j] = 0.0f;
        pnorm[r] = kNaN;
      }
    }
  }
}

struct Problem {
  const float* q;
  int64_t nq;
  const float* b;
  int64_t nb;
  int64_t d, k;
  bool exclude_self;
  int64_t cap;  // candidates kept per query
  Frame frame;
  std::vector<float> qnorm, bnorm;  // bnorm is empty in self-search (qnorm serves both)
  const float* base_norms() const { return bnorm.empty() ? qnorm.data() : bnorm.data(); }
};

// Current thresholds of rows [r0, r0 + count) for a tile of P rows: the live array when the tile is whole,
// else a copy padded with +inf (stale copies only let more tiles through to the exact check).
template <int P>
const float* thresholds(const float* thr, int64_t r0, int64_t count, float* scratch) {
  if (count >= P) return thr + r0;
  for (int j = 0; j < P; ++j) scratch[j] = j < count ? thr[r0 + j] : kInf;
  return scratch;
}


// Hands out the block pairs of the self-search so that no two running pairs share a block (each block's
// candidate lists have one writer at a time) without barriers between rounds, which would stall every
// thread whenever one is descheduled on a shared machine. Pairs are numbered in round-robin tournament
// order (the diagonal pairs, then rounds of disjoint pairs by the circle method), and a thread takes the
// first pending pair whose blocks are both idle. Which thread computes a pair does not change the answer.
class BlockPairQueue {
 public:
  explicit BlockPairQueue(int64_t blocks)
      : blocks_(blocks), slots_(blocks + (blocks & 1)), busy_(blocks, 0) {
    taken_.assign(blocks + (slots_ - 1) * (slots_ / 2), 0);
  }

  // The next pair to compute as (I, J) with I <= J; false when every pair has been handed out.
  bool acquire(int64_t* I, int64_t* J) {
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        const int64_t total = static_cast<int64_t>(taken_.size());
        while (first_ < total && taken_[first_]) ++first_;
        if (first_ == total) return false;
        for (int64_t t = first_; t < total; ++t) {
          if (taken_[t]) continue;
          int64_t a, b;
          if (!pair_at(t, &a, &b)) {  // a bye: nothing to compute
            taken_[t] = 1;
            continue;
          }
          if (busy_[a] || busy_[b]) continue;
          taken_[t] = busy_[a] = busy_[b] = 1;
          *I = a;
          *J = b;
          return true;
        }
      }
      std::this_thread::yield();  // every pending pair touches a running one
    }
  }

  void release(int64_t I, int64_t J) {
    std::lock_guard<std::mutex> lock(mu_);
    busy_[I] = busy_[J] = 0;
  }

 private:
  // Pair number t: false for a bye (the odd block out of a round when the block count is odd).
  bool pair_at(int64_t t, int64_t* I, int64_t* J) const {
    if (t < blocks_) {
      *I = *J = t;
      return true;
    }
    const int64_t round = (t - blocks_) / (slots_ / 2), m = (t - blocks_) % (slots_ / 2);
    int64_t a = m == 0 ? round : (round + m) % (slots_ - 1);
    int64_t b = m == 0 ? slots_ - 1 : (round - m + slots_ - 1) % (slots_ - 1);
    if (a > b) std::swap(a, b);
    *I = a;
    *J = b;
    return b < blocks_;
  }

  int64_t blocks_, slots_;
  std::mutex mu_;
  std::vector<uint8_t> taken_, busy_;
  int64_t first_ = 0;
};

// Per-thread buffers of the candidate pass, allocated before any parallel region (an allocation failure
// must surface as an exception on the calling thread, never inside OpenMP).
struct Workspace {
  std::vector<float> pa, na;    // packed query rows (MR panels) and their norms
  std::vector<float> pbk, nbn;  // packed base rows (NR panels) and their norms
  std::vector<float> tile;      // one MR x NR distance tile
  uint32_t hits[kMR];
  float tr_scratch[kMR], tc_scratch[kNR];
  Workspace(int64_t rows, int64_t cols, int64_t d)
      : pa(round_up(rows, kMR) * d), na(round_up(rows, kMR)), pbk(round_up(cols, kNR) * d),
        nbn(round_up(cols, kNR)), tile(kMR * kNR) {}
};

// Self-search, one block pair: rows [i0, i0 + ni) against rows [j0, j0 + nj). Off the diagonal (i0 < j0)
// each distance is offered to both rows' lists; on it (i0 == j0) the full square is computed, rows only.
void block_pair(const Problem& pb, int64_t i0, int64_t ni, int64_t j0, int64_t nj, Workspace& w,
                CandidateLists& lists) {
  const int64_t d = pb.d;
  const bool diagonal = i0 == j0;
  float* thr = lists.thresholds();
  pack_panels<kMR>(pb.q, d, i0, ni, pb.frame, pb.qnorm.data(), w.pa.data(), w.na.data());
  pack_panels<kNR>(pb.q, d, j0, nj, pb.frame, pb.qnorm.data(), w.pbk.data(), w.nbn.data());
  for (int64_t cp = 0; cp < ceil_div(nj, kNR); ++cp) {
    const int64_t c0 = j0 + cp * kNR, cn = std::min<int64_t>(kNR, j0 + nj - c0);
    const float* b = w.pbk.data() + cp * kNR * d;
    const float* nb = w.nbn.data() + cp * kNR;
    for (int64_t rp = 0; rp < ceil_div(ni, kMR); ++rp) {
      const int64_t r0 = i0 + rp * kMR, rn = std::min<int64_t>(kMR, i0 + ni - r0);
      const float* a = w.pa.data() + rp * kMR * d;
      const float* na = w.na.data() + rp * kMR;
      const float* tr = thresholds<kMR>(thr, r0, rn, w.tr_scratch);
      const bool hit =
          diagonal ? distance_tile<false>(a, b, d, na, nb, tr, nullptr, w.tile.data(), w.hits)
                   : distance_tile<true>(a, b, d, na, nb, tr, thresholds<kNR>(thr, c0, cn, w.tc_scratch),
                                         w.tile.data(), w.hits);
      if (!hit) continue;
      for (int64_t r = 0; r < rn; ++r) {
        const int64_t i = r0 + r;
        for (uint32_t m = w.hits[r]; m != 0; m &= m - 1) {  // flagged pairs only (padding never is)
          const int64_t c = lowest_bit(m);
          const int64_t j = c0 + c;
          const float dist = w.tile[r * kNR + c];
          if (diagonal && pb.exclude_self && i == j) continue;
          if (dist <= thr[i]) lists.offer(i, dist, static_cast<int32_t>(j));
          if (!diagonal && dist <= thr[j]) lists.offer(j, dist, static_cast<int32_t>(i));
        }
      }
    }
  }
}

// Query tile [i0, i0 + ni) against the whole base, tile_cols base rows at a time. `lists` rows are local
// (row r is query i0 + r).
void query_tile(const Problem& pb, int64_t i0, int64_t ni, int64_t tile_cols, Workspace& w,
                CandidateLists& lists) {
  const int64_t d = pb.d;
  float* thr = lists.thresholds();
  lists.reset(0, round_up(ni, kMR));
  pack_panels<kMR>(pb.q, d, i0, ni, pb.frame, pb.qnorm.data(), w.pa.data(), w.na.data());
  for (int64_t j0 = 0; j0 < pb.nb; j0 += tile_cols) {
    const int64_t nj = std::min(tile_cols, pb.nb - j0);
    pack_panels<kNR>(pb.b, d, j0, nj, pb.frame, pb.base_norms(), w.pbk.data(), w.nbn.data());
    for (int64_t cp = 0; cp < ceil_div(nj, kNR); ++cp) {
      const int64_t c0 = j0 + cp * kNR;
      const float* b = w.pbk.data() + cp * kNR * d;
      const float* nb = w.nbn.data() + cp * kNR;
      for (int64_t rp = 0; rp < ceil_div(ni, kMR); ++rp) {
        const int64_t rn = std::min<int64_t>(kMR, ni - rp * kMR);
        if (!distance_tile<false>(w.pa.data() + rp * kMR * d, b, d, w.na.data() + rp * kMR, nb, thr + rp * kMR,
                                  nullptr, w.tile.data(), w.hits)) {
          continue;
        }
        for (int64_t r = 0; r < rn; ++r) {
          const int64_t li = rp * kMR + r;
          for (uint32_t m = w.hits[r]; m != 0; m &= m - 1) {
            const int64_t c = lowest_bit(m);
            const int64_t j = c0 + c;
            const float dist = w.tile[r * kNR + c];
            if (pb.exclude_self && i0 + li == j) continue;
            if (dist <= thr[li]) lists.offer(li, dist, static_cast<int32_t>(j));
          }
        }
      }
    }
  }
}

// Brute force for one query: exact distances to every base row but `self_row`, best k by (distance, index).
void brute_force_query(const float* q, const float* b, int64_t nb, int64_t d, int64_t self_row, ExactTopK& top,
                       int32_t* out_idx, float* out_dist) {
  top.clear();
  int64_t j = 0;
  for (; j + 4 <= nb; j += 4) {
    const float* rows[4] = {b + j * d, b + (j + 1) * d, b + (j + 2) * d, b + (j + 3) * d};
    double dist[4];
    exact_dist2_x4(q, rows, d, dist);
    for (int64_t u = 0; u < 4; ++u) {
      if (j + u != self_row) top.push(dist[u], static_cast<int32_t>(j + u));
    }
  }
  for (; j < nb; ++j) {
    if (j != self_row) top.push(knn_exact_dist2(q, b + j * d, d), static_cast<int32_t>(j));
  }
  top.write_sorted(out_idx, out_dist);
}

// Per-thread buffers of the finishing step.
struct FinishScratch {
  std::vector<double> exact;
  std::vector<int64_t> order;
  ExactTopK top;
  FinishScratch(int64_t cap, int64_t k) : exact(cap), order(cap), top(k) {}
};

// Re-ranks query i's candidates (row `row` of `lists`) exactly and writes its answer. If the certificate
// fails, recomputes the query by brute force instead; returns whether it had to.
bool finish_query(const Problem& pb, int64_t i, CandidateLists& lists, int64_t row, FinishScratch& s,
                  int32_t* out_idx, float* out_dist) {
  const int64_t d = pb.d, k = pb.k;
  const int64_t kept = lists.size(row);
  const CandidateKey* cand = lists.row(row);
  const int64_t available = pb.nb - (pb.exclude_self ? 1 : 0);
  bool certified = kept == pb.cap;  // fewer only when NaN distances were refused: recompute
  if (certified) {
    const float* q = pb.q + i * d;
    auto row = [&](int64_t c) { return pb.b + static_cast<int64_t>(key_index(cand[c])) * d; };
    int64_t c = 0;
    for (; c + 4 <= kept; c += 4) {
      const float* rows[4] = {row(c), row(c + 1), row(c + 2), row(c + 3)};
      exact_dist2_x4(q, rows, d, s.exact.data() + c);
    }
    for (; c < kept; ++c) s.exact[c] = knn_exact_dist2(q, row(c), d);
    for (c = 0; c < kept; ++c) s.order[c] = c;
    std::sort(s.order.begin(), s.order.begin() + kept, [&](int64_t x, int64_t y) {
      return knn_detail::pair_less(s.exact[x], key_index(cand[x]), s.exact[y], key_index(cand[y]));
    });
    for (int64_t t = 0; t < k; ++t) {
      out_idx[t] = key_index(cand[s.order[t]]);
      out_dist[t] = static_cast<float>(s.exact[s.order[t]]);
    }
    if (kept < available) {  // some rows were left out: are they provably beyond the k-th?
      constexpr double u = 0x1p-24;
      const double c = 1.25 * (2.0 * d + 8.0) * u;
      const double norm_q = static_cast<double>(pb.qnorm[i]) * (1.0 + 2.0 * d * u) + 1e-30 * d;
      const double worst = key_dist(cand[kept - 1]);  // the cap-th best float distance
      const double outside = (worst - 3.0 * c * norm_q) / (1.0 + 3.0 * c);
      const double scale2 = static_cast<double>(pb.frame.scale) * pb.frame.scale;
      const double kth = s.exact[s.order[k - 1]] * scale2 * (1.0 + (d + 2.0) * 0x1p-50);
      certified = outside > kth;
    }
  }
  if (!certified) brute_force_query(pb.q + i * d, pb.b, pb.nb, d, pb.exclude_self ? i : -1, s.top, out_idx, out_dist);
  return !certified;
}

int64_t auto_block(int64_t n, int64_t d, int threads) {
  // Two packed blocks should sit in L2 (about 256 KiB of floats), with enough block pairs per round to
  // keep every thread busy.
  const int64_t block = std::clamp<int64_t>(round_up(32768 / d, 96), 96, 1536);
  const int64_t balanced = round_up(std::max<int64_t>(1, n / (8 * threads)), 96);
  return std::max<int64_t>(96, std::min(block, balanced));
}

constexpr int64_t kMaxBlocks = 4096;  // bounds the pair queue (8M pairs) whatever tile size is asked for

}  // namespace

void knn_search(const float* queries, int64_t nq, const float* base, int64_t nb, int64_t d, int64_t k,
                bool exclude_self, int32_t* out_idx, float* out_dist2, const KnnTiling& tiling, KnnStats* stats) {
  const bool self = base == nullptr || (base == queries && nb == nq);
  if (base == nullptr) {
    base = queries;
    nb = nq;
  }
  const int threads = tiling.threads > 0 ? tiling.threads : omp_get_max_threads();

  Problem pb;
  pb.q = queries;
  pb.nq = nq;
  pb.b = base;
  pb.nb = nb;
  pb.d = d;
  pb.k = k;
  pb.exclude_self = exclude_self;
  pb.cap = std::min(k + kExtraCandidates, nb - (exclude_self ? 1 : 0));
  pb.frame = make_frame(queries, nq, base, nb, d, threads);
  pb.qnorm = mapped_norms(queries, nq, d, pb.frame, threads);
  if (!self) pb.bnorm = mapped_norms(base, nb, d, pb.frame, threads);

  const int64_t list_bytes = nq * pb.cap * static_cast<int64_t>(sizeof(CandidateKey));
  const bool symmetric = self && tiling.symmetric && list_bytes <= kPairListBudget;
  std::vector<FinishScratch> finish(threads, FinishScratch(pb.cap, k));
  int64_t brute = 0;
  if (symmetric) {
    const int64_t asked = tiling.tile_rows > 0 ? tiling.tile_rows : auto_block(nq, d, threads);
    const int64_t block = std::max(asked, ceil_div(nq, kMaxBlocks));
    CandidateLists lists(nq, pb.cap, 96);
    BlockPairQueue queue(ceil_div(nq, block));
    std::vector<Workspace> ws(threads, Workspace(block, block, d));
#pragma omp parallel num_threads(threads)
    {
      Workspace& w = ws[omp_get_thread_num()];
      int64_t I = 0, J = 0;
      while (queue.acquire(&I, &J)) {
        block_pair(pb, I * block, std::min(block, nq - I * block), J * block, std::min(block, nq - J * block), w,
                   lists);
        queue.release(I, J);
      }
    }
#pragma omp parallel for schedule(dynamic, 64) num_threads(threads) reduction(+ : brute)
    for (int64_t i = 0; i < nq; ++i) {
      brute += finish_query(pb, i, lists, i, finish[omp_get_thread_num()], out_idx + i * k, out_dist2 + i * k);
    }
  } else {
    const int64_t tile_rows =
        tiling.tile_rows > 0 ? tiling.tile_rows : std::clamp<int64_t>(round_up(16384 / d, kMR), kMR, 480);
    const int64_t tile_cols =
        tiling.tile_cols > 0 ? tiling.tile_cols : std::clamp<int64_t>(round_up(65536 / d, kNR), kNR, 2048);
    std::vector<Workspace> ws(threads, Workspace(tile_rows, tile_cols, d));
    std::vector<CandidateLists> lists(threads, CandidateLists(round_up(tile_rows, kMR), pb.cap, 0));
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) reduction(+ : brute)
    for (int64_t i0 = 0; i0 < nq; i0 += tile_rows) {
      const int t = omp_get_thread_num();
      const int64_t ni = std::min(tile_rows, nq - i0);
      query_tile(pb, i0, ni, tile_cols, ws[t], lists[t]);
      for (int64_t r = 0; r < ni; ++r) {
        brute += finish_query(pb, i0 + r, lists[t], r, finish[t], out_idx + (i0 + r) * k, out_dist2 + (i0 + r) * k);
      }
    }
  }
  if (stats != nullptr) {
    stats->candidates = pb.cap;
    stats->brute_force_rows = brute;
    stats->symmetric = symmetric;
    stats->kernel = knn_detail::kKernelName;
  }
}

void knn_search_reference(const float* queries, int64_t nq, const float* base, int64_t nb, int64_t d, int64_t k,
                          bool exclude_self, int32_t* out_idx, float* out_dist2, int threads) {
  if (base == nullptr) {
    base = queries;
    nb = nq;
  }
  if (threads <= 0) threads = omp_get_max_threads();
  std::vector<ExactTopK> tops(threads, ExactTopK(k));
#pragma omp parallel for schedule(dynamic, 16) num_threads(threads)
  for (int64_t i = 0; i < nq; ++i) {
    brute_force_query(queries + i * d, base, nb, d, exclude_self ? i : -1, tops[omp_get_thread_num()],
                      out_idx + i * k, out_dist2 + i * k);
  }
}

}  // namespace eos
