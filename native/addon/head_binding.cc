// Phase 3 entry points: `trainHead` (AsyncWorker) and `headLogits` (synchronous; a [N, 64] x [64, K]
// product).
//
// JS: trainHead(x: Float32Array [N*D], labels: Int32Array [N], orders: Int32Array [E*R], config, init?,
//               stopFlag?: Int32Array [1]) -> Promise<{ weight, bias, losses }>
//   config: { head: 'linear' | 'cosine', dim, classes, batch, epochs, lrPerEpoch: number[E],
//             weightsPerEpoch?: (number[K] | null)[E], loss: {...}, momentum?: 0.9, weightDecay?: 2e-4,
//             nesterov?: false, seed?: 0, threads?: 0 }
//   init: { weight: Float32Array, bias?: Float32Array } to start from (default: a fresh head from seed).
//   stopFlag: training stops at the next batch once stopFlag[0] != 0 (set by an AbortSignal in TS); the
//   promise then rejects with an AbortError-named error.
// JS: headLogits(x: Float32Array [N*D], head: { kind, dim, classes, weight, bias? }) -> Float32Array [N*K]
#include <napi.h>

#include <string>
#include <vector>

#include "addon/args.h"
#include "addon/async_support.h"
#include "addon/exports.h"
#include "addon/loss_args.h"
#include "core/threads.h"
#include "nn/head_training.h"

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

class TrainHeadWorker : public Napi::AsyncWorker {
 public:
  TrainHeadWorker(Napi::Env env, HeadTrainingConfig cfg, HeadParameters init, int threads,
                  const std::vector<Napi::Value>& keep_alive, const float* x, int64_t n,
                  const int32_t* labels, const int32_t* orders, const int32_t* stop_flag)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        cfg_(std::move(cfg)),
        params_(std::move(init)),
        threads_(threads),
        x_(x),
        n_(n),
        labels_(labels),
        orders_(orders),
        stop_flag_(stop_flag),
        keep_alive_(keep_alive) {}
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    use_threads(threads_);
    losses_ = train_head(cfg_, x_, n_, labels_, orders_, params_, &TrainHeadWorker::should_stop, this);
    stopped_ = static_cast<int64_t>(losses_.size()) < cfg_.epochs;
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (stopped_) {
      deferred_.Reject(abort_error(env, "trainHead"));
      return;
    }
    Napi::Object out = Napi::Object::New(env);
    auto weight = Napi::Float32Array::New(env, params_.weight.size());
    std::copy(params_.weight.begin(), params_.weight.end(), weight.Data());
    out.Set("weight", weight);
    if (cfg_.head == HeadKind::kLinear) {
      auto bias = Napi::Float32Array::New(env, params_.bias.size());
      std::copy(params_.bias.begin(), params_.bias.end(), bias.Data());
      out.Set("bias", bias);
    } else {
      out.Set("bias", env.Null());
    }
    Napi::Array losses = Napi::Array::New(env, losses_.size());
    for (size_t i = 0; i < losses_.size(); ++i) losses.Set(static_cast<uint32_t>(i), losses_[i]);
    out.Set("losses", losses);
    deferred_.Resolve(out);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  static bool should_stop(void* self) {
    return stop_requested(static_cast<TrainHeadWorker*>(self)->stop_flag_);
  }

  Napi::Promise::Deferred deferred_;
  HeadTrainingConfig cfg_;
  HeadParameters params_;
  int threads_;
  const float* x_;
  int64_t n_;
  const int32_t* labels_;
  const int32_t* orders_;
  const int32_t* stop_flag_;
  KeepAlive keep_alive_;
  std::vector<double> losses_;
  bool stopped_ = false;
};

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
  if (!weights.IsUndefined() &&
      (!weights.IsArray() || weights.As<Napi::Array>().Length() != static_cast<uint32_t>(cfg.epochs))) {
    throw_type(env,
               "config.weightsPerEpoch must be an array of config.epochs entries (class weights or null)");
  }
  for (int64_t e = 0; e < cfg.epochs; ++e) {
    const std::string lr_name = "config.lrPerEpoch[" + std::to_string(e) + "]";
    const double lr = finite_arg(lrs.As<Napi::Array>().Get(static_cast<uint32_t>(e)), lr_name);
    if (!(lr >= 0)) throw_range(env, lr_name + " must be >= 0");
    cfg.lr_per_epoch.push_back(lr);
    std::vector<double> w;
    const Napi::Value we =
        weights.IsUndefined() ? env.Null() : weights.As<Napi::Array>().Get(static_cast<uint32_t>(e));
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
  const Napi::Value momentum = option(config, "momentum"), wd = option(config, "weightDecay");
  const Napi::Value nesterov = option(config, "nesterov"), seed = option(config, "seed");
  const Napi::Value threads = option(config, "threads");
  cfg.sgd.momentum = momentum.IsUndefined() ? 0.9 : finite_arg(momentum, "config.momentum");
  cfg.sgd.weight_decay = wd.IsUndefined() ? 2e-4 : finite_arg(wd, "config.weightDecay");
  if (cfg.sgd.momentum < 0 || cfg.sgd.weight_decay < 0)
    throw_range(env, "config.momentum and config.weightDecay must be >= 0");
  cfg.sgd.nesterov = nesterov.IsUndefined() ? false : bool_arg(nesterov, "config.nesterov");
  cfg.seed =
      seed.IsUndefined() ? 0 : static_cast<uint64_t>(integer_arg(seed, "config.seed", 0, (1LL << 53) - 1));
  const int thread_count =
      threads.IsUndefined() ? 0 : static_cast<int>(integer_arg(threads, "config.threads", 0, 1024));

  HeadParameters init = info.Length() > 4 && !info[4].IsUndefined() && !info[4].IsNull()
                            ? head_parameters_arg(info[4], "init", cfg.head, cfg.dim, cfg.classes)
                            : init_head(cfg.head, cfg.dim, cfg.classes, cfg.seed);
  std::vector<Napi::Value> keep = {info[0], info[1], info[2]};
  const int32_t* stop_flag = stop_flag_arg(info, 5, keep);
  auto* worker = new TrainHeadWorker(env, std::move(cfg), std::move(init), thread_count, keep, x.Data(), n,
                                     labels.Data(), orders.Data(), stop_flag);
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
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
  if (n > 0) head_logits(kind, dim, classes, p, x.Data(), n, out.Data());
  return out;
}

}  // namespace

void register_head(Napi::Env env, Napi::Object exports) {
  exports.Set("trainHead", Napi::Function::New(env, TrainHead, "trainHead"));
  exports.Set("headLogits", Napi::Function::New(env, HeadLogits, "headLogits"));
}

}  // namespace eos::addon
