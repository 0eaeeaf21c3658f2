#include "core/cuda_device.h"

#include <cuda_runtime_api.h>

#include "core/device_buffer.h"

namespace eos::cuda {

std::string version_string(int encoded) {
  if (encoded <= 0) return "none";
  return std::to_string(encoded / 1000) + "." + std::to_string((encoded % 1000) / 10);
}

RuntimeInfo query_runtime() {
  RuntimeInfo r;
  // Both calls work without a device; a failure leaves the version at 0 ("none").
  if (cudaDriverGetVersion(&r.driver_version) != cudaSuccess) r.driver_version = 0;
  if (cudaRuntimeGetVersion(&r.runtime_version) != cudaSuccess) r.runtime_version = 0;
  cudaGetLastError();
  if (!device_available(&r.unavailable)) return r;
  int count = 0, current = 0;
  cudaGetDeviceCount(&count);
  cudaGetDevice(&current);
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) {
      cudaGetLastError();
      continue;
    }
    DeviceInfo d;
    d.index = i;
    d.name = prop.name;
    d.total_memory = static_cast<int64_t>(prop.totalGlobalMem);
    d.major = prop.major;
    d.minor = prop.minor;
    d.multiprocessors = prop.multiProcessorCount;
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaSetDevice(i) == cudaSuccess && cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) {
      d.free_memory = static_cast<int64_t>(free_bytes);
    }
    cudaGetLastError();
    r.devices.push_back(d);
  }
  cudaSetDevice(current);  // leave the calling thread on the device it had
  cudaGetLastError();
  if (r.devices.empty()) r.unavailable = "no CUDA device could be queried";
  return r;
}

}  // namespace eos::cuda
