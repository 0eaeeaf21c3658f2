// `NativeNetwork`: one Engine (native/nn/engine.h) owned by a JS object; this file knows no backend.
//
// JS: new NativeNetwork({ depth, inChannels, inputSize, classes, head, seed, backend, threads })
//   .backend, .parameterTable(), .bufferTable(), .batchNormNames()
//   .getParameters() / setParameters(f32), getBuffers() / setBuffers(f32), getMomentum() / setMomentum(f32),
//   .getNumBatchesTracked() / setNumBatchesTracked(number[])
//   .trainEpoch(images, shape, labels, order, config, onProgress?, stopFlag?) -> Promise<EpochResult>
//   .predict(images, shape, indices | null, config, stopFlag?) -> Promise<{ logits, embeddings }>
//   .dispose()
// Every options object is complete: TS fills it (lib/native.ts types say which fields), this file only
// checks. Long work (trainEpoch, predict) runs in a PromiseWorker; while it runs, the network refuses other
// calls
// ("busy"). A stopped trainEpoch rejects with an AbortError whose `partial` is the epoch's progress so far.
#include <napi.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "addon/args.h"
#include "addon/exports.h"
#include "addon/loss_args.h"
#include "addon/promise_worker.h"
#include "addon/spec_args.h"
#include "nn/engine.h"

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
    const NetworkSpec spec = spec_arg(info[0]);
    const Napi::Value backend = option(info[0], "backend");
    const std::string backend_name = backend.IsString() ? backend.As<Napi::String>().Utf8Value() : "";
    // Every backend name, built in or not (make_engine says when one is not built in).
    if (backend_name != "auto" && backend_name != "cuda" && backend_name != "dnnl" && backend_name != "ref")
      throw_type(env, "spec.backend must be 'auto', 'cuda', 'dnnl' or 'ref', got '" + backend_name + "'");
    const int threads = static_cast<int>(integer_arg(option(info[0], "threads"), "spec.threads", 0, 1024));
    try {
      engine_ = make_engine(backend_name, spec);
    } catch (const std::invalid_argument& e) {
      throw_range(env, std::string("spec.") + e.what());
    }
    engine_->set_threads(threads);
  }

  Engine& usable(Napi::Env env) {
    if (!engine_) throw_type(env, "the network is disposed");
    if (busy_) throw_type(env, "the network is busy: a trainEpoch or predict call is still running");
    return *engine_;
  }

 private:
  Napi::Value Backend(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), usable(info.Env()).name());
  }
  Napi::Value ParameterTable(const Napi::CallbackInfo& info) {
    return tensor_table(info.Env(), usable(info.Env()).topology().parameters);
  }
  Napi::Value BufferTable(const Napi::CallbackInfo& info) {
    return tensor_table(info.Env(), usable(info.Env()).topology().buffers);
  }
  Napi::Value BatchNormNames(const Napi::CallbackInfo& info) {
    return string_list(info.Env(), usable(info.Env()).topology().batchnorms);
  }

  template <void (Engine::*Get)(float*) const>
  Napi::Value get_flat(const Napi::CallbackInfo& info, int64_t count) {
    auto out = Napi::Float32Array::New(info.Env(), static_cast<size_t>(count));
    (engine_.get()->*Get)(out.Data());
    return out;
  }
  template <void (Engine::*Set)(const float*)>
  void set_flat(const Napi::CallbackInfo& info, int64_t count, const char* name) {
    auto values = typed_array_arg<float>(info[0], name, count);
    const int64_t bad = first_non_finite(values.Data(), count);
    if (bad >= 0) throw_range(info.Env(), std::string(name) + "[" + std::to_string(bad) + "] is not finite");
    (engine_.get()->*Set)(values.Data());
  }
  int64_t parameter_count(Napi::Env env) { return usable(env).topology().parameter_count; }
  int64_t buffer_count(Napi::Env env) { return usable(env).topology().buffer_count; }
  Napi::Value GetParameters(const Napi::CallbackInfo& info) {
    return get_flat<&Engine::get_parameters>(info, parameter_count(info.Env()));
  }
  void SetParameters(const Napi::CallbackInfo& info) {
    set_flat<&Engine::set_parameters>(info, parameter_count(info.Env()), "parameters");
  }
  Napi::Value GetBuffers(const Napi::CallbackInfo& info) {
    return get_flat<&Engine::get_buffers>(info, buffer_count(info.Env()));
  }
  void SetBuffers(const Napi::CallbackInfo& info) {
    set_flat<&Engine::set_buffers>(info, buffer_count(info.Env()), "buffers");
  }
  Napi::Value GetMomentum(const Napi::CallbackInfo& info) {
    return get_flat<&Engine::get_momentum>(info, parameter_count(info.Env()));
  }
  void SetMomentum(const Napi::CallbackInfo& info) {
    set_flat<&Engine::set_momentum>(info, parameter_count(info.Env()), "momentum");
  }
  // Testing aid for backend comparisons (Network::track_relu_margin says why); engines that record margins
  // only (ref).
  void TrackReluMargin(const Napi::CallbackInfo& info) {
    Engine& engine = usable(info.Env());
    const bool on = bool_arg(info[0], "on");
    if (!engine.track_relu_margin(on)) {
      throw_type(info.Env(),
                 std::string("trackReluMargin: ReLU margins are recorded by the ref backend only, "
                             "not by ") +
                     engine.name());
    }
  }
  Napi::Value TakeReluMargin(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), usable(info.Env()).take_relu_margin());
  }
  Napi::Value GetNumBatchesTracked(const Napi::CallbackInfo& info) {
    const std::vector<int64_t> counts = usable(info.Env()).num_batches_tracked();
    Napi::Array out = Napi::Array::New(info.Env(), counts.size());
    for (size_t i = 0; i < counts.size(); ++i)
      out.Set(static_cast<uint32_t>(i), static_cast<double>(counts[i]));
    return out;
  }
  void SetNumBatchesTracked(const Napi::CallbackInfo& info) {
    Engine& engine = usable(info.Env());
    const size_t size = engine.topology().batchnorms.size();
    const std::vector<double> v = number_list_arg(info[0], "numBatchesTracked", static_cast<int64_t>(size));
    std::vector<int64_t> counts(size);
    for (size_t i = 0; i < size; ++i) {
      if (v[i] < 0 || v[i] != static_cast<double>(static_cast<int64_t>(v[i]))) {
        throw_range(info.Env(),
                    "numBatchesTracked[" + std::to_string(i) + "] must be a non-negative integer");
      }
      counts[i] = static_cast<int64_t>(v[i]);
    }
    engine.set_num_batches_tracked(counts);
  }

  void Dispose(const Napi::CallbackInfo& info) {
    if (busy_) throw_type(info.Env(), "the network is busy: a trainEpoch or predict call is still running");
    engine_.reset();
  }

  // images: Uint8Array [N*C*S*S], shape: [N, C, S, S] matching the spec.
  ImageSet images_arg(const Napi::CallbackInfo& info, size_t i) {
    Napi::Env env = info.Env();
    const NetworkSpec& spec = engine_->spec();
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

  // mean and std of `config` into `a` (which points at the vectors, kept alive by the caller).
  void normalization_arg(const Napi::Value& config, AugmentParams& a, std::vector<float>& mean,
                         std::vector<float>& std) {
    const NetworkSpec& spec = engine_->spec();
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

  std::unique_ptr<Engine> engine_;
  bool busy_ = false;
};

Napi::Object epoch_result(Napi::Env env, const EpochProgress& p) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("batches", static_cast<double>(p.batches_done));
  o.Set("batchesTotal", static_cast<double>(p.batches_total));
  o.Set("images", static_cast<double>(p.images_done));
  o.Set("loss", p.images_done > 0 ? p.loss_sum / static_cast<double>(p.images_done) : 0.0);
  o.Set("accuracy",
        p.images_done > 0 ? static_cast<double>(p.correct) / static_cast<double>(p.images_done) : 0.0);
  o.Set("diverged", p.diverged);
  return o;
}

Napi::Value float_array_or_null(Napi::Env env, const std::vector<float>& v) {
  if (v.empty()) return env.Null();
  auto a = Napi::Float32Array::New(env, v.size());
  std::copy(v.begin(), v.end(), a.Data());
  return a;
}

// trainEpoch(images, shape, labels, order, config, onProgress?, stopFlag?)
// config: { batch, lr, momentum, weightDecay, nesterov, loss, classWeights: number[K] | null, mean, std,
//           augment, pad, flip, seed, epoch, progressEvery }
Napi::Value NativeNetwork::TrainEpoch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Engine& engine = usable(env);
  if (info.Length() < 5)
    throw_type(env, "expected (images, shape, labels, order, config, onProgress?, stopFlag?)");
  const ImageSet images = images_arg(info, 0);
  const int64_t K = engine.spec().classes;
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
  auto cfg = std::make_shared<EpochConfig>();
  cfg->batch = integer_arg(option(config, "batch"), "config.batch", 2, 1 << 16);
  cfg->sgd = sgd_config_arg(config, "config");
  cfg->sgd.lr = finite_arg(option(config, "lr"), "config.lr");
  if (cfg->sgd.lr < 0) throw_range(env, "config.lr must be >= 0");
  cfg->loss = loss_config_arg(option(config, "loss"), "config.loss", K);
  const Napi::Value weights = option(config, "classWeights");
  if (!weights.IsNull()) cfg->loss.class_weights = number_list_arg(weights, "config.classWeights", K, true);
  auto mean = std::make_shared<std::vector<float>>(), std = std::make_shared<std::vector<float>>();
  normalization_arg(config, cfg->augment, *mean, *std);
  cfg->augment_images = bool_arg(option(config, "augment"), "config.augment");
  cfg->augment.pad =
      static_cast<int>(integer_arg(option(config, "pad"), "config.pad", 0, engine.spec().side));
  cfg->augment.flip = bool_arg(option(config, "flip"), "config.flip");
  cfg->augment.seed =
      static_cast<uint64_t>(integer_arg(option(config, "seed"), "config.seed", 0, (1LL << 53) - 1));
  cfg->augment.epoch =
      static_cast<uint64_t>(integer_arg(option(config, "epoch"), "config.epoch", 0, 1 << 20));
  cfg->progress_every = integer_arg(option(config, "progressEvery"), "config.progressEvery", 0, 1 << 30);
  Napi::Function on_progress;
  if (info.Length() > 5 && !info[5].IsUndefined() && !info[5].IsNull()) {
    if (!info[5].IsFunction()) throw_type(env, "onProgress must be a function");
    on_progress = info[5].As<Napi::Function>();
  }
  PromiseWorker<EpochProgress>::Job job;
  job.what = "trainEpoch";
  job.keep = {Value(), info[0], info[2], info[3]};
  job.stop_flag = stop_flag_arg(info, 6, job.keep);
  auto result = std::make_shared<EpochProgress>();
  const uint8_t* data = images.data;
  const int32_t* label_data = labels.Data();
  const int32_t* order_data = order.Data();
  job.run = [&engine, cfg, mean, std, result, data, label_data, order_data, rows](
                const PromiseWorker<EpochProgress>::Report& report,
                const PromiseWorker<EpochProgress>::Stop& stop) {
    *result = engine.train_epoch(data, label_data, order_data, rows, *cfg, report, stop);
    return result->diverged || result->batches_done == result->batches_total;
  };
  job.result = [result](Napi::Env e) -> Napi::Value { return epoch_result(e, *result); };
  job.partial_on_abort = true;
  job.progress_value = [](Napi::Env e, const EpochProgress& p) -> Napi::Value { return epoch_result(e, p); };
  job.on_progress = on_progress;
  job.on_settle = [this] { busy_ = false; };
  busy_ = true;
  return PromiseWorker<EpochProgress>::start(env, std::move(job));
}

// predict(images, shape, indices | null, config: { batch, mean, std, logits, embeddings }, stopFlag?)
Napi::Value NativeNetwork::Predict(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Engine& engine = usable(env);
  if (info.Length() < 4) throw_type(env, "expected (images, shape, indices, config, stopFlag?)");
  const ImageSet images = images_arg(info, 0);
  PromiseWorker<>::Job job;
  job.keep = {Value(), info[0]};
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
    job.keep.push_back(info[2]);
  }
  if (rows == 0) throw_range(env, "indices must not be empty");
  const Napi::Value config = info[3];
  if (!config.IsObject())
    throw_type(env, "config must be an object { batch, mean, std, logits, embeddings }");
  auto normalize = std::make_shared<AugmentParams>();
  auto mean = std::make_shared<std::vector<float>>(), std = std::make_shared<std::vector<float>>();
  normalization_arg(config, *normalize, *mean, *std);
  const int64_t batch = integer_arg(option(config, "batch"), "config.batch", 1, 1 << 16);
  const bool want_logits = bool_arg(option(config, "logits"), "config.logits");
  const bool want_embeddings = bool_arg(option(config, "embeddings"), "config.embeddings");
  if (!want_logits && !want_embeddings) throw_range(env, "config must ask for logits, embeddings or both");
  job.what = "predict";
  job.stop_flag = stop_flag_arg(info, 4, job.keep);
  auto logits = std::make_shared<std::vector<float>>(want_logits ? rows * engine.spec().classes : 0);
  auto embeddings =
      std::make_shared<std::vector<float>>(want_embeddings ? rows * Topology::kEmbeddingDim : 0);
  const uint8_t* data = images.data;
  job.run = [&engine, data, indices, rows, batch, normalize, mean, std, logits, embeddings](
                const PromiseWorker<>::Report&, const PromiseWorker<>::Stop& stop) {
    return engine.predict(data, indices, rows, batch, *normalize, logits->empty() ? nullptr : logits->data(),
                          embeddings->empty() ? nullptr : embeddings->data(), stop);
  };
  job.result = [logits, embeddings](Napi::Env e) -> Napi::Value {
    Napi::Object out = Napi::Object::New(e);
    out.Set("logits", float_array_or_null(e, *logits));
    out.Set("embeddings", float_array_or_null(e, *embeddings));
    return out;
  };
  job.on_settle = [this] { busy_ = false; };
  busy_ = true;
  return PromiseWorker<>::start(env, std::move(job));
}

}  // namespace

void register_network(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeNetwork", NativeNetwork::Define(env));
}

}  // namespace eos::addon
