// Approximate k-NN over libfaiss (see approx_knn.h for the contract).
#include "knn/approx_knn.h"

#include <faiss/Clustering.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/utils/random.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <utility>
#include <vector>

#include "knn/knn.h"

namespace eos {
namespace {

using idx_t = faiss::Index::idx_t;  // faiss 1.7.3 has it in Index only

// Rows added to an index per call: the build polls the stop flag between chunks. A fixed size (not one per
// thread) keeps the HNSW graph the same for any thread count.
constexpr int64_t kBuildChunkRows = 65536;
// Bounds that keep a typo from allocating the machine away (faiss accepts any int).
constexpr int64_t kMaxM = 1024;
constexpr int64_t kMaxEf = 1 << 16;

// OpenMP's thread count for parallel regions started by this thread, restored on exit: the worker threads
// of the addon are reused by other jobs.
class OmpThreads {
 public:
  explicit OmpThreads(int n) : saved_(omp_get_max_threads()) {
    if (n > 0) omp_set_num_threads(n);
  }
  ~OmpThreads() { omp_set_num_threads(saved_); }
  OmpThreads(const OmpThreads&) = delete;
  OmpThreads& operator=(const OmpThreads&) = delete;

 private:
  int saved_;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Exact nearest rows of x among `base` (knn.h), as faiss's int64 labels.
void exact_search(const float* x, int64_t n, const float* base, int64_t nb, int64_t d, int64_t k, int threads,
                  float* distances, idx_t* labels) {
  std::vector<int32_t> idx(static_cast<size_t>(n * k));
  KnnTiling tiling;
  tiling.threads = threads;
  knn_search(x, n, base, nb, d, k, false, idx.data(), distances, tiling);
  std::copy(idx.begin(), idx.end(), labels);
}

// The assignment index faiss's k-means trains with: a flat L2 index whose search is knn.h's exact kernel
// instead of faiss's BLAS path (Debian's faiss links the reference BLAS, about 100x slower).
struct ExactFlatL2 : faiss::IndexFlatL2 {
  ExactFlatL2(idx_t dim, int threads) : faiss::IndexFlatL2(dim), threads_(threads) {}

  void search(idx_t n, const float* x, idx_t k, float* distances, idx_t* labels,
              const faiss::SearchParameters* params = nullptr) const override {
    if (n == 0) return;
    if (k > ntotal || params != nullptr) {
      faiss::IndexFlatL2::search(n, x, k, distances, labels, params);
      return;
    }
    exact_search(x, n, get_xb(), ntotal, d, k, threads_, distances, labels);
  }

  int threads_;
};

// |a - b|^2 in eight interleaved float32 lanes (element t into lane t mod 8), the lanes then summed in a
// fixed tree: what faiss's HNSW ranks by. Debian's faiss sums one element at a time (fvec_L2sqr_ref: every
// add waits for the previous one); eight independent lanes, which the compiler maps to SSE registers on any
// x86-64, do not wait on each other, and the fixed order (no FMA: contraction is off here) gives the same
// float on every CPU and ISA level, so the HNSW graph does not depend on the machine.
__attribute__((optimize("fp-contract=off"))) float l2_lanes(const float* a, const float* b, int64_t d) {
  typedef float Lanes __attribute__((vector_size(32)));
  Lanes acc = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t t = 0;
  for (; t + 8 <= d; t += 8) {
    Lanes x, y;
    std::memcpy(&x, a + t, sizeof x);
    std::memcpy(&y, b + t, sizeof y);
    const Lanes diff = x - y;
    acc += diff * diff;
  }
  float lane[8];
  std::memcpy(lane, &acc, sizeof lane);
  for (int64_t j = 0; t < d; t++, j++) {
    const float diff = a[t] - b[t];
    lane[j] += diff * diff;
  }
  return ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
}

// The flat storage of the HNSW index, whose distances are l2_lanes.
struct LanesFlatL2 : faiss::IndexFlatL2 {
  explicit LanesFlatL2(idx_t dim) : faiss::IndexFlatL2(dim) {}

  struct Distances : faiss::FlatCodesDistanceComputer {
    explicit Distances(const LanesFlatL2& storage)
        : faiss::FlatCodesDistanceComputer(storage.codes.data(), storage.code_size),
          xb(storage.get_xb()),
          d(storage.d) {}
    void set_query(const float* x) override { q = x; }
    float distance_to_code(const uint8_t* code) override {
      return l2_lanes(q, reinterpret_cast<const float*>(code), d);
    }
    float symmetric_dis(idx_t i, idx_t j) override { return l2_lanes(xb + i * d, xb + j * d, d); }
    const float* xb;
    int64_t d;
    const float* q = nullptr;
  };

  faiss::FlatCodesDistanceComputer* get_FlatCodesDistanceComputer() const override {
    return new Distances(*this);
  }
};

// One tile's candidates (kk per query, faiss's labels, -1 where none) into the outputs: query q0 + i gets its
// first k labels that are neither -1 nor (with exclude_self) itself. Returns the queries left short.
std::vector<int64_t> take_candidates(int64_t q0, int64_t n, int64_t k, int64_t kk, bool exclude_self,
                                     const idx_t* labels, const float* distances, int32_t* out_idx,
                                     float* out_dist2) {
  std::vector<int64_t> short_rows;
  for (int64_t i = 0; i < n; i++) {
    const int64_t q = q0 + i;
    int64_t written = 0;
    for (int64_t j = 0; j < kk && written < k; j++) {
      const idx_t label = labels[i * kk + j];
      if (label < 0 || (exclude_self && label == q)) continue;
      out_idx[q * k + written] = static_cast<int32_t>(label);
      out_dist2[q * k + written] = distances[i * kk + j];
      written++;
    }
    if (written < k) short_rows.push_back(q);
  }
  return short_rows;
}

// The exact answer for the listed queries (those the index left short of k rows).
void exact_fallback(const std::vector<int64_t>& rows, const float* queries, const float* base, int64_t nb,
                    int64_t d, int64_t k, bool exclude_self, int threads, int32_t* out_idx,
                    float* out_dist2) {
  if (rows.empty()) return;
  const int64_t n = static_cast<int64_t>(rows.size());
  std::vector<float> x(static_cast<size_t>(n * d));
  for (int64_t i = 0; i < n; i++) std::copy_n(queries + rows[i] * d, d, x.begin() + i * d);
  // With exclude_self the base is the queries but these rows are a subset: ask for k + 1 and drop the row
  // itself (the last one when k + 1 exact duplicates of smaller index outrank it).
  const int64_t kk = k + (exclude_self ? 1 : 0);
  std::vector<int32_t> idx(static_cast<size_t>(n * kk));
  std::vector<float> dist(static_cast<size_t>(n * kk));
  KnnTiling tiling;
  tiling.threads = threads;
  knn_search(x.data(), n, base, nb, d, kk, false, idx.data(), dist.data(), tiling);
  for (int64_t i = 0; i < n; i++) {
    const int64_t q = rows[i];
    int64_t written = 0;
    bool skipped = false;
    for (int64_t j = 0; j < kk && written < k; j++) {
      if (exclude_self && !skipped && idx[i * kk + j] == q) {
        skipped = true;
        continue;
      }
      out_idx[q * k + written] = idx[i * kk + j];
      out_dist2[q * k + written] = dist[i * kk + j];
      written++;
    }
  }
}

// Searches the queries tile by tile with `search_tile(q, n, kk, distances, labels)`; false when stopped.
template <typename SearchTile>
bool search_in_tiles(const float* queries, int64_t nq, const float* base, int64_t nb, int64_t d, int64_t k,
                     bool exclude_self, const ApproxKnnParams& params, int32_t* out_idx, float* out_dist2,
                     const std::function<bool()>& stop, ApproxKnnStats* stats, SearchTile search_tile) {
  const int64_t tile = params.tile_rows > 0 ? params.tile_rows : kApproxKnnDefaultTileRows;
  const int64_t kk = k + (exclude_self ? 1 : 0);
  std::vector<float> distances(static_cast<size_t>(std::min(tile, nq) * kk));
  std::vector<idx_t> labels(distances.size());
  stats->tile_rows = tile;
  for (int64_t q0 = 0; q0 < nq; q0 += tile) {
    if (stop()) return false;
    const int64_t n = std::min(tile, nq - q0);
    search_tile(queries + q0 * d, n, kk, distances.data(), labels.data());
    const std::vector<int64_t> short_rows =
        take_candidates(q0, n, k, kk, exclude_self, labels.data(), distances.data(), out_idx, out_dist2);
    exact_fallback(short_rows, queries, base, nb, d, k, exclude_self, params.threads, out_idx, out_dist2);
    stats->exact_fallback_rows += static_cast<int64_t>(short_rows.size());
    stats->tiles++;
  }
  return true;
}

// The inverted lists of an IVF index: the base rows grouped by their list (ascending row within a list),
// copied contiguously so that one list is one base block for knn.h's kernel.
struct InvertedLists {
  std::vector<int64_t> offsets;  // list l holds rows[offsets[l] .. offsets[l + 1])
  std::vector<int32_t> rows;     // base row of each entry
  std::vector<float> data;       // [nb, d]: entry e's features at e * d
};

// Query tiles of the IVF scan hold at most this many bytes of candidates (nprobe x kk per query, 8 bytes
// each) when the caller leaves the tile open: large tiles give each list many queries at once, which is
// what makes its block worth the kernel's set-up (at 1e7 rows, 12,649 lists and nprobe 16, a tile of 16,384
// queries would give each list about 20).
constexpr int64_t kIvfTileCandidateBytes = int64_t{1} << 27;

int64_t ivf_tile_rows(const ApproxKnnParams& params, int64_t k) {
  if (params.tile_rows > 0) return params.tile_rows;
  const int64_t per_query = params.nprobe * (k + 1) * 8;
  return std::max<int64_t>(1024, kIvfTileCandidateBytes / per_query);
}

// One tile of IVF queries: each query's nprobe nearest lists found exactly (knn.h), then, list by list, the
// queries probing a list searched exactly against its rows (knn.h again: faiss's own scan, in Debian's
// build, computes each distance with a scalar loop; at 1e6 rows and 16 probes the search took 228.9 s with
// it and 46.7 s with this), and each query's nprobe
// partial answers merged by (distance, base row). So the answer is the exact k nearest among the rows of
// the probed lists, ranked by the float32 rounding of knn.h's exact distance, ties by the smaller row.
void ivf_scan_tile(const InvertedLists& lists, const float* centroids, const float* q, int64_t n, int64_t kk,
                   int64_t d, const ApproxKnnParams& params, float* distances, idx_t* labels) {
  const int64_t nlist = params.nlist, nprobe = params.nprobe;
  std::vector<float> coarse_dist(static_cast<size_t>(n * nprobe));
  std::vector<idx_t> coarse_list(coarse_dist.size());
  exact_search(q, n, centroids, nlist, d, nprobe, params.threads, coarse_dist.data(), coarse_list.data());

  // The probes grouped by list (counting sort; within a list in query order, so deterministic).
  std::vector<int64_t> first(static_cast<size_t>(nlist + 1), 0);
  for (int64_t p = 0; p < n * nprobe; p++) first[coarse_list[p] + 1]++;
  for (int64_t l = 0; l < nlist; l++) first[l + 1] += first[l];
  std::vector<int64_t> probes(static_cast<size_t>(n * nprobe));  // probe p = query * nprobe + slot
  {
    std::vector<int64_t> at(first.begin(), first.end() - 1);
    for (int64_t p = 0; p < n * nprobe; p++) probes[at[coarse_list[p]]++] = p;
  }

  // Each probe's best kk rows of its list (-1 past the list's size).
  std::vector<float> cand_dist(static_cast<size_t>(n * nprobe * kk));
  std::vector<int32_t> cand_row(cand_dist.size(), -1);
  std::exception_ptr failure;  // an exception may not leave an OpenMP region: kept, rethrown after it
#pragma omp parallel num_threads(params.threads > 0 ? params.threads : omp_get_max_threads())
  {
    std::vector<float> xq, dist;
    std::vector<int32_t> idx;
    KnnTiling one;
    one.threads = 1;
#pragma omp for schedule(dynamic, 1)
    for (int64_t l = 0; l < nlist; l++) {
      const int64_t nq = first[l + 1] - first[l];
      const int64_t size = lists.offsets[l + 1] - lists.offsets[l];
      if (nq == 0 || size == 0) continue;
      try {
        const int64_t kl = std::min(kk, size);
        xq.resize(static_cast<size_t>(nq * d));
        for (int64_t i = 0; i < nq; i++)
          std::copy_n(q + probes[first[l] + i] / nprobe * d, d, xq.begin() + i * d);
        idx.resize(static_cast<size_t>(nq * kl));
        dist.resize(idx.size());
        knn_search(xq.data(), nq, lists.data.data() + lists.offsets[l] * d, size, d, kl, false, idx.data(),
                   dist.data(), one);
        for (int64_t i = 0; i < nq; i++) {
          const int64_t p = probes[first[l] + i];
          for (int64_t j = 0; j < kl; j++) {
            cand_row[p * kk + j] = lists.rows[lists.offsets[l] + idx[i * kl + j]];
            cand_dist[p * kk + j] = dist[i * kl + j];
          }
        }
      } catch (...) {
#pragma omp critical(eos_approx_knn_failure)
        if (!failure) failure = std::current_exception();
      }
    }
  }
  if (failure) std::rethrow_exception(failure);

    // Per query: the best kk of its nprobe x kk candidates (the lists are disjoint: no row twice).
#pragma omp parallel num_threads(params.threads > 0 ? params.threads : omp_get_max_threads())
  {
    std::vector<std::pair<float, int32_t>> merged;
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; i++) {
      merged.clear();
      for (int64_t c = i * nprobe * kk; c < (i + 1) * nprobe * kk; c++)
        if (cand_row[c] >= 0) merged.emplace_back(cand_dist[c], cand_row[c]);
      const int64_t m = std::min<int64_t>(kk, static_cast<int64_t>(merged.size()));
      std::partial_sort(merged.begin(), merged.begin() + m, merged.end());
      for (int64_t j = 0; j < kk; j++) {
        labels[i * kk + j] = j < m ? merged[j].second : -1;
        distances[i * kk + j] = j < m ? merged[j].first : 0.0f;
      }
    }
  }
}

bool ivf_search(const float* queries, int64_t nq, const float* base, int64_t nb, int64_t d, int64_t k,
                bool exclude_self, const ApproxKnnParams& params, int32_t* out_idx, float* out_dist2,
                const std::function<bool()>& stop, ApproxKnnStats* stats) {
  const auto t0 = std::chrono::steady_clock::now();
  // k-means on a seeded sample of the base; every assignment by the exact kernel.
  // faiss's clustering parameters for an IVF quantizer: 10 iterations, as faiss's Level1Quantizer(quantizer,
  // nlist) sets them (the general default is 25), with our seed and sample size.
  faiss::ClusteringParameters cp;
  cp.niter = 10;
  cp.seed = static_cast<int>(params.seed);  // the same 32 bits: distinct seeds stay distinct
  cp.max_points_per_centroid = static_cast<int>(kIvfTrainRowsPerList);
  // faiss warns on stderr below 39 rows per list; a small base with many lists is the caller's choice.
  cp.min_points_per_centroid = 1;
  faiss::Clustering clustering(static_cast<int>(d), static_cast<int>(params.nlist), cp);
  ExactFlatL2 assigner(d, params.threads);
  clustering.train(nb, base, assigner);
  stats->train_rows = std::min(nb, params.nlist * kIvfTrainRowsPerList);
  const float* centroids = clustering.centroids.data();

  // Each base row's list, found exactly, in chunks (the stop flag is polled between them).
  std::vector<int32_t> list_of(static_cast<size_t>(nb));
  {
    std::vector<float> dist(static_cast<size_t>(std::min(kBuildChunkRows, nb)));
    std::vector<idx_t> list(dist.size());
    for (int64_t r0 = 0; r0 < nb; r0 += kBuildChunkRows) {
      if (stop()) return false;
      const int64_t n = std::min(kBuildChunkRows, nb - r0);
      exact_search(base + r0 * d, n, centroids, params.nlist, d, 1, params.threads, dist.data(), list.data());
      for (int64_t i = 0; i < n; i++) list_of[r0 + i] = static_cast<int32_t>(list[i]);
    }
  }
  InvertedLists lists;
  lists.offsets.assign(static_cast<size_t>(params.nlist + 1), 0);
  for (int64_t r = 0; r < nb; r++) lists.offsets[list_of[r] + 1]++;
  for (int64_t l = 0; l < params.nlist; l++) lists.offsets[l + 1] += lists.offsets[l];
  lists.rows.resize(static_cast<size_t>(nb));
  lists.data.resize(static_cast<size_t>(nb * d));
  {
    std::vector<int64_t> at(lists.offsets.begin(), lists.offsets.end() - 1);
    for (int64_t r = 0; r < nb; r++) {
      const int64_t e = at[list_of[r]]++;
      lists.rows[e] = static_cast<int32_t>(r);
      std::copy_n(base + r * d, d, lists.data.begin() + e * d);
    }
  }
  stats->build_seconds = seconds_since(t0);

  const auto t1 = std::chrono::steady_clock::now();
  ApproxKnnParams tiled = params;
  tiled.tile_rows = ivf_tile_rows(params, k);
  const bool done =
      search_in_tiles(queries, nq, base, nb, d, k, exclude_self, tiled, out_idx, out_dist2, stop, stats,
                      [&](const float* q, int64_t n, int64_t kk, float* distances, idx_t* labels) {
                        ivf_scan_tile(lists, centroids, q, n, kk, d, params, distances, labels);
                      });
  stats->search_seconds = seconds_since(t1);
  return done;
}

bool hnsw_search(const float* queries, int64_t nq, const float* base, int64_t nb, int64_t d, int64_t k,
                 bool exclude_self, const ApproxKnnParams& params, int32_t* out_idx, float* out_dist2,
                 const std::function<bool()>& stop, ApproxKnnStats* stats) {
  const auto t0 = std::chrono::steady_clock::now();
  faiss::IndexHNSW index(new LanesFlatL2(d), static_cast<int>(params.m));
  index.own_fields = true;  // the index deletes its storage
  index.hnsw.efConstruction = static_cast<int>(params.ef_construction);
  index.hnsw.rng = faiss::RandomGenerator(static_cast<int64_t>(params.seed));
  {
    OmpThreads one(1);  // a parallel build is not reproducible (approx_knn.h)
    for (int64_t r0 = 0; r0 < nb; r0 += kBuildChunkRows) {
      if (stop()) return false;
      index.add(std::min(kBuildChunkRows, nb - r0), base + r0 * d);
    }
  }
  stats->build_seconds = seconds_since(t0);

  const auto t1 = std::chrono::steady_clock::now();
  index.hnsw.efSearch = static_cast<int>(params.ef_search);
  const bool done =
      search_in_tiles(queries, nq, base, nb, d, k, exclude_self, params, out_idx, out_dist2, stop, stats,
                      [&](const float* q, int64_t n, int64_t kk, float* distances, idx_t* labels) {
                        index.search(n, q, kk, distances, labels);
                      });
  stats->search_seconds = seconds_since(t1);
  return done;
}

std::string out_of_range(const char* name, int64_t value, int64_t lo, int64_t hi, const std::string& why) {
  return std::string(name) + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]" + why +
         ", got " + std::to_string(value);
}

}  // namespace

std::string approx_knn_parameter_error(const ApproxKnnParams& p, int64_t nb) {
  if (p.method == ApproxKnnMethod::kIvf) {
    if (p.nlist < 1 || p.nlist > nb)
      return out_of_range("options.ivf.nlist", p.nlist, 1, nb, " (at most one list per base row)");
    if (p.nprobe < 1 || p.nprobe > p.nlist)
      return out_of_range("options.ivf.nprobe", p.nprobe, 1, p.nlist, " (at most nlist)");
  } else {
    if (p.m < 2 || p.m > kMaxM) return out_of_range("options.hnsw.m", p.m, 2, kMaxM, "");
    if (p.ef_construction < 1 || p.ef_construction > kMaxEf)
      return out_of_range("options.hnsw.efConstruction", p.ef_construction, 1, kMaxEf, "");
    if (p.ef_search < 1 || p.ef_search > kMaxEf)
      return out_of_range("options.hnsw.efSearch", p.ef_search, 1, kMaxEf, "");
  }
  if (p.tile_rows < 0) return "options.tileRows must be >= 1, got " + std::to_string(p.tile_rows);
  return "";
}

bool approx_knn_search(const float* queries, int64_t nq, const float* base, int64_t nb, int64_t d, int64_t k,
                       bool exclude_self, const ApproxKnnParams& params, int32_t* out_idx, float* out_dist2,
                       const std::function<bool()>& stop, ApproxKnnStats* stats) {
  ApproxKnnStats local;
  ApproxKnnStats* s = stats != nullptr ? stats : &local;
  *s = ApproxKnnStats();
  if (base == nullptr) base = queries;
  OmpThreads threads(params.threads);
  if (params.method == ApproxKnnMethod::kIvf)
    return ivf_search(queries, nq, base, nb, d, k, exclude_self, params, out_idx, out_dist2, stop, s);
  return hnsw_search(queries, nq, base, nb, d, k, exclude_self, params, out_idx, out_dist2, stop, s);
}

}  // namespace eos
