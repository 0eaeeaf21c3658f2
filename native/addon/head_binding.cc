// Phase 3 entry points: `trainHead` (AsyncWorker) and `headLogits` (synchronous; a [N, 64] x [64, K]
// product).
//
// JS: trainHead(x: Float32Array [N*D], labels: Int32Array [N], orders: Int32Array [E*R], config, init?,
//               stopFlag?: Int32Array [1]) -> Promise<{ weight, bias, losses }>
//   config: { backend: 'auto' | 'cuda' | 'dnnl' | 'ref', head: 'linear' | 'cosine', dim, classes, batch,
//             epochs, lrPerEpoch: number[E], weightsPerEpoch: (number[K] | null)[E], loss: {...}, momentum,
//             weightDecay, nesterov, seed, threads }   (complete: TS fills every field)
//   init: { weight: Float32Array, bias?: Float32Array } to start from (default: a fresh head from seed).
//   stopFlag: training stops at the next batch once stopFlag[0] != 0 (set by an AbortSignal in TS); the
//   promise then rejects with an AbortError-named error.
// JS: headLogits(x: Float32Array [N*D], head: { kind, dim, classes, weight, bias? }) -> Float32Array [N*K]
#include <napi.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "addon/args.h"
#include "addon/exports.h"
#include "addon/loss_args.h"
#include "addon/promise_worker.h"
#include "nn/engine.h"

namespace eos::addon {
namespace {

constexpr int64_t kMaxDim = 1 << 16;
constexpr int64_t kMaxClasses = 1 << 16;

HeadKind head_kind_arg(const Napi::Value& v, const std::string& name) {
  const std::string s = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  if (s == "linear") return HeadKind::kLinear;
  if (s == "cosine") return HeadKind::kCosine;
  throw_type(v.Env(), name + " must be 'linear' or 'cosine'");
}

// Reads weight/bias of a head of the given kind and shape from { weight, bias? }.
HeadParameters head_parameters_arg(const Napi::Value& v, const std::string& name, HeadKind kind, int64_t dim,
                                   int64_t classes) {
  if (!v.IsObject()) throw_type(v.Env(), name + " must be an object { weight, bias? }");
  HeadParameters p;
  auto w = typed_array_arg<float>(option(v, "weight"), name + ".weight", dim * classes);
  p.weight.assign(w.Data(), w.Data() + dim * classes);
  if (kind == HeadKind::kLinear) {
    auto b = typed_array_arg<float>(option(v, "bias"), name + ".bias", classes);
    p.bias.assign(b.Data(), b.Data() + classes);
  }
  if (first_non_finite(p.weight.data(), dim * classes) >= 0 ||
      first_non_finite(p.bias.data(), static_cast<int64_t>(p.bias.size())) >= 0) {
    throw_range(v.Env(), name + " holds a non-finite value");
  }
  return p;
}

Napi::Value TrainHead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4) throw_type(env, "expected (x, labels, orders, config, init?, stopFlag?)");
  Napi::Value config = info[3];
  if (!config.IsObject()) throw_type(env, "config must be an object");
  HeadTrainingConfig cfg;
  cfg.head = head_kind_arg(option(config, "head"), "config.head");
  cfg.dim = integer_arg(option(config, "dim"), "config.dim", 1, kMaxDim);
  cfg.classes = integer_arg(option(config, "classes"), "config.classes", 2, kMaxClasses);
  cfg.batch = integer_arg(option(config, "batch"), "config.batch", 1, 1 << 20);
  cfg.epochs = integer_arg(option(config, "epochs"), "config.epochs", 1, 1 << 20);
  auto x = typed_array_arg<float>(info[0], "x");
  if (x.ElementLength() == 0 || x.ElementLength() % cfg.dim != 0) {
    throw_range(env, "x must hold N rows of config.dim = " + std::to_string(cfg.dim) + " values, got " +
                         std::to_string(x.ElementLength()) + " values");
  }
  const int64_t n = static_cast<int64_t>(x.ElementLength()) / cfg.dim;
  const int64_t bad = first_non_finite(x.Data(), n * cfg.dim);
  if (bad >= 0) throw_range(env, "x row " + std::to_string(bad / cfg.dim) + " holds a non-finite value");
  auto labels = typed_array_arg<int32_t>(info[1], "labels", n);
  for (int64_t i = 0; i < n; ++i) {
    if (labels.Data()[i] < 0 || labels.Data()[i] >= cfg.classes) {
      throw_range(env, "labels[" + std::to_string(i) + "] = " + std::to_string(labels.Data()[i]) +
                           " is outside [0, " + std::to_string(cfg.classes) + ")");
    }
  }
  auto orders = typed_array_arg<int32_t>(info[2], "orders");
  if (orders.ElementLength() == 0 || orders.ElementLength() % cfg.epochs != 0) {
    throw_range(
        env, "orders must hold config.epochs = " + std::to_string(cfg.epochs) + " equal-length epoch orders");
  }
  cfg.rows_per_epoch = static_cast<int64_t>(orders.ElementLength()) / cfg.epochs;
  for (size_t i = 0; i < orders.ElementLength(); ++i) {
    if (orders.Data()[i] < 0 || orders.Data()[i] >= n) {
      throw_range(env, "orders[" + std::to_string(i) + "] = " + std::to_string(orders.Data()[i]) +
                           " is not a row of x (N = " + std::to_string(n) + ")");
    }
  }
  const Napi::Value lrs = option(config, "lrPerEpoch");
  if (!lrs.IsArray() || lrs.As<Napi::Array>().Length() != static_cast<uint32_t>(cfg.epochs)) {
    throw_type(env, "config.lrPerEpoch must be an array of config.epochs learning rates");
  }
  const Napi::Value weights = option(config, "weightsPerEpoch");
  if (!weights.IsArray() || weights.As<Napi::Array>().Length() != static_cast<uint32_t>(cfg.epochs)) {
    throw_type(env,
               "config.weightsPerEpoch must be an array of config.epochs entries (class weights or null)");
  }
  for (int64_t e = 0; e < cfg.epochs; ++e) {
    const std::string lr_name = "config.lrPerEpoch[" + std::to_string(e) + "]";
    const double lr = finite_arg(lrs.As<Napi::Array>().Get(static_cast<uint32_t>(e)), lr_name);
    if (!(lr >= 0)) throw_range(env, lr_name + " must be >= 0");
    cfg.lr_per_epoch.push_back(lr);
    std::vector<double> w;
    const Napi::Value we = weights.As<Napi::Array>().Get(static_cast<uint32_t>(e));
    if (!we.IsNull() && !we.IsUndefined()) {
      const std::string w_name = "config.weightsPerEpoch[" + std::to_string(e) + "]";
      if (!we.IsArray() || we.As<Napi::Array>().Length() != static_cast<uint32_t>(cfg.classes)) {
        throw_type(env, w_name + " must be null or an array of config.classes weights");
      }
      for (int64_t c = 0; c < cfg.classes; ++c) {
        const double wc = finite_arg(we.As<Napi::Array>().Get(static_cast<uint32_t>(c)), w_name);
        if (!(wc > 0)) throw_range(env, w_name + " weights must be > 0");
        w.push_back(wc);
      }
    }
    cfg.weights_per_epoch.push_back(std::move(w));
  }
  cfg.loss = loss_config_arg(option(config, "loss"), "config.loss", cfg.classes);
  cfg.sgd = sgd_config_arg(config, "config");
  const uint64_t seed =
      static_cast<uint64_t>(integer_arg(option(config, "seed"), "config.seed", 0, (1LL << 53) - 1));
  const int threads = static_cast<int>(integer_arg(option(config, "threads"), "config.threads", 0, 1024));
  const Napi::Value backend = option(config, "backend");
  std::shared_ptr<HeadEngine> engine;
  try {
    engine = make_head_engine(backend.IsString() ? backend.As<Napi::String>().Utf8Value() : "");
  } catch (const std::invalid_argument& e) {
    throw_range(env, std::string("config.") + e.what());
  }
  engine->set_threads(threads);

  HeadParameters init = info.Length() > 4 && !info[4].IsUndefined() && !info[4].IsNull()
                            ? head_parameters_arg(info[4], "init", cfg.head, cfg.dim, cfg.classes)
                            : init_head(cfg.head, cfg.dim, cfg.classes, seed);
  PromiseWorker<>::Job job;
  job.what = "trainHead";
  job.keep = {info[0], info[1], info[2]};
  job.stop_flag = stop_flag_arg(info, 5, job.keep);
  auto params = std::make_shared<HeadParameters>(std::move(init));
  auto losses = std::make_shared<std::vector<double>>();
  auto shared_cfg = std::make_shared<HeadTrainingConfig>(std::move(cfg));
  const float* xs = x.Data();
  const int32_t* ys = labels.Data();
  const int32_t* os = orders.Data();
  job.run = [engine, shared_cfg, params, losses, xs, n, ys, os](const PromiseWorker<>::Report&,
                                                                const PromiseWorker<>::Stop& stop) {
    *losses = engine->train_head(*shared_cfg, xs, n, ys, os, *params, stop);
    return static_cast<int64_t>(losses->size()) == shared_cfg->epochs;
  };
  const bool linear = shared_cfg->head == HeadKind::kLinear;
  job.result = [params, losses, linear](Napi::Env e) -> Napi::Value {
    Napi::Object out = Napi::Object::New(e);
    auto weight = Napi::Float32Array::New(e, params->weight.size());
    std::copy(params->weight.begin(), params->weight.end(), weight.Data());
    out.Set("weight", weight);
    if (linear) {
      auto bias = Napi::Float32Array::New(e, params->bias.size());
      std::copy(params->bias.begin(), params->bias.end(), bias.Data());
      out.Set("bias", bias);
    } else {
      out.Set("bias", e.Null());
    }
    Napi::Array list = Napi::Array::New(e, losses->size());
    for (size_t i = 0; i < losses->size(); ++i) list.Set(static_cast<uint32_t>(i), (*losses)[i]);
    out.Set("losses", list);
    return out;
  };
  return PromiseWorker<>::start(env, std::move(job));
}

Napi::Value HeadLogits(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2) throw_type(env, "expected (x, head)");
  Napi::Value head = info[1];
  if (!head.IsObject()) throw_type(env, "head must be an object { kind, dim, classes, weight, bias? }");
  const HeadKind kind = head_kind_arg(option(head, "kind"), "head.kind");
  const int64_t dim = integer_arg(option(head, "dim"), "head.dim", 1, kMaxDim);
  const int64_t classes = integer_arg(option(head, "classes"), "head.classes", 2, kMaxClasses);
  HeadParameters p = head_parameters_arg(head, "head", kind, dim, classes);
  auto x = typed_array_arg<float>(info[0], "x");
  if (x.ElementLength() % dim != 0)
    throw_range(env, "x must hold whole rows of head.dim = " + std::to_string(dim) + " values");
  const int64_t n = static_cast<int64_t>(x.ElementLength()) / dim;
  auto out = Napi::Float32Array::New(env, static_cast<size_t>(n * classes));
  // The head's logits are one small product on the calling thread: the host kernels serve every backend.
  if (n > 0) make_head_engine("ref")->head_logits(kind, dim, classes, p, x.Data(), n, out.Data());
  return out;
}

}  // namespace

void register_head(Napi::Env env, Napi::Object exports) {
  exports.Set("trainHead", Napi::Function::New(env, TrainHead, "trainHead"));
  exports.Set("headLogits", Napi::Function::New(env, HeadLogits, "headLogits"));
}

}  // namespace eos::addon
