// The k-NN first-pass micro-kernels of one ISA level, chosen at run time (core/cpu_level.h).
//
// Legend: MR query rows x NR base rows per register tile, d features. Packed operands, feature-major:
//   a[t * MR + r] = feature t of query row r,   b[t * NR + c] = feature t of base row c.
// A tile computes D[r][c] = (na[r] + nb[c]) - 2 * sum_t a[t*MR + r] * b[t*NR + c], the sum accumulated
// with t ascending in one chain per (r, c), so a pair's value never depends on where in a tile it sits.
// Padding rows/columns carry a NaN norm: their D is NaN and fails every comparison.
//
// The fast rejection lives in the kernel, while D is still in registers: a tile returns true only when
// some D[r][c] <= thr_row[r] (or, in the `both` form, <= thr_col[c]), i.e. when the pair might enter a
// top list; then it writes the tile to `out` (row stride NR) and, in hits[r], bit c set for each such
// pair. Almost every tile is rejected without touching memory, and the scalar update visits only the
// flagged pairs.
//
// The bf16 form reads pairs of features: a[p * MR + r] holds bf16 features 2p (low half) and 2p + 1 (high
// half) of query row r, b[p * NR + c] those of base row c; depth = ceil(d / 2) pairs.
//
// The candidate-list insertion (topk.h) is here too: a row's list takes ~cap (1 + ln(N / cap)) insertions,
// enough for the scalar shift loop to cost a tenth of the search.
//
// Why plain function pointers: each level's kernels live in their own translation unit, compiled for that
// ISA (kernels_*.cc), and nothing else in the program may be compiled for it (see kernels_avx512.cc). An
// indirect call per tile costs a few cycles against hundreds for the tile itself.
#pragma once

#include <cstdint>

#include "core/cpu_level.h"

namespace eos::knn_detail {

constexpr int kMaxMR = 16;  // bounds of every kernel's tile sides (scratch arrays are sized by them)
constexpr int kMaxNR = 32;

using TileF32 = bool (*)(const float* a, const float* b, int64_t depth, const float* na, const float* nb,
                         const float* thr_row, const float* thr_col, float* out, uint32_t* hits);
using TileBf16 = bool (*)(const uint32_t* a, const uint32_t* b, int64_t depth, const float* na,
                          const float* nb, const float* thr_row, const float* thr_col, float* out,
                          uint32_t* hits);
// Inserts `key` into the ascending list[0, cap) (key < list[cap - 1]); the worst key falls out. The list
// has round_up(cap, 8) slots; those past cap only ever hold keys worse than the cap-th (any may be written).
using InsertKey = void (*)(uint64_t* list, int64_t cap, uint64_t key);

struct KernelSet {
  const char* name;       // stats.kernel of the float32 pass: "avx512", "avx2" or "portable"
  const char* bf16_name;  // stats.kernel of the bf16 pass ("avx512bf16"); nullptr: no bf16 pass here
  int mr, nr;
  TileF32 f32_rows, f32_both;     // thresholds of the rows only; of the rows or the columns
  TileBf16 bf16_rows, bf16_both;  // nullptr without bf16
  InsertKey insert;
};

// The kernels of the highest level <= `level` that this build has (portable always exists).
const KernelSet& kernel_set(CpuLevel level);

// Each level's set, or nullptr where the compiler or the architecture cannot build it.
const KernelSet* portable_kernel_set();
const KernelSet* avx2_kernel_set();
const KernelSet* avx512_kernel_set();
const KernelSet* avx512_bf16_kernel_set();

}  // namespace eos::knn_detail
