// Error handling for CUDA runtime calls: every call's status is checked, and a failure becomes a
// std::runtime_error naming the call, the file and line, and CUDA's own message, so it reaches TypeScript as
// a rejected promise instead of a crash. Only compiled where the CUDA backend is (EOS_HAVE_CUDA).
#pragma once

#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>

namespace eos::cuda {

[[noreturn]] inline void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line) {
  throw std::runtime_error(std::string("CUDA error in ") + call + " (" + file + ":" + std::to_string(line) +
                           "): " + cudaGetErrorName(status) + ": " + cudaGetErrorString(status));
}

}  // namespace eos::cuda

#define EOS_CUDA_CHECK(call)                                                      \
  do {                                                                            \
    const cudaError_t eos_cuda_status_ = (call);                                  \
    if (eos_cuda_status_ != cudaSuccess) {                                        \
      ::eos::cuda::throw_cuda_error(eos_cuda_status_, #call, __FILE__, __LINE__); \
    }                                                                             \
  } while (0)

// After a kernel launch: a bad launch configuration shows up here, not at the next synchronisation.
#define EOS_CUDA_CHECK_LAUNCH() EOS_CUDA_CHECK(cudaGetLastError())
