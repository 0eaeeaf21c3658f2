#include "nn/losses.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace eos {

namespace {

// log-softmax of one row of K values into out (double), via the max-shifted log-sum-exp.
template <typename T>
void log_softmax_row(const T* z, int64_t k, double scale, const double* shift, double* out) {
  double mx = -INFINITY;
  for (int64_t j = 0; j < k; ++j) {
    out[j] = scale * (static_cast<double>(z[j]) - (shift ? shift[j] : 0.0));
    mx = std::max(mx, out[j]);
  }
  double sum = 0;
  for (int64_t j = 0; j < k; ++j) sum += std::exp(out[j] - mx);
  const double lse = mx + std::log(sum);
  for (int64_t j = 0; j < k; ++j) out[j] -= lse;
}

}  // namespace

template <typename T>
double loss_forward_backward(const LossConfig& cfg, int64_t n, int64_t k, const T* logits,
                             const int32_t* labels, T* dlogits) {
  // Cheap guards against a config that does not fit K (the addon validates everything else).
  if (cfg.kind == LossKind::kLdam && static_cast<int64_t>(cfg.ldam_margins.size()) != k) {
    throw std::invalid_argument("ldam needs one margin per class");
  }
  if (!cfg.class_weights.empty() && static_cast<int64_t>(cfg.class_weights.size()) != k) {
    throw std::invalid_argument("class_weights needs one weight per class");
  }
  const bool weighted = !cfg.class_weights.empty();
  auto weight = [&](int32_t c) { return weighted ? cfg.class_weights[c] : 1.0; };
  std::vector<double> logp(static_cast<size_t>(k)), shift(static_cast<size_t>(k), 0.0),
      g(static_cast<size_t>(k));

  // Normaliser of the batch mean.
  double denom = static_cast<double>(n);
  if (cfg.kind != LossKind::kFocal && weighted) {
    denom = 0;
    for (int64_t i = 0; i < n; ++i) denom += weight(labels[i]);
  }

  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t y = labels[i];
    const double w = weight(y);
    const T* z = logits + i * k;
    double scale = 1.0;
    const double* sh = nullptr;
    if (cfg.kind == LossKind::kLdam) {  // the true class's logit lowered by its margin, then scaled by s
      std::fill(shift.begin(), shift.end(), 0.0);
      shift[y] = cfg.ldam_margins[y];
      scale = cfg.ldam_scale;
      sh = shift.data();
    }
    log_softmax_row(z, k, scale, sh, logp.data());
    // g[j] = dL_i / dlogp[j] for this sample's (unnormalised) loss L_i; the chain rule through the
    // log-softmax then gives dL_i / dz[j] = g[j] - p[j] * sum(g).
    std::fill(g.begin(), g.end(), 0.0);
    double li = 0;
    switch (cfg.kind) {
      case LossKind::kCrossEntropy:
      case LossKind::kLdam:
        li = -w * logp[y];
        g[y] = -w;
        break;
      case LossKind::kFocal: {
        const double ce = -w * logp[y];
        const double pt = std::exp(-ce);
        const double one_m = 1.0 - pt;
        const double gamma = cfg.focal_gamma;
        li = (gamma == 0.0 ? 1.0 : std::pow(one_m, gamma)) * ce;
        // d li / d ce = (1 - pt)^gamma + gamma (1 - pt)^(gamma - 1) pt ce; the second term is 0 when gamma
        // is 0 or ce is 0 (then pt = 1 and PyTorch's autograd would produce 0 * inf = NaN for gamma < 1).
        double dce = gamma == 0.0 ? 1.0 : std::pow(one_m, gamma);
        if (gamma != 0.0 && ce > 0.0 && one_m > 0.0) dce += gamma * std::pow(one_m, gamma - 1.0) * pt * ce;
        g[y] = -w * dce;  // d ce / d logp[y] = -w
        break;
      }
      case LossKind::kAsl: {
        const double eps = cfg.asl_eps, gp = cfg.asl_gamma_pos, gn = cfg.asl_gamma_neg;
        const double off = eps / static_cast<double>(k);
        for (int64_t j = 0; j < k; ++j) {
          const double lp = logp[j], p = std::exp(lp);
          const double t = (j == y ? 1.0 - eps : 0.0) + off;
          if (j == y) {
            // a = (1 - p)^gp; d a / d lp = -gp (1 - p)^(gp - 1) p (0 when gp is 0, as PyTorch's pow
            // backward gives for a zero exponent).
            const double a = gp == 0.0 ? 1.0 : std::pow(1.0 - p, gp);
            const double da = (gp == 0.0 || p >= 1.0) ? 0.0 : -gp * std::pow(1.0 - p, gp - 1.0) * p;
            li += -t * a * lp;
            g[j] = -t * (a + da * lp);
          } else {
            // a = p^gn; d a / d lp = gn p^gn.
            const double a = gn == 0.0 ? 1.0 : std::pow(p, gn);
            li += -t * a * lp;
            g[j] = -t * (a + gn * a * lp);
          }
        }
        li *= w;
        for (int64_t j = 0; j < k; ++j) g[j] *= w;
        break;
      }
    }
    total += li;
    if (dlogits) {
      double gsum = 0;
      for (int64_t j = 0; j < k; ++j) gsum += g[j];
      for (int64_t j = 0; j < k; ++j) {
        const double d = g[j] - std::exp(logp[j]) * gsum;
        dlogits[i * k + j] = static_cast<T>(scale * d / denom);
      }
    }
  }
  return total / denom;
}

std::vector<double> ldam_margins(const std::vector<int64_t>& class_counts, double max_m) {
  std::vector<double> m(class_counts.size());
  double largest = 0;
  for (size_t c = 0; c < m.size(); ++c) {
    m[c] = 1.0 / std::sqrt(std::sqrt(static_cast<double>(class_counts[c])));
    largest = std::max(largest, m[c]);
  }
  for (double& v : m) v *= max_m / largest;
  return m;
}

template double loss_forward_backward<float>(const LossConfig&, int64_t, int64_t, const float*,
                                             const int32_t*, float*);
template double loss_forward_backward<double>(const LossConfig&, int64_t, int64_t, const double*,
                                              const int32_t*, double*);

}  // namespace eos
