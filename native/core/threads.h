// Thread-count control for OpenMP kernels.
//
// Why per call: results are bitwise reproducible only for a fixed thread count, so every entry point takes
// an explicit count and applies it to the OpenMP team of the thread that runs the work (a libuv worker).
#pragma once

#include <omp.h>

namespace eos {

// Number of threads OpenMP would use by default (OMP_NUM_THREADS or the core count).
inline int default_thread_count() { return omp_get_max_threads(); }

// Sets the calling thread's OpenMP team size for subsequent parallel regions; threads <= 0 keeps the default.
inline void use_threads(int threads) {
  if (threads > 0) omp_set_num_threads(threads);
}

}  // namespace eos
