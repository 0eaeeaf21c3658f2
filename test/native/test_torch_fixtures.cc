// The whole float32 network (ref backend) against PyTorch (test/fixtures/torch/make_fixtures.py): from the
// same initial state and batches, the step-0 logits, loss, every parameter gradient and running statistics,
// then the parameters and running statistics after three SGD steps, and the eval-mode logits and embeddings.
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

void run_case(const std::string& dir, const std::string& name) {
  const SafeTensors f(dir + "/torch/" + name + ".safetensors");
  const Json cfg = parse_json(f.metadata().at("config"));
  NetworkSpec spec;
  spec.depth = static_cast<int64_t>(cfg["depth"].number);
  spec.in_channels = static_cast<int64_t>(cfg["in_channels"].number);
  spec.side = static_cast<int64_t>(cfg["side"].number);
  spec.classes = static_cast<int64_t>(cfg["classes"].number);
  const bool cosine = cfg["head"].string == "cosine";
  spec.head = cosine ? HeadKind::kCosine : HeadKind::kLinear;
  const int64_t n = static_cast<int64_t>(cfg["batch"].number), k = spec.classes;

  LossConfig loss;
  const Json& lc = cfg["loss"];
  const std::string kind = lc["kind"].string;
  if (lc.has("weights")) loss.class_weights = lc["weights"].numbers();
  if (kind == "focal") {
    loss.kind = LossKind::kFocal;
    loss.focal_gamma = lc["gamma"].number;
  } else if (kind == "ldam") {
    loss.kind = LossKind::kLdam;
    std::vector<int64_t> counts;
    for (double c : lc["class_counts"].numbers()) counts.push_back(static_cast<int64_t>(c));
    loss.ldam_margins = ldam_margins(counts, lc["max_m"].number);
    loss.ldam_scale = lc["s"].number;
  } else if (kind == "asl") {
    loss.kind = LossKind::kAsl;
    loss.asl_gamma_pos = lc["gamma_pos"].number;
    loss.asl_gamma_neg = lc["gamma_neg"].number;
    loss.asl_eps = lc["eps"].number;
  }
  SgdConfig sgd;
  sgd.lr = cfg["sgd"]["lr"].number;
  sgd.momentum = cfg["sgd"]["momentum"].number;
  sgd.weight_decay = cfg["sgd"]["weight_decay"].number;
  sgd.nesterov = cfg["sgd"]["nesterov"].boolean;

  Network<float> net(spec);
  for (const TensorInfo& t : net.parameters())
    net.write_tensor(t.name, pattern_value(t.name, t.shape, cosine).data());
  for (const TensorInfo& t : net.buffers())
    net.write_tensor(t.name, pattern_value(t.name, t.shape, cosine).data());

  const std::vector<float> x = f.f32("x");
  const std::vector<int32_t> labels = f.i32("labels");
  const int64_t image = spec.in_channels * spec.side * spec.side;

  // Step 0 in pieces: forward, loss, backward, SGD.
  std::vector<float> logits(n * k), dlogits(n * k), emb(n * 64);
  net.forward(x.data(), n, Mode::kTrain, logits.data(), nullptr);
  const std::vector<float> ref_logits = f.f32("step0.logits");
  double max_logit = 0;
  for (float v : ref_logits) max_logit = std::max(max_logit, static_cast<double>(std::fabs(v)));
  check_arrays(name + ": step-0 train-mode logits", logits.data(), ref_logits.data(), n * k, 0,
               1e-4 * max_logit + 1e-5);
  const double value = loss_forward_backward(loss, n, k, logits.data(), labels.data(), dlogits.data());
  const double ref_loss = f.f64("step0.loss")[0];
  check_near(value, ref_loss, 1e-5 * std::fabs(ref_loss) + 1e-6, name + ": step-0 loss (" + kind + ")");
  net.backward(dlogits.data());
  std::vector<float> grads(static_cast<size_t>(net.parameter_count()));
  net.get_gradients(grads.data());
  for (const TensorInfo& t : net.parameters()) {
    const std::vector<float> g(grads.begin() + t.offset, grads.begin() + t.offset + t.count);
    compare_tensor(f, name + ": step-0 gradient of " + t.name, "step0.grad." + t.name,
                   "step0.gradsum." + t.name, g, 5e-4, 1e-4);
  }
  for (const TensorInfo& t : net.buffers()) {
    std::vector<float> b(static_cast<size_t>(t.count));
    net.read_tensor(t.name, b.data());
    compare_tensor(f, name + ": " + t.name + " after step-0 forward", "step0.buffer." + t.name, "", b, 1e-4,
                   0);
  }
  net.sgd_step(sgd);
  for (int step = 1; step < 3; ++step)
    net.train_step(x.data() + step * n * image, labels.data() + step * n, n, loss, sgd);

  std::vector<float> params(static_cast<size_t>(net.parameter_count()));
  net.get_parameters(params.data());
  for (const TensorInfo& t : net.parameters()) {
    const std::vector<float> p(params.begin() + t.offset, params.begin() + t.offset + t.count);
    compare_tensor(f, name + ": " + t.name + " after 3 SGD steps", "step3.param." + t.name,
                   "step3.paramsum." + t.name, p, 1e-4, 1e-5);
  }
  for (const TensorInfo& t : net.buffers()) {
    std::vector<float> b(static_cast<size_t>(t.count));
    net.read_tensor(t.name, b.data());
    compare_tensor(f, name + ": " + t.name + " after 3 steps", "step3.buffer." + t.name, "", b, 1e-4, 0);
  }
  bool counted = true;
  for (int64_t c : net.num_batches_tracked()) counted &= c == 3;
  check(counted, name + ": num_batches_tracked = 3 everywhere");

  net.forward(x.data(), n, Mode::kEval, logits.data(), emb.data());
  const std::vector<float> ref_eval = f.f32("step3.eval_logits"), ref_emb = f.f32("step3.embedding");
  double max_eval = 0, max_emb = 0;
  for (float v : ref_eval) max_eval = std::max(max_eval, static_cast<double>(std::fabs(v)));
  for (float v : ref_emb) max_emb = std::max(max_emb, static_cast<double>(std::fabs(v)));
  check_arrays(name + ": eval-mode logits after 3 steps", logits.data(), ref_eval.data(), n * k, 0,
               1e-4 * max_eval + 1e-5);
  check_arrays(name + ": eval-mode embeddings after 3 steps", emb.data(), ref_emb.data(), n * 64, 0,
               1e-4 * max_emb + 1e-5);
}

EOS_TEST(torch_reference_whole_network) {
  const std::string dir = fixtures_dir();
  if (!check(!dir.empty(),
             "fixtures found (test/fixtures from the working directory up, or $EOS_FIXTURES_DIR)")) {
    return;
  }
  for (const char* name : {"resnet8-1ch-ce", "resnet8-3ch-focal-weighted-nesterov", "resnet8-3ch-asl",
                           "resnet8-1ch-cosine-ldam-weighted", "resnet20-3ch-ce", "resnet20-1ch-focal"}) {
    run_case(dir, name);
  }
}

}  // namespace
}  // namespace eos::test
