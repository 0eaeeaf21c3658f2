// The augmentation kernel on the GPU (augment_cuda.h): one thread per output element, each redrawing its
// sample's crop and flip with augment_draw_of (the CPU's own code), so both sides crop alike.
//
// Bitwise equality with augment.cc's transform_one: scale = 1 / (255 std), shift = -mean / std and
// value = pixel * scale + shift, each operation rounded on its own. The explicit __fmul_rn / __fadd_rn /
// __fdiv_rn intrinsics keep nvcc from contracting the multiply-add into an FMA (one rounding instead of two)
// and from approximating the divisions, whatever the compile flags.
#include <stdexcept>
#include <string>

#include "augment/augment_cuda.h"
#include "core/cuda_check.h"

namespace eos::cuda {

DeviceAugment device_augment(const AugmentParams& p, bool augment) {
  if (p.channels < 1 || p.channels > kMaxAugmentChannels) {
    throw std::invalid_argument("device_augment: channels must be in [1, " +
                                std::to_string(kMaxAugmentChannels) + "], got " + std::to_string(p.channels));
  }
  if (p.mean == nullptr || p.std == nullptr) {
    throw std::invalid_argument("device_augment: mean and std must point to channels values each");
  }
  DeviceAugment d;
  d.channels = p.channels;
  d.height = p.height;
  d.width = p.width;
  d.pad = p.pad;
  d.flip = p.flip;
  d.augment = augment;
  d.seed = p.seed;
  d.epoch = p.epoch;
  for (int64_t c = 0; c < p.channels; ++c) {
    d.mean[c] = p.mean[c];
    d.std[c] = p.std[c];
  }
  return d;
}

namespace {

constexpr int kThreads = 256;

// Output element e of the batch: (b, c, y, x) in NCHW. `p` travels by value in the kernel's parameters.
__global__ void augment_kernel(const uint8_t* images, const int32_t* rows, const int64_t* row_offset,
                               int64_t batch, const DeviceAugment p, float* out, const int32_t* labels,
                               int32_t* out_labels) {
  const int64_t H = p.height, W = p.width, plane = H * W, image_size = p.channels * plane;
  const int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= batch * image_size) return;
  const int64_t b = e / image_size, within = e - b * image_size;
  const int64_t c = within / plane, y = (within - c * plane) / W, x = within - c * plane - y * W;
  const int64_t offset = row_offset == nullptr ? 0 : *row_offset;
  const int32_t image = rows[b + offset];

  // normalize_batch is transform_one with offsets (pad, pad) and no flip: the identity window.
  int offset_y = p.pad, offset_x = p.pad;
  bool flip = false;
  if (p.augment) {
    const AugmentDraw draw = augment_draw_of(p.seed, p.epoch, p.pad, p.flip, image);
    offset_y = draw.offset_y;
    offset_x = draw.offset_x;
    flip = draw.flip;
  }
  const float scale = __fdiv_rn(1.0f, __fmul_rn(255.0f, p.std[c]));
  const float shift = __fdiv_rn(-p.mean[c], p.std[c]);
  const int64_t sy = y + offset_y - p.pad;
  const int64_t cx = flip ? W - 1 - x : x;  // flip is applied to the cropped window, as on the CPU
  const int64_t sx = cx + offset_x - p.pad;
  float value = shift;
  if (sy >= 0 && sy < H && sx >= 0 && sx < W) {
    const uint8_t pixel = images[static_cast<int64_t>(image) * image_size + c * plane + sy * W + sx];
    value = __fadd_rn(__fmul_rn(static_cast<float>(pixel), scale), shift);
  }
  out[e] = value;
  if (out_labels != nullptr && within == 0) out_labels[b] = labels[image];
}

}  // namespace

void augment_batch(const uint8_t* images, const int32_t* rows, const int64_t* row_offset, int64_t batch,
                   const DeviceAugment& p, float* out, const int32_t* labels, int32_t* out_labels,
                   cudaStream_t stream) {
  if (batch <= 0) return;
  if ((labels == nullptr) != (out_labels == nullptr)) {
    throw std::invalid_argument("augment_batch: labels and out_labels come together (both or neither)");
  }
  const int64_t elements = batch * p.channels * p.height * p.width;
  if (elements == 0) return;
  const int64_t blocks = (elements + kThreads - 1) / kThreads;
  augment_kernel<<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(images, rows, row_offset, batch, p,
                                                                         out, labels, out_labels);
  EOS_CUDA_CHECK_LAUNCH();
}

}  // namespace eos::cuda
