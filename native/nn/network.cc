#include "nn/network.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "core/threads.h"
#include "nn/dims.h"
#include "nn/layer_plan.h"
#include "nn/ref/avgpool.h"
#include "nn/ref/batchnorm2d.h"
#include "nn/ref/conv2d.h"
#include "nn/ref/relu.h"
#include "nn/ref/shortcut.h"

namespace eos {

template <typename T>
Network<T>::Network(const NetworkSpec& spec)
    : HostModel<T>(spec), head_(spec.head, kEmbeddingDim, spec.classes) {
  const LayerPlan plan = layer_plan(this->topology());
  layers_ = plan.layers;
  for (const PlanActivation& a : plan.activations) acts_.push_back(Act{a.c, a.side, 0});
  input_ = plan.input;
  embedding_ = plan.embedding;
  logits_ = plan.logits;
  slot_sizes_ = plan.slot_sizes;
  stats_ = HostArray<T>(plan.stats_count);
}

template <typename T>
void Network<T>::reserve(int64_t capacity) {
  if (capacity <= capacity_) return;
  int64_t offset = 0;
  for (Act& a : acts_) {
    a.offset = offset;
    offset += capacity * a.c * a.side * a.side;
  }
  slot_offsets_.resize(slot_sizes_.size());
  for (size_t s = 0; s < slot_sizes_.size(); ++s) {
    slot_offsets_[s] = offset;
    offset += capacity * slot_sizes_[s];
  }
  arena_ = HostArray<T>(offset);  // on failure (bad_alloc) the old arena stays valid
  capacity_ = capacity;
  train_batch_ = 0;
  const int64_t classes = this->spec().classes;
  host_logits_.assign(static_cast<size_t>(capacity * classes), T(0));
  host_dlogits_.assign(static_cast<size_t>(capacity * classes), T(0));
}

template <typename T>
T* Network<T>::workspace(int64_t count) {
  if (static_cast<int64_t>(workspace_.size()) < count) workspace_.resize(static_cast<size_t>(count));
  return workspace_.data();
}

template <typename T>
void Network<T>::forward(const T* x, int64_t batch, Mode mode, T* logits, T* embeddings) {
  if (batch < 1) throw std::invalid_argument("batch must be >= 1");
  use_threads(threads_);
  reserve(batch);
  const bool train = mode == Mode::kTrain;
  const NetworkSpec& spec = this->spec();
  T* params = this->params();
  T* buffers = this->running_stats();
  T* stats = stats_.data();
  train_batch_ = 0;
  std::copy(x, x + batch * act_count(input_), act(input_));
  for (const Layer& l : layers_) {
    const int64_t s_in = l.side_in * l.side_in;
    switch (l.kind) {
      case LayerKind::kConv: {
        const ConvDims d = conv3x3_dims(batch, l.c_in, l.side_in, l.side_in, l.c_out, l.stride);
        ref::conv2d_forward(d, act(l.in), params + l.weight, act(l.out),
                            workspace(ref::conv2d_workspace_size(d, omp_get_max_threads())));
        break;
      }
      case LayerKind::kBatchNorm:
        if (train) {
          ref::batchnorm2d_forward_train(batch, l.c_in, s_in, act(l.in), params + l.weight, params + l.bias,
                                         act(l.out), stats + l.stats, stats + l.stats + l.c_in,
                                         buffers + l.running_mean, buffers + l.running_var, spec.bn_momentum,
                                         spec.bn_eps);
          ++this->num_batches_tracked()[l.bn];
        } else {
          ref::batchnorm2d_forward_eval(batch, l.c_in, s_in, act(l.in), params + l.weight, params + l.bias,
                                        buffers + l.running_mean, buffers + l.running_var, spec.bn_eps,
                                        act(l.out));
        }
        break;
      case LayerKind::kRelu:
        if (train && track_relu_margin_) {
          const T* v = act(l.in);
          for (int64_t i = 0, n = batch * l.c_in * s_in; i < n; ++i)
            relu_margin_ = std::min(relu_margin_, std::fabs(static_cast<double>(v[i])));
        }
        ref::relu_forward(batch * l.c_in * s_in, act(l.in), act(l.out));
        break;
      case LayerKind::kShortcutAdd:
        ref::shortcut_add_forward(option_a_dims(batch, l.c_in, l.side_in, l.side_in, l.c_out, l.stride),
                                  act(l.aux), act(l.out));
        break;
      case LayerKind::kAvgPool:
        ref::global_avgpool_forward(batch, l.c_in, s_in, act(l.in), act(l.out));
        break;
      case LayerKind::kLinear:
      case LayerKind::kCosine:
        head_.forward(batch, act(l.in), params + l.weight, l.bias >= 0 ? params + l.bias : nullptr,
                      act(l.out));
        break;
    }
  }
  if (logits) std::copy(act(logits_), act(logits_) + batch * spec.classes, logits);
  if (embeddings) std::copy(act(embedding_), act(embedding_) + batch * kEmbeddingDim, embeddings);
  if (train) train_batch_ = batch;
}

template <typename T>
void Network<T>::backward(const T* dlogits) {
  if (train_batch_ < 1) throw std::logic_error("backward needs a train-mode forward first");
  use_threads(threads_);
  const int64_t batch = train_batch_;
  T* params = this->params();
  T* grads = this->grads();
  T* stats = stats_.data();
  std::copy(dlogits, dlogits + batch * this->spec().classes, grad(layers_.back().grad_out));
  for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) {
    const Layer& l = *it;
    const int64_t s_in = l.side_in * l.side_in;
    switch (l.kind) {
      case LayerKind::kConv: {
        const ConvDims d = conv3x3_dims(batch, l.c_in, l.side_in, l.side_in, l.c_out, l.stride);
        T* ws = workspace(ref::conv2d_workspace_size(d, omp_get_max_threads()));
        ref::conv2d_backward_weights(d, act(l.in), grad(l.grad_out), grads + l.weight, ws);
        if (l.grad_in >= 0)
          ref::conv2d_backward_data(d, params + l.weight, grad(l.grad_out), grad(l.grad_in), l.accumulate,
                                    ws);
        break;
      }
      case LayerKind::kBatchNorm:
        ref::batchnorm2d_backward(batch, l.c_in, s_in, act(l.in), grad(l.grad_out), params + l.weight,
                                  stats + l.stats, stats + l.stats + l.c_in, grad(l.grad_in),
                                  grads + l.weight, grads + l.bias);
        break;
      case LayerKind::kRelu:
        ref::relu_backward(batch * l.c_in * s_in, act(l.out), grad(l.grad_out), grad(l.grad_in));
        break;
      case LayerKind::kShortcutAdd:
        ref::shortcut_add_backward(option_a_dims(batch, l.c_in, l.side_in, l.side_in, l.c_out, l.stride),
                                   grad(l.grad_out), grad(l.grad_in), l.accumulate);
        break;
      case LayerKind::kAvgPool:
        ref::global_avgpool_backward(batch, l.c_in, s_in, grad(l.grad_out), grad(l.grad_in), l.accumulate);
        break;
      case LayerKind::kLinear:
      case LayerKind::kCosine:
        head_.backward(batch, act(l.in), params + l.weight, grad(l.grad_out), grad(l.grad_in),
                       grads + l.weight, l.bias >= 0 ? grads + l.bias : nullptr);
        break;
    }
  }
}

template <typename T>
void Network<T>::sgd_step(const SgdConfig& cfg) {
  use_threads(threads_);
  HostModel<T>::sgd_step(cfg);
}

template <typename T>
double Network<T>::train_step(const T* x, const int32_t* labels, int64_t batch, const LossConfig& loss,
                              const SgdConfig& sgd, T* logits) {
  if (batch < 1) throw std::invalid_argument("batch must be >= 1");
  reserve(batch);  // sizes host_logits_ before its address is taken
  forward(x, batch, Mode::kTrain, host_logits_.data(), nullptr);
  const int64_t classes = this->spec().classes;
  const double value =
      loss_forward_backward(loss, batch, classes, host_logits_.data(), labels, host_dlogits_.data());
  if (logits) std::copy(host_logits_.begin(), host_logits_.begin() + batch * classes, logits);
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
