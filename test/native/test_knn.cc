// Exact k-NN: knn_search against knn_search_reference on random shapes (every path: bf16 and float32
// first passes, pair-once self-search and query x base sweep, odd tiles, 1-3 threads) at every ISA level
// this CPU has (capped by EOS_MAX_ISA; each search capped further by KnnTiling::max_level), that
// stats.kernel names the level that ran, and the reference against a full sort. (EOS_MAX_ISA is read once
// per process, so test/knn.test.ts checks it in child processes.)
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "core/cpu_level.h"
#include "harness.h"
#include "knn/knn.h"

namespace eos::test {
namespace {

struct Answer {
  std::vector<int32_t> idx;
  std::vector<float> dist;
};

// "" when equal, else where they first differ.
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

std::vector<float> data(Rand& rnd, int64_t count, int kind) {
  std::vector<float> x(count);
  for (float& v : x) {
    switch (kind) {
      case 0:  // Gaussian
        v = static_cast<float>(rnd.normal());
        break;
      case 1:  // small integers: exact distance ties everywhere
        v = static_cast<float>(rnd.below(3));
        break;
      default:  // far from the origin, small spread
        v = static_cast<float>(500.0 + 0.01 * rnd.normal());
        break;
    }
  }
  return x;
}

// Every level from portable up to what this CPU allows.
std::vector<CpuLevel> levels_to_test() {
  std::vector<CpuLevel> levels;
  for (int l = 0; l <= static_cast<int>(cpu_level()); ++l) levels.push_back(static_cast<CpuLevel>(l));
  return levels;
}

// The kernel a search capped at `level` must report: the bf16 pass only at avx512_bf16, when asked for and
// d <= 1024.
std::string expected_kernel(CpuLevel level, bool bf16, int64_t d) {
  switch (level) {
    case CpuLevel::kAvx512Bf16:
      return bf16 && d <= 1024 ? "avx512bf16" : "avx512";
    case CpuLevel::kAvx512:
      return "avx512";
    case CpuLevel::kAvx2:
      return "avx2";
    default:
      return "portable";
  }
}

EOS_TEST(knn_matches_reference_on_random_shapes_at_every_isa_level) {
  for (CpuLevel level : levels_to_test()) {
    Rand rnd(4242);
    // The slow portable kernel gets fewer (and the same first) trials: the test stays at a few seconds.
    const int trials = level == CpuLevel::kPortable ? 24 : 40;
    for (int trial = 0; trial < trials; ++trial) {
      const int64_t nq = 1 + rnd.below(600), d = 1 + rnd.below(trial % 4 == 0 ? 600 : 80);
      const bool self = trial % 3 != 2;
      const int64_t nb = self ? nq : 1 + rnd.below(500);
      const bool exclude_self = self ? trial % 2 == 0 : (nq == nb && trial % 2 == 0);
      const int64_t available = nb - (exclude_self ? 1 : 0);
      if (available < 1) continue;
      const int64_t k = 1 + rnd.below(static_cast<int>(std::min<int64_t>(available, 40)));
      const int kind = trial % 5 == 3 ? 1 : trial % 5 == 4 ? 2 : 0;
      const std::vector<float> q = data(rnd, nq * d, kind);
      const std::vector<float> b = self ? std::vector<float>() : data(rnd, nb * d, kind);
      KnnTiling tiling;
      tiling.threads = 1 + trial % 3;
      tiling.tile_rows = trial % 4 == 1 ? 1 + rnd.below(150) : 0;
      tiling.tile_cols = trial % 4 == 1 ? 1 + rnd.below(150) : 0;
      tiling.symmetric = trial % 7 != 6;
      tiling.bf16 = trial % 2 == 1 || trial % 8 == 0;
      tiling.max_level = level;
      const float* base = self ? nullptr : b.data();

      Answer got{std::vector<int32_t>(nq * k), std::vector<float>(nq * k)};
      Answer want = got;
      KnnStats stats;
      knn_search(q.data(), nq, base, nb, d, k, exclude_self, got.idx.data(), got.dist.data(), tiling, &stats);
      knn_search_reference(q.data(), nq, base, nb, d, k, exclude_self, want.idx.data(), want.dist.data(), 2);
      const std::string what = std::string("knn ") + cpu_level_name(level) + " trial " +
                               std::to_string(trial) + " (nq " + std::to_string(nq) + ", nb " +
                               std::to_string(nb) + ", d " + std::to_string(d) + ", k " + std::to_string(k) +
                               (exclude_self ? ", excluding self" : "") + ", kernel " + stats.kernel +
                               (stats.symmetric ? ", pairs once" : ", sweep") + ")";
      const std::string diff = difference(got, want, k);
      check(diff.empty(), what, diff);
      check(stats.kernel == expected_kernel(level, tiling.bf16, d), what + ": kernel named",
            std::string("want ") + expected_kernel(level, tiling.bf16, d));
    }
  }
}

// Shapes at the edges: one query, k = 1, d = 1, odd d, partial tiles of every kernel's sides, rows that are
// all equal (every distance ties), d above the bf16 pass's limit.
EOS_TEST(knn_edge_shapes_at_every_isa_level) {
  struct Shape {
    const char* name;
    int64_t nq, nb, d, k;  // nb = 0: self-search
    bool exclude_self;
    int kind;  // as in data(); 3: every row equal
  };
  const Shape shapes[] = {
      {"one row, self", 1, 0, 4, 1, false, 0},
      {"one query against 50 rows, k 1", 1, 50, 7, 1, false, 0},
      {"d 1, integer ties, k 1", 90, 0, 1, 1, true, 1},
      {"d 3, integer ties", 130, 0, 3, 5, true, 1},
      {"d 13, 13 rows", 13, 0, 13, 4, true, 0},
      {"d 31, 33 x 97 swept", 33, 97, 31, 6, false, 0},
      {"every row equal", 40, 0, 5, 7, true, 3},
      {"d 1025 (no bf16 pass)", 30, 0, 1025, 3, true, 0},
      {"offset 500, spread 0.01", 200, 0, 17, 9, true, 2},
  };
  for (CpuLevel level : levels_to_test()) {
    Rand rnd(99);
    for (const Shape& sh : shapes) {
      const bool self = sh.nb == 0;
      const int64_t nb = self ? sh.nq : sh.nb;
      std::vector<float> q = data(rnd, sh.nq * sh.d, sh.kind == 3 ? 0 : sh.kind);
      if (sh.kind == 3) {
        for (int64_t e = sh.d; e < sh.nq * sh.d; ++e) q[e] = q[e % sh.d];
      }
      const std::vector<float> b = self ? std::vector<float>() : data(rnd, nb * sh.d, sh.kind);
      const float* base = self ? nullptr : b.data();
      for (int threads = 1; threads <= 2; ++threads) {
        KnnTiling tiling;
        tiling.threads = threads;
        tiling.max_level = level;
        Answer got{std::vector<int32_t>(sh.nq * sh.k), std::vector<float>(sh.nq * sh.k)};
        Answer want = got;
        KnnStats stats;
        knn_search(q.data(), sh.nq, base, nb, sh.d, sh.k, sh.exclude_self, got.idx.data(), got.dist.data(),
                   tiling, &stats);
        knn_search_reference(q.data(), sh.nq, base, nb, sh.d, sh.k, sh.exclude_self, want.idx.data(),
                             want.dist.data(), 1);
        const std::string what = std::string("knn ") + cpu_level_name(level) + ", " + sh.name + ", " +
                                 std::to_string(threads) + " thread(s)";
        check(difference(got, want, sh.k).empty(), what, difference(got, want, sh.k));
        check(stats.kernel == expected_kernel(level, true, sh.d), what + ": kernel " + stats.kernel);
      }
    }
  }
}

EOS_TEST(knn_reference_is_a_sorted_brute_force) {
  Rand rnd(77);
  for (int kind = 0; kind < 2; ++kind) {
    const int64_t n = 120, d = 5, k = 9;
    const std::vector<float> x = data(rnd, n * d, kind);
    Answer ref{std::vector<int32_t>(n * k), std::vector<float>(n * k)};
    knn_search_reference(x.data(), n, nullptr, n, d, k, true, ref.idx.data(), ref.dist.data(), 1);
    bool ok = true;
    for (int64_t i = 0; i < n && ok; ++i) {
      std::vector<std::pair<double, int32_t>> all;
      for (int64_t j = 0; j < n; ++j) {
        if (j == i) continue;
        double s = 0.0;
        for (int64_t t = 0; t < d; ++t) {
          const double diff = static_cast<double>(x[i * d + t]) - x[j * d + t];
          s += diff * diff;
        }
        all.push_back({s, static_cast<int32_t>(j)});
      }
      std::sort(all.begin(), all.end());  // by distance, then index: the tie rule
      for (int64_t s = 0; s < k; ++s) {
        ok = ok && ref.idx[i * k + s] == all[s].second &&
             ref.dist[i * k + s] == static_cast<float>(all[s].first);
      }
    }
    check(ok, std::string("knn reference equals a full sort on ") +
                  (kind == 0 ? "Gaussian" : "tied integer") + " data");
  }
}

}  // namespace
}  // namespace eos::test
