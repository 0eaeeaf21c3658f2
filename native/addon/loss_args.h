// Parsing of the JS loss and optimizer options shared by every training entry point.
//
// JS: { kind: 'ce' } | { kind: 'focal', gamma } | { kind: 'ldam', classCounts: number[K], maxMargin, scale }
//     | { kind: 'asl', gammaPos, gammaNeg, eps }   (every field required: TS fills them, lib/defaults.ts
//     LOSS)
// Class weights are given separately (per epoch) by the callers.
#pragma once

#include <napi.h>

#include <string>

#include "nn/losses.h"
#include "nn/sgd.h"

namespace eos::addon {

LossConfig loss_config_arg(const Napi::Value& v, const std::string& name, int64_t classes);

// { momentum, weightDecay, nesterov } of the options object `config` (all required, momentum and weight
// decay finite and >= 0); lr is left 0 for the caller (per call or per epoch).
SgdConfig sgd_config_arg(const Napi::Value& config, const std::string& name);

}  // namespace eos::addon
