// The whole network: parameter table, initialisation, whole-network gradients against central finite
// differences (double precision), float against double, reproducibility, batch-norm modes, learning.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness.h"
#include "nn/network.h"

namespace eos::test {
namespace {

template <typename T>
std::unique_ptr<Network<T>> make_net(const NetworkSpec& spec) {
  return std::make_unique<Network<T>>(spec);
}

NetworkSpec spec_of(int64_t depth, int64_t channels, int64_t side, int64_t classes, uint64_t seed,
                    HeadKind head = HeadKind::kLinear) {
  NetworkSpec s;
  s.depth = depth;
  s.in_channels = channels;
  s.side = side;
  s.classes = classes;
  s.seed = seed;
  s.head = head;
  return s;
}

std::string fmt_g(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

std::vector<int32_t> labels_for(int64_t batch, int64_t classes) {
  std::vector<int32_t> y;
  for (int64_t i = 0; i < batch; ++i) y.push_back(static_cast<int32_t>((i * 7 + 3) % classes));
  return y;
}

EOS_TEST(network_parameter_table_follows_pytorch_names) {
  auto net = make_net<float>(spec_of(20, 3, 32, 10, 0));
  check(net->parameter_count() == 269722, "resnet20 (3x32x32, 10 classes) has 269,722 parameters",
        std::to_string(net->parameter_count()));
  const auto& p = net->parameters();
  const std::vector<std::string> first = {"conv1.weight",          "bn1.weight",          "bn1.bias",
                                          "layer1.0.conv1.weight", "layer1.0.bn1.weight", "layer1.0.bn1.bias",
                                          "layer1.0.conv2.weight", "layer1.0.bn2.weight", "layer1.0.bn2.bias",
                                          "layer1.1.conv1.weight"};
  bool order_ok = p.size() > first.size();
  for (size_t i = 0; order_ok && i < first.size(); ++i) order_ok = p[i].name == first[i];
  check(order_ok, "parameters start in named_parameters() order");
  check(p[p.size() - 2].name == "linear.weight" && p.back().name == "linear.bias" &&
            p[p.size() - 2].shape == std::vector<int64_t>{10, 64},
        "parameters end with linear.weight [10, 64] and linear.bias");
  const TensorInfo* w = net->find_parameter("layer2.0.conv1.weight");
  check(w && w->shape == std::vector<int64_t>{32, 16, 3, 3},
        "layer2.0.conv1.weight has shape [32, 16, 3, 3]");
  bool contiguous = true;
  int64_t offset = 0;
  for (const TensorInfo& t : p) {
    contiguous &= t.offset == offset;
    offset += t.count;
  }
  check(contiguous && offset == net->parameter_count(), "parameters tile the flat buffer in table order");
  check(net->batchnorm_names().size() == 19 && net->buffers().size() == 38 &&
            net->buffers()[0].name == "bn1.running_mean" && net->buffers()[1].name == "bn1.running_var" &&
            net->find_buffer("layer3.2.bn2.running_var") != nullptr,
        "19 batch norms with running_mean / running_var buffers");

  auto cos = make_net<float>(spec_of(8, 1, 28, 7, 0, HeadKind::kCosine));
  const TensorInfo* cw = cos->find_parameter("linear.weight");
  check(cw && cw->shape == std::vector<int64_t>{64, 7} && !cos->find_parameter("linear.bias"),
        "cosine head: linear.weight [64, classes] (NormedLinear layout), no bias");
}

EOS_TEST(network_initialisation) {
  auto net = make_net<double>(spec_of(20, 3, 16, 10, 42));
  std::vector<double> p(static_cast<size_t>(net->parameter_count()));
  net->get_parameters(p.data());
  auto stats = [&](const std::string& name, double& mean, double& sd, double& lo, double& hi) {
    const TensorInfo* t = net->find_parameter(name);
    double s = 0, sq = 0;
    lo = 1e9;
    hi = -1e9;
    for (int64_t i = 0; i < t->count; ++i) {
      const double v = p[t->offset + i];
      s += v;
      sq += v * v;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    mean = s / t->count;
    sd = std::sqrt(sq / t->count - mean * mean);
  };
  double mean, sd, lo, hi;
  stats("layer3.1.conv2.weight", mean, sd, lo, hi);  // 36,864 draws, fan_in 576
  check_near(sd, std::sqrt(2.0 / 576), 0.02 * std::sqrt(2.0 / 576),
             "kaiming normal std = sqrt(2 / fan_in) (conv)");
  check_near(mean, 0, 0.03 * std::sqrt(2.0 / 576), "kaiming normal mean 0 (conv)");
  stats("conv1.weight", mean, sd, lo, hi);  // 432 draws, fan_in 27
  check_near(sd, std::sqrt(2.0 / 27), 0.1 * std::sqrt(2.0 / 27),
             "kaiming normal std (first conv, fan_in 27)");
  stats("linear.weight", mean, sd, lo, hi);  // 640 draws, fan_in 64
  check_near(sd, std::sqrt(2.0 / 64), 0.1 * std::sqrt(2.0 / 64), "kaiming normal std (linear, fan_in 64)");
  stats("linear.bias", mean, sd, lo, hi);
  check(lo >= -0.125 && hi < 0.125 && hi - lo > 0.05, "linear bias in U(-1/8, 1/8)");
  stats("layer2.1.bn1.weight", mean, sd, lo, hi);
  check(lo == 1 && hi == 1, "batch-norm weight 1");
  stats("layer2.1.bn1.bias", mean, sd, lo, hi);
  check(lo == 0 && hi == 0, "batch-norm bias 0");
  std::vector<double> buf(static_cast<size_t>(net->buffer_count()));
  net->get_buffers(buf.data());
  check(buf[0] == 0 && buf[16] == 1, "running_mean 0, running_var 1");

  auto same = make_net<double>(spec_of(20, 3, 16, 10, 42));
  auto other = make_net<double>(spec_of(20, 3, 16, 10, 43));
  std::vector<double> p2(p.size()), p3(p.size());
  same->get_parameters(p2.data());
  other->get_parameters(p3.data());
  check(p == p2, "same seed, same initial parameters");
  check(p != p3, "different seed, different initial parameters");
  // A parameter's draws depend on (seed, name) only: depth 32 shares layer1.0's initial weights with
  // depth 20.
  auto deeper = make_net<double>(spec_of(32, 3, 16, 10, 42));
  std::vector<double> a(2304), b(2304);
  net->read_tensor("layer1.0.conv1.weight", a.data());
  deeper->read_tensor("layer1.0.conv1.weight", b.data());
  check(a == b, "initial values depend on (seed, parameter name) only");

  auto cos = make_net<double>(spec_of(8, 1, 8, 5, 1, HeadKind::kCosine));
  std::vector<double> cw(64 * 5);
  cos->read_tensor("linear.weight", cw.data());
  bool unit = true;
  for (int o = 0; o < 5; ++o) {
    double sq = 0;
    for (int i = 0; i < 64; ++i) sq += cw[i * 5 + o] * cw[i * 5 + o];
    unit &= std::fabs(sq - 1) < 1e-12;
  }
  check(unit, "cosine head weight: unit-norm columns");
}

// Central differences of the training-mode loss with respect to probes of every parameter tensor.
void whole_network_gradient_check(const std::string& name, const NetworkSpec& spec, int64_t batch,
                                  const LossConfig& loss) {
  auto net = make_net<double>(spec);
  net->set_threads(1);  // ~1000 tiny forwards: a thread team would only add wake-up latency
  Rand rnd(spec.seed + 100);
  const auto x = rnd.normals<double>(batch * spec.in_channels * spec.side * spec.side);
  const auto y = labels_for(batch, spec.classes);
  std::vector<double> logits(static_cast<size_t>(batch * spec.classes)), dlogits(logits.size());
  std::vector<double> params(static_cast<size_t>(net->parameter_count())), grads(params.size());
  net->get_parameters(params.data());
  auto f = [&] {
    net->set_parameters(params.data());
    net->forward(x.data(), batch, Mode::kTrain, logits.data(), nullptr);
    return loss_forward_backward<double>(loss, batch, spec.classes, logits.data(), y.data(), nullptr);
  };
  f();
  loss_forward_backward<double>(loss, batch, spec.classes, logits.data(), y.data(), dlogits.data());
  net->backward(dlogits.data());
  net->get_gradients(grads.data());
  double worst = 0;
  std::string worst_name;
  bool all_ok = true;
  for (const TensorInfo& t : net->parameters()) {
    // Up to 6 probes per tensor, spread over it.
    const int64_t probes = std::min<int64_t>(6, t.count);
    double max_err = 0, max_num = 0;
    for (int64_t k = 0; k < probes; ++k) {
      const int64_t i = t.offset + (k * t.count) / probes + (t.count / probes) / 2;
      const double saved = params[i], h = 1e-6;
      params[i] = saved + h;
      const double up = f();
      params[i] = saved - h;
      const double down = f();
      params[i] = saved;
      const double num = (up - down) / (2 * h);
      max_err = std::max(max_err, std::fabs(num - grads[i]));
      max_num = std::max(max_num, std::fabs(num));
    }
    const double rel = max_err / std::max(1e-3, max_num);
    if (rel > worst) {
      worst = rel;
      worst_name = t.name;
    }
    if (!(rel <= 1e-5)) {
      all_ok = false;
      check(false, name + ": gradient of " + t.name,
            "max|analytic - numeric| " + fmt_g(max_err) + ", max|numeric| " + fmt_g(max_num));
    }
  }
  check(all_ok, name + ": every parameter tensor's gradient matches central differences",
        "worst relative error " + fmt_g(worst) + " (" + worst_name + "), limit 1e-5, " +
            std::to_string(net->parameters().size()) + " tensors");
}

EOS_TEST(network_gradients_match_finite_differences) {
  LossConfig ce;
  whole_network_gradient_check("resnet8 1x8x8 batch 4 ce", spec_of(8, 1, 8, 5, 1), 4, ce);
  LossConfig ldam;
  ldam.kind = LossKind::kLdam;
  ldam.ldam_margins = ldam_margins({100, 40, 10, 5}, 0.5);
  whole_network_gradient_check("resnet8 3x9x9 batch 3 cosine head + ldam",
                               spec_of(8, 3, 9, 4, 2, HeadKind::kCosine), 3, ldam);
  LossConfig focal;
  focal.kind = LossKind::kFocal;
  focal.focal_gamma = 2;
  whole_network_gradient_check("resnet14 3x10x10 batch 2 focal", spec_of(14, 3, 10, 3, 3), 2, focal);
}

EOS_TEST(network_float_agrees_with_double) {
  const NetworkSpec spec = spec_of(14, 3, 12, 6, 5);
  auto nd = make_net<double>(spec);
  auto nf = make_net<float>(spec);
  std::vector<double> pd(static_cast<size_t>(nd->parameter_count()));
  nd->get_parameters(pd.data());
  std::vector<float> pf(pd.begin(), pd.end());
  nf->set_parameters(pf.data());
  pd.assign(pf.begin(), pf.end());
  nd->set_parameters(pd.data());
  Rand rnd(6);
  const int64_t batch = 5;
  const auto xf = rnd.normals<float>(batch * 3 * 12 * 12);
  const std::vector<double> xd(xf.begin(), xf.end());
  std::vector<float> lf(batch * 6), ef(batch * 64);
  std::vector<double> ld(batch * 6), ed(batch * 64);
  nf->forward(xf.data(), batch, Mode::kTrain, lf.data(), ef.data());
  nd->forward(xd.data(), batch, Mode::kTrain, ld.data(), ed.data());
  std::vector<float> ldf(ld.begin(), ld.end()), edf(ed.begin(), ed.end());
  check_arrays("float vs double logits", lf.data(), ldf.data(), batch * 6, 1e-4, 1e-4);
  check_arrays("float vs double embeddings", ef.data(), edf.data(), batch * 64, 1e-4, 1e-4);
  const auto y = labels_for(batch, 6);
  std::vector<float> dlf(lf.size());
  std::vector<double> dld(ld.size());
  LossConfig ce;
  loss_forward_backward(ce, batch, 6, lf.data(), y.data(), dlf.data());
  loss_forward_backward(ce, batch, 6, ld.data(), y.data(), dld.data());
  nf->backward(dlf.data());
  nd->backward(dld.data());
  std::vector<float> gf(pf.size());
  std::vector<double> gd(pf.size());
  nf->get_gradients(gf.data());
  nd->get_gradients(gd.data());
  std::vector<float> gdf(gd.begin(), gd.end());
  double scale = 0;
  for (float g : gdf) scale = std::max(scale, static_cast<double>(std::fabs(g)));
  check_arrays("float vs double parameter gradients", gf.data(), gdf.data(), static_cast<int64_t>(gf.size()),
               1e-3, 1e-4 * scale);
}

EOS_TEST(network_training_is_reproducible) {
  const NetworkSpec spec = spec_of(8, 3, 10, 4, 7);
  Rand rnd(8);
  const int64_t batch = 6;
  const auto x = rnd.normals<float>(batch * 3 * 10 * 10);
  const auto y = labels_for(batch, 4);
  LossConfig ce;
  SgdConfig sgd{0.1, 0.9, 2e-4, false};  // PyTorch CIFAR recipe values
  auto run = [&](int threads) {
    auto net = make_net<float>(spec);
    net->set_threads(threads);
    for (int s = 0; s < 3; ++s) net->train_step(x.data(), y.data(), batch, ce, sgd);
    std::vector<float> p(static_cast<size_t>(net->parameter_count()));
    net->get_parameters(p.data());
    std::vector<float> b(static_cast<size_t>(net->buffer_count()));
    net->get_buffers(b.data());
    p.insert(p.end(), b.begin(), b.end());
    return p;
  };
  const auto a = run(2), b = run(2), c = run(1);
  check(a == b, "same seed and thread count: identical parameters and running statistics after 3 steps");
  check_arrays("1 thread vs 2 threads after 3 steps", c.data(), a.data(), static_cast<int64_t>(a.size()),
               1e-4, 1e-5);
}

EOS_TEST(network_batchnorm_modes_and_batch_capacity) {
  const NetworkSpec spec = spec_of(8, 1, 8, 3, 9);
  auto net = make_net<double>(spec);
  Rand rnd(10);
  const int64_t batch = 8;
  const auto x = rnd.normals<double>(batch * 64);
  const auto y = labels_for(batch, 3);
  LossConfig ce;
  SgdConfig sgd{0.1, 0.9, 2e-4, false};  // PyTorch CIFAR recipe values
  for (int s = 0; s < 2; ++s) net->train_step(x.data(), y.data(), batch, ce, sgd);
  check(net->num_batches_tracked()[0] == 2 && net->num_batches_tracked().back() == 2,
        "num_batches_tracked counts train-mode forwards");
  std::vector<double> buf0(static_cast<size_t>(net->buffer_count())), buf1(buf0.size());
  net->get_buffers(buf0.data());
  check(buf0[0] != 0 && buf0[16] != 1, "running statistics moved away from their initial values");

  std::vector<double> all(batch * 3), part(3 * 3), train(batch * 3);
  net->forward(x.data(), batch, Mode::kEval, all.data(), nullptr);
  net->forward(x.data(), 3, Mode::kEval, part.data(), nullptr);  // smaller batch in the same arena
  net->get_buffers(buf1.data());
  check(buf0 == buf1 && net->num_batches_tracked()[0] == 2,
        "eval-mode forward leaves the running statistics alone");
  check_arrays("eval mode: each sample's logits do not depend on the rest of the batch", part.data(),
               all.data(), 9, 1e-13, 1e-13);
  net->forward(x.data(), batch, Mode::kTrain, train.data(), nullptr);
  const Diff d = compare(train.data(), all.data(), batch * 3, 0, 0);
  check(d.max_abs > 1e-6, "train mode (batch statistics) differs from eval mode (running statistics)");

  bool threw = false;
  try {
    net->forward(x.data(), batch, Mode::kEval, all.data(), nullptr);
    net->backward(all.data());
  } catch (const std::logic_error&) {
    threw = true;
  }
  check(threw, "backward after an eval-mode forward throws std::logic_error");
  std::string message;
  try {
    make_net<float>(spec_of(10, 1, 8, 3, 0));
  } catch (const std::invalid_argument& e) {
    message = e.what();
  }
  check(message.find("depth") != std::string::npos, "depth 10 is rejected, naming the field", message);
  message.clear();
  try {
    make_net<float>(spec_of(8, 1, 7, 3, 0));
  } catch (const std::invalid_argument& e) {
    message = e.what();
  }
  check(message.find("side") != std::string::npos, "side 7 is rejected, naming the field", message);
}

EOS_TEST(network_learns_a_separable_problem) {
  // Two classes of 8x8 images: a bright top half or a bright bottom half, plus noise.
  const NetworkSpec spec = spec_of(8, 1, 8, 2, 11);
  auto net = make_net<float>(spec);
  Rand rnd(12);
  const int64_t batch = 16;
  std::vector<float> x(batch * 64);
  std::vector<int32_t> y(batch);
  for (int64_t i = 0; i < batch; ++i) {
    y[i] = static_cast<int32_t>(i % 2);
    for (int64_t p = 0; p < 64; ++p)
      x[i * 64 + p] = static_cast<float>(0.5 * rnd.normal() + ((p < 32) == (y[i] == 0) ? 1.0 : -1.0));
  }
  LossConfig ce;
  SgdConfig sgd{0.1, 0.9, 2e-4, false};  // PyTorch CIFAR recipe values
  sgd.lr = 0.05;
  const double first = net->train_step(x.data(), y.data(), batch, ce, sgd);
  double last = first;
  for (int s = 0; s < 30; ++s) last = net->train_step(x.data(), y.data(), batch, ce, sgd);
  std::vector<float> logits(batch * 2);
  net->forward(x.data(), batch, Mode::kEval, logits.data(), nullptr);
  int correct = 0;
  for (int64_t i = 0; i < batch; ++i) correct += (logits[i * 2 + 1] > logits[i * 2]) == (y[i] == 1);
  check(last < 0.2 * first, "training loss falls below a fifth of its start in 31 steps",
        std::to_string(first) + " -> " + std::to_string(last));
  check(correct == batch, "eval-mode predictions are all correct after training",
        std::to_string(correct) + "/" + std::to_string(batch));
}

}  // namespace
}  // namespace eos::test
