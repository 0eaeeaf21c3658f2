// The one place that knows which backends this build has and how each is made. A new backend (CUDA) adds
// its name here and nowhere else above the engine.
#include <cstdlib>
#include <stdexcept>

#include "nn/engine.h"
#include "nn/host_engine.h"

#ifdef EOS_HAVE_DNNL
#include "nn/dnnl/dnnl_network.h"
#endif

namespace eos {

namespace {

#ifdef EOS_HAVE_DNNL
// Benchmarking overrides of the oneDNN plan, read once per engine: EOS_DNNL_CONV=direct|winograd (training
// convolutions), EOS_DNNL_EVAL_CONV=direct (inference keeps the training algorithm), EOS_DNNL_PROFILE=1 (time
// every step).
dnnl_backend::TrunkTuning tuning_from_environment() {
  dnnl_backend::TrunkTuning t;
  const char* conv = std::getenv("EOS_DNNL_CONV");
  if (conv && *conv) {
    t.conv_algorithm = conv;
    if (t.conv_algorithm != "direct" && t.conv_algorithm != "winograd") {
      throw std::invalid_argument("EOS_DNNL_CONV must be 'direct' or 'winograd', got '" + t.conv_algorithm +
                                  "'");
    }
  }
  const char* eval = std::getenv("EOS_DNNL_EVAL_CONV");
  t.eval_direct = eval && std::string(eval) == "direct";
  const char* profile = std::getenv("EOS_DNNL_PROFILE");
  t.profile = profile && profile[0] == '1';
  return t;
}
#endif

void require_built(const std::string& name) {
  for (const std::string& b : built_backends()) {
    if (b == name) return;
  }
  if (name == "dnnl") {
    throw std::invalid_argument(
        "backend 'dnnl': this addon was built without oneDNN (install libdnnl-dev and rebuild with npm run "
        "build:native); use 'auto' or 'ref'");
  }
  std::string names;
  for (const std::string& b : built_backends()) names += "'" + b + "', ";
  throw std::invalid_argument("backend must be 'auto', " + names.substr(0, names.size() - 2) + "; got '" +
                              name + "'");
}

}  // namespace

std::vector<std::string> built_backends() {
#ifdef EOS_HAVE_DNNL
  return {"dnnl", "ref"};
#else
  return {"ref"};
#endif
}

std::string resolve_backend(const std::string& name) {
  return name == "auto" ? built_backends().front() : name;
}

std::unique_ptr<Engine> make_engine(const std::string& backend, const NetworkSpec& spec) {
  const std::string name = resolve_backend(backend);
  require_built(name);
#ifdef EOS_HAVE_DNNL
  if (name == "dnnl") {
    return std::make_unique<HostEngine<dnnl_backend::DnnlNetwork>>(
        "dnnl", std::make_unique<dnnl_backend::DnnlNetwork>(spec, tuning_from_environment()));
  }
#endif
  return std::make_unique<RefEngine>(spec);
}

std::unique_ptr<HeadEngine> make_head_engine(const std::string& backend) {
  const std::string name = resolve_backend(backend);
  require_built(name);
  // Both CPU backends train the head with the same host kernels (a [N, 64] x [64, K] product).
  return std::make_unique<HostHeadEngine>(name == "dnnl" ? "dnnl" : "ref");
}

}  // namespace eos
