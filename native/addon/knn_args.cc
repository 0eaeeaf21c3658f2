// The arguments the k-NN entry points share (knn_args.h).
#include "addon/knn_args.h"

#include <cmath>

#include "addon/args.h"

namespace eos::addon {
namespace {

constexpr int64_t kMaxDim = 1 << 16;
constexpr int64_t kMaxRows = INT32_MAX - 1;  // indices are int32

// "" when every value is finite, else the message naming the first bad row.
std::string non_finite_message(const char* name, const float* data, int64_t rows, int64_t d) {
  const int64_t at = first_non_finite(data, rows * d);
  if (at < 0) return "";
  const float v = data[at];
  return std::string(name) + ": row " + std::to_string(at / d) + " has a non-finite value (" +
         (std::isnan(v) ? "NaN"
          : v > 0       ? "Infinity"
                        : "-Infinity") +
         " at feature " + std::to_string(at % d) + "); every value must be finite";
}

int64_t rows_of(Napi::Env env, const Napi::TypedArrayOf<float>& a, const char* name, int64_t d) {
  const int64_t length = static_cast<int64_t>(a.ElementLength());
  if (length == 0) throw_range(env, std::string(name) + " must not be empty");
  if (length % d != 0) {
    throw_range(env, std::string(name) + " length " + std::to_string(length) +
                         " is not a multiple of d = " + std::to_string(d));
  }
  const int64_t rows = length / d;
  if (rows > kMaxRows)
    throw_range(env, std::string(name) + " has more than " + std::to_string(kMaxRows) + " rows");
  return rows;
}

}  // namespace

KnnInputs parse_knn_inputs(const Napi::CallbackInfo& info, Napi::TypedArrayOf<float>* queries,
                           Napi::TypedArrayOf<float>* base, int64_t max_output) {
  Napi::Env env = info.Env();
  if (info.Length() < 4) throw_type(env, "expected (queries, base, d, k, options?)");
  KnnInputs in;
  *queries = typed_array_arg<float>(info[0], "queries");
  const bool self = info[1].IsNull() || info[1].IsUndefined();
  if (!self &&
      (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)) {
    throw_type(env, "base must be a Float32Array, or null to search the queries among themselves");
  }
  if (!self) *base = info[1].As<Napi::TypedArrayOf<float>>();
  in.d = integer_arg(info[2], "d", 1, kMaxDim);
  in.queries = queries->Data();
  in.nq = rows_of(env, *queries, "queries", in.d);
  if (!self) {
    in.base = base->Data();
    in.nb = rows_of(env, *base, "base", in.d);
  } else {
    in.nb = in.nq;
  }

  const Napi::Value options = info.Length() > 4 ? info[4] : env.Undefined();
  require_object_or_undefined(options, "options");
  const Napi::Value exclude = option(options, "excludeSelf");
  in.exclude_self = exclude.IsUndefined() ? false : bool_arg(exclude, "options.excludeSelf");
  if (in.exclude_self && in.nq != in.nb) {
    throw_range(env, "options.excludeSelf needs one query per base row (query i is base row i), got " +
                         std::to_string(in.nq) + " queries and " + std::to_string(in.nb) + " base rows");
  }
  const int64_t available = in.nb - (in.exclude_self ? 1 : 0);
  if (available < 1) throw_range(env, "k: excludeSelf leaves no candidate in a base of 1 row");
  if (!info[3].IsNumber()) throw_type(env, "k must be a number (an integer)");
  const double k = info[3].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(k) || k != std::floor(k))
    throw_type(env, "k must be an integer, got " + std::to_string(k));
  if (k < 1 || k > static_cast<double>(available)) {
    throw_range(env, "k must be in [1, " + std::to_string(available) + "] (" + std::to_string(in.nb) +
                         " base rows" + (in.exclude_self ? ", minus the query itself" : "") + "), got " +
                         std::to_string(static_cast<int64_t>(k)));
  }
  in.k = static_cast<int64_t>(k);
  if (in.nq * in.k > max_output) {
    throw_range(env, "queries x k = " + std::to_string(in.nq * in.k) + " results exceed " +
                         std::to_string(max_output) + "; search in chunks of queries");
  }
  const Napi::Value threads = option(options, "threads");
  in.threads = threads.IsUndefined() ? 0 : static_cast<int>(integer_arg(threads, "options.threads", 0, 1024));
  return in;
}

std::string knn_non_finite_message(const KnnInputs& in) {
  std::string bad = non_finite_message("queries", in.queries, in.nq, in.d);
  if (bad.empty() && in.base != nullptr) bad = non_finite_message("base", in.base, in.nb, in.d);
  return bad;
}

}  // namespace eos::addon
