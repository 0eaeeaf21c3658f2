// Thread-count control for OpenMP kernels.
//
// Why per call: results are bitwise reproducible only for a fixed thread count, so every entry point takes
// an explicit count and applies it to the OpenMP team of the thread that runs the work (a libuv worker).
#pragma once

#include <omp.h>

namespace eos {

// Number of threads OpenMP would use by default (OMP_NUM_THREADS or the core count).
inline int default_thread_count() { return omp_get_max_threads(); }

// Sets the calling thread's OpenMP team size for subsequent parallel regions; threads <= 0 means every core.
// Always set (never "keep"): libuv reuses worker threads, and a count left by an earlier call must not leak.
inline void use_threads(int threads) { omp_set_num_threads(threads > 0 ? threads : omp_get_num_procs()); }

}  // namespace eos
