// Portable first-pass kernel (kernel_set.h): plain C++ over fixed-size tiles, which the compiler
// vectorises over c for whatever the build's baseline ISA is.
#include "knn/kernel_set.h"

namespace eos::knn_detail {
namespace {

constexpr int kMR = 6;
constexpr int kNR = 16;

template <bool kCols>
bool tile_f32(const float* a, const float* b, int64_t d, const float* na, const float* nb,
              const float* thr_row, const float* thr_col, float* out, uint32_t* hits) {
  float acc[kMR][kNR] = {};
  for (int64_t t = 0; t < d; ++t) {
    const float* bt = b + t * kNR;
    const float* at = a + t * kMR;
    for (int r = 0; r < kMR; ++r) {
      const float ar = at[r];
      for (int c = 0; c < kNR; ++c) acc[r][c] += ar * bt[c];
    }
  }
  bool any = false;
  for (int r = 0; r < kMR; ++r) {
    uint32_t row_hits = 0;
    for (int c = 0; c < kNR; ++c) {
      const float dist = (na[r] + nb[c]) - 2.0f * acc[r][c];
      const float thr = kCols && thr_col[c] > thr_row[r] ? thr_col[c] : thr_row[r];
      row_hits |= static_cast<uint32_t>(dist <= thr) << c;
      out[r * kNR + c] = dist;
    }
    hits[r] = row_hits;
    any |= row_hits != 0;
  }
  return any;
}

void insert(uint64_t* list, int64_t cap, uint64_t key) {
  int64_t slot = cap - 1;
  while (slot > 0 && list[slot - 1] > key) {
    list[slot] = list[slot - 1];
    --slot;
  }
  list[slot] = key;
}

constexpr KernelSet kSet = {
    "portable",       // name
    nullptr,          // bf16_name: no bf16 pass
    kMR,              // mr
    kNR,              // nr
    tile_f32<false>,  // f32_rows
    tile_f32<true>,   // f32_both
    nullptr,          // bf16_rows
    nullptr,          // bf16_both
    insert,           // insert
};

}  // namespace

const KernelSet* portable_kernel_set() { return &kSet; }

}  // namespace eos::knn_detail
