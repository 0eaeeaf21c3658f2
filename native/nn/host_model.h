// The state of a network held in host memory, for the engines that compute on the CPU (ref, dnnl): the
// parameters in one flat buffer, their gradients in a second and the SGD momentum in a third, all laid out
// by the topology's parameter table; the batch-norm running statistics in a fourth (buffer table); and
// num_batches_tracked per batch-norm layer as an integer.
//
// Initialisation (as the reference's _weights_init): convolutions and the linear head weight are
// Kaiming-normal in fan_in mode with gain sqrt(2) (std = sqrt(2 / fan_in)); the linear bias keeps
// PyTorch's default nn.Linear init U(-1/sqrt(64), 1/sqrt(64)); the cosine head's weight is U(-1, 1) with
// every output column scaled to unit norm (the reference's uniform_(-1, 1).renorm_(2, 1, 1e-5).mul_(1e5));
// batch-norm weight 1, bias 0, running mean 0, running var 1. Every draw is a Philox function of (seed,
// parameter name, element index), so a parameter's initial values do not depend on the others.
// T is float for the engines; the ref network also instantiates double for gradient checks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nn/sgd.h"
#include "nn/topology.h"

namespace eos {

// A zero-filled, 64-byte aligned host array (the alignment the kernels' vector loads assume).
template <typename T>
class HostArray {
 public:
  HostArray() = default;
  explicit HostArray(int64_t count);
  ~HostArray();
  HostArray(HostArray&& other) noexcept;
  HostArray& operator=(HostArray&& other) noexcept;
  HostArray(const HostArray&) = delete;
  HostArray& operator=(const HostArray&) = delete;
  T* data() const { return p_; }
  int64_t size() const { return count_; }

 private:
  T* p_ = nullptr;
  int64_t count_ = 0;
};

template <typename T>
class HostModel {
 public:
  // Builds the topology (throws std::invalid_argument for an invalid spec) and initialises from spec.seed.
  explicit HostModel(const NetworkSpec& spec);

  const NetworkSpec& spec() const { return topology_.spec; }
  const Topology& topology() const { return topology_; }
  const std::vector<TensorInfo>& parameters() const { return topology_.parameters; }
  const std::vector<TensorInfo>& buffers() const { return topology_.buffers; }
  const std::vector<std::string>& batchnorm_names() const { return topology_.batchnorms; }
  int64_t parameter_count() const { return topology_.parameter_count; }
  int64_t buffer_count() const { return topology_.buffer_count; }
  const TensorInfo* find_parameter(const std::string& name) const {
    return find_tensor(topology_.parameters, name);
  }
  const TensorInfo* find_buffer(const std::string& name) const {
    return find_tensor(topology_.buffers, name);
  }
  std::vector<int64_t>& num_batches_tracked() { return num_batches_tracked_; }

  // Whole-buffer copies, host [parameter_count()] or [buffer_count()].
  void get_parameters(T* host) const;
  void set_parameters(const T* host);
  void get_gradients(T* host) const;
  void get_momentum(T* host) const;
  void set_momentum(const T* host);
  void get_buffers(T* host) const;
  void set_buffers(const T* host);
  // One named parameter or buffer (host [count]); false when the name is unknown.
  bool read_tensor(const std::string& name, T* host) const;
  bool write_tensor(const std::string& name, const T* host);

  // Fresh initial parameters from `seed` (also resets gradients, momentum, running statistics, counters).
  void initialize(uint64_t seed);

  // One SGD step over every parameter (PyTorch's update, nn/sgd.h).
  void sgd_step(const SgdConfig& cfg);

  // The flat buffers, for the engine that computes on them.
  T* params() const { return params_.data(); }
  T* grads() const { return grads_.data(); }
  T* running_stats() const { return buffers_.data(); }

 private:
  Topology topology_;
  HostArray<T> params_, grads_, momentum_, buffers_;
  std::vector<int64_t> num_batches_tracked_;
};

}  // namespace eos
