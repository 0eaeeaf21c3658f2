// The oneDNN trunk (resnet_trunk.h) as a TrunkProvider of a float Network: builds the trunk's parameter
// pointers from the network's name table once, and keeps the plans of the two most recent batch sizes (an
// epoch needs the full batch and its last partial one; every plan holds its own activations).
#pragma once

#include <memory>

#include "nn/network.h"
#include "nn/trunk.h"

namespace eos::dnnl_backend {

std::unique_ptr<TrunkProvider> make_trunk_provider(Network<float>& net);

}  // namespace eos::dnnl_backend
