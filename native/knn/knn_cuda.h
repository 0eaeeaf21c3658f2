// Exact k-nearest-neighbour search on the GPU, with knn.h's contract: the same neighbour lists and the same
// float distances as knn_search (exact double re-rank of the candidates and the same rounding-error
// certificate, brute force for a query that cannot be certified), so the CPU and the GPU give equal answers.
// Memory is bounded by tiles (a [tile_rows, tile_cols] block of distances at a time), never N^2.
//
// Inputs and outputs are host arrays (the addon's TypedArrays); the base is uploaded once per call.
#pragma once

#include <cstdint>

namespace eos::cuda {

struct KnnCudaOptions {
  int device = 0;         // CUDA device ordinal
  int64_t tile_rows = 0;  // 0 or 128: the kernels' tiles are fixed (other values: std::invalid_argument)
  int64_t tile_cols = 0;  // 0 or 128
  // First pass on tensor cores (tf32, or tf32x3 = split tf32 products where a sample of the queries shows
  // tf32 cannot certify them); false: fp32 FMAs.
  bool tensor_cores = true;
};

struct KnnCudaStats {
  int64_t candidates = 0;        // kept per query by the first pass before the exact re-rank
  int64_t float32_rows = 0;      // queries the tensor-core pass could not certify, redone in float32
  int64_t brute_force_rows = 0;  // queries no pass could certify
  const char* kernel = "";       // the first pass: "tf32", "tf32x3" or "fp32"
};

// Same arguments and preconditions as eos::knn_search (knn.h). Throws std::runtime_error naming the CUDA
// failure (no device, out of memory, ...).
void knn_search(const float* queries, int64_t nq, const float* base, int64_t nb, int64_t d, int64_t k,
                bool exclude_self, int32_t* out_idx, float* out_dist2, const KnnCudaOptions& options = {},
                KnnCudaStats* stats = nullptr);

}  // namespace eos::cuda
