#include "addon/loss_args.h"

#include <vector>

#include "addon/args.h"

namespace eos::addon {
namespace {

// A required number in [min, max] (the values are TS's: lib/defaults.ts LOSS).
double number_option(const Napi::Value& options, const char* key, const std::string& name, double min,
                     double max) {
  const Napi::Value v = option(options, key);
  const double d = finite_arg(v, name + "." + key);
  if (d < min || d > max) {
    throw_range(v.Env(), name + "." + key + " must be in [" + std::to_string(min) + ", " +
                             std::to_string(max) + "], got " + std::to_string(d));
  }
  return d;
}

}  // namespace

LossConfig loss_config_arg(const Napi::Value& v, const std::string& name, int64_t classes) {
  Napi::Env env = v.Env();
  if (!v.IsObject())
    throw_type(env, name + " must be an object { kind: 'ce' | 'focal' | 'ldam' | 'asl', ... }");
  LossConfig cfg;
  const Napi::Value kind = option(v, "kind");
  const std::string k = kind.IsString() ? kind.As<Napi::String>().Utf8Value() : "";
  if (k == "ce") {
    cfg.kind = LossKind::kCrossEntropy;
  } else if (k == "focal") {
    cfg.kind = LossKind::kFocal;
    cfg.focal_gamma = number_option(v, "gamma", name, 0.0, 100.0);
  } else if (k == "ldam") {
    cfg.kind = LossKind::kLdam;
    const Napi::Value counts = option(v, "classCounts");
    if (!counts.IsArray() || counts.As<Napi::Array>().Length() != static_cast<uint32_t>(classes)) {
      throw_type(env, name + ".classCounts must be an array of " + std::to_string(classes) +
                          " per-class training counts (the LDAM margins depend on them)");
    }
    std::vector<int64_t> n(static_cast<size_t>(classes));
    for (int64_t c = 0; c < classes; ++c) {
      n[c] = integer_arg(counts.As<Napi::Array>().Get(static_cast<uint32_t>(c)),
                         name + ".classCounts[" + std::to_string(c) + "]", 1, INT32_MAX);
    }
    cfg.ldam_margins = ldam_margins(n, number_option(v, "maxMargin", name, 0.0, 10.0));
    cfg.ldam_scale = number_option(v, "scale", name, 1e-6, 1e6);
  } else if (k == "asl") {
    cfg.kind = LossKind::kAsl;
    cfg.asl_gamma_pos = number_option(v, "gammaPos", name, 0.0, 100.0);
    cfg.asl_gamma_neg = number_option(v, "gammaNeg", name, 0.0, 100.0);
    cfg.asl_eps = number_option(v, "eps", name, 0.0, 1.0);
  } else {
    throw_type(env, name + ".kind must be 'ce', 'focal', 'ldam' or 'asl'");
  }
  return cfg;
}

SgdConfig sgd_config_arg(const Napi::Value& config, const std::string& name) {
  SgdConfig sgd;
  sgd.momentum = finite_arg(option(config, "momentum"), name + ".momentum");
  sgd.weight_decay = finite_arg(option(config, "weightDecay"), name + ".weightDecay");
  if (sgd.momentum < 0 || sgd.weight_decay < 0)
    throw_range(config.Env(), name + ".momentum and " + name + ".weightDecay must be >= 0");
  sgd.nesterov = bool_arg(option(config, "nesterov"), name + ".nesterov");
  return sgd;
}

}  // namespace eos::addon
