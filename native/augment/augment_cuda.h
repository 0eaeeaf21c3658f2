// The augmentation kernel on the GPU (augment/augment.h on device memory): the same crop, flip and
// normalisation, drawing the SAME Philox values (augment_draw_of, shared code), so a CPU run and a GPU run
// see the same crops and the same float batch, bit for bit (no FMA contraction: the value is
// pixel * scale + shift rounded twice, as the CPU computes it).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "augment/augment.h"

namespace eos::cuda {

constexpr int kMaxAugmentChannels = 16;  // validate_spec's bound on in_channels

// AugmentParams by value (a kernel cannot read the host's mean/std arrays).
struct DeviceAugment {
  int64_t channels = 1, height = 0, width = 0;
  int pad = 4;
  bool flip = true;
  bool augment = true;  // false: normalisation only (no crop, no flip), as normalize_batch
  uint64_t seed = 0, epoch = 0;
  float mean[kMaxAugmentChannels] = {};
  float std[kMaxAugmentChannels] = {};
};
DeviceAugment device_augment(const AugmentParams& p, bool augment);

// images: device [N, C, H, W] uint8; rows: device [R] image indices; out: device [B, C, H, W] float32.
// Batch row b takes image rows[b + offset] where offset = *row_offset (device int64; null: 0), so one
// captured graph can walk an epoch's visiting order by advancing a device counter. labels/out_labels
// (optional, device): out_labels[b] = labels[rows[b + offset]].
void augment_batch(const uint8_t* images, const int32_t* rows, const int64_t* row_offset, int64_t batch,
                   const DeviceAugment& p, float* out, const int32_t* labels, int32_t* out_labels,
                   cudaStream_t stream);

}  // namespace eos::cuda
