// Classification losses on logits, forward and backward, averaged over the batch.
//
// Legend: N batch, K classes; logits, dlogits [N, K]; labels [N] in [0, K); w [K] optional class weights;
//   p = softmax(logits) per row, y_n = labels[n].
//
// cross_entropy (nn.CrossEntropyLoss(weight=w), reduction 'mean'):
//   L = sum_n w[y_n] (-log p[n, y_n]) / sum_n w[y_n]   (PyTorch's weighted mean; w = 1 gives the plain mean).
// focal (the LDAM-DRW reference's FocalLoss(weight=w, gamma)):
//   ce_n = w[y_n] (-log p[n, y_n]),  L = mean_n (1 - exp(-ce_n))^gamma ce_n.
//   Note, as in the reference: the weight enters inside exp(-ce_n) and the mean is plain (divided by N,
//   not by the weight sum).
// ldam (the LDAM-DRW reference's LDAMLoss(cls_num_list, max_m, weight=w, s)):
//   z[n, k] = s (logits[n, k] - margin[y_n] [k == y_n]), L = cross_entropy(z, labels, w) as above.
//   margin[c] = max_m * n_c^(-1/4) / max_c' n_c'^(-1/4)  (see ldam_margins).
// asl (the ASL reference's ASLSingleLabel(gamma_pos, gamma_neg, eps), reduction 'mean'):
//   t[n, k] = (1 - eps) [k == y_n] + eps / K  (label smoothing),
//   a[n, y_n] = (1 - p[n, y_n])^gamma_pos, a[n, k] = p[n, k]^gamma_neg for k != y_n  (asymmetric focusing),
//   L = mean_n -sum_k t[n, k] a[n, k] log p[n, k].
//   The reference differentiates through the focusing factors a (no detach), and so do we.
//   Class weights are our extension (the reference has none): with w, each sample's loss is multiplied by
//   w[y_n] and the batch mean becomes the weighted mean of cross_entropy.
//
// All arithmetic is in double precision; dlogits is written in T.
#pragma once

#include <cstdint>
#include <vector>

namespace eos {

enum class LossKind { kCrossEntropy, kFocal, kLdam, kAsl };

struct LossConfig {
  LossKind kind = LossKind::kCrossEntropy;
  std::vector<double> class_weights;  // [K] or empty (all 1)
  double focal_gamma = 1.0;           // focal
  std::vector<double> ldam_margins;   // [K], ldam (required)
  double ldam_scale = 30.0;           // ldam: s
  double asl_gamma_pos = 0.0;         // asl
  double asl_gamma_neg = 4.0;
  double asl_eps = 0.1;
};

// The batch-mean loss; also dL/dlogits into dlogits unless it is null.
// Assumes validated inputs: labels in [0, K), K >= 1, N >= 1, weights > 0 where present. Throws
// std::invalid_argument when class_weights is neither empty nor of size K, or ldam lacks K margins.
template <typename T>
double loss_forward_backward(const LossConfig& cfg, int64_t n, int64_t k, const T* logits,
                             const int32_t* labels, T* dlogits);

// LDAM margins from per-class training counts (all >= 1): m_c = max_m * n_c^(-1/4) / max_c' n_c'^(-1/4),
// so the rarest class gets max_m.
std::vector<double> ldam_margins(const std::vector<int64_t>& class_counts, double max_m);

}  // namespace eos
