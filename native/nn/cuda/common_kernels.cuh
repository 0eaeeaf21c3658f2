// Helpers shared by the CUDA layer ops (private to native/nn/cuda): launch sizes for grid-stride loops and
// the one fixed-order block reduction every deterministic sum uses.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>

namespace eos::cuda::detail {

// Threads per block of the elementwise and reduction kernels (the block reductions below assume it).
constexpr int kBlock = 256;

// Blocks of a grid-stride loop over `count` elements: enough to fill a large GPU, never more than needed.
inline unsigned grid_for(int64_t count) {
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>((count + kBlock - 1) / kBlock, 8192)));
}

// Sums one double per thread of a kBlock-thread block in a fixed binary tree (thread t adds t + half, halving
// each round), so the result depends only on the inputs, never on scheduling. Every thread must call it;
// `scratch` is kBlock doubles of shared memory. Returns the total in every thread.
__device__ inline double block_sum(double v, double* scratch) {
  const int t = static_cast<int>(threadIdx.x);
  scratch[t] = v;
  __syncthreads();
  for (int half = kBlock / 2; half > 0; half >>= 1) {
    if (t < half) scratch[t] += scratch[t + half];
    __syncthreads();
  }
  const double total = scratch[0];
  __syncthreads();  // scratch may be reused by the caller right after
  return total;
}

}  // namespace eos::cuda::detail
