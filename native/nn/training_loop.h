// Whole passes over a data set, run natively so one call covers an epoch (or an embedding pass):
// train_epoch (augment -> forward -> loss -> backward -> SGD per batch) and predict (normalise -> forward in
// eval mode, writing logits and/or embeddings).
//
// Legend: N images [N, C, S, S] uint8 NCHW; labels [N]; R rows visited (order [R] holds image indices, so a
// class-balanced epoch may repeat some); B batch size; K classes.
#pragma once

#include <cstdint>
#include <functional>

#include "augment/augment.h"
#include "nn/network.h"

namespace eos {

struct EpochConfig {
  int64_t batch = 128;
  LossConfig loss;
  SgdConfig sgd;
  AugmentParams augment;  // mean/std always; pad/flip/seed/epoch when `augment_images`
  bool augment_images = true;
  int64_t progress_every = 10;  // batches between progress reports (0: none)
};

struct EpochProgress {
  int64_t batches_done = 0, batches_total = 0, images_done = 0;
  double loss_sum = 0;  // sum over the images seen of each batch's mean loss times its size
  int64_t correct = 0;  // images whose train-mode logits ranked their label first
};

// Runs the batches of one epoch. A final batch of a single image is skipped (batch-norm statistics of one
// sample are undefined; PyTorch refuses it). Stops before a batch when should_stop() returns true; the
// returned progress says how far it got.
EpochProgress train_epoch(Network<float>& net, const uint8_t* images, const int32_t* labels,
                          const int32_t* order, int64_t rows, const EpochConfig& cfg,
                          const std::function<void(const EpochProgress&)>& on_progress,
                          const std::function<bool()>& should_stop);

// Eval-mode forward of images[indices[i]] (indices null: 0..rows-1) in batches of `batch`, normalised with
// `normalize` (mean/std only). Writes logits [rows, K] and/or embeddings [rows, 64] where not null.
// Returns false when stopped early.
bool predict(Network<float>& net, const uint8_t* images, const int32_t* indices, int64_t rows, int64_t batch,
             const AugmentParams& normalize, float* logits, float* embeddings,
             const std::function<bool()>& should_stop);

}  // namespace eos
