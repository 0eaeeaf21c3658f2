// Device memory owned by one object (freed in the destructor, even when a later call throws), and the one
// question every CUDA path asks first: is there a usable GPU? Only compiled where the CUDA backend is.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>
#include <utility>

#include "core/cuda_check.h"

namespace eos::cuda {

// True when at least one CUDA device can be used; otherwise false and *why says what is missing (no driver,
// no device, ...), for the skip lines of the tests and the errors of the engine.
inline bool device_available(std::string* why = nullptr) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    if (why)
      *why = std::string("no usable CUDA device (") + cudaGetErrorName(status) + ": " +
             cudaGetErrorString(status) + ")";
    cudaGetLastError();  // clear the sticky error so later checks start clean
    return false;
  }
  if (count == 0) {
    if (why) *why = "no CUDA device found";
    return false;
  }
  return true;
}

template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(int64_t count) { resize(count); }
  ~DeviceBuffer() { release(); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept
      : ptr_(std::exchange(o.ptr_, nullptr)), count_(std::exchange(o.count_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      release();
      ptr_ = std::exchange(o.ptr_, nullptr);
      count_ = std::exchange(o.count_, 0);
    }
    return *this;
  }

  // Reallocates (contents lost) when `count` differs from the current size.
  void resize(int64_t count) {
    if (count == count_) return;
    release();
    if (count > 0) {
      EOS_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&ptr_), static_cast<size_t>(count) * sizeof(T)));
      count_ = count;
    }
  }
  // Grows (contents lost) when smaller than `count`.
  void reserve(int64_t count) {
    if (count > count_) resize(count);
  }

  T* data() { return ptr_; }
  const T* data() const { return ptr_; }
  int64_t size() const { return count_; }
  int64_t bytes() const { return count_ * static_cast<int64_t>(sizeof(T)); }

  // Synchronous copies of `count` elements (default: all) from / to host memory.
  void upload(const T* host, int64_t count = -1) {
    if (count < 0) count = count_;
    if (count > 0)
      EOS_CUDA_CHECK(cudaMemcpy(ptr_, host, static_cast<size_t>(count) * sizeof(T), cudaMemcpyHostToDevice));
  }
  void download(T* host, int64_t count = -1) const {
    if (count < 0) count = count_;
    if (count > 0)
      EOS_CUDA_CHECK(cudaMemcpy(host, ptr_, static_cast<size_t>(count) * sizeof(T), cudaMemcpyDeviceToHost));
  }

 private:
  void release() {
    if (ptr_) cudaFree(ptr_);  // never throws from a destructor; a failed free leaks at worst
    ptr_ = nullptr;
    count_ = 0;
  }

  T* ptr_ = nullptr;
  int64_t count_ = 0;
};

}  // namespace eos::cuda
