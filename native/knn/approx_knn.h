// Approximate k-nearest-neighbour search over libfaiss (IVF-Flat or HNSW-Flat), Euclidean, float32 inputs,
// for base sizes where the exact search (knn.h) costs too much: it is quadratic in N, about a minute at
// N = 1e5, d = 64 on 2 cores, and hours at 1e7.
//
// Legend: nq query rows, nb base rows, d features, k neighbours per query; all matrices row-major.
//
// Result: for query i, out_idx[i*k .. i*k+k) holds k distinct base rows, nearest first as the index ranks
// them, with their squared distances in out_dist2 (hnsw: float32 sums in eight lanes, approx_knn.cc l2_lanes;
// ivf: knn.h's exact ones). With exclude_self, query i is base row i and never its own neighbour: k + 1 are
// asked for and row i is dropped (the last one when the index did not return row i). A query for which the
// index finds fewer than k rows (an IVF probe of lists holding fewer than k + 1 rows) is answered by the
// exact search instead, and counted.
//
// How:
// - ivf: the coarse quantizer is trained by faiss's k-means (faiss::Clustering), but every distance is
//   computed by knn.h's exact search: the assignments (training, grouping the base rows into lists, probing
//   for the queries) because Debian's libfaiss links the reference BLAS, and the scan of the probed lists
//   because its IndexIVFFlat computes each distance with a scalar loop (fvec_L2sqr_ref in Debian's generic
//   build): measured 2e7 distances/s on 2 Zen 3 cores; this scan made the search at 1e6 rows 4.9x faster. The
//   scan groups a tile's queries by the lists they probe, searches each list for its queries exactly (one
//   base block each), and merges each query's nprobe partial answers by (distance, row): the answer is the
//   exact k nearest among the rows of the probed lists, so probing every list is the exact search.
// - hnsw: faiss's IndexHNSW over a flat storage whose distances are ours (l2_lanes: Debian's faiss sums
//   one element at a time; the graph walk, not the distance, dominates even so: 1e6 rows built in 828 s on
//   a Zen 3 core, against 1038 s with faiss's distance on a Zen 4 one), built on ONE thread: faiss
//   inserts the rows of a parallel build in the order its threads reach them, so a parallel build gives a
//   different graph on every run. The search runs on every thread (each query's walk is independent of the
//   others).
// - Queries are searched in tiles of tile_rows: memory is the index plus one tile's candidates (ivf, whose
//   scan wants many queries per list: by default as many queries as fit 128 MB of nprobe x (k + 1)
//   candidates, at least 1,024; hnsw: 16,384).
//
// Determinism: same inputs, parameters and seed -> bitwise the same result, for any thread count (k-means
// sums each centroid over the rows in row order; the base rows are added in fixed chunks; each query's search
// is independent of the others and of the tiling).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace eos {

enum class ApproxKnnMethod { kIvf, kHnsw };

struct ApproxKnnParams {
  ApproxKnnMethod method = ApproxKnnMethod::kHnsw;
  // ivf: inverted lists (k-means centroids) and lists probed per query.
  int64_t nlist = 1;
  int64_t nprobe = 1;
  // hnsw: links per node (2 M on the bottom layer), candidate-list sizes while building and searching.
  int64_t m = 32;
  int64_t ef_construction = 40;
  int64_t ef_search = 64;
  // Seeds the k-means sample and initial centroids (ivf) or the layer draws of the nodes (hnsw).
  uint32_t seed = 0;
  int threads = 0;        // OpenMP threads; 0 = OpenMP's default
  int64_t tile_rows = 0;  // queries per search tile; 0 = kApproxKnnDefaultTileRows
};

// Queries per tile when the caller leaves it open: 16,384 x (k + 1) candidates of 12 bytes is about 2 MB
// at k = 10, small beside any index worth building.
constexpr int64_t kApproxKnnDefaultTileRows = 16384;  // hnsw; ivf: approx_knn.cc ivf_tile_rows
// k-means trains on at most this many rows per list (a seeded sample): faiss's guidance is 30 to 256; more
// costs training time and barely moves the centroids.
constexpr int64_t kIvfTrainRowsPerList = 64;

struct ApproxKnnStats {
  int64_t train_rows = 0;           // ivf: rows k-means trained on
  int64_t tiles = 0;                // query tiles searched
  int64_t tile_rows = 0;            // queries per tile
  int64_t exact_fallback_rows = 0;  // queries the index left short of k rows, answered exactly
  double build_seconds = 0;         // training + adding the base rows
  double search_seconds = 0;
};

// "" when the parameters suit a base of nb rows, else a message naming the bad one (as options.ivf.nlist,
// options.hnsw.m, ...).
std::string approx_knn_parameter_error(const ApproxKnnParams& params, int64_t nb);

// queries: [nq, d]; base: [nb, d], or nullptr for self-search (base = queries, nb = nq). Preconditions
// (checked by the caller): approx_knn_parameter_error(params, nb) is "", nq >= 1, nb >= 1, d >= 1, 1 <= k <=
// nb - (exclude_self ? 1 : 0), exclude_self only with nq == nb, nb < 2^31, all values finite. stop is polled
// between tiles (and between chunks of the build); returns false when it said stop (the outputs are then
// incomplete).
bool approx_knn_search(const float* queries, int64_t nq, const float* base, int64_t nb, int64_t d, int64_t k,
                       bool exclude_self, const ApproxKnnParams& params, int32_t* out_idx, float* out_dist2,
                       const std::function<bool()>& stop, ApproxKnnStats* stats);

}  // namespace eos
