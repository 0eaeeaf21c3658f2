// Microbenchmark of one ResNet training step on the oneDNN trunk: images/s of forward + loss + backward +
// SGD at a given batch, input shape and thread count, plus inference images/s and peak resident memory.
//
// Usage: eos_bench_train_step [--channels 3] [--side 32] [--depth 32] [--batch 128] [--threads 2]
//                             [--steps 20] [--warmup 3] [--eval-steps 20] [--json]
// The head (linear 64 -> 10), softmax cross-entropy and SGD (momentum 0.9, weight decay 2e-4) are plain
// loops here; they are a negligible part of the step. EOS_DNNL_PROFILE=1 prints time per step kind.
#include <omp.h>
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "nn/dnnl/resnet_trunk.h"

using eos::dnnl_backend::BnParams;
using eos::dnnl_backend::ConvParams;
using eos::dnnl_backend::kTrunkFeatures;
using eos::dnnl_backend::Trunk;
using eos::dnnl_backend::TrunkParams;
using eos::dnnl_backend::TrunkSpec;

namespace {

// Process CPU seconds (all threads): on a shared machine, images per CPU-second at 1 thread is a steadier
// figure than wall-clock images/s.
double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

double peak_rss_mib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t channels = 3, side = 32, depth = 32, batch = 128, classes = 10;
  int threads = 2, steps = 20, warmup = 3, eval_steps = 20;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return std::atoll(argv[++i]); };
    if (a == "--channels")
      channels = next();
    else if (a == "--side")
      side = next();
    else if (a == "--depth")
      depth = next();
    else if (a == "--batch")
      batch = next();
    else if (a == "--threads")
      threads = static_cast<int>(next());
    else if (a == "--steps")
      steps = static_cast<int>(next());
    else if (a == "--warmup")
      warmup = static_cast<int>(next());
    else if (a == "--eval-steps")
      eval_steps = static_cast<int>(next());
    else if (a == "--json")
      json = true;
  }
  omp_set_num_threads(threads);
  TrunkSpec spec;
  spec.channels = channels;
  spec.height = spec.width = side;
  spec.blocks = static_cast<int>((depth - 2) / 6);

  // Flat parameter / gradient / momentum buffers with the trunk's layers, then the head.
  std::vector<int64_t> conv_sizes, bn_sizes;
  conv_sizes.push_back(16 * channels * 9);
  bn_sizes.push_back(16);
  int64_t planes_in = 16;
  for (int s = 0; s < 3; ++s) {
    const int64_t planes = 16 << s;
    for (int b = 0; b < spec.blocks; ++b) {
      conv_sizes.push_back(planes * planes_in * 9);
      bn_sizes.push_back(planes);
      conv_sizes.push_back(planes * planes * 9);
      bn_sizes.push_back(planes);
      planes_in = planes;
    }
  }
  int64_t total = 0;
  for (size_t i = 0; i < conv_sizes.size(); ++i) total += conv_sizes[i] + 2 * bn_sizes[i];
  const int64_t head_w = total, head_b = total + classes * kTrunkFeatures;
  total = head_b + classes;
  std::vector<float> params(total), grads(total), mom(total);
  std::vector<float> running;  // running mean / var, not trained
  for (int64_t c : bn_sizes) running.resize(running.size() + 2 * c);
  std::mt19937 rng(1);
  TrunkParams tp;
  int64_t off = 0, roff = 0;
  for (size_t i = 0; i < conv_sizes.size(); ++i) {
    const int64_t fan_in = conv_sizes[i] / (bn_sizes[i]);
    std::normal_distribution<float> nd(0.0f, std::sqrt(2.0f / static_cast<float>(fan_in)));
    for (int64_t j = 0; j < conv_sizes[i]; ++j) params[off + j] = nd(rng);
    tp.convs.push_back(ConvParams{&params[off], &grads[off]});
    off += conv_sizes[i];
    const int64_t c = bn_sizes[i];
    for (int64_t j = 0; j < c; ++j) params[off + j] = 1.0f;
    for (int64_t j = 0; j < c; ++j) running[roff + c + j] = 1.0f;
    tp.bns.push_back(BnParams{&params[off], &params[off + c], &running[roff], &running[roff + c], &grads[off],
                              &grads[off + c]});
    off += 2 * c;
    roff += 2 * c;
  }
  {
    std::normal_distribution<float> nd(0.0f, std::sqrt(2.0f / kTrunkFeatures));
    for (int64_t j = 0; j < classes * kTrunkFeatures; ++j) params[head_w + j] = nd(rng);
  }

  std::vector<float> x(batch * channels * side * side);
  std::normal_distribution<float> nx(0.0f, 1.0f);
  for (float& v : x) v = nx(rng);
  std::vector<int> labels(batch);
  for (int64_t i = 0; i < batch; ++i) labels[i] = static_cast<int>(i % classes);
  std::vector<float> feat(batch * kTrunkFeatures), dfeat(batch * kTrunkFeatures), logits(batch * classes);

  const auto t_build = std::chrono::steady_clock::now();
  Trunk trunk(spec, batch);
  const double build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_build).count();

  double loss = 0;
  auto step = [&] {
    trunk.forward_train(tp, x.data(), feat.data());
    const float* w = &params[head_w];
    const float* bias = &params[head_b];
    float* dw = &grads[head_w];
    float* db = &grads[head_b];
    std::memset(dw, 0, sizeof(float) * (classes * (kTrunkFeatures + 1)));
    loss = 0;
    for (int64_t n = 0; n < batch; ++n) {
      float* z = &logits[n * classes];
      float zmax = -1e30f;
      for (int64_t k = 0; k < classes; ++k) {
        float acc = bias[k];
        for (int64_t f = 0; f < kTrunkFeatures; ++f)
          acc += w[k * kTrunkFeatures + f] * feat[n * kTrunkFeatures + f];
        z[k] = acc;
        zmax = std::max(zmax, acc);
      }
      double sum = 0;
      for (int64_t k = 0; k < classes; ++k) sum += std::exp(z[k] - zmax);
      loss += std::log(sum) - (z[labels[n]] - zmax);
      float* df = &dfeat[n * kTrunkFeatures];
      std::memset(df, 0, sizeof(float) * kTrunkFeatures);
      for (int64_t k = 0; k < classes; ++k) {
        const float g =
            static_cast<float>((std::exp(z[k] - zmax) / sum - (k == labels[n] ? 1.0 : 0.0)) / batch);
        db[k] += g;
        for (int64_t f = 0; f < kTrunkFeatures; ++f) {
          dw[k * kTrunkFeatures + f] += g * feat[n * kTrunkFeatures + f];
          df[f] += g * w[k * kTrunkFeatures + f];
        }
      }
    }
    loss /= batch;
    trunk.backward(tp, dfeat.data());
    const float lr = 0.01f, m = 0.9f, wd = 2e-4f;
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < total; ++i) {
      const float g = grads[i] + wd * params[i];
      mom[i] = m * mom[i] + g;
      params[i] -= lr * mom[i];
    }
  };

  for (int i = 0; i < warmup; ++i) step();
  const double first_loss = loss;
  const double c0 = cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) step();
  const double train_cpu_ips = static_cast<double>(steps * batch) / (cpu_seconds() - c0);
  const double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double train_ips = static_cast<double>(steps * batch) / train_s;

  trunk.forward_eval(tp, x.data(), feat.data());
  const auto t1 = std::chrono::steady_clock::now();
  for (int i = 0; i < eval_steps; ++i) trunk.forward_eval(tp, x.data(), feat.data());
  const double eval_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  const double eval_ips = static_cast<double>(eval_steps * batch) / eval_s;

  if (json) {
    std::printf(
        "{\"train_ips\": %.1f, \"train_cpu_ips\": %.1f, \"eval_ips\": %.1f, \"peak_rss_mib\": %.1f, "
        "\"plan_mib\": %.1f, \"build_s\": %.3f, "
        "\"loss_first\": %.4f, \"loss_last\": %.4f}\n",
        train_ips, train_cpu_ips, eval_ips, peak_rss_mib(), trunk.memory_bytes() / 1048576.0, build_s,
        first_loss, loss);
  } else {
    std::printf("eos dnnl (%s, %s): ResNet-%lld %lldx%lldx%lld batch %lld threads %d\n",
                eos::dnnl_backend::dnnl_isa().c_str(), eos::dnnl_backend::dnnl_cpu_runtime().c_str(),
                static_cast<long long>(depth), static_cast<long long>(channels), static_cast<long long>(side),
                static_cast<long long>(side), static_cast<long long>(batch), threads);
    std::printf(
        "  train %.1f img/s  eval %.1f img/s  peak RSS %.1f MiB  plan %.1f MiB  build %.2f s  loss %.4f -> "
        "%.4f\n",
        train_ips, eval_ips, peak_rss_mib(), trunk.memory_bytes() / 1048576.0, build_s, first_loss, loss);
    const std::string prof = trunk.profile_report();
    if (!prof.empty()) std::printf("%s", prof.c_str());
  }
  return 0;
}
