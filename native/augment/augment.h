// Batched training-time augmentation: uint8 images -> normalised float batch.
//
// Legend: N images in the data set, B samples in the batch, C channels, H x W pixels, NCHW layout.
// Per sample (in this order, as torchvision's RandomCrop(pad) -> RandomHorizontalFlip -> ToTensor ->
// Normalize):
//   1. random crop of an H x W window from the image zero-padded by `pad` pixels on every side,
//   2. horizontal flip with probability 1/2 (when enabled),
//   3. value = (pixel / 255 - mean[c]) / std[c]   (so padding pixels become -mean/std, as in torchvision).
// The random draws for a sample depend only on (seed, epoch, index of the image in the data set), never on
// its position in the batch or the thread that processes it: resumed and re-ordered runs see the same crops.
#pragma once

#include <cstdint>

#include "core/rng.h"

namespace eos {

struct AugmentParams {
  int64_t channels = 1, height = 0, width = 0;
  int pad = 4;                  // zero padding of the random crop; 0 disables cropping
  bool flip = true;             // random horizontal flip
  const float* mean = nullptr;  // [C]
  const float* std = nullptr;   // [C], all > 0
  uint64_t seed = 0;
  uint64_t epoch = 0;
};

// The crop offsets (0..2*pad each) and flip decision drawn for image `index` in `epoch`.
struct AugmentDraw {
  int offset_y, offset_x;
  bool flip;
};
// Distinguishes augmentation draws from every other use of the same seed (ASCII "augment").
constexpr uint64_t kAugmentStreamTag = 0x61756d656e74ull;

// The draw itself, shared by the CPU kernel and the CUDA kernel (augment_cuda.cu), so both crop alike.
EOS_HD inline AugmentDraw augment_draw_of(uint64_t seed, uint64_t epoch, int pad, bool flip, int64_t index) {
  const CounterRng rng(seed, kAugmentStreamTag ^ (epoch << 48));
  const Philox4x32 r = rng.block(static_cast<uint64_t>(index));
  const uint32_t span = static_cast<uint32_t>(2 * pad + 1);
  return AugmentDraw{static_cast<int>(uniform_below(r.v[0], span)),
                     static_cast<int>(uniform_below(r.v[1], span)), flip && (r.v[2] >> 31) != 0};
}

inline AugmentDraw augment_draw(const AugmentParams& p, int64_t index) {
  return augment_draw_of(p.seed, p.epoch, p.pad, p.flip, index);
}

// images: [N, C, H, W] uint8; indices: [B] rows of `images` (all in [0, N)); out: [B, C, H, W] float32.
void augment_batch(const uint8_t* images, const int32_t* indices, int64_t batch, const AugmentParams& p,
                   float* out);

// Evaluation-time conversion: no crop, no flip, only normalisation. Same layouts as augment_batch.
void normalize_batch(const uint8_t* images, const int32_t* indices, int64_t batch, const AugmentParams& p,
                     float* out);

}  // namespace eos
