// The GPU augmentation kernel against the CPU's (augment/augment.h): bit for bit the same float batch and
// the same gathered labels, for crops, flips, normalisation only, several epochs, seeds and image shapes,
// and a batch read from an offset into the visiting order (the device counter of a captured graph).
// Outputs are poisoned (all bits set: NaN) first, so an element the kernel skipped cannot pass.
// Skips, saying why, where no CUDA device is found.
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "augment/augment.h"
#include "augment/augment_cuda.h"
#include "core/device_buffer.h"
#include "harness.h"

namespace eos::test {
namespace {

struct Case {
  int64_t channels, height, width;
  int pad;
  bool flip;
};

// "" when every element agrees bitwise, else the first mismatch.
std::string first_mismatch(const std::vector<float>& got, const std::vector<float>& want) {
  for (size_t e = 0; e < want.size(); ++e) {
    if (std::memcmp(&got[e], &want[e], sizeof(float)) != 0) {
      return "element " + std::to_string(e) + ": got " + std::to_string(got[e]) + ", want " +
             std::to_string(want[e]);
    }
  }
  return "";
}

EOS_TEST(cuda_augment_matches_cpu_bitwise) {
  std::string why;
  if (!cuda::device_available(&why)) {
    std::printf("skip cuda_augment_matches_cpu_bitwise: %s\n", why.c_str());
    return;
  }
  const Case cases[] = {{1, 28, 28, 4, true},  {3, 32, 32, 4, true}, {3, 32, 32, 0, false},
                        {1, 13, 13, 4, false}, {3, 13, 13, 0, true}, {3, 32, 32, 4, false}};
  Rand rnd(31);
  for (const Case& cs : cases) {
    const int64_t n = 50, image_size = cs.channels * cs.height * cs.width;
    std::vector<uint8_t> images(n * image_size);
    for (uint8_t& v : images) v = static_cast<uint8_t>(rnd.below(256));
    std::vector<int32_t> labels(n);
    for (int32_t& l : labels) l = rnd.below(10);
    // A visiting order with repeats; the batch starts at `offset` in it.
    const int64_t batch = 37, offset = 5;
    std::vector<int32_t> order(batch + offset + 3);
    for (int32_t& r : order) r = rnd.below(static_cast<int>(n));
    std::vector<float> mean(cs.channels), stdev(cs.channels);
    for (int64_t c = 0; c < cs.channels; ++c) {
      mean[c] = static_cast<float>(rnd.uniform(0.2, 0.6));
      stdev[c] = static_cast<float>(rnd.uniform(0.15, 0.35));
    }

    cuda::DeviceBuffer<uint8_t> d_images(images.size());
    cuda::DeviceBuffer<int32_t> d_order(order.size()), d_labels(n), d_out_labels(batch);
    cuda::DeviceBuffer<int64_t> d_offset(1);
    cuda::DeviceBuffer<float> d_out(batch * image_size);
    d_images.upload(images.data());
    d_order.upload(order.data());
    d_labels.upload(labels.data());
    d_offset.upload(&offset);

    for (uint64_t seed : {uint64_t{0}, uint64_t{12345}}) {
      for (uint64_t epoch : {uint64_t{0}, uint64_t{1}, uint64_t{7}}) {
        for (bool augment : {true, false}) {
          AugmentParams p;
          p.channels = cs.channels;
          p.height = cs.height;
          p.width = cs.width;
          p.pad = cs.pad;
          p.flip = cs.flip;
          p.mean = mean.data();
          p.std = stdev.data();
          p.seed = seed;
          p.epoch = epoch;
          std::vector<float> want(batch * image_size);
          if (augment) {
            augment_batch(images.data(), order.data() + offset, batch, p, want.data());
          } else {
            normalize_batch(images.data(), order.data() + offset, batch, p, want.data());
          }
          EOS_CUDA_CHECK(cudaMemset(d_out.data(), 0xff, d_out.bytes()));
          EOS_CUDA_CHECK(cudaMemset(d_out_labels.data(), 0xff, d_out_labels.bytes()));
          cuda::augment_batch(d_images.data(), d_order.data(), d_offset.data(), batch,
                              cuda::device_augment(p, augment), d_out.data(), d_labels.data(),
                              d_out_labels.data(), nullptr);
          EOS_CUDA_CHECK(cudaDeviceSynchronize());
          std::vector<float> got(want.size());
          std::vector<int32_t> got_labels(batch);
          d_out.download(got.data());
          d_out_labels.download(got_labels.data());
          bool labels_ok = true;
          for (int64_t b = 0; b < batch; ++b)
            labels_ok = labels_ok && got_labels[b] == labels[order[offset + b]];
          const std::string what = "cuda augment " + std::to_string(cs.channels) + "x" +
                                   std::to_string(cs.height) + "x" + std::to_string(cs.width) + " pad " +
                                   std::to_string(cs.pad) + (cs.flip ? " flip" : "") + " seed " +
                                   std::to_string(seed) + " epoch " + std::to_string(epoch) +
                                   (augment ? " augment" : " normalise only");
          const std::string diff = first_mismatch(got, want);
          check(diff.empty(), what + ": batch bitwise equal to the CPU's", diff);
          check(labels_ok, what + ": labels gathered");
        }
      }
    }

    // Without an offset pointer and labels: rows[0, batch) and no label writes.
    AugmentParams p;
    p.channels = cs.channels;
    p.height = cs.height;
    p.width = cs.width;
    p.pad = cs.pad;
    p.flip = cs.flip;
    p.mean = mean.data();
    p.std = stdev.data();
    p.seed = 9;
    p.epoch = 2;
    std::vector<float> want(batch * image_size), got(want.size());
    augment_batch(images.data(), order.data(), batch, p, want.data());
    EOS_CUDA_CHECK(cudaMemset(d_out.data(), 0xff, d_out.bytes()));
    cuda::augment_batch(d_images.data(), d_order.data(), nullptr, batch, cuda::device_augment(p, true),
                        d_out.data(), nullptr, nullptr, nullptr);
    EOS_CUDA_CHECK(cudaDeviceSynchronize());
    d_out.download(got.data());
    check(first_mismatch(got, want).empty(),
          "cuda augment " + std::to_string(cs.channels) + "x" + std::to_string(cs.height) +
              ", no row offset: bitwise equal to the CPU's",
          first_mismatch(got, want));
  }
}

EOS_TEST(cuda_augment_refuses_too_many_channels) {
  // Pure host code, but it only exists in a CUDA build; runs with or without a device.
  std::vector<float> mean(cuda::kMaxAugmentChannels + 1, 0.5f), stdev(mean.size(), 0.25f);
  AugmentParams p;
  p.channels = cuda::kMaxAugmentChannels + 1;
  p.height = p.width = 4;
  p.mean = mean.data();
  p.std = stdev.data();
  bool threw = false;
  try {
    cuda::device_augment(p, true);
  } catch (const std::invalid_argument& e) {
    threw = std::string(e.what()).find("channels") != std::string::npos;
  }
  check(threw, "cuda device_augment refuses channels > kMaxAugmentChannels, naming channels");
}

}  // namespace
}  // namespace eos::test
