// `knnSearch` / `knnSearchSync`: exact k-nearest neighbours (native/knn), validated.
//
// JS: knnSearch(queries: Float32Array, base: Float32Array | null, d: number, k: number,
//               options?: { excludeSelf?: false, threads?: 0, tileRows?: auto, tileCols?: auto, bf16?: true,
//                           maxIsa?: 'portable' | 'avx2' | 'avx512' | 'avx512_bf16' (no cap),
//                           device?: 'cpu' | 'cuda', tensorCores?: true })
//       -> Promise<{ indices: Int32Array, distances: Float32Array, stats }>   (nq x k, nearest first)
//     knnSearchSync(...same arguments) -> { indices, distances, stats }
// base null (or undefined) searches the queries among themselves. device 'cuda' runs knn/knn_cuda.h (the same
// answer; threads, tileRows, tileCols, bf16 and maxIsa are the CPU's and do not apply there, tensorCores is
// the GPU's); an addon built without CUDA refuses it when the arguments are parsed, and one without a usable
// GPU when the search starts (a rejection saying what is missing). The promise form runs in an AsyncWorker
// and holds references to every buffer it reads or writes until it settles; the scan for non-finite values
// runs there too (it reads every value), so its RangeError comes back as a rejection.
#include <napi.h>

#include <exception>
#include <memory>
#include <stdexcept>
#include <string>

#include "addon/args.h"
#include "addon/exports.h"
#include "addon/knn_args.h"
#include "addon/promise_worker.h"
#include "core/cpu_level.h"
#include "knn/knn.h"
#ifdef EOS_HAVE_CUDA
#include "core/device_buffer.h"
#include "knn/knn_cuda.h"
#endif

namespace eos::addon {
namespace {

constexpr int64_t kMaxOutput = (1LL << 31) - 1;  // nq * k elements per output array
constexpr int64_t kMaxTile = 1 << 20;

// options.maxIsa: the highest ISA level the search's own kernels may use (the CPU and EOS_MAX_ISA cap it
// further). The names are EOS_MAX_ISA's.
CpuLevel max_isa_arg(const Napi::Value& v) {
  const char* expected = "options.maxIsa must be 'portable', 'avx2', 'avx512' or 'avx512_bf16'";
  if (!v.IsString()) throw_type(v.Env(), expected);
  const std::string name = v.As<Napi::String>().Utf8Value();
  CpuLevel level;
  if (parse_cpu_level(name, &level)) return level;
  throw_range(v.Env(), std::string(expected) + ", got '" + name + "'");
}

// options.device: true for 'cuda', false for 'cpu' (the default). An addon built without CUDA refuses 'cuda'
// here, before any work starts.
bool device_arg(const Napi::Value& v) {
  if (v.IsUndefined()) return false;
  const char* expected = "options.device must be 'cpu' or 'cuda'";
  if (!v.IsString()) throw_type(v.Env(), expected);
  const std::string name = v.As<Napi::String>().Utf8Value();
  if (name == "cpu") return false;
  if (name != "cuda") throw_range(v.Env(), std::string(expected) + ", got '" + name + "'");
#ifndef EOS_HAVE_CUDA
  throw Napi::Error::New(
      v.Env(),
      "options.device 'cuda': this addon was built without CUDA (rebuild it with EOS_CUDA=ON "
      "where nvcc is installed), use device 'cpu'");
#endif
  return true;
}

struct KnnJob {
  KnnInputs in;
  KnnTiling tiling;
  bool cuda = false;  // device 'cuda'
  bool tensor_cores = true;
  int32_t* out_idx = nullptr;
  float* out_dist = nullptr;
  KnnStats stats;
};

// Runs a validated job; returns "" or the RangeError message of a non-finite value.
std::string run_job(KnnJob& job) {
  const std::string bad = knn_non_finite_message(job.in);
  if (!bad.empty()) return bad;
  const KnnInputs& in = job.in;
  if (job.cuda) {
#ifdef EOS_HAVE_CUDA
    std::string why;
    if (!cuda::device_available(&why)) throw std::runtime_error("device 'cuda': " + why);
    cuda::KnnCudaOptions options;
    options.tensor_cores = job.tensor_cores;
    cuda::KnnCudaStats stats;
    cuda::knn_search(in.queries, in.nq, in.base, in.nb, in.d, in.k, in.exclude_self, job.out_idx,
                     job.out_dist, options, &stats);
    job.stats.candidates = stats.candidates;
    job.stats.float32_rows = stats.float32_rows;
    job.stats.brute_force_rows = stats.brute_force_rows;
    job.stats.kernel = stats.kernel;
    return "";
#else
    throw std::logic_error("device 'cuda' reached a search built without CUDA");  // parse() refuses it
#endif
  }
  knn_search(in.queries, in.nq, in.base, in.nb, in.d, in.k, in.exclude_self, job.out_idx, job.out_dist,
             job.tiling, &job.stats);
  return "";
}

// Validates the arguments (everything but the values themselves) and fills the job but its outputs.
KnnJob parse(const Napi::CallbackInfo& info, Napi::TypedArrayOf<float>* queries,
             Napi::TypedArrayOf<float>* base) {
  Napi::Env env = info.Env();
  KnnJob job;
  job.in = parse_knn_inputs(info, queries, base, kMaxOutput);
  const Napi::Value options = info.Length() > 4 ? info[4] : env.Undefined();
  const Napi::Value bf16 = option(options, "bf16");
  job.tiling.bf16 = bf16.IsUndefined() ? true : bool_arg(bf16, "options.bf16");
  job.tiling.threads = job.in.threads;
  const Napi::Value rows = option(options, "tileRows"), cols = option(options, "tileCols");
  job.tiling.tile_rows = rows.IsUndefined() ? 0 : integer_arg(rows, "options.tileRows", 1, kMaxTile);
  job.tiling.tile_cols = cols.IsUndefined() ? 0 : integer_arg(cols, "options.tileCols", 1, kMaxTile);
  const Napi::Value max_isa = option(options, "maxIsa");
  if (!max_isa.IsUndefined()) job.tiling.max_level = max_isa_arg(max_isa);
  job.cuda = device_arg(option(options, "device"));
  const Napi::Value tensor_cores = option(options, "tensorCores");
  job.tensor_cores = tensor_cores.IsUndefined() ? true : bool_arg(tensor_cores, "options.tensorCores");
  return job;
}

Napi::Object stats_object(Napi::Env env, const KnnStats& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("candidates", Napi::Number::New(env, static_cast<double>(s.candidates)));
  o.Set("float32Rows", Napi::Number::New(env, static_cast<double>(s.float32_rows)));
  o.Set("bruteForceRows", Napi::Number::New(env, static_cast<double>(s.brute_force_rows)));
  o.Set("symmetric", Napi::Boolean::New(env, s.symmetric));
  o.Set("kernel", Napi::String::New(env, s.kernel));
  return o;
}

Napi::Object result_object(Napi::Env env, Napi::Int32Array indices, Napi::Float32Array distances,
                           const KnnStats& stats) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("indices", indices);
  result.Set("distances", distances);
  result.Set("stats", stats_object(env, stats));
  return result;
}

Napi::Value KnnSearchSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::TypedArrayOf<float> queries, base;
  KnnJob job = parse(info, &queries, &base);
  Napi::Int32Array indices = Napi::Int32Array::New(env, job.in.nq * job.in.k);
  Napi::Float32Array distances = Napi::Float32Array::New(env, job.in.nq * job.in.k);
  job.out_idx = indices.Data();
  job.out_dist = distances.Data();
  std::string bad;
  try {
    bad = run_job(job);
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string("knnSearchSync failed: ") + e.what());
  }
  if (!bad.empty()) throw_range(env, bad);
  return result_object(env, indices, distances, job.stats);
}

Napi::Value KnnSearch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::TypedArrayOf<float> queries, base;
  auto job = std::make_shared<KnnJob>(parse(info, &queries, &base));
  Napi::Int32Array indices = Napi::Int32Array::New(env, job->in.nq * job->in.k);
  Napi::Float32Array distances = Napi::Float32Array::New(env, job->in.nq * job->in.k);
  job->out_idx = indices.Data();
  job->out_dist = distances.Data();
  PromiseWorker<>::Job work;
  work.what = "knnSearch";
  // Held until the promise settles: the buffers the worker reads and writes stay alive.
  work.keep = {queries, indices, distances};
  if (job->in.base != nullptr) work.keep.push_back(base);
  work.run = [job](const PromiseWorker<>::Report&, const PromiseWorker<>::Stop&) {
    std::string bad;
    try {
      bad = run_job(*job);
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string("knnSearch failed: ") + e.what());
    }
    if (!bad.empty()) throw RangeFailure(bad);
    return true;
  };
  auto out_indices = std::make_shared<Napi::Reference<Napi::Int32Array>>(Napi::Persistent(indices));
  auto out_distances = std::make_shared<Napi::Reference<Napi::Float32Array>>(Napi::Persistent(distances));
  work.result = [job, out_indices, out_distances](Napi::Env e) -> Napi::Value {
    return result_object(e, out_indices->Value(), out_distances->Value(), job->stats);
  };
  return PromiseWorker<>::start(env, std::move(work));
}

}  // namespace

void register_knn(Napi::Env env, Napi::Object exports) {
  exports.Set("knnSearch", Napi::Function::New(env, KnnSearch, "knnSearch"));
  exports.Set("knnSearchSync", Napi::Function::New(env, KnnSearchSync, "knnSearchSync"));
}

}  // namespace eos::addon
