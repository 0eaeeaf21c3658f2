#include "augment/augment.h"

#include "core/rng.h"

namespace eos {

namespace {
void transform_one(const uint8_t* image, const AugmentParams& p, int offset_y, int offset_x, bool flip,
                   float* out) {
  const int64_t H = p.height, W = p.width;
  for (int64_t c = 0; c < p.channels; ++c) {
    const float scale = 1.0f / (255.0f * p.std[c]);
    const float shift = -p.mean[c] / p.std[c];
    const uint8_t* src = image + c * H * W;
    float* dst = out + c * H * W;
    for (int64_t y = 0; y < H; ++y) {
      const int64_t sy = y + offset_y - p.pad;
      float* row = dst + y * W;
      if (sy < 0 || sy >= H) {
        for (int64_t x = 0; x < W; ++x) row[x] = shift;
        continue;
      }
      for (int64_t x = 0; x < W; ++x) {
        const int64_t cx = flip ? W - 1 - x : x;  // flip is applied to the cropped window
        const int64_t sx = cx + offset_x - p.pad;
        row[x] = (sx < 0 || sx >= W) ? shift : static_cast<float>(src[sy * W + sx]) * scale + shift;
      }
    }
  }
}
}  // namespace

void augment_batch(const uint8_t* images, const int32_t* indices, int64_t batch, const AugmentParams& p,
                   float* out) {
  const int64_t image_size = p.channels * p.height * p.width;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < batch; ++b) {
    const AugmentDraw d = augment_draw(p, indices[b]);
    transform_one(images + indices[b] * image_size, p, d.offset_y, d.offset_x, d.flip, out + b * image_size);
  }
}

void normalize_batch(const uint8_t* images, const int32_t* indices, int64_t batch, const AugmentParams& p,
                     float* out) {
  const int64_t image_size = p.channels * p.height * p.width;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < batch; ++b) {
    transform_one(images + indices[b] * image_size, p, p.pad, p.pad, false, out + b * image_size);
  }
}

}  // namespace eos
