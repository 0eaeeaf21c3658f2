// An Engine over a network held in host memory (the ref Network, the oneDNN DnnlNetwork): the state lives in
// the network's HostModel, so the sync points are plain copies, and an epoch is a loop of host-side
// augmentation (augment/augment.h) followed by the network's train_step on each batch. `Net` provides
// HostModel's accessors plus set_threads, reserve, forward and train_step (nn/network.h's signatures).
#pragma once

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "nn/engine.h"
#include "nn/network.h"

namespace eos {

template <class Net>
class HostEngine : public Engine {
 public:
  HostEngine(const char* name, std::unique_ptr<Net> net) : name_(name), net_(std::move(net)) {}

  const char* name() const override { return name_; }
  const Topology& topology() const override { return net_->topology(); }
  void set_threads(int threads) override { net_->set_threads(threads); }

  void get_parameters(float* host) const override { net_->get_parameters(host); }
  void set_parameters(const float* host) override { net_->set_parameters(host); }
  void get_momentum(float* host) const override { net_->get_momentum(host); }
  void set_momentum(const float* host) override { net_->set_momentum(host); }
  void get_buffers(float* host) const override { net_->get_buffers(host); }
  void set_buffers(const float* host) override { net_->set_buffers(host); }
  bool read_tensor(const std::string& name, float* host) const override {
    return net_->read_tensor(name, host);
  }
  bool write_tensor(const std::string& name, const float* host) override {
    return net_->write_tensor(name, host);
  }
  std::vector<int64_t> num_batches_tracked() const override { return net_->num_batches_tracked(); }
  void set_num_batches_tracked(const std::vector<int64_t>& counts) override {
    net_->num_batches_tracked() = counts;
  }
  void initialize(uint64_t seed) override { net_->initialize(seed); }

  EpochProgress train_epoch(const uint8_t* images, const int32_t* labels, const int32_t* order, int64_t rows,
                            const EpochConfig& cfg, const ProgressFn& on_progress,
                            const StopFn& should_stop) override {
    const NetworkSpec& spec = net_->spec();
    const int64_t image_size = spec.in_channels * spec.side * spec.side;
    const int64_t B = cfg.batch, K = spec.classes;
    // Without a lone trailing image, the epoch has ceil(R' / B) batches with R' = R or R - 1.
    const int64_t usable = (rows % B == 1 && rows > 1) ? rows - 1 : rows;
    EpochProgress p;
    p.batches_total = (usable + B - 1) / B;
    std::vector<float> x(static_cast<size_t>(B * image_size)), logits(static_cast<size_t>(B * K));
    std::vector<int32_t> y(static_cast<size_t>(B));
    net_->reserve(B);
    for (int64_t start = 0; start < usable; start += B) {
      if (should_stop && should_stop()) break;
      const int64_t b = std::min(B, usable - start);
      const int32_t* idx = order + start;
      if (cfg.augment_images) {
        augment_batch(images, idx, b, cfg.augment, x.data());
      } else {
        normalize_batch(images, idx, b, cfg.augment, x.data());
      }
      for (int64_t i = 0; i < b; ++i) y[i] = labels[idx[i]];
      const double loss = net_->train_step(x.data(), y.data(), b, cfg.loss, cfg.sgd, logits.data());
      if (!std::isfinite(loss)) {
        ++p.batches_done;
        p.diverged = true;
        break;
      }
      for (int64_t i = 0; i < b; ++i) {
        const float* row = logits.data() + i * K;
        if (std::max_element(row, row + K) - row == y[i]) ++p.correct;
      }
      p.loss_sum += loss * static_cast<double>(b);
      p.images_done += b;
      ++p.batches_done;
      if (on_progress && cfg.progress_every > 0 &&
          (p.batches_done % cfg.progress_every == 0 || p.batches_done == p.batches_total)) {
        on_progress(p);
      }
    }
    return p;
  }

  bool predict(const uint8_t* images, const int32_t* indices, int64_t rows, int64_t batch,
               const AugmentParams& normalize, float* logits, float* embeddings,
               const StopFn& should_stop) override {
    const NetworkSpec& spec = net_->spec();
    const int64_t image_size = spec.in_channels * spec.side * spec.side;
    std::vector<float> x(static_cast<size_t>(batch * image_size));
    std::vector<int32_t> idx(static_cast<size_t>(batch));
    net_->reserve(batch);
    for (int64_t start = 0; start < rows; start += batch) {
      if (should_stop && should_stop()) return false;
      const int64_t b = std::min(batch, rows - start);
      for (int64_t i = 0; i < b; ++i) idx[i] = indices ? indices[start + i] : static_cast<int32_t>(start + i);
      normalize_batch(images, idx.data(), b, normalize, x.data());
      net_->forward(x.data(), b, Mode::kEval, logits ? logits + start * spec.classes : nullptr,
                    embeddings ? embeddings + start * Topology::kEmbeddingDim : nullptr);
    }
    return true;
  }

  Net& network() { return *net_; }

 private:
  const char* name_;
  std::unique_ptr<Net> net_;
};

// Phase 3 over host memory (head_training.cc): the reference head kernels, loss and SGD.
class HostHeadEngine : public HeadEngine {
 public:
  explicit HostHeadEngine(const char* name) : name_(name) {}
  const char* name() const override { return name_; }
  void set_threads(int threads) override { threads_ = threads; }
  std::vector<double> train_head(const HeadTrainingConfig& cfg, const float* x, int64_t n,
                                 const int32_t* labels, const int32_t* orders, HeadParameters& params,
                                 const StopFn& should_stop) override;
  void head_logits(HeadKind head, int64_t dim, int64_t classes, const HeadParameters& params, const float* x,
                   int64_t n, float* logits) override;

 private:
  const char* name_;
  int threads_ = 0;
};

// The ref engine's relu-margin hooks (the per-op network records them; see Network::track_relu_margin).
class RefEngine : public HostEngine<Network<float>> {
 public:
  explicit RefEngine(const NetworkSpec& spec)
      : HostEngine<Network<float>>("ref", std::make_unique<Network<float>>(spec)) {}
  bool track_relu_margin(bool on) override {
    network().track_relu_margin(on);
    return true;
  }
  double take_relu_margin() override { return network().take_relu_margin(); }
};

}  // namespace eos
