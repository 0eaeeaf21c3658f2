// Losses: values against direct formulas, gradients against central finite differences (double).
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness.h"
#include "nn/losses.h"

namespace eos::test {
namespace {

using Vec = std::vector<double>;

struct Batch {
  int64_t n, k;
  Vec logits;
  std::vector<int32_t> labels;
};

Batch make_batch(uint64_t seed, int64_t n, int64_t k, double scale) {
  Rand rnd(seed);
  Batch b{n, k, rnd.normals<double>(n * k, scale), {}};
  for (int64_t i = 0; i < n; ++i) b.labels.push_back(static_cast<int32_t>(i % k));  // every class present
  return b;
}

Vec log_softmax(const double* z, int64_t k) {
  double mx = z[0];
  for (int64_t j = 1; j < k; ++j) mx = std::max(mx, z[j]);
  double s = 0;
  for (int64_t j = 0; j < k; ++j) s += std::exp(z[j] - mx);
  Vec out(static_cast<size_t>(k));
  for (int64_t j = 0; j < k; ++j) out[j] = z[j] - mx - std::log(s);
  return out;
}

void gradient_check(const std::string& name, const LossConfig& cfg, Batch b) {
  Vec d(b.logits.size());
  loss_forward_backward(cfg, b.n, b.k, b.logits.data(), b.labels.data(), d.data());
  grad_check(name + " dlogits", b.logits, d, [&] {
    return loss_forward_backward<double>(cfg, b.n, b.k, b.logits.data(), b.labels.data(), nullptr);
  });
}

EOS_TEST(cross_entropy_values_and_gradients) {
  LossConfig cfg;
  Batch uniform{3, 5, Vec(15, 0.7), {0, 4, 2}};
  check_near(loss_forward_backward<double>(cfg, 3, 5, uniform.logits.data(), uniform.labels.data(), nullptr),
             std::log(5.0), 1e-14, "ce of equal logits = log K");

  Batch b = make_batch(20, 7, 4, 2.0);
  cfg.class_weights = {0.5, 2.0, 1.0, 3.0};
  double num = 0, den = 0;  // PyTorch's weighted mean
  for (int64_t i = 0; i < b.n; ++i) {
    const Vec lp = log_softmax(&b.logits[i * b.k], b.k);
    num += -cfg.class_weights[b.labels[i]] * lp[b.labels[i]];
    den += cfg.class_weights[b.labels[i]];
  }
  check_near(loss_forward_backward<double>(cfg, b.n, b.k, b.logits.data(), b.labels.data(), nullptr),
             num / den, 1e-13, "weighted ce = sum w_y (-log p_y) / sum w_y");
  gradient_check("ce weighted", cfg, b);
  cfg.class_weights.clear();
  gradient_check("ce", cfg, b);
  gradient_check("ce large logits", cfg, make_batch(21, 5, 3, 30.0));
}

EOS_TEST(focal_values_and_gradients) {
  Batch b = make_batch(22, 6, 4, 1.5);
  LossConfig cfg;
  cfg.kind = LossKind::kFocal;
  cfg.class_weights = {1.0, 0.25, 2.5, 1.5};  // sum over the batch (6.5) != N (6)
  for (double gamma : {0.0, 0.5, 1.0, 2.0}) {
    cfg.focal_gamma = gamma;
    double expect = 0;  // mean_n (1 - exp(-ce_n))^gamma ce_n with ce_n = w_y (-log p_y): the reference's form
    for (int64_t i = 0; i < b.n; ++i) {
      const double ce = -cfg.class_weights[b.labels[i]] * log_softmax(&b.logits[i * b.k], b.k)[b.labels[i]];
      expect += std::pow(1 - std::exp(-ce), gamma) * ce / b.n;
    }
    const std::string name = "focal gamma " + std::to_string(gamma).substr(0, 3);
    check_near(loss_forward_backward<double>(cfg, b.n, b.k, b.logits.data(), b.labels.data(), nullptr),
               expect, 1e-13, name + " value (weights inside, plain mean)");
    gradient_check(name, cfg, b);
  }
}

EOS_TEST(ldam_values_and_gradients) {
  const Vec m = ldam_margins({5000, 500, 50}, 0.5);
  check_near(m[2], 0.5, 1e-15, "ldam margin of the rarest class = max_m");
  check_near(m[1], 0.5 * std::pow(10.0, -0.25), 1e-15, "ldam margin n^-1/4 (500 vs 50)");
  check_near(m[0], 0.5 * std::pow(100.0, -0.25), 1e-15, "ldam margin n^-1/4 (5000 vs 50)");

  Batch b = make_batch(23, 6, 3, 0.4);  // cosine-like logits in [-1, 1]
  LossConfig cfg;
  cfg.kind = LossKind::kLdam;
  cfg.ldam_margins = m;
  cfg.ldam_scale = 30;
  // Same as ce on s * (x - m_y at the true class).
  Batch shifted = b;
  for (int64_t i = 0; i < b.n; ++i) {
    shifted.logits[i * b.k + b.labels[i]] -= m[b.labels[i]];
    for (int64_t j = 0; j < b.k; ++j) shifted.logits[i * b.k + j] *= 30;
  }
  LossConfig ce;
  check_near(loss_forward_backward<double>(cfg, b.n, b.k, b.logits.data(), b.labels.data(), nullptr),
             loss_forward_backward<double>(ce, b.n, b.k, shifted.logits.data(), b.labels.data(), nullptr),
             1e-12, "ldam = ce(s * (x - m_y onehot))");
  gradient_check("ldam", cfg, b);
  cfg.class_weights = {0.3, 1.0, 1.7};
  gradient_check("ldam weighted (drw)", cfg, b);
}

// The ASL reference's computation, step by step (ASLSingleLabel.forward), for one batch.
double asl_reference(const Batch& b, double gamma_pos, double gamma_neg, double eps) {
  double total = 0;
  for (int64_t i = 0; i < b.n; ++i) {
    const Vec log_preds = log_softmax(&b.logits[i * b.k], b.k);
    double loss = 0;
    for (int64_t j = 0; j < b.k; ++j) {
      const double target = j == b.labels[i] ? 1.0 : 0.0, anti = 1.0 - target;
      const double xs_pos = std::exp(log_preds[j]) * target, xs_neg = (1 - std::exp(log_preds[j])) * anti;
      const double w = std::pow(1 - xs_pos - xs_neg, gamma_pos * target + gamma_neg * anti);
      const double smoothed = target * (1 - eps) + eps / b.k;
      loss += -smoothed * log_preds[j] * w;
    }
    total += loss;
  }
  return total / b.n;
}

EOS_TEST(asl_values_and_gradients) {
  Batch b = make_batch(24, 8, 5, 2.0);
  LossConfig cfg;
  cfg.kind = LossKind::kAsl;
  check_near(loss_forward_backward<double>(cfg, b.n, b.k, b.logits.data(), b.labels.data(), nullptr),
             asl_reference(b, 0, 4, 0.1), 1e-13, "asl (gamma+ 0, gamma- 4, eps 0.1) = ASLSingleLabel");
  gradient_check("asl defaults", cfg, b);
  cfg.asl_gamma_pos = 1.0;
  cfg.asl_gamma_neg = 2.0;
  cfg.asl_eps = 0.2;
  check_near(loss_forward_backward<double>(cfg, b.n, b.k, b.logits.data(), b.labels.data(), nullptr),
             asl_reference(b, 1, 2, 0.2), 1e-13, "asl (gamma+ 1, gamma- 2, eps 0.2) = ASLSingleLabel");
  gradient_check("asl gamma+ 1", cfg, b);
  cfg.asl_eps = 0.0;
  cfg.asl_gamma_pos = 0.0;
  cfg.asl_gamma_neg = 0.0;
  LossConfig ce;
  check_near(loss_forward_backward<double>(cfg, b.n, b.k, b.logits.data(), b.labels.data(), nullptr),
             loss_forward_backward<double>(ce, b.n, b.k, b.logits.data(), b.labels.data(), nullptr), 1e-13,
             "asl with no focusing and no smoothing = ce");
  cfg = LossConfig{};
  cfg.kind = LossKind::kAsl;
  cfg.class_weights = {1, 2, 3, 0.5, 1};
  gradient_check("asl weighted", cfg, b);
}

EOS_TEST(loss_config_that_does_not_fit_k_throws) {
  const Batch b = make_batch(26, 4, 3, 1.0);
  auto throws = [&](const LossConfig& cfg) {
    try {
      loss_forward_backward<double>(cfg, b.n, b.k, b.logits.data(), b.labels.data(), nullptr);
    } catch (const std::invalid_argument&) {
      return true;
    }
    return false;
  };
  LossConfig ldam;
  ldam.kind = LossKind::kLdam;
  ldam.ldam_margins = {0.1, 0.2};
  check(throws(ldam), "ldam with 2 margins for 3 classes throws std::invalid_argument");
  LossConfig weighted;
  weighted.class_weights = {1, 2, 3, 4};
  check(throws(weighted), "4 class weights for 3 classes throw std::invalid_argument");
}

EOS_TEST(loss_float_matches_double) {
  // The float version computes in double internally, so on float-representable logits it must give the
  // double version's value and its gradient rounded to float.
  Batch b = make_batch(25, 16, 10, 3.0);
  std::vector<float> lf(b.logits.begin(), b.logits.end()), df(lf.size());
  b.logits.assign(lf.begin(), lf.end());
  Vec dd(b.logits.size());
  for (LossKind kind : {LossKind::kCrossEntropy, LossKind::kFocal, LossKind::kLdam, LossKind::kAsl}) {
    LossConfig cfg;
    cfg.kind = kind;
    cfg.ldam_margins = Vec(10, 0.3);
    const double vd = loss_forward_backward(cfg, b.n, b.k, b.logits.data(), b.labels.data(), dd.data());
    const double vf = loss_forward_backward(cfg, b.n, b.k, lf.data(), b.labels.data(), df.data());
    const std::string name = "loss kind " + std::to_string(static_cast<int>(kind)) + " float vs double";
    check(vf == vd, name + " value");
    std::vector<float> ddf(dd.begin(), dd.end());
    check_arrays(name + " gradient", df.data(), ddf.data(), static_cast<int64_t>(df.size()), 0, 0);
  }
}

}  // namespace
}  // namespace eos::test
