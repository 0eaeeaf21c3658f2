#include "nn/network.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <type_traits>

#include "core/rng.h"
#include "core/threads.h"

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

const TensorInfo* find_in(const std::vector<TensorInfo>& table, const std::string& name) {
  for (const TensorInfo& t : table) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

}  // namespace

std::string validate_spec(const NetworkSpec& s) {
  if (s.depth < 8 || (s.depth - 2) % 6 != 0 || s.depth > 2000) {
    return "depth must be 6n + 2 for n >= 1 (8, 14, 20, 32, 44, 56, 110, ...), got " +
           std::to_string(s.depth);
  }
  if (s.in_channels < 1 || s.in_channels > 16) {
    return "in_channels must be in [1, 16] (1 for grey, 3 for RGB), got " + std::to_string(s.in_channels);
  }
  if (s.side < 8 || s.side > 4096) return "side must be in [8, 4096], got " + std::to_string(s.side);
  if (s.classes < 2 || s.classes > 100000) {
    return "classes must be in [2, 100000], got " + std::to_string(s.classes);
  }
  if (!(s.bn_momentum >= 0.0 && s.bn_momentum <= 1.0)) return "bn_momentum must be in [0, 1]";
  if (!(s.bn_eps > 0.0 && std::isfinite(s.bn_eps))) return "bn_eps must be a positive finite number";
  return "";
}

template <typename T>
Network<T>::Network(const NetworkSpec& spec, std::unique_ptr<Backend<T>> backend)
    : spec_(spec), backend_(std::move(backend)) {
  const std::string problem = validate_spec(spec);
  if (!problem.empty()) throw std::invalid_argument(problem);
  if (!backend_) throw std::invalid_argument("backend must not be null");

  // --- layer list (parameter order = PyTorch's named_parameters() order)
  input_ = add_act(spec.in_channels, spec.side);
  int x = conv("conv1", input_, 16, 1);
  x = batchnorm("bn1", x);
  relu(x);
  const int64_t blocks = (spec.depth - 2) / 6;
  for (int stage = 1; stage <= 3; ++stage) {
    const int64_t planes = int64_t{16} << (stage - 1);
    for (int64_t b = 0; b < blocks; ++b) {
      const std::string prefix = "layer" + std::to_string(stage) + "." + std::to_string(b) + ".";
      const int64_t stride = (stage > 1 && b == 0) ? 2 : 1;
      const int block_in = x;
      int y = conv(prefix + "conv1", block_in, planes, stride);
      y = batchnorm(prefix + "bn1", y);
      relu(y);
      y = conv(prefix + "conv2", y, planes, 1);
      y = batchnorm(prefix + "bn2", y);
      Layer add{LayerKind::kShortcutAdd};
      add.in = add.out = y;
      add.aux = block_in;
      add.c_in = acts_[block_in].c;
      add.side_in = acts_[block_in].side;
      add.c_out = acts_[y].c;
      add.side_out = acts_[y].side;
      add.stride = stride;
      layers_.push_back(add);
      relu(y);
      x = y;
    }
  }
  Layer pool{LayerKind::kAvgPool};
  pool.in = x;
  pool.c_in = pool.c_out = acts_[x].c;
  pool.side_in = acts_[x].side;
  pool.side_out = 1;
  embedding_ = pool.out = add_act(kEmbeddingDim, 1);
  layers_.push_back(pool);
  Layer head{spec.head == HeadKind::kLinear ? LayerKind::kLinear : LayerKind::kCosine};
  head.in = embedding_;
  head.c_in = kEmbeddingDim;
  head.c_out = spec.classes;
  head.side_in = head.side_out = 1;
  if (spec.head == HeadKind::kLinear) {
    head.weight = add_param("linear.weight", {spec.classes, kEmbeddingDim});
    head.bias = add_param("linear.bias", {spec.classes});
  } else {
    head.weight = add_param("linear.weight", {kEmbeddingDim, spec.classes});  // NormedLinear: [in, out]
  }
  logits_ = head.out = add_act(spec.classes, 1);
  layers_.push_back(head);

  plan_backward();

  params_ = backend_->allocate(param_count_);
  grads_ = backend_->allocate(param_count_);
  momentum_ = backend_->allocate(param_count_);
  buffers_ = backend_->allocate(buffer_count_);
  stats_ = backend_->allocate(stats_count_);
  initialize(spec.seed);
}

template <typename T>
Network<T>::~Network() {
  for (T* p : {params_, grads_, momentum_, buffers_, stats_, arena_}) backend_->release(p);
}

template <typename T>
int Network<T>::add_act(int64_t c, int64_t side) {
  acts_.push_back(Act{c, side, 0});
  return static_cast<int>(acts_.size()) - 1;
}

template <typename T>
int64_t Network<T>::add_param(const std::string& name, std::vector<int64_t> shape) {
  int64_t count = 1;
  for (int64_t d : shape) count *= d;
  params_table_.push_back(TensorInfo{name, param_count_, std::move(shape), count});
  param_count_ += count;
  return param_count_ - count;
}

template <typename T>
int Network<T>::conv(const std::string& name, int in, int64_t c_out, int64_t stride) {
  Layer l{LayerKind::kConv};
  l.in = in;
  l.c_in = acts_[in].c;
  l.side_in = acts_[in].side;
  l.c_out = c_out;
  l.stride = stride;
  l.side_out = (l.side_in - 1) / stride + 1;
  l.weight = add_param(name + ".weight", {c_out, l.c_in, 3, 3});
  l.out = add_act(c_out, l.side_out);
  layers_.push_back(l);
  return l.out;
}

template <typename T>
int Network<T>::batchnorm(const std::string& name, int in) {
  Layer l{LayerKind::kBatchNorm};
  l.in = in;
  l.c_in = l.c_out = acts_[in].c;
  l.side_in = l.side_out = acts_[in].side;
  l.weight = add_param(name + ".weight", {l.c_in});
  l.bias = add_param(name + ".bias", {l.c_in});
  buffers_table_.push_back(TensorInfo{name + ".running_mean", buffer_count_, {l.c_in}, l.c_in});
  l.running_mean = buffer_count_;
  buffer_count_ += l.c_in;
  buffers_table_.push_back(TensorInfo{name + ".running_var", buffer_count_, {l.c_in}, l.c_in});
  l.running_var = buffer_count_;
  buffer_count_ += l.c_in;
  l.stats = stats_count_;
  stats_count_ += 2 * l.c_in;
  l.bn = static_cast<int>(bn_names_.size());
  bn_names_.push_back(name);
  num_batches_tracked_.push_back(0);
  l.out = add_act(l.c_in, l.side_in);
  layers_.push_back(l);
  return l.out;
}

template <typename T>
void Network<T>::relu(int t) {
  Layer l{LayerKind::kRelu};
  l.in = l.out = t;  // in place
  l.c_in = l.c_out = acts_[t].c;
  l.side_in = l.side_out = acts_[t].side;
  layers_.push_back(l);
}

// Assigns gradient buffers ("slots") by walking the layers backwards once, as backward() will:
// relu, batch norm and the residual add's branch work in place; a convolution or the shortcut writes the
// gradient of its input into a new slot, or adds to it when another consumer already wrote it; a slot is
// released when the layer that consumed it is done. Slots are reused by size, so the arena needs only a
// few gradient buffers (three per resolution for the ResNet).
template <typename T>
void Network<T>::plan_backward() {
  std::vector<int> slot_of(acts_.size(), -1);
  std::vector<bool> busy;
  auto acquire = [&](int64_t size) {
    for (size_t s = 0; s < slot_sizes_.size(); ++s) {
      if (!busy[s] && slot_sizes_[s] == size) {
        busy[s] = true;
        return static_cast<int>(s);
      }
    }
    slot_sizes_.push_back(size);
    busy.push_back(true);
    return static_cast<int>(slot_sizes_.size()) - 1;
  };
  auto input_grad = [&](Layer& l, int src) {  // slot for the gradient of activation src
    if (slot_of[src] < 0) {
      slot_of[src] = acquire(act_count(src));
      l.accumulate = false;
    } else {
      l.accumulate = true;
    }
    l.grad_in = slot_of[src];
  };
  slot_of[logits_] = acquire(act_count(logits_));
  for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) {
    Layer& l = *it;
    l.grad_out = slot_of[l.out];
    switch (l.kind) {
      case LayerKind::kRelu:
        l.grad_in = l.grad_out;
        break;
      case LayerKind::kBatchNorm:
        l.grad_in = l.grad_out;
        slot_of[l.in] = l.grad_out;
        slot_of[l.out] = -1;
        break;
      case LayerKind::kShortcutAdd:
        input_grad(l, l.aux);
        break;
      case LayerKind::kConv:
      case LayerKind::kAvgPool:
      case LayerKind::kLinear:
      case LayerKind::kCosine:
        if (l.in != input_) input_grad(l, l.in);
        busy[l.grad_out] = false;
        slot_of[l.out] = -1;
        break;
    }
  }
}

template <typename T>
void Network<T>::initialize(uint64_t seed) {
  std::vector<T> host(static_cast<size_t>(param_count_));
  for (const TensorInfo& t : params_table_) {
    T* p = host.data() + t.offset;
    const std::string& n = t.name;
    const bool is_bn = n.rfind("bn", 0) == 0 || n.find(".bn") != std::string::npos;  // bn1.*, layerX.Y.bnZ.*
    if (is_bn) {
      std::fill(p, p + t.count, ends_with(n, ".weight") ? T(1) : T(0));
    } else if (n == "linear.bias") {
      const double bound = 1.0 / std::sqrt(static_cast<double>(kEmbeddingDim));
      fill_uniform(seed, n, t.count, -bound, bound, p);
    } else if (n == "linear.weight" && spec_.head == HeadKind::kCosine) {
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
  backend_->upload(params_, host.data(), param_count_);
  std::vector<T> zero(static_cast<size_t>(param_count_), T(0));
  backend_->upload(momentum_, zero.data(), param_count_);
  backend_->upload(grads_, zero.data(), param_count_);
  std::vector<T> buf(static_cast<size_t>(buffer_count_));
  for (const TensorInfo& t : buffers_table_) {
    const bool is_var = ends_with(t.name, ".running_var");
    std::fill(buf.begin() + t.offset, buf.begin() + t.offset + t.count, is_var ? T(1) : T(0));
  }
  backend_->upload(buffers_, buf.data(), buffer_count_);
  std::fill(num_batches_tracked_.begin(), num_batches_tracked_.end(), 0);
  train_batch_ = 0;
}

template <typename T>
const TensorInfo* Network<T>::find_parameter(const std::string& name) const {
  return find_in(params_table_, name);
}

template <typename T>
const TensorInfo* Network<T>::find_buffer(const std::string& name) const {
  return find_in(buffers_table_, name);
}

template <typename T>
void Network<T>::get_parameters(T* host) const {
  backend_->download(host, params_, param_count_);
}
template <typename T>
void Network<T>::set_parameters(const T* host) {
  backend_->upload(params_, host, param_count_);
}
template <typename T>
void Network<T>::get_gradients(T* host) const {
  backend_->download(host, grads_, param_count_);
}
template <typename T>
void Network<T>::get_momentum(T* host) const {
  backend_->download(host, momentum_, param_count_);
}
template <typename T>
void Network<T>::set_momentum(const T* host) {
  backend_->upload(momentum_, host, param_count_);
}
template <typename T>
void Network<T>::get_buffers(T* host) const {
  backend_->download(host, buffers_, buffer_count_);
}
template <typename T>
void Network<T>::set_buffers(const T* host) {
  backend_->upload(buffers_, host, buffer_count_);
}

template <typename T>
bool Network<T>::read_tensor(const std::string& name, T* host) const {
  if (const TensorInfo* t = find_parameter(name)) {
    backend_->download(host, params_ + t->offset, t->count);
    return true;
  }
  if (const TensorInfo* t = find_buffer(name)) {
    backend_->download(host, buffers_ + t->offset, t->count);
    return true;
  }
  return false;
}

template <typename T>
bool Network<T>::write_tensor(const std::string& name, const T* host) {
  if (const TensorInfo* t = find_parameter(name)) {
    backend_->upload(params_ + t->offset, host, t->count);
    return true;
  }
  if (const TensorInfo* t = find_buffer(name)) {
    backend_->upload(buffers_ + t->offset, host, t->count);
    return true;
  }
  return false;
}

template <typename T>
void Network<T>::reserve(int64_t capacity) {
  if (capacity <= capacity_) return;
  // With a fused trunk only the head's tensors live in the arena (the trunk holds its own activations).
  const Layer& head = layers_.back();
  int64_t offset = 0;
  for (size_t i = 0; i < acts_.size(); ++i) {
    Act& a = acts_[i];
    a.offset = offset;
    const bool needed = !trunk_ || static_cast<int>(i) == embedding_ || static_cast<int>(i) == logits_;
    if (needed) offset += capacity * a.c * a.side * a.side;
  }
  slot_offsets_.resize(slot_sizes_.size());
  for (size_t s = 0; s < slot_sizes_.size(); ++s) {
    slot_offsets_[s] = offset;
    const bool needed =
        !trunk_ || static_cast<int>(s) == head.grad_in || static_cast<int>(s) == head.grad_out;
    if (needed) offset += capacity * slot_sizes_[s];
  }
  T* fresh = backend_->allocate(offset);  // allocate first: on failure the old arena stays valid
  backend_->release(arena_);
  arena_ = fresh;
  arena_count_ = offset;
  capacity_ = capacity;
  train_batch_ = 0;
  host_logits_.assign(static_cast<size_t>(capacity * spec_.classes), T(0));
  host_dlogits_.assign(static_cast<size_t>(capacity * spec_.classes), T(0));
}

template <typename T>
void Network<T>::forward(const T* x, int64_t batch, Mode mode, T* logits, T* embeddings) {
  if (batch < 1) throw std::invalid_argument("batch must be >= 1");
  use_threads(threads_);
  reserve(batch);
  const bool train = mode == Mode::kTrain;
  train_batch_ = 0;
  Backend<T>& be = *backend_;
  size_t first_layer = 0;
  if constexpr (std::is_same_v<T, float>) {
    if (trunk_) {
      // The provider writes the pooled features straight into the head's input (host memory).
      if (train) {
        trunk_->forward_train(x, batch, act(embedding_));
        for (int64_t& n : num_batches_tracked_) ++n;
      } else {
        trunk_->forward_eval(x, batch, act(embedding_));
      }
      first_layer = layers_.size() - 1;  // only the head remains
    }
  }
  if (first_layer == 0) backend_->upload(act(input_), x, batch * act_count(input_));
  for (size_t li = first_layer; li < layers_.size(); ++li) {
    const Layer& l = layers_[li];
    const int64_t s_in = l.side_in * l.side_in;
    switch (l.kind) {
      case LayerKind::kConv:
        be.conv3x3_forward(conv3x3_dims(batch, l.c_in, l.side_in, l.side_in, l.c_out, l.stride), act(l.in),
                           params_ + l.weight, act(l.out));
        break;
      case LayerKind::kBatchNorm:
        if (train) {
          be.batchnorm_forward_train(batch, l.c_in, s_in, act(l.in), params_ + l.weight, params_ + l.bias,
                                     act(l.out), stats_ + l.stats, stats_ + l.stats + l.c_in,
                                     buffers_ + l.running_mean, buffers_ + l.running_var, spec_.bn_momentum,
                                     spec_.bn_eps);
          ++num_batches_tracked_[l.bn];
        } else {
          be.batchnorm_forward_eval(batch, l.c_in, s_in, act(l.in), params_ + l.weight, params_ + l.bias,
                                    buffers_ + l.running_mean, buffers_ + l.running_var, spec_.bn_eps,
                                    act(l.out));
        }
        break;
      case LayerKind::kRelu:
        if (train && track_relu_margin_) {
          const T* x = act(l.in);
          for (int64_t i = 0, n = batch * l.c_in * s_in; i < n; ++i)
            relu_margin_ = std::min(relu_margin_, std::fabs(static_cast<double>(x[i])));
        }
        be.relu_forward(batch * l.c_in * s_in, act(l.in), act(l.out));
        break;
      case LayerKind::kShortcutAdd:
        be.shortcut_add_forward(option_a_dims(batch, l.c_in, l.side_in, l.side_in, l.c_out, l.stride),
                                act(l.aux), act(l.out));
        break;
      case LayerKind::kAvgPool:
        be.global_avgpool_forward(batch, l.c_in, s_in, act(l.in), act(l.out));
        break;
      case LayerKind::kLinear:
        be.linear_forward(batch, l.c_in, l.c_out, act(l.in), params_ + l.weight, params_ + l.bias,
                          act(l.out));
        break;
      case LayerKind::kCosine:
        be.normed_linear_forward(batch, l.c_in, l.c_out, act(l.in), params_ + l.weight, act(l.out));
        break;
    }
  }
  if (logits) be.download(logits, act(logits_), batch * spec_.classes);
  if (embeddings) be.download(embeddings, act(embedding_), batch * kEmbeddingDim);
  if (train) train_batch_ = batch;
}

template <typename T>
void Network<T>::backward(const T* dlogits) {
  if (train_batch_ < 1) throw std::logic_error("backward needs a train-mode forward first");
  use_threads(threads_);
  const int64_t batch = train_batch_;
  Backend<T>& be = *backend_;
  be.upload(grad(layers_.back().grad_out), dlogits, batch * spec_.classes);
  const size_t last = (std::is_same_v<T, float> && trunk_) ? 1 : layers_.size();
  for (size_t ri = 0; ri < last; ++ri) {
    const Layer& l = layers_[layers_.size() - 1 - ri];
    const int64_t s_in = l.side_in * l.side_in;
    switch (l.kind) {
      case LayerKind::kConv: {
        const ConvDims d = conv3x3_dims(batch, l.c_in, l.side_in, l.side_in, l.c_out, l.stride);
        be.conv3x3_backward_weights(d, act(l.in), grad(l.grad_out), grads_ + l.weight);
        if (l.grad_in >= 0)
          be.conv3x3_backward_data(d, params_ + l.weight, grad(l.grad_out), grad(l.grad_in), l.accumulate);
        break;
      }
      case LayerKind::kBatchNorm:
        be.batchnorm_backward(batch, l.c_in, s_in, act(l.in), grad(l.grad_out), params_ + l.weight,
                              stats_ + l.stats, stats_ + l.stats + l.c_in, grad(l.grad_in), grads_ + l.weight,
                              grads_ + l.bias);
        break;
      case LayerKind::kRelu:
        be.relu_backward(batch * l.c_in * s_in, act(l.out), grad(l.grad_out), grad(l.grad_in));
        break;
      case LayerKind::kShortcutAdd:
        be.shortcut_add_backward(option_a_dims(batch, l.c_in, l.side_in, l.side_in, l.c_out, l.stride),
                                 grad(l.grad_out), grad(l.grad_in), l.accumulate);
        break;
      case LayerKind::kAvgPool:
        be.global_avgpool_backward(batch, l.c_in, s_in, grad(l.grad_out), grad(l.grad_in), l.accumulate);
        break;
      case LayerKind::kLinear:
        be.linear_backward(batch, l.c_in, l.c_out, act(l.in), params_ + l.weight, grad(l.grad_out),
                           grad(l.grad_in), grads_ + l.weight, grads_ + l.bias);
        break;
      case LayerKind::kCosine:
        be.normed_linear_backward(batch, l.c_in, l.c_out, act(l.in), params_ + l.weight, grad(l.grad_out),
                                  grad(l.grad_in), grads_ + l.weight);
        break;
    }
  }
  if constexpr (std::is_same_v<T, float>) {
    if (trunk_) trunk_->backward(grad(layers_.back().grad_in));
  }
}

template <typename T>
void Network<T>::set_trunk(std::unique_ptr<TrunkProvider> trunk) {
  trunk_ = std::move(trunk);
  capacity_ = 0;  // the arena's layout depends on whether a trunk is used
  train_batch_ = 0;
}

template <typename T>
void Network<T>::sgd_step(const SgdConfig& cfg) {
  use_threads(threads_);
  backend_->sgd_step(param_count_, params_, grads_, momentum_, cfg);
}

template <typename T>
double Network<T>::train_step(const T* x, const int32_t* labels, int64_t batch, const LossConfig& loss,
                              const SgdConfig& sgd, T* logits) {
  if (batch < 1) throw std::invalid_argument("batch must be >= 1");
  reserve(batch);  // sizes host_logits_ before its address is taken
  forward(x, batch, Mode::kTrain, host_logits_.data(), nullptr);
  const double value =
      loss_forward_backward(loss, batch, spec_.classes, host_logits_.data(), labels, host_dlogits_.data());
  if (logits) std::copy(host_logits_.begin(), host_logits_.begin() + batch * spec_.classes, logits);
  backward(host_dlogits_.data());
  sgd_step(sgd);
  return value;
}

template <typename T>
double Network<T>::take_relu_margin() {
  const double m = relu_margin_;
  relu_margin_ = std::numeric_limits<double>::infinity();
  return m;
}

template class Network<float>;
template class Network<double>;

}  // namespace eos
