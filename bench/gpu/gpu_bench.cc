// The native half of the GPU check (bench/gpu/run.sh): the CUDA engine's ResNet training steps, phase-1
// epochs and embedding throughput through the Engine interface, and the CUDA self-kNN, on synthetic data that
// bench/gpu/torch_peer.py generates bit for bit the same (one formula, written twice; --part data prints the
// checksums both sides report). Prints one JSON line per measurement on stdout, flushed at once, so a part
// killed by run.sh's timeout still leaves the figures it finished.
//
// Usage: eos_bench_gpu --part device|data|train|phase1|embed|knn[,...] [--depth 32] [--side 32]
//          [--channels 3] [--images 12406] [--batches 128,512] [--rep-images 12800] [--warmup 10]
//          [--reps 3] [--epochs 3] [--embed-batch 1024] [--embed-rows 16384] [--n 1000000] [--d 64] [--k 11]
//          [--knn-dump FILE]
// The convolution arithmetic is the engine's choice from EOS_CUDA_MATH (fp32 when unset); the lines carry it
// as "form". SGD: lr 0.01, momentum 0.9, weight decay 2e-4; cross-entropy; crop (pad 4) + flip augmentation.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <memory>
#include <numeric>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/device_buffer.h"
#include "knn/knn_cuda.h"
#include "nn/engine.h"

namespace {

// --- the synthetic data, the same formulas as torch_peer.py's synthetic_images / synthetic_embeddings ------
// splitmix64 is exact integer arithmetic, and every float below is a multiple of 2^-23 under 1.25 in
// magnitude, computed exactly in double and held exactly in float, so C++ and numpy produce the same bytes.
constexpr uint64_t kImageKey = 0x696d616765730000ull;    // "images"
constexpr uint64_t kClusterKey = 0x636c757374657200ull;  // "cluster"
constexpr uint64_t kCenterKey = 0x63656e7465720000ull;   // "center"
constexpr uint64_t kNoiseKey = 0x6e6f697365000000ull;    // "noise"
constexpr int64_t kClusters = 100;

uint64_t splitmix64(uint64_t x) {
  uint64_t z = x + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// [n, c, s, s] uint8: element e (flat index) is byte e % 8 of splitmix64(kImageKey + e / 8).
std::vector<uint8_t> synthetic_images(int64_t n, int64_t c, int64_t s) {
  std::vector<uint8_t> out(static_cast<size_t>(n * c * s * s));
  for (size_t e = 0; e < out.size(); ++e) {
    out[e] = static_cast<uint8_t>(splitmix64(kImageKey + e / 8) >> (8 * (e % 8)));
  }
  return out;
}

// [n, d] float32 in 100 clusters, like a backbone's embeddings: row i belongs to cluster
// (splitmix64(kClusterKey + i) >> 32) % 100; a centre coordinate is 2u - 1 with u a 24-bit uniform; a row is
// its centre plus (u0 + u1 + u2 + u3 - 2) / 8 per coordinate, the u_j the four 16-bit fields of one draw.
std::vector<float> synthetic_embeddings(int64_t n, int64_t d) {
  std::vector<double> centers(static_cast<size_t>(kClusters * d));
  for (int64_t e = 0; e < kClusters * d; ++e) {
    centers[e] =
        2.0 * static_cast<double>(splitmix64(kCenterKey + static_cast<uint64_t>(e)) >> 40) * 0x1p-24 - 1.0;
  }
  std::vector<float> out(static_cast<size_t>(n * d));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t cl =
        static_cast<int64_t>((splitmix64(kClusterKey + static_cast<uint64_t>(i)) >> 32) % kClusters);
    for (int64_t t = 0; t < d; ++t) {
      const uint64_t h = splitmix64(kNoiseKey + static_cast<uint64_t>(i * d + t));
      double sum = 0;
      for (int j = 0; j < 4; ++j) sum += static_cast<double>((h >> (16 * j)) & 0xffff) * 0x1p-16;
      out[i * d + t] = static_cast<float>(centers[cl * d + t] + (sum - 2.0) * 0.125);
    }
  }
  return out;
}

// Position-weighted sum of integers mod 2^64: sum_e value_e * (e + 1), where value_e is the byte, or the
// float times 2^24 (an exact integer for the values above). Exact on both
// sides (numpy's uint64 arithmetic wraps the same way), and it changes when any element or the order changes.
uint64_t checksum(const std::vector<uint8_t>& v) {
  uint64_t s = 0;
  for (size_t e = 0; e < v.size(); ++e) s += static_cast<uint64_t>(v[e]) * (e + 1);
  return s;
}
uint64_t checksum(const std::vector<float>& v) {
  uint64_t s = 0;
  for (size_t e = 0; e < v.size(); ++e) {
    s += static_cast<uint64_t>(static_cast<int64_t>(static_cast<double>(v[e]) * 0x1p24)) * (e + 1);
  }
  return s;
}

// A plain sum in double, for figures that need only look the same from run to run (outputs, distances).
double plain_sum(const std::vector<float>& v) {
  double s = 0;
  for (const float x : v) s += static_cast<double>(x);
  return s;
}

// --- options --------------------------------------------------------------------------------------------
struct Options {
  std::vector<std::string> parts;
  int64_t depth = 32, side = 32, channels = 3, classes = 10, images = 12406;
  std::vector<int64_t> batches{128, 512};
  int64_t rep_images = 12800;  // per timed run: ceil(rep_images / batch) steps
  int64_t warmup = 10, reps = 3, epochs = 3;
  int64_t embed_batch = 1024, embed_rows = 16384;
  int64_t n = 1000000, d = 64, k = 11;
  std::string knn_dump;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

int64_t positive(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (end == text.c_str() || *end != '\0' || v < 1) {
    throw std::invalid_argument(flag + " must be a positive integer, got '" + text + "'");
  }
  return v;
}

Options parse(int argc, char** argv) {
  Options o;
  const std::pair<const char*, int64_t*> numbers[] = {{"--depth", &o.depth},
                                                      {"--side", &o.side},
                                                      {"--channels", &o.channels},
                                                      {"--images", &o.images},
                                                      {"--rep-images", &o.rep_images},
                                                      {"--warmup", &o.warmup},
                                                      {"--reps", &o.reps},
                                                      {"--epochs", &o.epochs},
                                                      {"--embed-batch", &o.embed_batch},
                                                      {"--embed-rows", &o.embed_rows},
                                                      {"--n", &o.n},
                                                      {"--d", &o.d},
                                                      {"--k", &o.k}};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
    const std::string v = argv[++i];
    if (a == "--part") {
      o.parts = split(v);
    } else if (a == "--batches") {
      o.batches.clear();
      for (const std::string& b : split(v)) o.batches.push_back(positive(a, b));
    } else if (a == "--knn-dump") {
      o.knn_dump = v;
    } else {
      const auto it =
          std::find_if(std::begin(numbers), std::end(numbers), [&](const auto& p) { return a == p.first; });
      if (it == std::end(numbers)) throw std::invalid_argument("unknown option " + a);
      *it->second = positive(a, v);
    }
  }
  if (o.parts.empty())
    throw std::invalid_argument("--part is required (device, data, train, phase1, embed, knn)");
  if (o.batches.empty()) throw std::invalid_argument("--batches needs at least one batch size");
  return o;
}

// --- measuring ------------------------------------------------------------------------------------------
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

std::string json_list(const std::vector<double>& v) {
  std::string s = "[";
  char buf[32];
  for (size_t i = 0; i < v.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%s%.4g", i ? ", " : "", v[i]);
    s += buf;
  }
  return s + "]";
}

void sync() { EOS_CUDA_CHECK(cudaDeviceSynchronize()); }

size_t free_bytes() {
  size_t free = 0, total = 0;
  EOS_CUDA_CHECK(cudaMemGetInfo(&free, &total));
  return free;
}

// Device memory taken since construction, from cudaMemGetInfo (the whole device: on the benchmark machine
// only this process uses it). sample() after each call sees what the engine holds; memory allocated and freed
// inside one call is not seen there, so the kNN part polls from a second thread while it runs (the kNN
// search captures no CUDA graph, so the poll's runtime calls cannot disturb a capture).
class MemoryWatch {
 public:
  MemoryWatch() : base_(free_bytes()), low_(base_) {}
  ~MemoryWatch() { stop_polling(); }
  void sample() { note(free_bytes()); }
  void start_polling() {
    polling_ = true;
    poller_ = std::thread([this] {
      while (polling_) {
        size_t free = 0, total = 0;
        if (cudaMemGetInfo(&free, &total) == cudaSuccess) note(free);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    });
  }
  void stop_polling() {
    polling_ = false;
    if (poller_.joinable()) poller_.join();
  }
  double peak_mib() const {
    return static_cast<double>(base_ - std::min(base_, low_.load())) / (1024.0 * 1024.0);
  }

 private:
  void note(size_t free) {
    size_t low = low_.load();
    while (free < low && !low_.compare_exchange_weak(low, free)) {
    }
  }
  size_t base_;
  std::atomic<size_t> low_;
  std::atomic<bool> polling_{false};
  std::thread poller_;
};

std::string math_form() {
  const char* m = std::getenv("EOS_CUDA_MATH");
  return m && *m ? m : "fp32";
}

// --- the parts ------------------------------------------------------------------------------------------
struct Bench {
  Options o;
  std::string form = math_form();
  std::vector<uint8_t> images;
  std::vector<int32_t> labels;
  std::vector<float> mean, stdev;

  explicit Bench(const Options& opt) : o(opt) {}

  void load_images() {
    if (!images.empty()) return;
    images = synthetic_images(o.images, o.channels, o.side);
    labels.resize(static_cast<size_t>(o.images));
    for (int64_t i = 0; i < o.images; ++i) labels[i] = static_cast<int32_t>(i % o.classes);
    // CIFAR-10's channel statistics (any positive values would do; the peer uses the same).
    const float m[3] = {0.4914f, 0.4822f, 0.4465f}, s[3] = {0.2470f, 0.2435f, 0.2616f};
    mean.assign(static_cast<size_t>(o.channels), 0.5f);
    stdev.assign(static_cast<size_t>(o.channels), 0.25f);
    for (int64_t c = 0; c < std::min<int64_t>(o.channels, 3); ++c) mean[c] = m[c], stdev[c] = s[c];
  }

  std::unique_ptr<eos::Engine> engine() const {
    eos::NetworkSpec spec;
    spec.depth = o.depth;
    spec.in_channels = o.channels;
    spec.side = o.side;
    spec.classes = o.classes;
    spec.seed = 1;
    return eos::make_engine("cuda", spec);
  }

  eos::EpochConfig epoch_config(int64_t batch) const {
    eos::EpochConfig cfg;
    cfg.batch = batch;
    cfg.sgd = eos::SgdConfig{0.01, 0.9, 2e-4, false};
    cfg.augment.channels = o.channels;
    cfg.augment.height = cfg.augment.width = o.side;
    cfg.augment.mean = mean.data();
    cfg.augment.std = stdev.data();
    cfg.augment.seed = 1;
    return cfg;
  }

  std::string model() const {
    return "\"depth\": " + std::to_string(o.depth) + ", \"shape\": [" + std::to_string(o.channels) + ", " +
           std::to_string(o.side) + ", " + std::to_string(o.side) + "]";
  }

  // One engine per batch size: a warm-up epoch of `warmup` batches (plan, graph capture, image upload), then
  // `reps` timed epochs of ceil(rep_images / batch) batches each (the same images per run at every batch
  // size), visiting the data set in index order (wrapping).
  void train() {
    load_images();
    for (const int64_t batch : o.batches) {
      MemoryWatch mem;
      const auto t_build = std::chrono::steady_clock::now();
      std::unique_ptr<eos::Engine> e = engine();
      eos::EpochConfig cfg = epoch_config(batch);
      auto run = [&](int64_t batches, uint64_t epoch) {
        std::vector<int32_t> order(static_cast<size_t>(batches * batch));
        for (size_t i = 0; i < order.size(); ++i)
          order[i] = static_cast<int32_t>(i % static_cast<size_t>(o.images));
        cfg.augment.epoch = epoch;
        sync();
        const auto t0 = std::chrono::steady_clock::now();
        const eos::EpochProgress p = e->train_epoch(images.data(), labels.data(), order.data(),
                                                    static_cast<int64_t>(order.size()), cfg, {}, {});
        sync();
        const double s = seconds_since(t0);
        mem.sample();
        if (p.diverged || p.images_done != static_cast<int64_t>(order.size())) {
          throw std::runtime_error("training diverged or stopped early at batch " + std::to_string(batch));
        }
        return std::make_pair(s, p.loss_sum / static_cast<double>(p.images_done));
      };
      const int64_t steps = (o.rep_images + batch - 1) / batch;
      const auto [warm_s, loss_first] = run(o.warmup, 0);
      const double first_call_s = seconds_since(t_build);
      std::vector<double> ips;
      double loss_last = loss_first;
      for (int64_t r = 0; r < o.reps; ++r) {
        const auto [s, loss] = run(steps, static_cast<uint64_t>(r + 1));
        ips.push_back(static_cast<double>(steps * batch) / s);
        loss_last = loss;
      }
      std::printf(
          "{\"impl\": \"eos\", \"part\": \"train\", \"form\": \"%s\", \"engine\": \"%s\", %s, "
          "\"batch\": %lld, \"steps\": %lld, \"ips\": %.1f, \"ips_each\": %s, \"peak_mib\": %.1f, "
          "\"first_call_s\": %.3f, \"warmup_s\": %.3f, \"loss_first\": %.4f, \"loss_last\": %.4f}\n",
          form.c_str(), e->name(), model().c_str(), static_cast<long long>(batch),
          static_cast<long long>(steps), median(ips), json_list(ips).c_str(), mem.peak_mib(), first_call_s,
          warm_s, loss_first, loss_last);
      std::fflush(stdout);
    }
  }

  // The paper's phase 1 is 12,406 images x 200 epochs at batch 128: one warm-up epoch, then `epochs` timed
  // epochs (each a fresh shuffle), projected to 200 as first epoch + 199 x the median epoch.
  void phase1() {
    load_images();
    const int64_t batch = 128;
    MemoryWatch mem;
    std::unique_ptr<eos::Engine> e = engine();
    eos::EpochConfig cfg = epoch_config(batch);
    std::vector<int32_t> order(static_cast<size_t>(o.images));
    std::mt19937 rng(7);
    std::vector<double> epoch_s;
    for (int64_t ep = 0; ep <= o.epochs; ++ep) {
      std::iota(order.begin(), order.end(), 0);
      std::shuffle(order.begin(), order.end(), rng);
      cfg.augment.epoch = static_cast<uint64_t>(ep);
      sync();
      const auto t0 = std::chrono::steady_clock::now();
      const eos::EpochProgress p =
          e->train_epoch(images.data(), labels.data(), order.data(), o.images, cfg, {}, {});
      sync();
      epoch_s.push_back(seconds_since(t0));
      mem.sample();
      if (p.diverged) throw std::runtime_error("phase-1 epoch " + std::to_string(ep) + " diverged");
    }
    const std::vector<double> timed(epoch_s.begin() + 1, epoch_s.end());
    const double med = median(timed);
    std::printf(
        "{\"impl\": \"eos\", \"part\": \"phase1\", \"form\": \"%s\", \"engine\": \"%s\", %s, "
        "\"batch\": %lld, \"images\": %lld, \"first_epoch_s\": %.3f, \"epoch_s_each\": %s, \"epoch_s\": "
        "%.4f, "
        "\"projected_200_epochs_s\": %.1f, \"ips\": %.1f, \"peak_mib\": %.1f}\n",
        form.c_str(), e->name(), model().c_str(), static_cast<long long>(batch),
        static_cast<long long>(o.images), epoch_s[0], json_list(timed).c_str(), med, epoch_s[0] + 199.0 * med,
        static_cast<double>(o.images) / med, mem.peak_mib());
    std::fflush(stdout);
  }

  // Eval-mode embeddings (64 per image, no logits) of embed_rows images in batches of embed_batch.
  void embed() {
    load_images();
    MemoryWatch mem;
    std::unique_ptr<eos::Engine> e = engine();
    eos::AugmentParams norm = epoch_config(o.embed_batch).augment;
    std::vector<int32_t> idx(static_cast<size_t>(o.embed_rows));
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int32_t>(i % static_cast<size_t>(o.images));
    std::vector<float> out(static_cast<size_t>(o.embed_rows * eos::Topology::kEmbeddingDim));
    e->predict(images.data(), idx.data(), o.embed_batch, o.embed_batch, norm, nullptr, out.data(), {});
    std::vector<double> ips;
    for (int64_t r = 0; r < o.reps; ++r) {
      sync();
      const auto t0 = std::chrono::steady_clock::now();
      e->predict(images.data(), idx.data(), o.embed_rows, o.embed_batch, norm, nullptr, out.data(), {});
      sync();
      ips.push_back(static_cast<double>(o.embed_rows) / seconds_since(t0));
      mem.sample();
    }
    std::printf(
        "{\"impl\": \"eos\", \"part\": \"embed\", \"form\": \"%s\", \"engine\": \"%s\", %s, \"batch\": %lld, "
        "\"rows\": %lld, \"ips\": %.1f, \"ips_each\": %s, \"peak_mib\": %.1f, \"output_sum\": %.6g}\n",
        form.c_str(), e->name(), model().c_str(), static_cast<long long>(o.embed_batch),
        static_cast<long long>(o.embed_rows), median(ips), json_list(ips).c_str(), mem.peak_mib(),
        plain_sum(out));
    std::fflush(stdout);
  }

  // Self-kNN (each row's k nearest other rows) of n synthetic embeddings, host arrays in and out as the addon
  // calls it (upload and download timed too). One small warm-up search first (module load); the timed search
  // is repeated while the total stays short, and the median is reported.
  void knn() {
    const std::vector<float> x = synthetic_embeddings(o.n, o.d);
    std::vector<int32_t> idx(static_cast<size_t>(o.n * o.k));
    std::vector<float> dist(static_cast<size_t>(o.n * o.k));
    const int64_t warm_n = std::min<int64_t>(o.n, 20000);
    eos::cuda::knn_search(x.data(), warm_n, nullptr, warm_n, o.d, o.k, true, idx.data(), dist.data());
    MemoryWatch mem;
    eos::cuda::KnnCudaStats stats;
    std::vector<double> secs;
    double total = 0;
    for (int64_t r = 0; r < o.reps && (r == 0 || total < 3.0); ++r) {
      mem.start_polling();
      sync();
      const auto t0 = std::chrono::steady_clock::now();
      eos::cuda::knn_search(x.data(), o.n, nullptr, o.n, o.d, o.k, true, idx.data(), dist.data(), {}, &stats);
      sync();
      secs.push_back(seconds_since(t0));
      mem.stop_polling();
      total += secs.back();
    }
    if (!o.knn_dump.empty()) {
      std::ofstream f(o.knn_dump, std::ios::binary);
      f.write(reinterpret_cast<const char*>(idx.data()),
              static_cast<std::streamsize>(idx.size() * sizeof(int32_t)));
      if (!f) throw std::runtime_error("cannot write --knn-dump " + o.knn_dump);
    }
    std::printf(
        "{\"impl\": \"eos\", \"part\": \"knn\", \"form\": \"%s\", \"n\": %lld, \"d\": %lld, \"k\": %lld, "
        "\"seconds\": %.4f, \"seconds_each\": %s, \"peak_mib\": %.1f, \"candidates\": %lld, "
        "\"brute_force_rows\": %lld, \"data_checksum\": %llu, \"dist_sum\": %.17g, \"dump\": \"%s\"}\n",
        stats.kernel, static_cast<long long>(o.n), static_cast<long long>(o.d), static_cast<long long>(o.k),
        median(secs), json_list(secs).c_str(), mem.peak_mib(), static_cast<long long>(stats.candidates),
        static_cast<long long>(stats.brute_force_rows), static_cast<unsigned long long>(checksum(x)),
        plain_sum(dist), o.knn_dump.c_str());
    std::fflush(stdout);
  }

  // The checksums of the synthetic data at these sizes (no GPU needed), to compare with torch_peer.py --data.
  void data() {
    load_images();
    std::printf(
        "{\"impl\": \"eos\", \"part\": \"data\", \"images\": %lld, \"image_checksum\": %llu, \"n\": %lld, "
        "\"d\": %lld, \"data_checksum\": %llu}\n",
        static_cast<long long>(o.images), static_cast<unsigned long long>(checksum(images)),
        static_cast<long long>(o.n), static_cast<long long>(o.d),
        static_cast<unsigned long long>(checksum(synthetic_embeddings(o.n, o.d))));
    std::fflush(stdout);
  }
};

// The device line, or exit code 2 with "no CUDA device: ..." (run.sh stops there on a machine without a GPU).
bool describe_device(bool print) {
  std::string why;
  if (!eos::cuda::device_available(&why)) {
    std::fprintf(stderr, "no CUDA device: %s\n", why.c_str());
    return false;
  }
  cudaDeviceProp p{};
  EOS_CUDA_CHECK(cudaGetDeviceProperties(&p, 0));
  int runtime = 0, driver = 0;
  EOS_CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
  EOS_CUDA_CHECK(cudaDriverGetVersion(&driver));
  if (print) {
    std::printf(
        "{\"impl\": \"eos\", \"part\": \"device\", \"name\": \"%s\", \"cc\": \"%d.%d\", \"sms\": %d, "
        "\"memory_mib\": %.0f, \"runtime\": %d, \"driver\": %d}\n",
        p.name, p.major, p.minor, p.multiProcessorCount,
        static_cast<double>(p.totalGlobalMem) / (1024.0 * 1024.0), runtime, driver);
    std::fflush(stdout);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv);
    Bench bench(o);
    for (const std::string& part : o.parts) {
      if (part == "data") {
        bench.data();
        continue;
      }
      if (!describe_device(part == "device")) return 2;
      if (part == "train") bench.train();
      if (part == "phase1") bench.phase1();
      if (part == "embed") bench.embed();
      if (part == "knn") bench.knn();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "eos_bench_gpu: %s\n", e.what());
    return 1;
  }
  return 0;
}
