// The arguments every k-NN entry point shares (knnSearch, approxKnnSearch): queries, base, d, k and
// options.excludeSelf / options.threads, checked once for both.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace eos::addon {

struct KnnInputs {
  const float* queries = nullptr;
  int64_t nq = 0;
  const float* base = nullptr;  // nullptr: self-search (nb = nq)
  int64_t nb = 0;
  int64_t d = 0, k = 0;
  bool exclude_self = false;
  int threads = 0;  // options.threads; 0 = OpenMP's default
};

// Parses info[0..3] (queries, base | null, d, k) and the shared fields of `options` (info[4]); the arrays
// come back through `queries` and `base` so that the caller can hold them while a worker reads them.
// `max_output` bounds nq x k (the output arrays' length).
KnnInputs parse_knn_inputs(const Napi::CallbackInfo& info, Napi::TypedArrayOf<float>* queries,
                           Napi::TypedArrayOf<float>* base, int64_t max_output);

// "" when every value of the queries and the base is finite, else the message naming the first bad row. It
// reads every value: the promise forms call it on their worker thread.
std::string knn_non_finite_message(const KnnInputs& in);

}  // namespace eos::addon
