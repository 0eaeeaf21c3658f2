// Counter-based random numbers (Philox4x32-10, Salmon et al., SC'11).
//
// Why counter-based: every random draw is a pure function of (seed, stream, counter), so a draw made for
// (epoch 7, sample 1234) is the same whether the run started at epoch 0 or resumed at epoch 7, and whatever
// thread computes it. Resumed runs therefore equal uninterrupted ones without saving generator state.
#pragma once

#include <cmath>
#include <cstdint>

// Callable from CUDA kernels too (nvcc defines __CUDACC__): the CPU and the GPU draw the same numbers from
// the same code.
#ifdef __CUDACC__
#define EOS_HD __host__ __device__
#else
#define EOS_HD
#endif

namespace eos {

struct Philox4x32 {
  uint32_t v[4];
};

// One Philox4x32-10 block: 128 random bits from a 128-bit counter and a 64-bit key.
EOS_HD inline Philox4x32 philox4x32(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0,
                                    uint32_t k1) {
  constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(kMul0) * c0;
    const uint64_t p1 = static_cast<uint64_t>(kMul1) * c2;
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  return Philox4x32{{c0, c1, c2, c3}};
}

// A stream of random numbers addressed by (seed, stream id). `stream` names what the numbers are for
// (e.g. a hash of "augment" and the epoch), `index` picks the draw within it.
class CounterRng {
 public:
  EOS_HD CounterRng(uint64_t seed, uint64_t stream) : seed_(seed), stream_(stream) {}

  // Four independent 32-bit words for draw `index`.
  EOS_HD Philox4x32 block(uint64_t index) const {
    return philox4x32(static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32),
                      static_cast<uint32_t>(stream_), static_cast<uint32_t>(stream_ >> 32),
                      static_cast<uint32_t>(seed_), static_cast<uint32_t>(seed_ >> 32));
  }

 private:
  uint64_t seed_;
  uint64_t stream_;
};

// Uniform float in [0, 1) from the top 24 bits of a word (exactly representable, never 1.0).
EOS_HD inline float uniform01(uint32_t word) { return static_cast<float>(word >> 8) * (1.0f / 16777216.0f); }

// Uniform integer in [0, n) (n >= 1); Lemire's multiply-shift, bias < n / 2^32, negligible for our n.
EOS_HD inline uint32_t uniform_below(uint32_t word, uint32_t n) {
  return static_cast<uint32_t>((static_cast<uint64_t>(word) * n) >> 32);
}

// Standard normal from two words (Box-Muller). Uses (u1 in (0, 1]) so log never sees 0.
inline float standard_normal(uint32_t w0, uint32_t w1) {
  const double u1 = (static_cast<double>(w0 >> 8) + 1.0) * (1.0 / 16777216.0);
  const double u2 = static_cast<double>(w1 >> 8) * (1.0 / 16777216.0);
  return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
}

}  // namespace eos
