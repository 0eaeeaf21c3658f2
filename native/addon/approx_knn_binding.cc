// `approxKnnSearch`: approximate k-nearest neighbours over libfaiss (native/knn/approx_knn.h), validated.
//
// JS: approxKnnSearch(queries: Float32Array, base: Float32Array | null, d: number, k: number,
//                     options: { method: 'ivf' | 'hnsw', seed: number, excludeSelf?: false, threads?: 0,
//                                tileRows?: 16384, ivf?: { nlist, nprobe }, hnsw?: { m, efConstruction,
//                                efSearch } },
//                     stopFlag?: Int32Array)
//       -> Promise<{ indices: Int32Array, distances: Float32Array, stats }>   (nq x k, nearest first)
// The method's parameter object is required (lib/defaults.ts chooses them: this binding has no defaults of
// its own). The index is built and searched in an AsyncWorker that holds every buffer it reads or writes;
// the stop flag is polled between query tiles and build chunks (the promise then rejects with AbortError).
// A build without libfaiss (binding.gyp, or CMake that did not find it) has the function too, and it throws
// saying so; info().faiss tells in advance.
#include <napi.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "addon/args.h"
#include "addon/exports.h"
#include "addon/knn_args.h"
#include "addon/promise_worker.h"

#ifdef EOS_HAVE_FAISS
#include "knn/approx_knn.h"
#endif

namespace eos::addon {
namespace {

#ifdef EOS_HAVE_FAISS

constexpr int64_t kMaxOutput = (1LL << 31) - 1;  // nq * k elements per output array
constexpr int64_t kMaxTileRows = 1 << 24;
constexpr int64_t kMaxParam = INT32_MAX;  // faiss holds them as int; approx_knn_parameter_error bounds them

struct ApproxJob {
  KnnInputs in;
  ApproxKnnParams params;
  int32_t* out_idx = nullptr;
  float* out_dist = nullptr;
  ApproxKnnStats stats;
};

// options[group] as an object, or a TypeError naming it.
Napi::Object group_arg(const Napi::Value& options, const char* group, const std::string& method) {
  const Napi::Value v = option(options, group);
  if (!v.IsObject()) {
    throw_type(options.Env(), std::string("options.") + group + " must be an object (method '" + method +
                                  "' needs its parameters)");
  }
  return v.As<Napi::Object>();
}

int64_t param_arg(const Napi::Object& group, const char* group_name, const char* key) {
  return integer_arg(group.Get(key), std::string("options.") + group_name + "." + key, INT32_MIN, kMaxParam);
}

ApproxJob parse(const Napi::CallbackInfo& info, Napi::TypedArrayOf<float>* queries,
                Napi::TypedArrayOf<float>* base) {
  Napi::Env env = info.Env();
  ApproxJob job;
  job.in = parse_knn_inputs(info, queries, base, kMaxOutput);
  const Napi::Value options = info[4];
  if (!options.IsObject()) throw_type(env, "options must be an object with options.method 'ivf' or 'hnsw'");
  const Napi::Value method = option(options, "method");
  const std::string name = method.IsString() ? method.As<Napi::String>().Utf8Value() : "";
  if (name == "ivf") {
    job.params.method = ApproxKnnMethod::kIvf;
    const Napi::Object ivf = group_arg(options, "ivf", name);
    job.params.nlist = param_arg(ivf, "ivf", "nlist");
    job.params.nprobe = param_arg(ivf, "ivf", "nprobe");
  } else if (name == "hnsw") {
    job.params.method = ApproxKnnMethod::kHnsw;
    const Napi::Object hnsw = group_arg(options, "hnsw", name);
    job.params.m = param_arg(hnsw, "hnsw", "m");
    job.params.ef_construction = param_arg(hnsw, "hnsw", "efConstruction");
    job.params.ef_search = param_arg(hnsw, "hnsw", "efSearch");
  } else {
    throw_type(env, "options.method must be 'ivf' or 'hnsw' (the exact search is knnSearch), got " +
                        (method.IsUndefined() ? std::string("undefined")
                                              : "'" + method.ToString().Utf8Value() + "'"));
  }
  job.params.seed =
      static_cast<uint32_t>(integer_arg(option(options, "seed"), "options.seed", 0, UINT32_MAX));
  job.params.threads = job.in.threads;
  const Napi::Value tile = option(options, "tileRows");
  job.params.tile_rows = tile.IsUndefined() ? 0 : integer_arg(tile, "options.tileRows", 1, kMaxTileRows);
  const std::string bad = approx_knn_parameter_error(job.params, job.in.nb);
  if (!bad.empty()) throw_range(env, bad);
  return job;
}

Napi::Object stats_object(Napi::Env env, const ApproxJob& job) {
  const ApproxKnnParams& p = job.params;
  const ApproxKnnStats& s = job.stats;
  Napi::Object o = Napi::Object::New(env);
  const bool ivf = p.method == ApproxKnnMethod::kIvf;
  o.Set("method", ivf ? "ivf" : "hnsw");
  Napi::Object params = Napi::Object::New(env);
  if (ivf) {
    params.Set("nlist", static_cast<double>(p.nlist));
    params.Set("nprobe", static_cast<double>(p.nprobe));
    params.Set("trainRows", static_cast<double>(s.train_rows));
  } else {
    params.Set("m", static_cast<double>(p.m));
    params.Set("efConstruction", static_cast<double>(p.ef_construction));
    params.Set("efSearch", static_cast<double>(p.ef_search));
  }
  o.Set(ivf ? "ivf" : "hnsw", params);
  o.Set("seed", static_cast<double>(p.seed));
  o.Set("tiles", static_cast<double>(s.tiles));
  o.Set("tileRows", static_cast<double>(s.tile_rows));
  o.Set("exactFallbackRows", static_cast<double>(s.exact_fallback_rows));
  o.Set("buildSeconds", s.build_seconds);
  o.Set("searchSeconds", s.search_seconds);
  return o;
}

Napi::Value ApproxKnnSearch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::TypedArrayOf<float> queries, base;
  auto job = std::make_shared<ApproxJob>(parse(info, &queries, &base));
  Napi::Int32Array indices = Napi::Int32Array::New(env, job->in.nq * job->in.k);
  Napi::Float32Array distances = Napi::Float32Array::New(env, job->in.nq * job->in.k);
  job->out_idx = indices.Data();
  job->out_dist = distances.Data();
  PromiseWorker<>::Job work;
  work.what = "approxKnnSearch";
  work.keep = {queries, indices, distances};
  if (job->in.base != nullptr) work.keep.push_back(base);
  work.stop_flag = stop_flag_arg(info, 5, work.keep);
  work.run = [job](const PromiseWorker<>::Report&, const PromiseWorker<>::Stop& stop) {
    const std::string bad = knn_non_finite_message(job->in);
    if (!bad.empty()) throw RangeFailure(bad);
    const KnnInputs& in = job->in;
    try {
      return approx_knn_search(in.queries, in.nq, in.base, in.nb, in.d, in.k, in.exclude_self, job->params,
                               job->out_idx, job->out_dist, stop, &job->stats);
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string("approxKnnSearch failed: ") + e.what());
    }
  };
  auto out_indices = std::make_shared<Napi::Reference<Napi::Int32Array>>(Napi::Persistent(indices));
  auto out_distances = std::make_shared<Napi::Reference<Napi::Float32Array>>(Napi::Persistent(distances));
  work.result = [job, out_indices, out_distances](Napi::Env e) -> Napi::Value {
    Napi::Object result = Napi::Object::New(e);
    result.Set("indices", out_indices->Value());
    result.Set("distances", out_distances->Value());
    result.Set("stats", stats_object(e, *job));
    return result;
  };
  return PromiseWorker<>::start(env, std::move(work));
}

#else

Napi::Value ApproxKnnSearch(const Napi::CallbackInfo& info) {
  throw Napi::Error::New(info.Env(),
                         "approxKnnSearch: this build of the addon has no libfaiss (info().faiss is false), "
                         "so only the exact search is available. Install Debian's libfaiss-dev and rebuild "
                         "with CMake (npm run build:native); the portable node-gyp build never includes it.");
}

#endif

}  // namespace

void register_approx_knn(Napi::Env env, Napi::Object exports) {
  exports.Set("approxKnnSearch", Napi::Function::New(env, ApproxKnnSearch, "approxKnnSearch"));
}

}  // namespace eos::addon
