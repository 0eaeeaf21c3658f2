// The one place that knows which backends this build has and how each is made: a backend's name appears
// here and nowhere else above the engine.
#include <cstdlib>
#include <stdexcept>

#include "nn/engine.h"
#include "nn/host_engine.h"

#ifdef EOS_HAVE_DNNL
#include "nn/dnnl/dnnl_network.h"
#endif
#ifdef EOS_HAVE_CUDA
#include "core/device_buffer.h"
#include "nn/cuda/cuda_engine.h"
#endif

namespace eos {

#ifdef EOS_HAVE_CUDA
// EOS_CUDA_MATH=fp32|tf32|bf16: the convolutions' arithmetic (nn/cuda/ops.h MathMode), read once per engine.
cuda::MathMode cuda::math_mode_from_environment() {
  const char* value = std::getenv("EOS_CUDA_MATH");
  if (!value || !*value) return MathMode::kFp32;
  const std::string v = value;
  if (v == "fp32") return MathMode::kFp32;
  if (v == "tf32") return MathMode::kTf32;
  if (v == "bf16") return MathMode::kBf16;
  throw std::invalid_argument("EOS_CUDA_MATH must be 'fp32', 'tf32' or 'bf16', got '" + v + "'");
}
#endif

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

// The built backends other than CUDA, for the hint of a CUDA error: "'auto', 'dnnl' or 'ref'".
std::string cpu_alternatives() {
  std::string list = "'auto'";
  std::vector<std::string> cpu;
  for (const std::string& b : built_backends()) {
    if (b != "cuda") cpu.push_back(b);
  }
  for (size_t i = 0; i < cpu.size(); ++i) list += (i + 1 == cpu.size() ? " or '" : ", '") + cpu[i] + "'";
  return list;
}

// Empty when `name` can run here; otherwise the message of the std::invalid_argument make_engine throws.
std::string unavailable(const std::string& name) {
  bool built = false;
  for (const std::string& b : built_backends()) built = built || b == name;
  if (built) {
#ifdef EOS_HAVE_CUDA
    std::string why;
    if (name == "cuda" && !cuda::device_available(&why)) {
      const std::string detail = why == "no CUDA device found" ? "" : " (CUDA reports " + why + ")";
      return "backend 'cuda': no CUDA device found" + detail + "; use " + cpu_alternatives();
    }
#endif
    return "";
  }
  if (name == "cuda") {
    return "backend 'cuda': this addon was built without CUDA (rebuild it with npx cmake-js compile "
           "--CDEOS_CUDA=ON; nvcc needed); use " +
           cpu_alternatives();
  }
  if (name == "dnnl") {
    return "backend 'dnnl': this addon was built without oneDNN (install libdnnl-dev and rebuild with npm "
           "run "
           "build:native); use 'auto' or 'ref'";
  }
  std::string names;
  for (const std::string& b : built_backends()) names += "'" + b + "', ";
  return "backend must be 'auto', " + names.substr(0, names.size() - 2) + "; got '" + name + "'";
}

void require_usable(const std::string& name) {
  const std::string problem = unavailable(name);
  if (!problem.empty()) throw std::invalid_argument(problem);
}

}  // namespace

std::vector<std::string> built_backends() {
  std::vector<std::string> names;
#ifdef EOS_HAVE_CUDA
  names.push_back("cuda");
#endif
#ifdef EOS_HAVE_DNNL
  names.push_back("dnnl");
#endif
  names.push_back("ref");
  return names;
}

bool backend_usable(const std::string& name, std::string* why) {
  const std::string problem = unavailable(name);
  if (why) *why = problem;
  return problem.empty();
}

std::string resolve_backend(const std::string& name) {
  if (name != "auto") return name;
  for (const std::string& b : built_backends()) {
    if (backend_usable(b)) return b;
  }
  return "ref";
}

std::unique_ptr<Engine> make_engine(const std::string& backend, const NetworkSpec& spec) {
  const std::string name = resolve_backend(backend);
  require_usable(name);
#ifdef EOS_HAVE_CUDA
  if (name == "cuda") return std::make_unique<cuda::CudaEngine>(spec, cuda::math_mode_from_environment());
#endif
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
  require_usable(name);
#ifdef EOS_HAVE_CUDA
  if (name == "cuda") return std::make_unique<cuda::CudaHeadEngine>();
#endif
  // Both CPU backends train the head with the same host kernels (a [N, 64] x [64, K] product).
  return std::make_unique<HostHeadEngine>(name == "dnnl" ? "dnnl" : "ref");
}

}  // namespace eos
