// 2-d batch normalisation (PyTorch's BatchNorm2d with affine weight and bias and running statistics).
//
// Legend: N batch, C channels, S = H * W pixels, M = N * S values per channel; x, y, dx, dy [N, C, H, W];
//   gamma (weight), beta (bias), mean, invstd, running_mean, running_var [C].
// Training: per channel, mean = sum(x) / M, var = sum((x - mean)^2) / M (biased, used to normalise),
//   invstd = 1 / sqrt(var + eps), y = (x - mean) * invstd * gamma + beta;
//   running_mean = (1 - momentum) * running_mean + momentum * mean,
//   running_var = (1 - momentum) * running_var + momentum * var * M / (M - 1)  (unbiased, as PyTorch).
//   Requires M >= 2 (PyTorch refuses training batches with one value per channel).
// Evaluation: y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta.
//
// Each channel is reduced by one thread, in a fixed order and in double precision, so the results do not
// depend on the thread count.
#pragma once

#include <cstdint>

namespace eos::ref {

// Writes y and the batch statistics mean, invstd (kept for the backward pass) and updates the running ones.
template <typename T>
void batchnorm2d_forward_train(int64_t n, int64_t c, int64_t s, const T* x, const T* gamma, const T* beta,
                               T* y, T* mean, T* invstd, T* running_mean, T* running_var, double momentum,
                               double eps);

template <typename T>
void batchnorm2d_forward_eval(int64_t n, int64_t c, int64_t s, const T* x, const T* gamma, const T* beta,
                              const T* running_mean, const T* running_var, double eps, T* y);

// Backward of the training-mode forward: with xhat = (x - mean) * invstd,
//   dbeta = sum(dy), dgamma = sum(dy * xhat), dx = gamma * invstd * (dy - dbeta / M - xhat * dgamma / M).
// dx may be the same buffer as dy (each channel is reduced completely before it is written).
template <typename T>
void batchnorm2d_backward(int64_t n, int64_t c, int64_t s, const T* x, const T* dy, const T* gamma,
                          const T* mean, const T* invstd, T* dx, T* dgamma, T* dbeta);

}  // namespace eos::ref
