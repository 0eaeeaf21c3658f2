#include "nn/dnnl/dnnl_network.h"

#include <algorithm>
#include <stdexcept>

#include "core/threads.h"

namespace eos::dnnl_backend {

DnnlNetwork::DnnlNetwork(const NetworkSpec& spec, const TrunkTuning& tuning)
    : HostModel<float>(spec),
      trunk_spec_(trunk_spec(topology())),
      trunk_params_(eos::dnnl_backend::trunk_params(topology(), params(), grads(), running_stats())),
      head_(spec.head, kEmbeddingDim, spec.classes) {
  trunk_spec_.tuning = tuning;
  // Looked up once: forward and train_step run every batch.
  head_weight_ = find_parameter("linear.weight")->offset;
  if (const TensorInfo* b = find_parameter("linear.bias")) head_bias_ = b->offset;
}

void DnnlNetwork::reserve(int64_t capacity) {
  if (capacity <= capacity_) return;
  features_ = HostArray<float>(capacity * kEmbeddingDim);
  dfeatures_ = HostArray<float>(capacity * kEmbeddingDim);
  logits_.assign(static_cast<size_t>(capacity * spec().classes), 0.0f);
  dlogits_.assign(logits_.size(), 0.0f);
  capacity_ = capacity;
}

Trunk& DnnlNetwork::plan(int64_t batch) {
  for (auto& p : plans_) {
    if (p && p->batch() == batch) {
      current_ = p.get();
      return *p;
    }
  }
  // Replace the least recently built plan.
  plans_[next_].reset();
  plans_[next_] = std::make_unique<Trunk>(trunk_spec_, batch);
  current_ = plans_[next_].get();
  next_ = 1 - next_;
  return *current_;
}

void DnnlNetwork::forward(const float* x, int64_t batch, Mode mode, float* logits, float* embeddings) {
  if (batch < 1) throw std::invalid_argument("batch must be >= 1");
  use_threads(threads_);
  reserve(batch);
  const float* linear_bias = head_bias_ >= 0 ? params() + head_bias_ : nullptr;
  const float* weight = params() + head_weight_;
  if (mode == Mode::kTrain) {
    plan(batch).forward_train(trunk_params_, x, features_.data());
    for (int64_t& n : num_batches_tracked()) ++n;
  } else {
    plan(batch).forward_eval(trunk_params_, x, features_.data());
  }
  head_.forward(batch, features_.data(), weight, linear_bias, logits_.data());
  if (logits) std::copy(logits_.begin(), logits_.begin() + batch * spec().classes, logits);
  if (embeddings) std::copy(features_.data(), features_.data() + batch * kEmbeddingDim, embeddings);
}

double DnnlNetwork::train_step(const float* x, const int32_t* labels, int64_t batch, const LossConfig& loss,
                               const SgdConfig& sgd, float* logits) {
  if (batch < 1) throw std::invalid_argument("batch must be >= 1");
  forward(x, batch, Mode::kTrain, nullptr, nullptr);
  const int64_t classes = spec().classes;
  const double value = loss_forward_backward(loss, batch, classes, logits_.data(), labels, dlogits_.data());
  if (logits) std::copy(logits_.begin(), logits_.begin() + batch * classes, logits);
  use_threads(threads_);
  head_.backward(batch, features_.data(), params() + head_weight_, dlogits_.data(), dfeatures_.data(),
                 grads() + head_weight_, head_bias_ >= 0 ? grads() + head_bias_ : nullptr);
  current_->backward(trunk_params_, dfeatures_.data());
  sgd_step(sgd);
  return value;
}

std::vector<std::string> DnnlNetwork::implementations() {
  return current_ ? current_->implementations() : std::vector<std::string>{};
}

}  // namespace eos::dnnl_backend
