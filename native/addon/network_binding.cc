// `NativeNetwork`: a CIFAR ResNet (native/nn/network.h) owned by a JS object.
//
// JS: new NativeNetwork({ depth, inChannels, inputSize, classes, head?: 'linear', seed?: 0,
//                         backend?: 'auto' | 'ref' | 'dnnl', threads?: 0 })
//   .backend, .parameterTable(), .bufferTable(), .batchNormNames()
//   .getParameters() / setParameters(f32), getBuffers() / setBuffers(f32), getMomentum() / setMomentum(f32),
//   .getNumBatchesTracked() / setNumBatchesTracked(number[])
//   .trainEpoch(images, shape, labels, order, config, onProgress?, stopFlag?) -> Promise<EpochResult>
//   .predict(images, shape, indices | null, config, stopFlag?) -> Promise<{ logits, embeddings }>
//   .dispose()
// Long work (trainEpoch, predict) runs in an AsyncWorker; while it runs, the network refuses other calls
// ("busy") and the worker holds references to the wrapper and to every input buffer.
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "addon/args.h"
#include "addon/async_support.h"
#include "addon/exports.h"
#include "addon/loss_args.h"
#include "core/threads.h"
#include "nn/network.h"
#include "nn/ref/ref_backend.h"
#include "nn/training_loop.h"

#ifdef EOS_HAVE_DNNL
#include "nn/dnnl/dnnl_trunk_provider.h"
#endif

namespace eos::addon {
namespace {

struct ImageSet {
  const uint8_t* data = nullptr;
  int64_t count = 0;
};

class NativeNetwork : public Napi::ObjectWrap<NativeNetwork> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeNetwork",
                       {InstanceAccessor<&NativeNetwork::Backend>("backend"),
                        InstanceMethod<&NativeNetwork::ParameterTable>("parameterTable"),
                        InstanceMethod<&NativeNetwork::BufferTable>("bufferTable"),
                        InstanceMethod<&NativeNetwork::BatchNormNames>("batchNormNames"),
                        InstanceMethod<&NativeNetwork::GetParameters>("getParameters"),
                        InstanceMethod<&NativeNetwork::SetParameters>("setParameters"),
                        InstanceMethod<&NativeNetwork::GetBuffers>("getBuffers"),
                        InstanceMethod<&NativeNetwork::SetBuffers>("setBuffers"),
                        InstanceMethod<&NativeNetwork::GetMomentum>("getMomentum"),
                        InstanceMethod<&NativeNetwork::SetMomentum>("setMomentum"),
                        InstanceMethod<&NativeNetwork::GetNumBatchesTracked>("getNumBatchesTracked"),
                        InstanceMethod<&NativeNetwork::SetNumBatchesTracked>("setNumBatchesTracked"),
                        InstanceMethod<&NativeNetwork::TrackReluMargin>("trackReluMargin"),
                        InstanceMethod<&NativeNetwork::TakeReluMargin>("takeReluMargin"),
                        InstanceMethod<&NativeNetwork::TrainEpoch>("trainEpoch"),
                        InstanceMethod<&NativeNetwork::Predict>("predict"),
                        InstanceMethod<&NativeNetwork::Dispose>("dispose")});
  }

  explicit NativeNetwork(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeNetwork>(info) {
    Napi::Env env = info.Env();
    const Napi::Value s = info[0];
    if (!s.IsObject())
      throw_type(env, "spec must be an object { depth, inChannels, inputSize, classes, ... }");
    NetworkSpec spec;
    spec.depth = integer_arg(option(s, "depth"), "spec.depth", 8, 2000);
    spec.in_channels = integer_arg(option(s, "inChannels"), "spec.inChannels", 1, 16);
    spec.side = integer_arg(option(s, "inputSize"), "spec.inputSize", 8, 4096);
    spec.classes = integer_arg(option(s, "classes"), "spec.classes", 2, 100000);
    const Napi::Value head = option(s, "head"), seed = option(s, "seed");
    const Napi::Value backend = option(s, "backend"), threads = option(s, "threads");
    const std::string head_name =
        head.IsUndefined() ? "linear" : (head.IsString() ? head.As<Napi::String>().Utf8Value() : "");
    if (head_name != "linear" && head_name != "cosine")
      throw_type(env, "spec.head must be 'linear' or 'cosine'");
    spec.head = head_name == "linear" ? HeadKind::kLinear : HeadKind::kCosine;
    spec.seed =
        seed.IsUndefined() ? 0 : static_cast<uint64_t>(integer_arg(seed, "spec.seed", 0, (1LL << 53) - 1));
    const std::string problem = validate_spec(spec);
    if (!problem.empty()) throw_range(env, "spec." + problem);
    const std::string backend_name =
        backend.IsUndefined() ? "auto" : (backend.IsString() ? backend.As<Napi::String>().Utf8Value() : "");
    if (backend_name != "auto" && backend_name != "ref" && backend_name != "dnnl") {
      throw_type(env, "spec.backend must be 'auto', 'ref' or 'dnnl'");
    }
    net_ = std::make_unique<Network<float>>(spec, make_ref_backend<float>());
#ifdef EOS_HAVE_DNNL
    // 'auto' takes the fast path when it is built in; the head, loss and SGD stay on the ref ops either way.
    if (backend_name != "ref") net_->set_trunk(dnnl_backend::make_trunk_provider(*net_));
#else
    if (backend_name == "dnnl") {
      throw_range(env,
                  "spec.backend 'dnnl': this addon was built without oneDNN (install libdnnl-dev and rebuild "
                  "with npm run build:native); use 'auto' or 'ref'");
    }
#endif
    net_->set_threads(
        threads.IsUndefined() ? 0 : static_cast<int>(integer_arg(threads, "spec.threads", 0, 1024)));
  }

  Network<float>& usable(Napi::Env env) {
    if (!net_) throw_type(env, "the network is disposed");
    if (busy_) throw_type(env, "the network is busy: a trainEpoch or predict call is still running");
    return *net_;
  }
  void release_busy() { busy_ = false; }

 private:
  Napi::Value Backend(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), usable(info.Env()).backend_name());
  }

  static Napi::Array table(Napi::Env env, const std::vector<TensorInfo>& t) {
    Napi::Array out = Napi::Array::New(env, t.size());
    for (size_t i = 0; i < t.size(); ++i) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", t[i].name);
      o.Set("offset", static_cast<double>(t[i].offset));
      Napi::Array shape = Napi::Array::New(env, t[i].shape.size());
      for (size_t j = 0; j < t[i].shape.size(); ++j)
        shape.Set(static_cast<uint32_t>(j), static_cast<double>(t[i].shape[j]));
      o.Set("shape", shape);
      out.Set(static_cast<uint32_t>(i), o);
    }
    return out;
  }
  Napi::Value ParameterTable(const Napi::CallbackInfo& info) {
    return table(info.Env(), usable(info.Env()).parameters());
  }
  Napi::Value BufferTable(const Napi::CallbackInfo& info) {
    return table(info.Env(), usable(info.Env()).buffers());
  }
  Napi::Value BatchNormNames(const Napi::CallbackInfo& info) {
    const auto& names = usable(info.Env()).batchnorm_names();
    Napi::Array out = Napi::Array::New(info.Env(), names.size());
    for (size_t i = 0; i < names.size(); ++i) out.Set(static_cast<uint32_t>(i), names[i]);
    return out;
  }

  template <void (Network<float>::*Get)(float*) const>
  Napi::Value get_flat(const Napi::CallbackInfo& info, int64_t count) {
    auto out = Napi::Float32Array::New(info.Env(), static_cast<size_t>(count));
    (net_.get()->*Get)(out.Data());
    return out;
  }
  template <void (Network<float>::*Set)(const float*)>
  void set_flat(const Napi::CallbackInfo& info, int64_t count, const char* name) {
    auto values = typed_array_arg<float>(info[0], name, count);
    const int64_t bad = first_non_finite(values.Data(), count);
    if (bad >= 0) throw_range(info.Env(), std::string(name) + "[" + std::to_string(bad) + "] is not finite");
    (net_.get()->*Set)(values.Data());
  }
  Napi::Value GetParameters(const Napi::CallbackInfo& info) {
    return get_flat<&Network<float>::get_parameters>(info, usable(info.Env()).parameter_count());
  }
  void SetParameters(const Napi::CallbackInfo& info) {
    set_flat<&Network<float>::set_parameters>(info, usable(info.Env()).parameter_count(), "parameters");
  }
  Napi::Value GetBuffers(const Napi::CallbackInfo& info) {
    return get_flat<&Network<float>::get_buffers>(info, usable(info.Env()).buffer_count());
  }
  void SetBuffers(const Napi::CallbackInfo& info) {
    set_flat<&Network<float>::set_buffers>(info, usable(info.Env()).buffer_count(), "buffers");
  }
  Napi::Value GetMomentum(const Napi::CallbackInfo& info) {
    return get_flat<&Network<float>::get_momentum>(info, usable(info.Env()).parameter_count());
  }
  void SetMomentum(const Napi::CallbackInfo& info) {
    set_flat<&Network<float>::set_momentum>(info, usable(info.Env()).parameter_count(), "momentum");
  }
  // Testing aid for backend comparisons (Network::track_relu_margin says why); the per-op ref path only.
  void TrackReluMargin(const Napi::CallbackInfo& info) {
    Network<float>& net = usable(info.Env());
    if (std::string(net.backend_name()) != "ref")
      throw_type(info.Env(), "trackReluMargin: ReLU margins are recorded by the ref backend only");
    net.track_relu_margin(bool_arg(info[0], "on"));
  }
  Napi::Value TakeReluMargin(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), usable(info.Env()).take_relu_margin());
  }
  Napi::Value GetNumBatchesTracked(const Napi::CallbackInfo& info) {
    const auto& counts = usable(info.Env()).num_batches_tracked();
    Napi::Array out = Napi::Array::New(info.Env(), counts.size());
    for (size_t i = 0; i < counts.size(); ++i)
      out.Set(static_cast<uint32_t>(i), static_cast<double>(counts[i]));
    return out;
  }
  void SetNumBatchesTracked(const Napi::CallbackInfo& info) {
    auto& counts = usable(info.Env()).num_batches_tracked();
    const std::vector<double> v =
        number_list_arg(info[0], "numBatchesTracked", static_cast<int64_t>(counts.size()));
    for (size_t i = 0; i < counts.size(); ++i) {
      if (v[i] < 0 || v[i] != static_cast<double>(static_cast<int64_t>(v[i]))) {
        throw_range(info.Env(),
                    "numBatchesTracked[" + std::to_string(i) + "] must be a non-negative integer");
      }
    }
    for (size_t i = 0; i < counts.size(); ++i) counts[i] = static_cast<int64_t>(v[i]);
  }

  void Dispose(const Napi::CallbackInfo& info) {
    if (busy_) throw_type(info.Env(), "the network is busy: a trainEpoch or predict call is still running");
    net_.reset();
  }

  // images: Uint8Array [N*C*S*S], shape: [N, C, S, S] matching the spec.
  ImageSet images_arg(const Napi::CallbackInfo& info, size_t i) {
    Napi::Env env = info.Env();
    const NetworkSpec& spec = net_->spec();
    if (!info[i + 1].IsArray() || info[i + 1].As<Napi::Array>().Length() != 4)
      throw_type(env, "shape must be an array [N, C, H, W]");
    Napi::Array shape = info[i + 1].As<Napi::Array>();
    ImageSet set;
    set.count = integer_arg(shape.Get(0u), "shape[0] (N)", 1, INT32_MAX);
    integer_arg(shape.Get(1u), "shape[1] (C, the network's inChannels)", spec.in_channels, spec.in_channels);
    integer_arg(shape.Get(2u), "shape[2] (H, the network's inputSize)", spec.side, spec.side);
    integer_arg(shape.Get(3u), "shape[3] (W, the network's inputSize)", spec.side, spec.side);
    set.data =
        typed_array_arg<uint8_t>(info[i], "images", set.count * spec.in_channels * spec.side * spec.side)
            .Data();
    return set;
  }

  void normalization_arg(const Napi::Value& config, AugmentParams& a, std::vector<float>& mean,
                         std::vector<float>& std) {
    const NetworkSpec& spec = net_->spec();
    const std::vector<double> m = number_list_arg(option(config, "mean"), "config.mean", spec.in_channels);
    const std::vector<double> s =
        number_list_arg(option(config, "std"), "config.std", spec.in_channels, true);
    mean.assign(m.begin(), m.end());
    std.assign(s.begin(), s.end());
    a.channels = spec.in_channels;
    a.height = a.width = spec.side;
    a.mean = mean.data();
    a.std = std.data();
  }

  Napi::Value TrainEpoch(const Napi::CallbackInfo& info);
  Napi::Value Predict(const Napi::CallbackInfo& info);

  std::unique_ptr<Network<float>> net_;
  bool busy_ = false;

  friend class TrainEpochWorker;
  friend class PredictWorker;
};

// Holds the wrapper and the input buffers alive and clears the busy flag when done.
class Holder {
 public:
  Holder(NativeNetwork* owner, Napi::Object self, const std::vector<Napi::Value>& keep)
      : owner_(owner), self_(Napi::Persistent(self)), keep_alive_(keep) {}
  ~Holder() { owner_->release_busy(); }

 private:
  NativeNetwork* owner_;
  Napi::ObjectReference self_;
  KeepAlive keep_alive_;
};

Napi::Object epoch_result(Napi::Env env, const EpochProgress& p, bool stopped) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("batches", static_cast<double>(p.batches_done));
  o.Set("batchesTotal", static_cast<double>(p.batches_total));
  o.Set("images", static_cast<double>(p.images_done));
  o.Set("loss", p.images_done > 0 ? p.loss_sum / static_cast<double>(p.images_done) : 0.0);
  o.Set("accuracy",
        p.images_done > 0 ? static_cast<double>(p.correct) / static_cast<double>(p.images_done) : 0.0);
  o.Set("stopped", stopped);
  return o;
}

class TrainEpochWorker : public Napi::AsyncProgressQueueWorker<EpochProgress> {
 public:
  TrainEpochWorker(Napi::Env env, NativeNetwork* owner, Napi::Object self, std::vector<Napi::Value> keep,
                   Napi::Function on_progress, const uint8_t* images, const int32_t* labels,
                   const int32_t* order, int64_t rows, EpochConfig cfg, std::vector<float> mean,
                   std::vector<float> std, const int32_t* stop_flag)
      : Napi::AsyncProgressQueueWorker<EpochProgress>(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        holder_(owner, self, keep),
        net_(*owner->net_),
        images_(images),
        labels_(labels),
        order_(order),
        rows_(rows),
        cfg_(std::move(cfg)),
        mean_(std::move(mean)),
        std_(std::move(std)),
        stop_flag_(stop_flag) {
    cfg_.augment.mean = mean_.data();
    cfg_.augment.std = std_.data();
    if (!on_progress.IsEmpty()) on_progress_ = Napi::Persistent(on_progress);
  }
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute(const ExecutionProgress& progress) override {
    try {
      result_ = train_epoch(
          net_, images_, labels_, order_, rows_, cfg_, [&](const EpochProgress& p) { progress.Send(&p, 1); },
          [this] { return stop_requested(stop_flag_); });
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnProgress(const EpochProgress* p, size_t count) override {
    if (on_progress_.IsEmpty() || count == 0) return;
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    on_progress_.Call({epoch_result(env, p[count - 1], false)});
  }
  void OnOK() override {
    deferred_.Resolve(epoch_result(Env(), result_, result_.batches_done < result_.batches_total));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Holder holder_;
  Network<float>& net_;
  Napi::FunctionReference on_progress_;
  const uint8_t* images_;
  const int32_t* labels_;
  const int32_t* order_;
  int64_t rows_;
  EpochConfig cfg_;
  std::vector<float> mean_, std_;
  const int32_t* stop_flag_;
  EpochProgress result_;
};

class PredictWorker : public Napi::AsyncWorker {
 public:
  PredictWorker(Napi::Env env, NativeNetwork* owner, Napi::Object self, std::vector<Napi::Value> keep,
                const uint8_t* images, const int32_t* indices, int64_t rows, int64_t batch,
                AugmentParams normalize, std::vector<float> mean, std::vector<float> std, bool want_logits,
                bool want_embeddings, const int32_t* stop_flag)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        holder_(owner, self, keep),
        net_(*owner->net_),
        images_(images),
        indices_(indices),
        rows_(rows),
        batch_(batch),
        normalize_(normalize),
        mean_(std::move(mean)),
        std_(std::move(std)),
        stop_flag_(stop_flag) {
    normalize_.mean = mean_.data();
    normalize_.std = std_.data();
    if (want_logits) logits_.resize(static_cast<size_t>(rows * net_.spec().classes));
    if (want_embeddings) embeddings_.resize(static_cast<size_t>(rows * Network<float>::kEmbeddingDim));
  }
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      completed_ = predict(
          net_, images_, indices_, rows_, batch_, normalize_, logits_.empty() ? nullptr : logits_.data(),
          embeddings_.empty() ? nullptr : embeddings_.data(), [this] { return stop_requested(stop_flag_); });
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (!completed_) {
      deferred_.Reject(abort_error(env, "predict"));
      return;
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("logits", copy(env, logits_));
    out.Set("embeddings", copy(env, embeddings_));
    deferred_.Resolve(out);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  static Napi::Value copy(Napi::Env env, const std::vector<float>& v) {
    if (v.empty()) return env.Null();
    auto a = Napi::Float32Array::New(env, v.size());
    std::copy(v.begin(), v.end(), a.Data());
    return a;
  }
  Napi::Promise::Deferred deferred_;
  Holder holder_;
  Network<float>& net_;
  const uint8_t* images_;
  const int32_t* indices_;
  int64_t rows_, batch_;
  AugmentParams normalize_;
  std::vector<float> mean_, std_;
  const int32_t* stop_flag_;
  std::vector<float> logits_, embeddings_;
  bool completed_ = false;
};

// trainEpoch(images, shape, labels, order, config, onProgress?, stopFlag?)
// config: { batch, lr, momentum?: 0.9, weightDecay?: 2e-4, nesterov?: false, loss, classWeights?: number[K] |
// null,
//           mean, std, augment?: true, pad?: 4, flip?: true, seed?: 0, epoch: number, progressEvery?: 10 }
Napi::Value NativeNetwork::TrainEpoch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Network<float>& net = usable(env);
  if (info.Length() < 5)
    throw_type(env, "expected (images, shape, labels, order, config, onProgress?, stopFlag?)");
  const ImageSet images = images_arg(info, 0);
  const int64_t K = net.spec().classes;
  auto labels = typed_array_arg<int32_t>(info[2], "labels", images.count);
  for (int64_t i = 0; i < images.count; ++i) {
    if (labels.Data()[i] < 0 || labels.Data()[i] >= K) {
      throw_range(env, "labels[" + std::to_string(i) + "] = " + std::to_string(labels.Data()[i]) +
                           " is outside [0, " + std::to_string(K) + ")");
    }
  }
  auto order = typed_array_arg<int32_t>(info[3], "order");
  const int64_t rows = static_cast<int64_t>(order.ElementLength());
  if (rows < 2) throw_range(env, "order must visit at least 2 images (batch-norm statistics need 2)");
  for (int64_t i = 0; i < rows; ++i) {
    if (order.Data()[i] < 0 || order.Data()[i] >= images.count) {
      throw_range(env, "order[" + std::to_string(i) + "] = " + std::to_string(order.Data()[i]) +
                           " is not an image index");
    }
  }
  const Napi::Value config = info[4];
  if (!config.IsObject()) throw_type(env, "config must be an object");
  EpochConfig cfg;
  cfg.batch = integer_arg(option(config, "batch"), "config.batch", 2, 1 << 16);
  const double lr = finite_arg(option(config, "lr"), "config.lr");
  if (lr < 0) throw_range(env, "config.lr must be >= 0");
  cfg.sgd.lr = lr;
  const Napi::Value momentum = option(config, "momentum"), wd = option(config, "weightDecay");
  const Napi::Value nesterov = option(config, "nesterov");
  cfg.sgd.momentum = momentum.IsUndefined() ? 0.9 : finite_arg(momentum, "config.momentum");
  cfg.sgd.weight_decay = wd.IsUndefined() ? 2e-4 : finite_arg(wd, "config.weightDecay");
  if (cfg.sgd.momentum < 0 || cfg.sgd.weight_decay < 0)
    throw_range(env, "config.momentum and config.weightDecay must be >= 0");
  cfg.sgd.nesterov = nesterov.IsUndefined() ? false : bool_arg(nesterov, "config.nesterov");
  cfg.loss = loss_config_arg(option(config, "loss"), "config.loss", K);
  const Napi::Value weights = option(config, "classWeights");
  if (!weights.IsUndefined() && !weights.IsNull())
    cfg.loss.class_weights = number_list_arg(weights, "config.classWeights", K, true);
  std::vector<float> mean, std;
  normalization_arg(config, cfg.augment, mean, std);
  const Napi::Value augment = option(config, "augment"), pad = option(config, "pad"),
                    flip = option(config, "flip");
  const Napi::Value seed = option(config, "seed"), every = option(config, "progressEvery");
  cfg.augment_images = augment.IsUndefined() ? true : bool_arg(augment, "config.augment");
  cfg.augment.pad =
      pad.IsUndefined() ? 4 : static_cast<int>(integer_arg(pad, "config.pad", 0, net.spec().side));
  cfg.augment.flip = flip.IsUndefined() ? true : bool_arg(flip, "config.flip");
  cfg.augment.seed =
      seed.IsUndefined() ? 0 : static_cast<uint64_t>(integer_arg(seed, "config.seed", 0, (1LL << 53) - 1));
  cfg.augment.epoch = static_cast<uint64_t>(integer_arg(option(config, "epoch"), "config.epoch", 0, 1 << 20));
  cfg.progress_every = every.IsUndefined() ? 10 : integer_arg(every, "config.progressEvery", 0, 1 << 30);
  Napi::Function on_progress;
  if (info.Length() > 5 && !info[5].IsUndefined() && !info[5].IsNull()) {
    if (!info[5].IsFunction()) throw_type(env, "onProgress must be a function");
    on_progress = info[5].As<Napi::Function>();
  }
  std::vector<Napi::Value> keep = {info[0], info[2], info[3]};
  const int32_t* stop = stop_flag_arg(info, 6, keep);
  busy_ = true;
  auto* worker =
      new TrainEpochWorker(env, this, Value(), keep, on_progress, images.data, labels.Data(), order.Data(),
                           rows, std::move(cfg), std::move(mean), std::move(std), stop);
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

// predict(images, shape, indices | null, config: { batch?: 256, mean, std, logits?: true, embeddings?: false
// },
//         stopFlag?)
Napi::Value NativeNetwork::Predict(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  usable(env);
  if (info.Length() < 4) throw_type(env, "expected (images, shape, indices, config, stopFlag?)");
  const ImageSet images = images_arg(info, 0);
  std::vector<Napi::Value> keep = {info[0]};
  const int32_t* indices = nullptr;
  int64_t rows = images.count;
  if (!info[2].IsNull() && !info[2].IsUndefined()) {
    auto idx = typed_array_arg<int32_t>(info[2], "indices");
    rows = static_cast<int64_t>(idx.ElementLength());
    for (int64_t i = 0; i < rows; ++i) {
      if (idx.Data()[i] < 0 || idx.Data()[i] >= images.count) {
        throw_range(env, "indices[" + std::to_string(i) + "] = " + std::to_string(idx.Data()[i]) +
                             " is not an image index");
      }
    }
    indices = idx.Data();
    keep.push_back(info[2]);
  }
  if (rows == 0) throw_range(env, "indices must not be empty");
  const Napi::Value config = info[3];
  if (!config.IsObject()) throw_type(env, "config must be an object { mean, std, ... }");
  AugmentParams normalize;
  std::vector<float> mean, std;
  normalization_arg(config, normalize, mean, std);
  const Napi::Value batch = option(config, "batch"), want_logits = option(config, "logits");
  const Napi::Value want_embeddings = option(config, "embeddings");
  const int64_t b = batch.IsUndefined() ? 256 : integer_arg(batch, "config.batch", 1, 1 << 16);
  const bool logits = want_logits.IsUndefined() ? true : bool_arg(want_logits, "config.logits");
  const bool embeddings =
      want_embeddings.IsUndefined() ? false : bool_arg(want_embeddings, "config.embeddings");
  if (!logits && !embeddings) throw_range(env, "config must ask for logits, embeddings or both");
  const int32_t* stop = stop_flag_arg(info, 4, keep);
  busy_ = true;
  auto* worker = new PredictWorker(env, this, Value(), keep, images.data, indices, rows, b, normalize,
                                   std::move(mean), std::move(std), logits, embeddings, stop);
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

}  // namespace

void register_network(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeNetwork", NativeNetwork::Define(env));
}

}  // namespace eos::addon
