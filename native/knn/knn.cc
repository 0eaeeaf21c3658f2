// Exact k-NN search: a low-precision candidate pass, an exact re-ranking, a certificate (see knn.h).
//
// Legend: nq queries, nb base rows, d features, k neighbours; cap = k + m candidates kept per query;
// MR x NR = the micro-kernel's register tile (kernel_set.h); x' = a row in the frame (frame.h),
// x^ = x' rounded to bfloat16; u = 2^-24.
//
// 1. Candidate pass. Query tiles x base tiles are packed into feature-major panels and swept by the
//    micro-kernel, which computes |a|^2 + |b|^2 - 2 a.b; only tiles holding a distance below some row's
//    current cap-th best reach the scalar list update (topk.h). Self-search computes each pair of row
//    blocks once and offers every distance to both rows (pair_queue.h): half the arithmetic of a sweep.
//    Where the CPU has AVX512-BF16 the pass runs on x^ (VDPBF16PS: twice the arithmetic per instruction);
//    otherwise, and for the queries the bf16 pass cannot settle, on x' in float32.
// 2. Exact re-ranking. The candidates of a query get their double-precision distances (knn_exact_dist2)
//    and the best k by (distance, index) are the answer.
// 3. Certificate: can a row outside the candidates beat the k-th? Such a row b has pass distance >= A (the
//    cap-th best), and the pass's rounding is bounded:
//    - float32: |D_pass - D| <= c (|a|^2 + |b|^2 + D), c = 1.25 (2d + 8) u (dot products and norms:
//      2 gamma_d; three more roundings; the frame's rounding). With |b|^2 <= 2|a|^2 + 2D the row's true
//      distance is >= (A - 3c |a|^2) / (1 + 3c).
//    - bf16: the same bound holds between the rounded points x^, whose distance is thus >= D^ =
//      (A - 3c |a^|^2) / (1 + 3c); and by the triangle inequality |x^_a - x^_b| <= |x'_a - x'_b| + r_a + r_b
//      with r = |x' - x^| (exact per row) and r_b <= rho |x'_b| <= rho (|x'_a| + |x'_a - x'_b|), rho the
//      largest r / |x'| over the base. So |x'_a - x'_b| >= (sqrt(D^) - r_a - rho |x'_a|) / (1 + rho).
//      The frame's own rounding (u |x'| per row) is added to r_a and rho.
//    If the bound exceeds the k-th exact distance, no outside row can enter the answer. A query that fails
//    (rows tied or within rounding error at the k-th place: rare unless many rows tie) is redone by the
//    float32 pass (after bf16), then by brute force.
#include "knn/knn.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/cpu_level.h"
#include "knn/frame.h"
#include "knn/kernel_set.h"
#include "knn/pair_queue.h"
#include "knn/topk.h"

namespace eos {
namespace {

using knn_detail::BlockPairQueue;
using knn_detail::CandidateKey;
using knn_detail::CandidateLists;
using knn_detail::ExactTopK;
using knn_detail::Frame;
using knn_detail::KernelSet;
using knn_detail::key_dist;
using knn_detail::key_index;
using knn_detail::kMaxMR;
using knn_detail::kMaxNR;
using knn_detail::RowStats;

// (double(a) - double(b))^2, rounded on its own: the barrier keeps the compiler from fusing the product
// into the caller's addition (an FMA), whatever the flags, so every language's float64 loop agrees.
inline double rounded_square(float a, float b) {
  const double diff = static_cast<double>(a) - static_cast<double>(b);
  double square = diff * diff;
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
constexpr int64_t kListBudget = 48LL << 20;  // bytes of candidate lists the self-search may keep for all rows
constexpr int64_t kMaxBlocks = 4096;  // bounds the pair queue (8M pairs) whatever tile size is asked for
constexpr double kU = 0x1p-24;
constexpr int64_t kL2Panels = 256 << 10;  // bytes of packed row panels a self-search pass keeps in L2

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }
int lowest_bit(uint32_t m) { return __builtin_ctz(m); }  // m != 0

// Candidates kept per query: k plus spares, enough for the certificate to clear ordinary near-ties. The
// float32 pass errs by ~1e-7 relative: 8 spares. The bf16 pass errs by up to ~0.5% of a distance; with
// about e^(d g / 2) rows within a factor e^g of the k-th distance (d-dimensional data), spares for a
// margin of ~d / 300 in log-count are needed. Beyond d = 1024 the bf16 pass is not used (kBf16MaxDim).
constexpr int64_t kBf16MaxDim = 1024;
int64_t candidates_kept(bool bf16, int64_t d, int64_t k, int64_t available) {
  int64_t extra = 8;
  if (bf16) {
    const double spares = std::ceil(static_cast<double>(k) * std::expm1(static_cast<double>(d) / 300.0)) + 6;
    extra = std::clamp<int64_t>(static_cast<int64_t>(std::min(spares, 1e9)), 8, std::max<int64_t>(24, k));
  }
  return std::min(k + extra, available);
}

// What the passes share. Query r of the problem is row qrow(r) of `q` (a subset, for the float32 redo).
struct Problem {
  const float* q;
  int64_t nq;            // queries in this problem
  const int64_t* qrows;  // their rows in q (nullptr: row r)
  const float* b;
  int64_t nb;
  int64_t d, k;
  bool exclude_self;  // query row i never gets base row i
  Frame frame;
  RowStats qs, bs;  // bs unused in self-search (qs serves both)
  bool self;
  const KernelSet* ks;  // the micro-kernels of the ISA level chosen for this search
  int64_t qrow(int64_t r) const { return qrows == nullptr ? r : qrows[r]; }
  const RowStats& base_stats() const { return self ? qs : bs; }
};

// The word type, panel depth and kernel of a pass.
template <bool kBf16>
struct Pass;
template <>
struct Pass<false> {
  using Word = float;
  static const char* name(const KernelSet& ks) { return ks.name; }
  static int64_t depth(int64_t d) { return d; }
  static const float* norms(const RowStats& s) { return s.norm.data(); }
  template <typename Rows>
  static void pack(const Problem& pb, const float* x, Rows rows, int64_t count, int panel, const float* norms,
                   Word* out, float* pnorm, uint32_t*) {
    knn_detail::pack_f32(x, pb.d, rows, count, panel, pb.frame, norms, out, pnorm);
  }
  template <bool kCols>
  static bool tile(const KernelSet& ks, const Word* a, const Word* b, int64_t depth, const float* na,
                   const float* nb, const float* tr, const float* tc, float* out, uint32_t* hits) {
    return (kCols ? ks.f32_both : ks.f32_rows)(a, b, depth, na, nb, tr, tc, out, hits);
  }
};
template <>
struct Pass<true> {
  using Word = uint32_t;
  static const char* name(const KernelSet& ks) { return ks.bf16_name; }
  static int64_t depth(int64_t d) { return (d + 1) / 2; }
  static const float* norms(const RowStats& s) { return s.norm_bf.data(); }
  template <typename Rows>
  static void pack(const Problem& pb, const float* x, Rows rows, int64_t count, int panel, const float* norms,
                   Word* out, float* pnorm, uint32_t* words) {
    knn_detail::pack_bf16(x, pb.d, rows, count, panel, pb.frame, norms, out, pnorm, words);
  }
  template <bool kCols>
  static bool tile(const KernelSet& ks, const Word* a, const Word* b, int64_t depth, const float* na,
                   const float* nb, const float* tr, const float* tc, float* out, uint32_t* hits) {
    return (kCols ? ks.bf16_both : ks.bf16_rows)(a, b, depth, na, nb, tr, tc, out, hits);
  }
};

// Per-thread buffers of a pass, allocated before any parallel region (an allocation failure must surface
// as an exception on the calling thread, never inside OpenMP).
template <typename Word>
struct Workspace {
  std::vector<Word> pa, pbk;    // packed query rows (MR panels), packed base rows (NR panels)
  std::vector<float> na, nbn;   // their norms
  std::vector<float> tile;      // one MR x NR distance tile
  std::vector<uint32_t> words;  // one row being packed
  uint32_t hits[kMaxMR] = {};
  float tr_scratch[kMaxMR] = {}, tc_scratch[kMaxNR] = {};
  Workspace(const KernelSet& ks, int64_t rows, int64_t cols, int64_t depth)
      : pa(round_up(rows, ks.mr) * depth),
        pbk(round_up(cols, ks.nr) * depth),
        na(round_up(rows, ks.mr)),
        nbn(round_up(cols, ks.nr)),
        tile(ks.mr * ks.nr),
        words(depth) {}
};

// Thresholds of rows [r0, r0 + count) for a tile of P rows: the live array when the tile is whole, else a
// copy padded with +inf (a stale copy only lets more tiles through to the exact check).
const float* thresholds(const float* thr, int64_t r0, int64_t count, int side, float* scratch) {
  if (count >= side) return thr + r0;
  for (int j = 0; j < side; ++j) scratch[j] = j < count ? thr[r0 + j] : kInf;
  return scratch;
}

// Self-search, one block pair: rows [i0, i0 + ni) against rows [j0, j0 + nj); each distance is offered to
// both rows' lists. On the diagonal (i0 == j0) a pair {i, j} is taken from the tile holding row min(i, j)
// and column max(i, j): tiles wholly below the diagonal are skipped, and a tile that straddles it offers
// only its pairs with i <= j (i == j once, to row i, when the row may be its own neighbour).
template <bool kBf16>
void block_pair(const Problem& pb, int64_t i0, int64_t ni, int64_t j0, int64_t nj,
                Workspace<typename Pass<kBf16>::Word>& w, CandidateLists& lists) {
  using P = Pass<kBf16>;
  const KernelSet& ks = *pb.ks;
  const int mr = ks.mr, nr = ks.nr;
  const int64_t depth = P::depth(pb.d);
  const bool diagonal = i0 == j0;
  float* thr = lists.thresholds();
  const float* norms = P::norms(pb.qs);
  auto block_i = [i0](int64_t r) { return i0 + r; };
  auto block_j = [j0](int64_t r) { return j0 + r; };
  P::pack(pb, pb.q, block_i, ni, mr, norms, w.pa.data(), w.na.data(), w.words.data());
  P::pack(pb, pb.q, block_j, nj, nr, norms, w.pbk.data(), w.nbn.data(), w.words.data());
  // Row panels in groups that stay in L2 while every column panel passes them: a tile then reads its row
  // panel from L2 and only the column panel, once per group, from L3 (at d = 512 the whole row block
  // streamed from L3 for every column panel and held the kernel at half its speed).
  const int64_t row_panels = ceil_div(ni, mr);
  const int64_t group =
      std::max<int64_t>(1, kL2Panels / (mr * depth * static_cast<int64_t>(sizeof(*w.pa.data()))));
  for (int64_t g0 = 0; g0 < row_panels; g0 += group) {
    for (int64_t cp = 0; cp < ceil_div(nj, nr); ++cp) {
      const int64_t c0 = j0 + cp * nr, cn = std::min<int64_t>(nr, j0 + nj - c0);
      const auto* b = w.pbk.data() + cp * nr * depth;
      const float* nb = w.nbn.data() + cp * nr;
      for (int64_t rp = g0; rp < std::min(g0 + group, row_panels); ++rp) {
        const int64_t r0 = i0 + rp * mr, rn = std::min<int64_t>(mr, i0 + ni - r0);
        if (diagonal && c0 + cn <= r0) continue;  // every column below every row: the mirror tile has them
        const bool straddles = diagonal && c0 < r0 + rn;
        const auto* a = w.pa.data() + rp * mr * depth;
        const float* na = w.na.data() + rp * mr;
        const float* tr = thresholds(thr, r0, rn, mr, w.tr_scratch);
        const float* tc = thresholds(thr, c0, cn, nr, w.tc_scratch);
        if (!P::template tile<true>(ks, a, b, depth, na, nb, tr, tc, w.tile.data(), w.hits)) continue;
        for (int64_t r = 0; r < rn; ++r) {
          const int64_t i = r0 + r;
          for (uint32_t m = w.hits[r]; m != 0; m &= m - 1) {  // flagged pairs only (padding never is)
            const int64_t c = lowest_bit(m);
            const int64_t j = c0 + c;
            const float dist = w.tile[r * nr + c];
            if (straddles && j <= i) {
              if (j == i && !pb.exclude_self && dist <= thr[i]) lists.offer(i, dist, static_cast<int32_t>(i));
              continue;
            }
            if (dist <= thr[i]) lists.offer(i, dist, static_cast<int32_t>(j));
            if (dist <= thr[j]) lists.offer(j, dist, static_cast<int32_t>(i));
          }
        }
      }
    }
  }
}

// Queries [r0, r0 + nr) of the problem against the whole base, tile_cols base rows at a time; list row
// `l` holds query r0 + l.
template <bool kBf16>
void query_tile(const Problem& pb, int64_t r0, int64_t nr, int64_t tile_cols,
                Workspace<typename Pass<kBf16>::Word>& w, CandidateLists& lists) {
  using P = Pass<kBf16>;
  const KernelSet& ks = *pb.ks;
  const int mr = ks.mr, nr_tile = ks.nr;
  const int64_t depth = P::depth(pb.d);
  float* thr = lists.thresholds();
  lists.reset(0, round_up(nr, mr));
  auto queries = [&pb, r0](int64_t r) { return pb.qrow(r0 + r); };
  P::pack(pb, pb.q, queries, nr, mr, P::norms(pb.qs), w.pa.data(), w.na.data(), w.words.data());
  for (int64_t j0 = 0; j0 < pb.nb; j0 += tile_cols) {
    const int64_t nj = std::min(tile_cols, pb.nb - j0);
    auto tile_j = [j0](int64_t r) { return j0 + r; };
    P::pack(pb, pb.b, tile_j, nj, nr_tile, P::norms(pb.base_stats()), w.pbk.data(), w.nbn.data(),
            w.words.data());
    for (int64_t cp = 0; cp < ceil_div(nj, nr_tile); ++cp) {
      const int64_t c0 = j0 + cp * nr_tile;
      const auto* b = w.pbk.data() + cp * nr_tile * depth;
      const float* nb = w.nbn.data() + cp * nr_tile;
      for (int64_t rp = 0; rp < ceil_div(nr, mr); ++rp) {
        const int64_t rn = std::min<int64_t>(mr, nr - rp * mr);
        if (!P::template tile<false>(ks, w.pa.data() + rp * mr * depth, b, depth, w.na.data() + rp * mr, nb,
                                     thr + rp * mr, nullptr, w.tile.data(), w.hits)) {
          continue;
        }
        for (int64_t r = 0; r < rn; ++r) {
          const int64_t l = rp * mr + r;
          const int64_t self = pb.exclude_self ? pb.qrow(r0 + l) : -1;
          for (uint32_t m = w.hits[r]; m != 0; m &= m - 1) {
            const int64_t c = lowest_bit(m);
            const int64_t j = c0 + c;
            const float dist = w.tile[r * nr_tile + c];
            if (j != self && dist <= thr[l]) lists.offer(l, dist, static_cast<int32_t>(j));
          }
        }
      }
    }
  }
}

// Brute force for one query: exact distances to every base row but `self_row`, best k by (distance, index).
void brute_force_query(const float* q, const float* b, int64_t nb, int64_t d, int64_t self_row,
                       ExactTopK& top, int32_t* out_idx, float* out_dist) {
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

// Re-ranks query r's candidates (list row `l`) exactly, writes its answer and returns whether the
// certificate of the pass holds (if not, the answer written is provisional and the caller redoes it).
template <bool kBf16>
bool finish_query(const Problem& pb, int64_t r, const CandidateLists& lists, int64_t l, int64_t cap,
                  FinishScratch& s, int32_t* out_idx, float* out_dist) {
  const int64_t d = pb.d, k = pb.k, i = pb.qrow(r);
  const int64_t kept = lists.size(l);
  if (kept < cap) return false;  // fewer only when NaN distances were refused
  const CandidateKey* cand = lists.row(l);
  const float* q = pb.q + i * d;
  auto row = [&](int64_t c) { return pb.b + static_cast<int64_t>(key_index(cand[c])) * d; };
  for (int64_t c = 0; c < kept; ++c) {  // candidates are scattered over the base: fetch them all at once
    const char* p = reinterpret_cast<const char*>(row(c));
    for (int64_t byte = 0; byte < d * static_cast<int64_t>(sizeof(float)); byte += 64)
      __builtin_prefetch(p + byte);
  }
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
  if (kept >= pb.nb - (pb.exclude_self ? 1 : 0)) return true;  // every row was a candidate

  // Are the rows left out provably beyond the k-th? Everything in the frame's units (scale^2 D).
  const double scale2 = static_cast<double>(pb.frame.scale) * pb.frame.scale;
  const double kth = s.exact[s.order[k - 1]] * scale2 * (1.0 + (d + 2.0) * 0x1p-50);
  const double worst = key_dist(cand[kept - 1]);  // A: the cap-th best pass distance
  const double cb = 1.25 * (2.0 * d + 8.0) * kU;
  const double growth = 1.0 + 2.0 * d * kU;  // computed norms may be low by gamma_d
  if (!kBf16) {
    const double norm = static_cast<double>(pb.qs.norm[i]) * growth + 1e-30 * d;
    return (worst - 3.0 * cb * norm) / (1.0 + 3.0 * cb) > kth;
  }
  const double norm_bf = static_cast<double>(pb.qs.norm_bf[i]) * growth + 1e-30 * d;
  const double rounded = (worst - 3.0 * cb * norm_bf) / (1.0 + 3.0 * cb);  // D^: between the bf16 points
  if (!(rounded > 0.0)) return false;
  const double len = pb.qs.len[i];
  const double resid = pb.qs.resid[i] + 2.5 * kU * len + 1e-30 * d;  // + the frame's rounding
  const double rho = pb.base_stats().resid_ratio + 2.5 * kU;
  const double lower = (std::sqrt(rounded) - resid - rho * len) / (1.0 + rho);
  return lower > 0.0 && lower * lower > kth;
}

int64_t auto_block(int64_t n, int64_t d, int threads, bool bf16) {
  // Large blocks: a pair packs 2 blocks (reading them from memory) for block^2 distances, so packing
  // traffic falls as the block grows. Up to 2 MiB of packed words per block (from L3, a 12-row panel at a
  // time, while the current 32-row panel stays in L2) and at most 2112 rows, with enough block pairs left
  // to keep every thread busy. (At d = 512, 2 MiB blocks of 1056 rows ran 1.5-2x faster than the 512 KiB
  // blocks of 288 rows tried before: packing their rows from memory cost as much as the arithmetic.)
  const int64_t words = bf16 ? (d + 1) / 2 : d;
  const int64_t block = std::clamp<int64_t>(round_up(524288 / words, 96), 96, 2112);
  const int64_t balanced = round_up(std::max<int64_t>(1, n / (8 * threads)), 96);
  return std::max<int64_t>(96, std::min(block, balanced));
}

// One pass over the problem's queries. Writes every query's answer; returns the positions (in the
// problem) of the queries whose certificate failed, ascending.
template <bool kBf16>
std::vector<int64_t> run_pass(const Problem& pb, bool symmetric, const KnnTiling& tiling, int threads,
                              int32_t* out_idx, float* out_dist) {
  using Word = typename Pass<kBf16>::Word;
  const int64_t k = pb.k, depth = Pass<kBf16>::depth(pb.d);
  const int64_t cap = candidates_kept(kBf16, pb.d, k, pb.nb - (pb.exclude_self ? 1 : 0));
  std::vector<uint8_t> failed(pb.nq, 0);
  std::vector<FinishScratch> finish(threads, FinishScratch(cap, k));
  auto done = [&](int64_t r, const CandidateLists& lists, int64_t l, int t) {
    const int64_t i = pb.qrow(r);
    failed[r] = !finish_query<kBf16>(pb, r, lists, l, cap, finish[t], out_idx + i * k, out_dist + i * k);
  };
  if (symmetric) {  // self-search: the problem's queries are all rows, in order
    const int64_t n = pb.nq;
    const int64_t asked = tiling.tile_rows > 0 ? tiling.tile_rows : auto_block(n, pb.d, threads, kBf16);
    const int64_t block = std::max(asked, ceil_div(n, kMaxBlocks));
    CandidateLists lists(n, cap, 96, pb.ks->insert);
    BlockPairQueue queue(ceil_div(n, block));
    std::vector<Workspace<Word>> ws(threads, Workspace<Word>(*pb.ks, block, block, depth));
#pragma omp parallel num_threads(threads)
    {
      Workspace<Word>& w = ws[omp_get_thread_num()];
      int64_t I = 0, J = 0;
      while (queue.acquire(&I, &J)) {
        block_pair<kBf16>(pb, I * block, std::min(block, n - I * block), J * block,
                          std::min(block, n - J * block), w, lists);
        queue.release(I, J);
      }
    }
#pragma omp parallel for schedule(dynamic, 64) num_threads(threads)
    for (int64_t r = 0; r < n; ++r) done(r, lists, r, omp_get_thread_num());
  } else {
    const int mr = pb.ks->mr, nr = pb.ks->nr;
    const int64_t tile_rows =
        tiling.tile_rows > 0 ? tiling.tile_rows : std::clamp<int64_t>(round_up(16384 / depth, mr), mr, 480);
    const int64_t tile_cols =
        tiling.tile_cols > 0 ? tiling.tile_cols : std::clamp<int64_t>(round_up(65536 / depth, nr), nr, 2048);
    std::vector<Workspace<Word>> ws(threads, Workspace<Word>(*pb.ks, tile_rows, tile_cols, depth));
    std::vector<CandidateLists> lists(threads,
                                      CandidateLists(round_up(tile_rows, mr), cap, 0, pb.ks->insert));
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (int64_t r0 = 0; r0 < pb.nq; r0 += tile_rows) {
      const int t = omp_get_thread_num();
      const int64_t nr = std::min(tile_rows, pb.nq - r0);
      query_tile<kBf16>(pb, r0, nr, tile_cols, ws[t], lists[t]);
      for (int64_t l = 0; l < nr; ++l) done(r0 + l, lists[t], l, t);
    }
  }
  std::vector<int64_t> redo;
  for (int64_t r = 0; r < pb.nq; ++r) {
    if (failed[r]) redo.push_back(r);
  }
  return redo;
}

}  // namespace

void knn_search(const float* queries, int64_t nq, const float* base, int64_t nb, int64_t d, int64_t k,
                bool exclude_self, int32_t* out_idx, float* out_dist2, const KnnTiling& tiling,
                KnnStats* stats) {
  const bool self = base == nullptr || (base == queries && nb == nq);
  if (base == nullptr) {
    base = queries;
    nb = nq;
  }
  const int threads = tiling.threads > 0 ? tiling.threads : omp_get_max_threads();
  const CpuLevel machine = cpu_level();
  const KernelSet& ks = knn_detail::kernel_set(tiling.max_level < machine ? tiling.max_level : machine);
  const bool bf16 = ks.bf16_rows != nullptr && tiling.bf16 && d <= kBf16MaxDim;

  Problem pb{queries, nq, nullptr, base, nb, d, k, exclude_self, {}, {}, {}, self, &ks};
  pb.frame = knn_detail::make_frame(queries, nq, base, nb, d, threads);
  pb.qs = knn_detail::row_stats(queries, nq, d, pb.frame, bf16, threads);
  if (!self) pb.bs = knn_detail::row_stats(base, nb, d, pb.frame, bf16, threads);

  const int64_t cap = candidates_kept(bf16, d, k, nb - (exclude_self ? 1 : 0));
  const int64_t list_bytes = nq * round_up(cap, 8) * static_cast<int64_t>(sizeof(CandidateKey));
  const bool symmetric = self && tiling.symmetric && list_bytes <= kListBudget;

  // Pass 1 over every query; pass 2 (float32) over the queries bf16 could not settle; brute force last.
  std::vector<int64_t> redo = bf16 ? run_pass<true>(pb, symmetric, tiling, threads, out_idx, out_dist2)
                                   : run_pass<false>(pb, symmetric, tiling, threads, out_idx, out_dist2);
  int64_t float32_rows = 0;
  if (bf16 && !redo.empty()) {
    float32_rows = static_cast<int64_t>(redo.size());
    std::vector<int64_t> rows = std::move(redo);
    pb.qrows = rows.data();  // the problem becomes the subset
    pb.nq = static_cast<int64_t>(rows.size());
    KnnTiling sweep = tiling;
    sweep.tile_rows = 0;  // tiles sized for the redo, not the caller's pass 1
    std::vector<int64_t> left = run_pass<false>(pb, false, sweep, threads, out_idx, out_dist2);
    for (int64_t& r : left) r = rows[r];
    redo = std::move(left);
  }
  const int64_t brute = static_cast<int64_t>(redo.size());
  if (brute > 0) {
    std::vector<ExactTopK> tops(threads, ExactTopK(k));
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (int64_t r = 0; r < brute; ++r) {
      const int64_t i = redo[r];
      brute_force_query(queries + i * d, base, nb, d, exclude_self ? i : -1, tops[omp_get_thread_num()],
                        out_idx + i * k, out_dist2 + i * k);
    }
  }
  if (stats != nullptr) {
    stats->candidates = cap;
    stats->float32_rows = float32_rows;
    stats->brute_force_rows = brute;
    stats->symmetric = symmetric;
    stats->kernel = bf16 ? Pass<true>::name(ks) : Pass<false>::name(ks);
  }
}

void knn_search_reference(const float* queries, int64_t nq, const float* base, int64_t nb, int64_t d,
                          int64_t k, bool exclude_self, int32_t* out_idx, float* out_dist2, int threads) {
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
