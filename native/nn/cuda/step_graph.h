// One captured CUDA graph and the key it was captured for. The engines capture a whole training step (or an
// eval forward) once and replay it for every batch of the same shape; everything a replay reads by value
// (the batch size, device pointers, augmentation and loss settings) goes into the key, so a changed value
// means a new capture rather than a replay of stale arguments. Values that change between replays without
// a new capture (the learning rate, the row offset, class weights) live in device memory instead.
#pragma once

#include <cuda_runtime_api.h>

#include <cstring>
#include <string>
#include <type_traits>
#include <utility>

#include "core/cuda_check.h"

namespace eos::cuda {

// Bytes of every field appended in turn (field by field, never a whole struct: padding bytes are
// indeterminate).
class GraphKey {
 public:
  template <typename T>
  GraphKey& add(const T& value) {
    static_assert(std::is_trivially_copyable<T>::value, "keys hold plain values");
    char bytes[sizeof(T)];
    std::memcpy(bytes, &value, sizeof(T));
    key_.append(bytes, sizeof(T));
    return *this;
  }
  const std::string& str() const { return key_; }

 private:
  std::string key_;
};

class StepGraph {
 public:
  StepGraph() = default;
  ~StepGraph() { reset(); }
  StepGraph(const StepGraph&) = delete;
  StepGraph& operator=(const StepGraph&) = delete;

  bool matches(const GraphKey& key) const { return exec_ != nullptr && key.str() == key_; }

  // Records what `enqueue` launches on `stream` (nothing runs) and instantiates it. Capture is thread-local,
  // so other threads' CUDA calls (another engine in another worker) are unaffected. On failure the stream
  // leaves capture mode and the error propagates.
  template <typename F>
  void capture(const GraphKey& key, cudaStream_t stream, F&& enqueue) {
    reset();
    EOS_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    try {
      enqueue();
    } catch (...) {
      cudaGraph_t partial = nullptr;
      cudaStreamEndCapture(stream, &partial);
      if (partial) cudaGraphDestroy(partial);
      cudaGetLastError();
      throw;
    }
    cudaGraph_t graph = nullptr;
    EOS_CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
    const cudaError_t status = cudaGraphInstantiate(&exec_, graph, 0);
    cudaGraphDestroy(graph);
    if (status != cudaSuccess) {
      exec_ = nullptr;
      throw_cuda_error(status, "cudaGraphInstantiate", __FILE__, __LINE__);
    }
    key_ = key.str();
  }

  void launch(cudaStream_t stream) const { EOS_CUDA_CHECK(cudaGraphLaunch(exec_, stream)); }

  void reset() {
    if (exec_) cudaGraphExecDestroy(exec_);
    exec_ = nullptr;
    key_.clear();
  }

 private:
  cudaGraphExec_t exec_ = nullptr;
  std::string key_;
};

}  // namespace eos::cuda
