#include "nn/dnnl/dnnl_trunk_provider.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "nn/dnnl/resnet_trunk.h"

namespace eos::dnnl_backend {
namespace {

class DnnlTrunkProvider : public TrunkProvider {
 public:
  explicit DnnlTrunkProvider(Network<float>& net) {
    const NetworkSpec& s = net.spec();
    spec_.channels = s.in_channels;
    spec_.height = spec_.width = s.side;
    spec_.blocks = static_cast<int>((s.depth - 2) / 6);
    spec_.bn_momentum = s.bn_momentum;
    spec_.bn_eps = s.bn_eps;
    float* params = net.parameter_data();
    float* grads = net.gradient_data();
    float* buffers = net.buffer_data();
    auto param = [&](const std::string& name) {
      const TensorInfo* t = net.find_parameter(name);
      if (!t) throw std::logic_error("dnnl trunk: the network has no parameter " + name);
      return t->offset;
    };
    auto buffer = [&](const std::string& name) {
      const TensorInfo* t = net.find_buffer(name);
      if (!t) throw std::logic_error("dnnl trunk: the network has no buffer " + name);
      return t->offset;
    };
    // Trunk order: the stem, then layer{s}.{b}.conv1/bn1 and conv2/bn2 (resnet_trunk.h).
    std::vector<std::pair<std::string, std::string>> layers{{"conv1", "bn1"}};
    for (int stage = 1; stage <= 3; ++stage) {
      for (int b = 0; b < spec_.blocks; ++b) {
        const std::string pre = "layer" + std::to_string(stage) + "." + std::to_string(b) + ".";
        layers.emplace_back(pre + "conv1", pre + "bn1");
        layers.emplace_back(pre + "conv2", pre + "bn2");
      }
    }
    for (const auto& [conv, bn] : layers) {
      const int64_t w = param(conv + ".weight");
      params_.convs.push_back(ConvParams{params + w, grads + w});
      const int64_t g = param(bn + ".weight"), b = param(bn + ".bias");
      params_.bns.push_back(BnParams{params + g, params + b, buffers + buffer(bn + ".running_mean"),
                                     buffers + buffer(bn + ".running_var"), grads + g, grads + b});
    }
  }

  const char* name() const override { return "dnnl"; }

  void forward_train(const float* x, int64_t batch, float* features) override {
    plan(batch).forward_train(params_, x, features);
    last_train_ = current_;
  }
  void backward(const float* dfeatures) override {
    if (!last_train_) throw std::logic_error("dnnl trunk: backward needs a training forward first");
    last_train_->backward(params_, dfeatures);
  }
  void forward_eval(const float* x, int64_t batch, float* features) override {
    plan(batch).forward_eval(params_, x, features);
    last_train_ = nullptr;  // eval reuses the activation buffers of the plan
  }

 private:
  Trunk& plan(int64_t batch) {
    for (auto& p : plans_) {
      if (p && p->batch() == batch) {
        current_ = p.get();
        return *p;
      }
    }
    // Replace the least recently built plan (at most two: the full batch and an epoch's last one).
    plans_[next_].reset();
    plans_[next_] = std::make_unique<Trunk>(spec_, batch);
    current_ = plans_[next_].get();
    next_ = 1 - next_;
    return *current_;
  }

  TrunkSpec spec_;
  TrunkParams params_;
  std::unique_ptr<Trunk> plans_[2];
  int next_ = 0;
  Trunk* current_ = nullptr;
  Trunk* last_train_ = nullptr;
};

}  // namespace

std::unique_ptr<TrunkProvider> make_trunk_provider(Network<float>& net) {
  return std::make_unique<DnnlTrunkProvider>(net);
}

}  // namespace eos::dnnl_backend
