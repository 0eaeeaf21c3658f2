#include "nn/host_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>

#include "core/rng.h"

namespace eos {

namespace {

// FNV-1a: the Philox stream of a parameter is a function of its name only.
uint64_t name_stream(const std::string& name) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char ch : name) {
    h ^= ch;
    h *= 0x100000001b3ull;
  }
  return h;
}

// out[i] = stddev * N(0, 1), draw i from words (2 (i mod 2), 2 (i mod 2) + 1) of Philox block i / 2.
template <typename T>
void fill_normal(uint64_t seed, const std::string& name, int64_t count, double stddev, T* out) {
  const CounterRng rng(seed, name_stream(name));
  for (int64_t i = 0; i < count; ++i) {
    const Philox4x32 b = rng.block(static_cast<uint64_t>(i / 2));
    const int h = static_cast<int>(i % 2) * 2;
    out[i] = static_cast<T>(stddev * standard_normal(b.v[h], b.v[h + 1]));
  }
}

// out[i] = U[lo, hi), draw i from word i mod 4 of Philox block i / 4.
template <typename T>
void fill_uniform(uint64_t seed, const std::string& name, int64_t count, double lo, double hi, T* out) {
  const CounterRng rng(seed, name_stream(name));
  for (int64_t i = 0; i < count; ++i) {
    const Philox4x32 b = rng.block(static_cast<uint64_t>(i / 4));
    out[i] = static_cast<T>(lo + (hi - lo) * uniform01(b.v[i % 4]));
  }
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

template <typename T>
void copy(T* dst, const T* src, int64_t count) {
  if (count > 0 && dst != src) std::memcpy(dst, src, static_cast<size_t>(count) * sizeof(T));
}

}  // namespace

template <typename T>
HostArray<T>::HostArray(int64_t count) : count_(count > 0 ? count : 0) {
  if (count_ == 0) return;
  const size_t bytes = static_cast<size_t>(count_) * sizeof(T);
  p_ = static_cast<T*>(::operator new (bytes, std::align_val_t{64}));  // throws std::bad_alloc
  std::memset(p_, 0, bytes);
}

template <typename T>
HostArray<T>::~HostArray() {
  if (p_) ::operator delete (p_, std::align_val_t{64});
}

template <typename T>
HostArray<T>::HostArray(HostArray&& other) noexcept : p_(other.p_), count_(other.count_) {
  other.p_ = nullptr;
  other.count_ = 0;
}

template <typename T>
HostArray<T>& HostArray<T>::operator=(HostArray&& other) noexcept {
  if (this != &other) {
    if (p_) ::operator delete (p_, std::align_val_t{64});
    p_ = other.p_;
    count_ = other.count_;
    other.p_ = nullptr;
    other.count_ = 0;
  }
  return *this;
}

template <typename T>
HostModel<T>::HostModel(const NetworkSpec& spec)
    : topology_(resnet_topology(spec)),
      params_(topology_.parameter_count),
      grads_(topology_.parameter_count),
      momentum_(topology_.parameter_count),
      buffers_(topology_.buffer_count),
      num_batches_tracked_(topology_.batchnorms.size(), 0) {
  initialize(spec.seed);
}

template <typename T>
void HostModel<T>::initialize(uint64_t seed) {
  T* params = params_.data();
  for (const TensorInfo& t : topology_.parameters) {
    T* p = params + t.offset;
    const std::string& n = t.name;
    const bool is_bn = n.rfind("bn", 0) == 0 || n.find(".bn") != std::string::npos;  // bn1.*, layerX.Y.bnZ.*
    if (is_bn) {
      std::fill(p, p + t.count, ends_with(n, ".weight") ? T(1) : T(0));
    } else if (n == "linear.bias") {
      const double bound = 1.0 / std::sqrt(static_cast<double>(Topology::kEmbeddingDim));
      fill_uniform(seed, n, t.count, -bound, bound, p);
    } else if (n == "linear.weight" && spec().head == HeadKind::kCosine) {
      // [in, out]: U(-1, 1), then every column (one output's weight vector) scaled to unit norm.
      fill_uniform(seed, n, t.count, -1.0, 1.0, p);
      const int64_t in = t.shape[0], out = t.shape[1];
      for (int64_t o = 0; o < out; ++o) {
        double sq = 0;
        for (int64_t i = 0; i < in; ++i) sq += static_cast<double>(p[i * out + o]) * p[i * out + o];
        const double norm = std::sqrt(sq);
        for (int64_t i = 0; i < in; ++i) p[i * out + o] = static_cast<T>(p[i * out + o] / norm);
      }
    } else {
      // Kaiming normal, fan_in = product of all dimensions but the first, gain sqrt(2).
      const double fan_in = static_cast<double>(t.count / t.shape[0]);
      fill_normal(seed, n, t.count, std::sqrt(2.0 / fan_in), p);
    }
  }
  std::fill(momentum_.data(), momentum_.data() + momentum_.size(), T(0));
  std::fill(grads_.data(), grads_.data() + grads_.size(), T(0));
  for (const TensorInfo& t : topology_.buffers) {
    const bool is_var = ends_with(t.name, ".running_var");
    std::fill(buffers_.data() + t.offset, buffers_.data() + t.offset + t.count, is_var ? T(1) : T(0));
  }
  std::fill(num_batches_tracked_.begin(), num_batches_tracked_.end(), 0);
}

template <typename T>
void HostModel<T>::get_parameters(T* host) const {
  copy(host, params_.data(), parameter_count());
}
template <typename T>
void HostModel<T>::set_parameters(const T* host) {
  copy(params_.data(), host, parameter_count());
}
template <typename T>
void HostModel<T>::get_gradients(T* host) const {
  copy(host, grads_.data(), parameter_count());
}
template <typename T>
void HostModel<T>::get_momentum(T* host) const {
  copy(host, momentum_.data(), parameter_count());
}
template <typename T>
void HostModel<T>::set_momentum(const T* host) {
  copy(momentum_.data(), host, parameter_count());
}
template <typename T>
void HostModel<T>::get_buffers(T* host) const {
  copy(host, buffers_.data(), buffer_count());
}
template <typename T>
void HostModel<T>::set_buffers(const T* host) {
  copy(buffers_.data(), host, buffer_count());
}

template <typename T>
bool HostModel<T>::read_tensor(const std::string& name, T* host) const {
  if (const TensorInfo* t = find_parameter(name)) {
    copy(host, params_.data() + t->offset, t->count);
    return true;
  }
  if (const TensorInfo* t = find_buffer(name)) {
    copy(host, buffers_.data() + t->offset, t->count);
    return true;
  }
  return false;
}

template <typename T>
bool HostModel<T>::write_tensor(const std::string& name, const T* host) {
  if (const TensorInfo* t = find_parameter(name)) {
    copy(params_.data() + t->offset, host, t->count);
    return true;
  }
  if (const TensorInfo* t = find_buffer(name)) {
    copy(buffers_.data() + t->offset, host, t->count);
    return true;
  }
  return false;
}

template <typename T>
void HostModel<T>::sgd_step(const SgdConfig& cfg) {
  eos::sgd_step(parameter_count(), params_.data(), grads_.data(), momentum_.data(), cfg);
}

template class HostArray<float>;
template class HostArray<double>;
template class HostModel<float>;
template class HostModel<double>;

}  // namespace eos
