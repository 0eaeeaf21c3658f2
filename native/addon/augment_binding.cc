// `augmentBatch` / `normalizeBatch`: uint8 images -> float batches (native/augment), validated.
//
// JS: augmentBatch(images: Uint8Array, shape: [N, C, H, W], indices: Int32Array, out: Float32Array,
//                  options: { mean: number[C], std: number[C], pad?: 4, flip?: true, seed?: 0, epoch?: 0,
//                             threads?: 0 })  -> undefined (fills `out`, length B*C*H*W)
// Synchronous: one batch takes well under a millisecond; the training loop calls the kernel natively.
#include <napi.h>

#include <vector>

#include "addon/args.h"
#include "addon/exports.h"
#include "augment/augment.h"
#include "core/threads.h"

namespace eos::addon {
namespace {

constexpr int64_t kMaxSide = 1 << 14;

struct Parsed {
  AugmentParams params;
  std::vector<float> mean, std;
  int64_t count = 0;  // N
};

std::vector<float> per_channel(const Napi::Value& v, const std::string& name, int64_t channels,
                               bool positive) {
  const std::vector<double> values = number_list_arg(v, name, channels, positive);
  return std::vector<float>(values.begin(), values.end());
}

Napi::Value Run(const Napi::CallbackInfo& info, bool augment) {
  Napi::Env env = info.Env();
  if (info.Length() < 5) throw_type(env, "expected (images, shape, indices, out, options)");
  if (!info[1].IsArray() || info[1].As<Napi::Array>().Length() != 4) {
    throw_type(env, "shape must be an array [N, C, H, W]");
  }
  Napi::Array shape = info[1].As<Napi::Array>();
  Parsed p;
  p.count = integer_arg(shape.Get(0u), "shape[0] (N)", 1, INT32_MAX);
  AugmentParams& a = p.params;
  a.channels = integer_arg(shape.Get(1u), "shape[1] (C)", 1, 4);
  a.height = integer_arg(shape.Get(2u), "shape[2] (H)", 1, kMaxSide);
  a.width = integer_arg(shape.Get(3u), "shape[3] (W)", 1, kMaxSide);
  const int64_t image_size = a.channels * a.height * a.width;
  auto images = typed_array_arg<uint8_t>(info[0], "images", p.count * image_size);
  auto indices = typed_array_arg<int32_t>(info[2], "indices");
  const int64_t batch = static_cast<int64_t>(indices.ElementLength());
  if (batch == 0) throw_range(env, "indices must not be empty");
  const int32_t* index = indices.Data();
  for (int64_t b = 0; b < batch; ++b) {
    if (index[b] < 0 || index[b] >= p.count) {
      throw_range(env, "indices[" + std::to_string(b) + "] = " + std::to_string(index[b]) +
                           " is outside [0, " + std::to_string(p.count) + ")");
    }
  }
  auto out = typed_array_arg<float>(info[3], "out", batch * image_size);
  Napi::Value options = info[4];
  if (!options.IsObject()) throw_type(env, "options must be an object with mean and std");
  p.mean = per_channel(option(options, "mean"), "options.mean", a.channels, false);
  p.std = per_channel(option(options, "std"), "options.std", a.channels, true);
  a.mean = p.mean.data();
  a.std = p.std.data();
  const Napi::Value pad = option(options, "pad"), flip = option(options, "flip");
  const Napi::Value seed = option(options, "seed"), epoch = option(options, "epoch");
  const Napi::Value threads = option(options, "threads");
  a.pad = pad.IsUndefined()
              ? 4
              : static_cast<int>(integer_arg(pad, "options.pad", 0, std::min(a.height, a.width)));
  a.flip = flip.IsUndefined() ? true : bool_arg(flip, "options.flip");
  a.seed =
      seed.IsUndefined() ? 0 : static_cast<uint64_t>(integer_arg(seed, "options.seed", 0, (1LL << 53) - 1));
  a.epoch = epoch.IsUndefined() ? 0 : static_cast<uint64_t>(integer_arg(epoch, "options.epoch", 0, 1 << 20));
  use_threads(threads.IsUndefined() ? 0 : static_cast<int>(integer_arg(threads, "options.threads", 0, 1024)));
  if (augment) {
    augment_batch(images.Data(), indices.Data(), batch, a, out.Data());
  } else {
    normalize_batch(images.Data(), indices.Data(), batch, a, out.Data());
  }
  return env.Undefined();
}

Napi::Value AugmentBatch(const Napi::CallbackInfo& info) { return Run(info, true); }
Napi::Value NormalizeBatch(const Napi::CallbackInfo& info) { return Run(info, false); }

}  // namespace

void register_augment(Napi::Env env, Napi::Object exports) {
  exports.Set("augmentBatch", Napi::Function::New(env, AugmentBatch, "augmentBatch"));
  exports.Set("normalizeBatch", Napi::Function::New(env, NormalizeBatch, "normalizeBatch"));
}

}  // namespace eos::addon
