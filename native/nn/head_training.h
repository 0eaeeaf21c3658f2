// Phase 3 of the method: a fresh classifier head trained on fixed embeddings (the backbone stays frozen).
//
// Legend: N embeddings of D features (64 for the CIFAR ResNet), K classes, E epochs, B batch size,
//   R rows visited per epoch (N for a shuffle, any count for class-balanced resampling).
//   x [N, D] row-major; labels [N]; orders [E, R] (row indices; one epoch's visiting order per row, made by
//   the caller so that phase 1 and phase 3 share one definition of "epoch order").
// Head kinds as in the network: linear (w [K, D], b [K]) or cosine (w [D, K], no bias).
// Per epoch e: lr = lr_per_epoch[e], class weights = weights_per_epoch[e] (empty: unweighted); batches of B
// rows in order (the last may be smaller); forward, loss, backward and one SGD step per batch, with the same
// loss and SGD code as phase 1.
#pragma once

#include <cstdint>
#include <vector>

#include "nn/losses.h"
#include "nn/network.h"
#include "nn/sgd.h"

namespace eos {

struct HeadTrainingConfig {
  HeadKind head = HeadKind::kLinear;
  int64_t dim = 64, classes = 10, batch = 128, epochs = 10, rows_per_epoch = 0;
  std::vector<double> lr_per_epoch;                    // [E]
  std::vector<std::vector<double>> weights_per_epoch;  // [E][K or 0]
  LossConfig loss;                                     // class_weights ignored (per epoch above)
  SgdConfig sgd;                                       // lr ignored (per epoch above)
  uint64_t seed = 0;                                   // initialisation
};

struct HeadParameters {
  std::vector<float> weight;  // [K, D] linear, [D, K] cosine
  std::vector<float> bias;    // [K] linear, empty for cosine
};

// Fresh head initialised as the network initialises its own: linear w ~ N(0, 2/D), b ~ U(-1/sqrt(D),
// 1/sqrt(D)); cosine w ~ U(-1, 1) with unit-norm columns. Draws are Philox functions of (seed, element).
HeadParameters init_head(HeadKind head, int64_t dim, int64_t classes, uint64_t seed);

// Trains `params` in place; returns the mean loss of every epoch. `should_stop` (may be null) is polled
// between batches; when it returns true, training stops, `params` are left as they were on entry and the
// losses of the epochs completed so far are returned.
std::vector<double> train_head(const HeadTrainingConfig& cfg, const float* x, int64_t n,
                               const int32_t* labels, const int32_t* orders, HeadParameters& params,
                               bool (*should_stop)(void*) = nullptr, void* stop_context = nullptr);

// logits [N, K] of `params` on x [N, D].
void head_logits(HeadKind head, int64_t dim, int64_t classes, const HeadParameters& params, const float* x,
                 int64_t n, float* logits);

}  // namespace eos
