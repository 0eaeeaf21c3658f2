// The whole float32 network (ref backend, and the CUDA engine in a CUDA build) against PyTorch
// (test/fixtures/torch/make_fixtures.py): from the same initial state and batches, the step-0 logits, loss,
// every parameter gradient and running statistics, then the parameters and running statistics after three SGD
// steps, and the eval-mode logits and embeddings.
//
// Tolerances (float32 against float32 PyTorch; differences come from summation order only):
//   logits, loss, embeddings:         |diff| <= 1e-4 * max|ref| + 1e-5, and 1e-5 relative for the loss
//   gradients, per tensor:            |diff| <= 5e-4 * max|ref in that tensor| + 1e-6 (batch-norm backward
//                                     subtracts nearly equal terms, which amplifies rounding differences)
//   running statistics:               |diff| <= 1e-4 * max|ref| + 1e-5
//   parameters after 3 steps:         |diff| <= 1e-4 * max|ref in that tensor| + 1e-6
//   full-tensor sums of squares:      relative 1e-4 (gradients) / 1e-5 (parameters); sums within
//                                     1e-4 (1e-5) * sqrt(count * sum of squares)
// Measured (this machine, 2 threads): at most ~5e-6 relative anywhere, so the bounds leave ample room for
// other compilers and thread counts while any real error (a wrong term, a missing weight) exceeds them.
// Large tensors are compared at the fixture's sampled indices (j * count / samples) plus those sums.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "fixture_io.h"
#include "harness.h"
#include "nn/network.h"

#ifdef EOS_HAVE_CUDA
#include "core/device_buffer.h"
#include "nn/cuda/cuda_engine.h"
#endif

namespace eos::test {
namespace {

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

uint32_t fnv1a32(const std::string& name) {
  uint32_t h = 0x811C9DC5u;
  for (unsigned char c : name) h = (h ^ c) * 0x01000193u;
  return h;
}

// The fixture generator's closed-form initial values (pattern_value in make_fixtures.py).
std::vector<float> pattern_value(const std::string& name, const std::vector<int64_t>& shape, bool cosine) {
  int64_t count = 1;
  for (int64_t d : shape) count *= d;
  const uint32_t base = fnv1a32(name) * 0x9E3779B9u;
  const std::string leaf = name.substr(name.rfind('.') + 1);
  const bool is_bn = name.rfind("bn", 0) == 0 || name.find(".bn") != std::string::npos;
  std::vector<float> out(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    uint32_t x = base + static_cast<uint32_t>(i);
    x ^= x >> 16;
    x *= 0x7FEB352Du;
    x ^= x >> 15;
    x *= 0x846CA68Bu;
    x ^= x >> 16;
    const double u = static_cast<double>(x >> 8) / 16777216.0;
    double v;
    if (leaf == "running_mean") {
      v = 0.1 * (2 * u - 1);
    } else if (leaf == "running_var" || (is_bn && leaf == "weight")) {
      v = 0.5 + u;
    } else if (leaf == "bias") {
      v = 0.2 * (2 * u - 1);
    } else if (name == "linear.weight" && cosine) {
      v = 2 * u - 1;
    } else {
      v = (2 * u - 1) * std::sqrt(6.0 / static_cast<double>(count / shape[0]));
    }
    out[i] = static_cast<float>(v);
  }
  return out;
}

// Compares a full tensor `ours` with the fixture's (possibly sampled) copy `<key>` and, for sampled tensors,
// the full sums `<sum_key>`.
void compare_tensor(const SafeTensors& f, const std::string& what, const std::string& key,
                    const std::string& sum_key, const std::vector<float>& ours, double rtol,
                    double sum_rtol) {
  const std::vector<float> ref = f.f32(key);
  const int64_t count = static_cast<int64_t>(ours.size()), m = static_cast<int64_t>(ref.size());
  std::vector<float> picked(static_cast<size_t>(m));
  for (int64_t j = 0; j < m; ++j) picked[j] = ours[(j * count) / m];
  double max_ref = 0;
  for (float r : ref) max_ref = std::max(max_ref, static_cast<double>(std::fabs(r)));
  const Diff d = compare(picked.data(), ref.data(), m, 0.0, rtol * max_ref + 1e-6);
  bool ok = d.within && m <= count;
  std::string detail = "max|diff| " + fmt(d.max_abs) + ", max|ref| " + fmt(max_ref);
  if (!sum_key.empty()) {
    const std::vector<double> sums = f.f64(sum_key);
    double s = 0, sq = 0;
    for (float v : ours) {
      s += v;
      sq += static_cast<double>(v) * v;
    }
    const bool sums_ok =
        std::fabs(sq - sums[1]) <= sum_rtol * sums[1] + 1e-12 &&
        std::fabs(s - sums[0]) <= sum_rtol * std::sqrt(static_cast<double>(count) * sums[1]) + 1e-12;
    ok = ok && sums_ok;
    detail += ", sum " + fmt(s) + " vs " + fmt(sums[0]) + ", sum sq " + fmt(sq) + " vs " + fmt(sums[1]);
  }
  check(ok, what,
        detail + (m < count ? " (" + std::to_string(m) + " of " + std::to_string(count) + " sampled)" : ""));
}

// A fixture's network, loss and SGD settings (its "config" metadata).
struct TorchCase {
  NetworkSpec spec;
  bool cosine = false;
  int64_t n = 0;  // batch
  std::string kind;
  LossConfig loss;
  SgdConfig sgd;
};

TorchCase torch_case(const SafeTensors& f) {
  const Json cfg = parse_json(f.metadata().at("config"));
  TorchCase c;
  NetworkSpec& spec = c.spec;
  spec.depth = static_cast<int64_t>(cfg["depth"].number);
  spec.in_channels = static_cast<int64_t>(cfg["in_channels"].number);
  spec.side = static_cast<int64_t>(cfg["side"].number);
  spec.classes = static_cast<int64_t>(cfg["classes"].number);
  c.cosine = cfg["head"].string == "cosine";
  spec.head = c.cosine ? HeadKind::kCosine : HeadKind::kLinear;
  c.n = static_cast<int64_t>(cfg["batch"].number);

  LossConfig& loss = c.loss;
  const Json& lc = cfg["loss"];
  c.kind = lc["kind"].string;
  if (lc.has("weights")) loss.class_weights = lc["weights"].numbers();
  if (c.kind == "focal") {
    loss.kind = LossKind::kFocal;
    loss.focal_gamma = lc["gamma"].number;
  } else if (c.kind == "ldam") {
    loss.kind = LossKind::kLdam;
    std::vector<int64_t> counts;
    for (double v : lc["class_counts"].numbers()) counts.push_back(static_cast<int64_t>(v));
    loss.ldam_margins = ldam_margins(counts, lc["max_m"].number);
    loss.ldam_scale = lc["s"].number;
  } else if (c.kind == "asl") {
    loss.kind = LossKind::kAsl;
    loss.asl_gamma_pos = lc["gamma_pos"].number;
    loss.asl_gamma_neg = lc["gamma_neg"].number;
    loss.asl_eps = lc["eps"].number;
  }
  c.sgd.lr = cfg["sgd"]["lr"].number;
  c.sgd.momentum = cfg["sgd"]["momentum"].number;
  c.sgd.weight_decay = cfg["sgd"]["weight_decay"].number;
  c.sgd.nesterov = cfg["sgd"]["nesterov"].boolean;
  return c;
}

// What a network computed on a fixture's three batches, for check_case.
struct CaseRun {
  std::vector<float> logits;              // step 0, train mode
  double loss = 0;                        // step 0
  std::vector<float> grads;               // step 0, the whole parameter buffer
  std::vector<float> buffers0, buffers3;  // running statistics after steps 0 and 3 (buffer table)
  std::vector<float> params3;             // parameters after three SGD steps
  std::vector<int64_t> tracked;           // num_batches_tracked after three steps
  std::vector<float> eval_logits, embeddings;
};

void check_case(const SafeTensors& f, const Topology& topo, const TorchCase& c, const std::string& name,
                const CaseRun& r) {
  const int64_t n = c.n, k = c.spec.classes;
  const std::vector<float> ref_logits = f.f32("step0.logits");
  double max_logit = 0;
  for (float v : ref_logits) max_logit = std::max(max_logit, static_cast<double>(std::fabs(v)));
  check_arrays(name + ": step-0 train-mode logits", r.logits.data(), ref_logits.data(), n * k, 0,
               1e-4 * max_logit + 1e-5);
  const double ref_loss = f.f64("step0.loss")[0];
  check_near(r.loss, ref_loss, 1e-5 * std::fabs(ref_loss) + 1e-6, name + ": step-0 loss (" + c.kind + ")");
  for (const TensorInfo& t : topo.parameters) {
    const std::vector<float> g(r.grads.begin() + t.offset, r.grads.begin() + t.offset + t.count);
    compare_tensor(f, name + ": step-0 gradient of " + t.name, "step0.grad." + t.name,
                   "step0.gradsum." + t.name, g, 5e-4, 1e-4);
  }
  for (const TensorInfo& t : topo.buffers) {
    const std::vector<float> b(r.buffers0.begin() + t.offset, r.buffers0.begin() + t.offset + t.count);
    compare_tensor(f, name + ": " + t.name + " after step-0 forward", "step0.buffer." + t.name, "", b, 1e-4,
                   0);
  }
  for (const TensorInfo& t : topo.parameters) {
    const std::vector<float> p(r.params3.begin() + t.offset, r.params3.begin() + t.offset + t.count);
    compare_tensor(f, name + ": " + t.name + " after 3 SGD steps", "step3.param." + t.name,
                   "step3.paramsum." + t.name, p, 1e-4, 1e-5);
  }
  for (const TensorInfo& t : topo.buffers) {
    const std::vector<float> b(r.buffers3.begin() + t.offset, r.buffers3.begin() + t.offset + t.count);
    compare_tensor(f, name + ": " + t.name + " after 3 steps", "step3.buffer." + t.name, "", b, 1e-4, 0);
  }
  bool counted = true;
  for (int64_t v : r.tracked) counted &= v == 3;
  check(counted, name + ": num_batches_tracked = 3 everywhere");

  const std::vector<float> ref_eval = f.f32("step3.eval_logits"), ref_emb = f.f32("step3.embedding");
  double max_eval = 0, max_emb = 0;
  for (float v : ref_eval) max_eval = std::max(max_eval, static_cast<double>(std::fabs(v)));
  for (float v : ref_emb) max_emb = std::max(max_emb, static_cast<double>(std::fabs(v)));
  check_arrays(name + ": eval-mode logits after 3 steps", r.eval_logits.data(), ref_eval.data(), n * k, 0,
               1e-4 * max_eval + 1e-5);
  check_arrays(name + ": eval-mode embeddings after 3 steps", r.embeddings.data(), ref_emb.data(), n * 64, 0,
               1e-4 * max_emb + 1e-5);
}

// The fixture's closed-form initial state written into a network (Network or an engine).
template <class Net>
void write_initial_state(Net& net, const Topology& topo, bool cosine) {
  for (const TensorInfo& t : topo.parameters)
    net.write_tensor(t.name, pattern_value(t.name, t.shape, cosine).data());
  for (const TensorInfo& t : topo.buffers)
    net.write_tensor(t.name, pattern_value(t.name, t.shape, cosine).data());
}

void run_case(const std::string& dir, const std::string& name) {
  const SafeTensors f(dir + "/torch/" + name + ".safetensors");
  const TorchCase c = torch_case(f);
  const int64_t n = c.n, k = c.spec.classes;
  Network<float> net(c.spec);
  write_initial_state(net, net.topology(), c.cosine);
  const std::vector<float> x = f.f32("x");
  const std::vector<int32_t> labels = f.i32("labels");
  const int64_t image = c.spec.in_channels * c.spec.side * c.spec.side;

  // Step 0 in pieces: forward, loss, backward, SGD.
  CaseRun r;
  r.logits.resize(n * k);
  std::vector<float> dlogits(n * k);
  net.forward(x.data(), n, Mode::kTrain, r.logits.data(), nullptr);
  r.loss = loss_forward_backward(c.loss, n, k, r.logits.data(), labels.data(), dlogits.data());
  net.backward(dlogits.data());
  r.grads.resize(static_cast<size_t>(net.parameter_count()));
  net.get_gradients(r.grads.data());
  r.buffers0.resize(static_cast<size_t>(net.buffer_count()));
  net.get_buffers(r.buffers0.data());
  net.sgd_step(c.sgd);
  for (int step = 1; step < 3; ++step)
    net.train_step(x.data() + step * n * image, labels.data() + step * n, n, c.loss, c.sgd);
  r.params3.resize(static_cast<size_t>(net.parameter_count()));
  net.get_parameters(r.params3.data());
  r.buffers3.resize(static_cast<size_t>(net.buffer_count()));
  net.get_buffers(r.buffers3.data());
  r.tracked = net.num_batches_tracked();
  r.eval_logits.resize(n * k);
  r.embeddings.resize(n * 64);
  net.forward(x.data(), n, Mode::kEval, r.eval_logits.data(), r.embeddings.data());
  check_case(f, net.topology(), c, name, r);
}

#ifdef EOS_HAVE_CUDA
// The same fixtures through the CUDA engine, same tolerances. Its whole-step testing aid gives the step-0
// logits, loss and gradients (the SGD step that follows them in the same call changes none of them).
void run_cuda_case(const std::string& dir, const std::string& name) {
  const SafeTensors f(dir + "/torch/" + name + ".safetensors");
  const TorchCase c = torch_case(f);
  const int64_t n = c.n, k = c.spec.classes;
  cuda::CudaEngine net(c.spec, cuda::MathMode::kFp32);
  const Topology& topo = net.topology();
  write_initial_state(net, topo, c.cosine);
  const std::vector<float> x = f.f32("x");
  const std::vector<int32_t> labels = f.i32("labels");
  const int64_t image = c.spec.in_channels * c.spec.side * c.spec.side;

  CaseRun r;
  r.logits.resize(n * k);
  r.loss = net.train_step(x.data(), labels.data(), n, c.loss, c.sgd, r.logits.data());
  r.grads.resize(static_cast<size_t>(topo.parameter_count));
  net.get_gradients(r.grads.data());
  r.buffers0.resize(static_cast<size_t>(topo.buffer_count));
  net.get_buffers(r.buffers0.data());
  for (int step = 1; step < 3; ++step)
    net.train_step(x.data() + step * n * image, labels.data() + step * n, n, c.loss, c.sgd, nullptr);
  r.params3.resize(static_cast<size_t>(topo.parameter_count));
  net.get_parameters(r.params3.data());
  r.buffers3.resize(static_cast<size_t>(topo.buffer_count));
  net.get_buffers(r.buffers3.data());
  r.tracked = net.num_batches_tracked();
  r.eval_logits.resize(n * k);
  r.embeddings.resize(n * 64);
  net.eval_forward(x.data(), n, r.eval_logits.data(), r.embeddings.data());
  check_case(f, topo, c, "cuda " + name, r);
}
#endif

const char* const kCases[] = {"resnet8-1ch-ce",  "resnet8-3ch-focal-weighted-nesterov",
                              "resnet8-3ch-asl", "resnet8-1ch-cosine-ldam-weighted",
                              "resnet20-3ch-ce", "resnet20-1ch-focal"};

EOS_TEST(torch_reference_whole_network) {
  const std::string dir = fixtures_dir();
  if (!check(!dir.empty(),
             "fixtures found (test/fixtures from the working directory up, or $EOS_FIXTURES_DIR)")) {
    return;
  }
  for (const char* name : kCases) run_case(dir, name);
}

#ifdef EOS_HAVE_CUDA
EOS_TEST(cuda_torch_reference_whole_network) {
  std::string why;
  if (!cuda::device_available(&why)) {
    std::printf("skip cuda_torch_reference_whole_network: %s\n", why.c_str());
    return;
  }
  const std::string dir = fixtures_dir();
  if (!check(!dir.empty(),
             "fixtures found (test/fixtures from the working directory up, or $EOS_FIXTURES_DIR)")) {
    return;
  }
  for (const char* name : kCases) run_cuda_case(dir, name);
}
#endif

}  // namespace
}  // namespace eos::test
