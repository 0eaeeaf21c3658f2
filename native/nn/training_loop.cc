#include "nn/training_loop.h"

#include <algorithm>
#include <numeric>
#include <vector>

namespace eos {

EpochProgress train_epoch(Network<float>& net, const uint8_t* images, const int32_t* labels,
                          const int32_t* order, int64_t rows, const EpochConfig& cfg,
                          const std::function<void(const EpochProgress&)>& on_progress,
                          const std::function<bool()>& should_stop) {
  const NetworkSpec& spec = net.spec();
  const int64_t image_size = spec.in_channels * spec.side * spec.side;
  const int64_t B = cfg.batch, K = spec.classes;
  // Without a lone trailing image, the epoch has ceil(R' / B) batches with R' = R or R - 1.
  const int64_t usable = (rows % B == 1 && rows > 1) ? rows - 1 : rows;
  EpochProgress p;
  p.batches_total = (usable + B - 1) / B;
  std::vector<float> x(static_cast<size_t>(B * image_size)), logits(static_cast<size_t>(B * K));
  std::vector<int32_t> y(static_cast<size_t>(B));
  net.reserve(B);
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
    const double loss = net.train_step(x.data(), y.data(), b, cfg.loss, cfg.sgd, logits.data());
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

bool predict(Network<float>& net, const uint8_t* images, const int32_t* indices, int64_t rows, int64_t batch,
             const AugmentParams& normalize, float* logits, float* embeddings,
             const std::function<bool()>& should_stop) {
  const NetworkSpec& spec = net.spec();
  const int64_t image_size = spec.in_channels * spec.side * spec.side;
  std::vector<float> x(static_cast<size_t>(batch * image_size));
  std::vector<int32_t> idx(static_cast<size_t>(batch));
  net.reserve(batch);
  for (int64_t start = 0; start < rows; start += batch) {
    if (should_stop && should_stop()) return false;
    const int64_t b = std::min(batch, rows - start);
    for (int64_t i = 0; i < b; ++i) idx[i] = indices ? indices[start + i] : static_cast<int32_t>(start + i);
    normalize_batch(images, idx.data(), b, normalize, x.data());
    net.forward(x.data(), b, Mode::kEval, logits ? logits + start * spec.classes : nullptr,
                embeddings ? embeddings + start * Network<float>::kEmbeddingDim : nullptr);
  }
  return true;
}

}  // namespace eos
