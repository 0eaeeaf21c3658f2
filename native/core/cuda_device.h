// What CUDA finds on this machine, for `eos info` and the engine's error messages: the driver and runtime
// versions and, per GPU, its name, memory and compute capability. Only compiled where the CUDA backend is
// (EOS_HAVE_CUDA); the question "is there a usable GPU at all?" is device_available (core/device_buffer.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace eos::cuda {

struct DeviceInfo {
  int index = 0;
  std::string name;
  int64_t total_memory = 0, free_memory = 0;  // bytes (free: at the time of the query)
  int major = 0, minor = 0;                   // compute capability
  int multiprocessors = 0;
};

struct RuntimeInfo {
  int driver_version = 0;   // CUDA's encoding: 1000 * major + 10 * minor (0: no driver)
  int runtime_version = 0;  // the runtime this binary links (static cudart)
  std::vector<DeviceInfo> devices;
  std::string unavailable;  // why no device can be used (empty when at least one can)
};

// Queries every device. Creates a context on each (cudaMemGetInfo needs one), so it is for `eos info`, not
// for a hot path. Never throws for a missing driver or device: that is what `unavailable` says.
RuntimeInfo query_runtime();

// "12.4" from CUDA's version encoding 12040.
std::string version_string(int encoded);

}  // namespace eos::cuda
