// Microbenchmark of one engine's training epoch without Node: images/s of augmentation + forward + loss +
// backward + SGD at a given batch, input shape and thread count, plus inference images/s and peak resident
// memory. It drives the engine only through nn/engine.h, so every backend of the build is measured the same
// way (a CUDA engine too, on a machine that has no Node).
//
// Usage: eos_bench_train_step [--backend auto|ref|dnnl] [--channels 3] [--side 32] [--depth 32]
//                             [--batch 128] [--threads 2] [--steps 20] [--warmup 3] [--eval-steps 20] [--json]
// SGD: lr 0.01, momentum 0.9, weight decay 2e-4 (the CIFAR recipe); cross-entropy on random labels.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "nn/engine.h"

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
  std::string backend = "auto";
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return std::atoll(argv[++i]); };
    if (a == "--backend")
      backend = argv[++i];
    else if (a == "--channels")
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
  eos::NetworkSpec spec;
  spec.depth = depth;
  spec.in_channels = channels;
  spec.side = side;
  spec.classes = classes;
  spec.seed = 1;
  const auto t_build = std::chrono::steady_clock::now();
  std::unique_ptr<eos::Engine> engine = eos::make_engine(backend, spec);
  engine->set_threads(threads);

  // `batch` random images per step, random labels.
  const int64_t image = channels * side * side;
  std::mt19937 rng(1);
  std::vector<uint8_t> images(static_cast<size_t>(batch * image));
  for (uint8_t& v : images) v = static_cast<uint8_t>(rng() & 0xff);
  std::vector<int32_t> labels(static_cast<size_t>(batch)), order(static_cast<size_t>(batch));
  for (int64_t i = 0; i < batch; ++i) labels[i] = static_cast<int32_t>(i % classes);
  std::iota(order.begin(), order.end(), 0);
  std::vector<float> mean(static_cast<size_t>(channels), 0.5f), std(static_cast<size_t>(channels), 0.25f);
  eos::EpochConfig cfg;
  cfg.batch = batch;
  cfg.sgd = eos::SgdConfig{0.01, 0.9, 2e-4, false};
  cfg.augment.channels = channels;
  cfg.augment.height = cfg.augment.width = side;
  cfg.augment.mean = mean.data();
  cfg.augment.std = std.data();
  auto step = [&](uint64_t epoch) {
    cfg.augment.epoch = epoch;
    const eos::EpochProgress p = engine->train_epoch(images.data(), labels.data(), order.data(), batch, cfg, {}, {});
    return p.loss_sum / static_cast<double>(p.images_done);
  };
  double loss = step(0);  // builds the plan
  const double build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_build).count();
  for (int i = 1; i < warmup; ++i) loss = step(static_cast<uint64_t>(i));
  const double first_loss = loss;
  const double c0 = cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) loss = step(static_cast<uint64_t>(warmup + i));
  const double train_cpu_ips = static_cast<double>(steps * batch) / (cpu_seconds() - c0);
  const double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double train_ips = static_cast<double>(steps * batch) / train_s;

  std::vector<float> embeddings(static_cast<size_t>(batch * eos::Topology::kEmbeddingDim));
  engine->predict(images.data(), nullptr, batch, batch, cfg.augment, nullptr, embeddings.data(), {});
  const auto t1 = std::chrono::steady_clock::now();
  for (int i = 0; i < eval_steps; ++i)
    engine->predict(images.data(), nullptr, batch, batch, cfg.augment, nullptr, embeddings.data(), {});
  const double eval_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  const double eval_ips = static_cast<double>(eval_steps * batch) / eval_s;

  if (json) {
    std::printf(
        "{\"backend\": \"%s\", \"train_ips\": %.1f, \"train_cpu_ips\": %.1f, \"eval_ips\": %.1f, "
        "\"peak_rss_mib\": %.1f, \"build_s\": %.3f, \"loss_first\": %.4f, \"loss_last\": %.4f}\n",
        engine->name(), train_ips, train_cpu_ips, eval_ips, peak_rss_mib(), build_s, first_loss, loss);
  } else {
    std::printf("eos %s: ResNet-%lld %lldx%lldx%lld batch %lld threads %d\n", engine->name(),
                static_cast<long long>(depth), static_cast<long long>(channels), static_cast<long long>(side),
                static_cast<long long>(side), static_cast<long long>(batch), threads);
    std::printf("  train %.1f img/s  eval %.1f img/s  peak RSS %.1f MiB  first step %.2f s  loss %.4f -> %.4f\n",
                train_ips, eval_ips, peak_rss_mib(), build_s, first_loss, loss);
  }
  return 0;
}
