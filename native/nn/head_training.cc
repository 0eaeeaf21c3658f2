// Phase 3 over host memory: init_head (shared by every backend) and HostHeadEngine (nn/host_engine.h).
#include <algorithm>
#include <cmath>

#include "core/rng.h"
#include "core/threads.h"
#include "nn/head_ops.h"
#include "nn/host_engine.h"

namespace eos {
namespace {
// Distinguishes head initialisation draws from every other use of the seed (ASCII "head").
constexpr uint64_t kHeadStreamTag = 0x68656164ull;

}  // namespace

HeadParameters init_head(HeadKind head, int64_t dim, int64_t classes, uint64_t seed) {
  HeadParameters p;
  p.weight.resize(static_cast<size_t>(dim * classes));
  const CounterRng weights(seed, kHeadStreamTag);
  const CounterRng biases(seed, kHeadStreamTag + 1);
  if (head == HeadKind::kLinear) {
    const float std = static_cast<float>(std::sqrt(2.0 / static_cast<double>(dim)));
    for (size_t i = 0; i < p.weight.size(); ++i) {
      const Philox4x32 r = weights.block(i);
      p.weight[i] = std * standard_normal(r.v[0], r.v[1]);
    }
    const float bound = static_cast<float>(1.0 / std::sqrt(static_cast<double>(dim)));
    p.bias.resize(static_cast<size_t>(classes));
    for (int64_t k = 0; k < classes; ++k) {
      p.bias[k] = bound * (2.0f * uniform01(biases.block(k).v[0]) - 1.0f);
    }
  } else {
    for (size_t i = 0; i < p.weight.size(); ++i) p.weight[i] = 2.0f * uniform01(weights.block(i).v[0]) - 1.0f;
    for (int64_t k = 0; k < classes; ++k) {  // unit-norm columns of w [D, K]
      double sq = 0;
      for (int64_t d = 0; d < dim; ++d)
        sq += static_cast<double>(p.weight[d * classes + k]) * p.weight[d * classes + k];
      const float inv = static_cast<float>(1.0 / std::max(std::sqrt(sq), 1e-12));
      for (int64_t d = 0; d < dim; ++d) p.weight[d * classes + k] *= inv;
    }
  }
  return p;
}

std::vector<double> HostHeadEngine::train_head(const HeadTrainingConfig& cfg, const float* x, int64_t n,
                                               const int32_t* labels, const int32_t* orders,
                                               HeadParameters& params, const StopFn& should_stop) {
  (void)n;  // rows are addressed through orders, validated by the caller
  use_threads(threads_);
  const int64_t D = cfg.dim, K = cfg.classes, R = cfg.rows_per_epoch, B = cfg.batch;
  const bool linear = cfg.head == HeadKind::kLinear;
  // Parameters, gradients and momentum as flat buffers (weight then bias), so SGD is one loop.
  const int64_t wcount = D * K, count = wcount + (linear ? K : 0);
  std::vector<float> flat(count), grads(count), momentum(count, 0.0f);
  std::copy(params.weight.begin(), params.weight.end(), flat.begin());
  if (linear) std::copy(params.bias.begin(), params.bias.end(), flat.begin() + wcount);

  std::vector<float> xb(static_cast<size_t>(B * D)), logits(static_cast<size_t>(B * K)),
      dlogits(logits.size());
  std::vector<int32_t> yb(static_cast<size_t>(B));
  HostHead<float> head(cfg.head, D, K);
  std::vector<double> epoch_losses;
  for (int64_t e = 0; e < cfg.epochs; ++e) {
    LossConfig loss = cfg.loss;
    loss.class_weights = cfg.weights_per_epoch[e];
    SgdConfig sgd = cfg.sgd;
    sgd.lr = cfg.lr_per_epoch[e];
    const int32_t* order = orders + e * R;
    double total = 0;
    for (int64_t start = 0; start < R; start += B) {
      if (should_stop && should_stop()) return epoch_losses;
      const int64_t b = std::min(B, R - start);
      for (int64_t i = 0; i < b; ++i) {
        const int32_t row = order[start + i];
        std::copy(x + row * D, x + (row + 1) * D, xb.begin() + i * D);
        yb[i] = labels[row];
      }
      const float* w = flat.data();
      head.forward(b, xb.data(), w, linear ? w + wcount : nullptr, logits.data());
      total += loss_forward_backward<float>(loss, b, K, logits.data(), yb.data(), dlogits.data()) * b;
      head.backward(b, xb.data(), w, dlogits.data(), nullptr, grads.data(),
                    linear ? grads.data() + wcount : nullptr);
      sgd_step<float>(count, flat.data(), grads.data(), momentum.data(), sgd);
    }
    epoch_losses.push_back(total / static_cast<double>(R));
  }
  std::copy(flat.begin(), flat.begin() + wcount, params.weight.begin());
  if (linear) std::copy(flat.begin() + wcount, flat.end(), params.bias.begin());
  return epoch_losses;
}

void HostHeadEngine::head_logits(HeadKind kind, int64_t dim, int64_t classes, const HeadParameters& params,
                                 const float* x, int64_t n, float* logits) {
  // No thread count of its own: a [N, D] x [D, K] product on the caller's thread, as every caller runs it.
  HostHead<float> head(kind, dim, classes);
  head.forward(n, x, params.weight.data(), kind == HeadKind::kLinear ? params.bias.data() : nullptr, logits);
}

}  // namespace eos
