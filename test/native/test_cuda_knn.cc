// Exact k-NN on the GPU (knn/knn_cuda.h) against the CPU's knn_search: the same neighbour lists and the
// same float distances, bit for bit, on both first passes (tensor cores: tf32 or tf32x3; float32),
// self-search and query x base, with and without exclude_self, on Gaussian data, small integers (exact ties
// everywhere), duplicated rows and data far from the origin (cancellation in |q|^2 + |b|^2 - 2 q.b); two runs
// equal; and one large self-search (timed) checked on a sample of queries against the double brute force.
// Skips, saying why, where no CUDA device is found.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/device_buffer.h"
#include "harness.h"
#include "knn/knn.h"
#include "knn/knn_cuda.h"

namespace eos::test {
namespace {

struct Answer {
  std::vector<int32_t> idx;
  std::vector<float> dist;
  explicit Answer(int64_t count) : idx(count, -7), dist(count, -7.0f) {}
};

// "" when equal bit for bit, else where they first differ.
std::string difference(const Answer& got, const Answer& want, int64_t k) {
  for (size_t e = 0; e < want.idx.size(); ++e) {
    if (got.idx[e] != want.idx[e] || std::memcmp(&got.dist[e], &want.dist[e], sizeof(float)) != 0) {
      return "query " + std::to_string(e / k) + " rank " + std::to_string(e % k) + ": got (" +
             std::to_string(got.idx[e]) + ", " + std::to_string(got.dist[e]) + "), want (" +
             std::to_string(want.idx[e]) + ", " + std::to_string(want.dist[e]) + ")";
    }
  }
  return "";
}

enum class Kind { kGaussian, kIntegers, kDuplicates, kOffset };
const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::kGaussian:
      return "Gaussian";
    case Kind::kIntegers:
      return "integers 0-2 (ties)";
    case Kind::kDuplicates:
      return "duplicated rows";
    default:
      return "offset 1000, spread 0.01";
  }
}

std::vector<float> data(Rand& rnd, int64_t n, int64_t d, Kind kind) {
  std::vector<float> x(n * d);
  for (float& v : x) {
    switch (kind) {
      case Kind::kIntegers:
        v = static_cast<float>(rnd.below(3));
        break;
      case Kind::kOffset:
        v = static_cast<float>(1000.0 + 0.01 * rnd.normal());
        break;
      default:
        v = static_cast<float>(rnd.normal());
        break;
    }
  }
  if (kind == Kind::kDuplicates) {  // every third row repeats an earlier one: exact ties at every distance
    for (int64_t i = 1; i < n; ++i) {
      if (i % 3 == 0) {
        const int64_t from = rnd.below(static_cast<int>(i));
        std::memmove(&x[i * d], &x[from * d], sizeof(float) * d);
      }
    }
  }
  return x;
}

bool skip(const char* test) {
  std::string why;
  if (cuda::device_available(&why)) return false;
  std::printf("skip %s: %s\n", test, why.c_str());
  return true;
}

EOS_TEST(cuda_knn_matches_cpu) {
  if (skip("cuda_knn_matches_cpu")) return;
  Rand rnd(2718);
  int trial = 0;
  for (int64_t n : {1, 2, 17, 1000, 50000}) {
    for (int64_t d : {1, 3, 64, 65}) {
      if (n == 50000 && d == 1) continue;  // d = 1 of 50000 rows: ties beyond any use, covered at 1000
      for (int64_t k_asked : {int64_t{1}, int64_t{10}, n - 1}) {
        if (n == 50000 && k_asked == n - 1) continue;  // 2.5e9 results: beyond a test
        // 0: self, excluding self; 1: self with self; 2: query x base; 3: query x base of as many rows,
        // query i excluding base row i.
        for (int mode = 0; mode < 4; ++mode) {
          const bool self = mode < 2, exclude_self = mode == 0 || mode == 3;
          const int64_t nq = n, nb = mode == 2 && n > 2 ? n / 2 + 1 : n;
          const int64_t available = nb - (exclude_self ? 1 : 0);
          const int64_t k = std::min(k_asked, available);
          if (k < 1) continue;
          // At 50000 rows no small integers: every query ties at the k-th place and goes to brute force,
          // on the CPU too (minutes of reference time); 1000 rows cover them.
          const Kind kinds50k[] = {Kind::kGaussian, Kind::kDuplicates, Kind::kOffset};
          const Kind kind = n == 50000 ? kinds50k[trial++ % 3] : static_cast<Kind>(trial++ % 4);
          const std::vector<float> q = data(rnd, nq, d, kind);
          const std::vector<float> b = self ? std::vector<float>() : data(rnd, nb, d, kind);
          const float* base = self ? nullptr : b.data();
          Answer want(nq * k);
          knn_search(q.data(), nq, base, nb, d, k, exclude_self, want.idx.data(), want.dist.data());
          for (bool tensor_cores : {true, false}) {
            cuda::KnnCudaOptions options;
            options.tensor_cores = tensor_cores;
            cuda::KnnCudaStats stats;
            Answer got(nq * k), again(nq * k);
            cuda::knn_search(q.data(), nq, base, nb, d, k, exclude_self, got.idx.data(), got.dist.data(),
                             options, &stats);
            cuda::knn_search(q.data(), nq, base, nb, d, k, exclude_self, again.idx.data(), again.dist.data(),
                             options);
            const std::string what =
                std::string("cuda knn ") + (tensor_cores ? "tensor cores" : "fp32") + " nq " +
                std::to_string(nq) + " nb " + std::to_string(nb) + " d " + std::to_string(d) + " k " +
                std::to_string(k) + (self ? " self" : " query x base") +
                (exclude_self ? ", excluding self" : "") + ", " + kind_name(kind) + " (candidates " +
                std::to_string(stats.candidates) + ", float32 redo " + std::to_string(stats.float32_rows) +
                ", brute force " + std::to_string(stats.brute_force_rows) + ")";
            check(difference(got, want, k).empty(), what + ": equal to the CPU", difference(got, want, k));
            check(difference(again, got, k).empty(), what + ": two runs equal", difference(again, got, k));
            const std::string kernel = stats.kernel;
            check(tensor_cores ? kernel == "tf32" || kernel == "tf32x3" : kernel == "fp32",
                  what + ": kernel named (" + kernel + ")");
          }
        }
      }
    }
  }
}

// Tight clusters (spread 0.02 around 20 Gaussian centres): the tensor-core pass's error bound exceeds the
// gaps at the k-th place for every query, the float32 redo (a 3.5 times tighter bound) settles about a
// quarter of them (a float64 emulation of the certificates), brute force the rest; the answer is the CPU's.
EOS_TEST(cuda_knn_float32_redo_after_tensor_cores) {
  if (skip("cuda_knn_float32_redo_after_tensor_cores")) return;
  Rand rnd(8);
  const int64_t n = 20000, d = 64, k = 10, clusters = 20;
  const std::vector<float> centres = data(rnd, clusters, d, Kind::kGaussian);
  std::vector<float> x(n * d);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = rnd.below(static_cast<int>(clusters));
    for (int64_t t = 0; t < d; ++t)
      x[i * d + t] = static_cast<float>(centres[c * d + t] + 0.02 * rnd.normal());
  }
  Answer want(n * k), got(n * k);
  knn_search(x.data(), n, nullptr, n, d, k, true, want.idx.data(), want.dist.data());
  cuda::KnnCudaStats stats;
  cuda::knn_search(x.data(), n, nullptr, n, d, k, true, got.idx.data(), got.dist.data(), {}, &stats);
  const std::string what = "cuda knn tensor cores, 20000 rows in 20 tight clusters (float32 redo " +
                           std::to_string(stats.float32_rows) + ", brute force " +
                           std::to_string(stats.brute_force_rows) + ")";
  check(difference(got, want, k).empty(), what + ": equal to the CPU", difference(got, want, k));
  check(std::string(stats.kernel) == "tf32x3",
        what + ": tf32 judged unable to certify (" + stats.kernel + ")");
  check(stats.float32_rows > n / 2, what + ": the tensor-core pass left most queries to the float32 redo");
  check(stats.brute_force_rows < stats.float32_rows, what + ": the redo settled some");
}

// The pass and the re-rank on a shape with every tile partial and a query chunk of one block.
EOS_TEST(cuda_knn_partial_tiles) {
  if (skip("cuda_knn_partial_tiles")) return;
  Rand rnd(5);
  const int64_t nq = 129, nb = 257, d = 33, k = 7;
  const std::vector<float> q = data(rnd, nq, d, Kind::kGaussian), b = data(rnd, nb, d, Kind::kGaussian);
  Answer want(nq * k), got(nq * k);
  knn_search(q.data(), nq, b.data(), nb, d, k, false, want.idx.data(), want.dist.data());
  cuda::knn_search(q.data(), nq, b.data(), nb, d, k, false, got.idx.data(), got.dist.data());
  check(difference(got, want, k).empty(), "cuda knn 129 x 257, d 33: equal to the CPU",
        difference(got, want, k));
}

// Host-side checks, with or without a device: bad arguments are std::invalid_argument naming what is wrong
// (before any device work), and without a device a valid call is a std::runtime_error saying why.
EOS_TEST(cuda_knn_arguments_and_no_device) {
  const int64_t n = 10, d = 3;
  std::vector<float> x(n * d, 1.0f);
  Answer out(n * n);
  auto refusal = [&](const char* what, int64_t nq, int64_t nb, int64_t k, bool exclude_self,
                     const cuda::KnnCudaOptions& options, const char* needle) {
    std::string message;
    try {
      cuda::knn_search(x.data(), nq, x.data(), nb, d, k, exclude_self, out.idx.data(), out.dist.data(),
                       options);
    } catch (const std::invalid_argument& e) {
      message = e.what();
    }
    check(message.find(needle) != std::string::npos, std::string("cuda knn refuses ") + what,
          "message: '" + message + "'");
  };
  cuda::KnnCudaOptions tiles;
  tiles.tile_rows = 64;
  refusal("tile_rows other than the device's", n, n, 2, false, tiles, "tile_rows");
  refusal("k = 0", n, n, 0, false, {}, "k must be in [1, 10]");
  refusal("k = nb with exclude_self", n, n, n, true, {}, "k must be in [1, 9]");
  refusal("exclude_self with nq != nb", n, n - 1, 2, true, {}, "exclude_self needs nq == nb");

  std::string why;
  if (cuda::device_available(&why)) return;
  std::string message;
  try {
    cuda::knn_search(x.data(), n, nullptr, n, d, 2, true, out.idx.data(), out.dist.data());
  } catch (const std::runtime_error& e) {
    message = e.what();
  }
  check(message.find(why) != std::string::npos, "cuda knn without a device says why",
        "message: '" + message + "'");
}

// The benchmark shape: self-search of 1e6 rows, d 64, k 11 (target: <= 1 s on an H200, printed, not
// asserted: a shared machine's timing is no test). Checked on 64 queries against the double brute force
// (k + 1 neighbours with self, the query itself first: Gaussian rows are distinct).
EOS_TEST(cuda_knn_million_rows_timed) {
  if (skip("cuda_knn_million_rows_timed")) return;
  Rand rnd(1);
  const int64_t n = 1000000, d = 64, k = 11;
  const std::vector<float> x = data(rnd, n, d, Kind::kGaussian);
  // The sampled queries' k + 1 nearest rows with themselves (first: Gaussian rows are distinct), once.
  const int64_t samples = 64;
  std::vector<int64_t> sample(samples);
  std::vector<float> sq(samples * d);
  for (int64_t s = 0; s < samples; ++s) {
    sample[s] = (s * 15485863LL) % n;
    std::memcpy(&sq[s * d], &x[sample[s] * d], sizeof(float) * d);
  }
  Answer ref(samples * (k + 1));
  knn_search_reference(sq.data(), samples, x.data(), n, d, k + 1, false, ref.idx.data(), ref.dist.data());
  for (bool tensor_cores : {true, false}) {
    cuda::KnnCudaOptions options;
    options.tensor_cores = tensor_cores;
    cuda::KnnCudaStats stats;
    Answer got(n * k);
    const auto t0 = std::chrono::steady_clock::now();
    cuda::knn_search(x.data(), n, nullptr, n, d, k, true, got.idx.data(), got.dist.data(), options, &stats);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf(
        "cuda knn %s self-search 1e6 x 64, k 11: %.3f s (target 1 s), float32 redo %lld, brute force %lld\n",
        stats.kernel, seconds, static_cast<long long>(stats.float32_rows),
        static_cast<long long>(stats.brute_force_rows));
    std::string detail;
    for (int64_t s = 0; s < samples && detail.empty(); ++s) {
      const int64_t i = sample[s];
      const int32_t* want = &ref.idx[s * (k + 1)];
      const float* want_dist = &ref.dist[s * (k + 1)];
      bool ok = want[0] == i;
      for (int64_t t = 0; t < k && ok; ++t) {
        ok = got.idx[i * k + t] == want[t + 1] &&
             std::memcmp(&got.dist[i * k + t], &want_dist[t + 1], sizeof(float)) == 0;
      }
      if (!ok) detail = "query " + std::to_string(i);
    }
    check(detail.empty(),
          std::string("cuda knn ") + stats.kernel + " 1e6 rows: 64 sampled queries equal the brute force",
          detail);
    // Unclustered data: plain tf32 certifies (a float64 emulation of the certificates: all of 300 queries).
    if (tensor_cores) check(std::string(stats.kernel) == "tf32", "cuda knn 1e6 Gaussian rows: tf32 chosen");
  }
}

}  // namespace
}  // namespace eos::test
