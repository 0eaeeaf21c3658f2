// The CUDA layer ops (nn/cuda/ops.h) against their reference twins (nn/ref/, nn/losses.cc, nn/sgd.cc).
//
// Every test skips, saying why, where no GPU is usable. Where one is, each op runs on random shapes that
// include odd sides (13 x 13, 7 x 7), stride 2, batch 1 and 1 or 3 input channels, with its outputs (and
// scratch) poisoned with NaN before every run, so an element an op fails to write fails the comparison.
// Every op also runs twice on the same inputs and must give the same bytes (determinism).
// A chain of all of them also runs captured in a CUDA graph, as the engine runs a step.
//
// Error bounds, per element:
//   convolutions: |got - exact| <= rtol * sum |terms| (the exact value and the scale from the double ref
//     kernel on the same inputs and on their absolute values), with
//       fp32  rtol 1e-4: an output is a run of at most ~900 sequential fp32 additions (C*9 or K*9 terms in
//             padded channel blocks, or a weight-gradient chunk of <= 512 pixels plus the sum of the chunks),
//             each rounding by at most 2^-24 of a partial sum bounded by the scale: <= 900 * 6e-8 = 5.4e-5;
//       tf32  rtol 2e-3: each input rounded to 10 mantissa bits (relative error 2^-11 each, so 9.8e-4 per
//             product) plus the fp32 accumulation (twice the fp32 bound if the tensor cores truncate);
//       bf16  rtol 2e-2: each input rounded to 7 mantissa bits (2^-8 each, 7.8e-3 per product) plus the
//             accumulation, with a factor of two to spare for the tensor cores' accumulation order;
//   batch norm, heads: rtol 1e-5 (the same formulas in the same precision; only the order of the double sums
//     differs, which moves a float result by at most an ulp);
//   loss: 1e-12 relative on the double loss, 1e-6 on the float gradients (device exp / log / pow);
//   relu, shortcut, pooling, SGD: bitwise (the same operations in the same order).
#include <cuda_runtime_api.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/device_buffer.h"
#include "harness.h"
#include "nn/cuda/ops.h"
#include "nn/losses.h"
#include "nn/ref/avgpool.h"
#include "nn/ref/batchnorm2d.h"
#include "nn/ref/conv2d.h"
#include "nn/ref/linear.h"
#include "nn/ref/normed_linear.h"
#include "nn/ref/relu.h"
#include "nn/ref/shortcut.h"
#include "nn/sgd.h"

namespace eos::test {
namespace {

using cuda::DeviceBuffer;
using cuda::MathMode;

// --- device helpers --------------------------------------------------------------------------------------

template <typename T>
DeviceBuffer<T> to_device(const std::vector<T>& host) {
  DeviceBuffer<T> d(static_cast<int64_t>(host.size()));
  d.upload(host.data());
  return d;
}

template <typename T>
std::vector<T> to_host(const DeviceBuffer<T>& d) {
  std::vector<T> host(static_cast<size_t>(d.size()));
  d.download(host.data());
  return host;
}

// All bits set: a NaN for float and double, so an unwritten output fails every comparison.
template <typename T>
void poison(DeviceBuffer<T>& d) {
  if (d.size() > 0) EOS_CUDA_CHECK(cudaMemset(d.data(), 0xff, static_cast<size_t>(d.bytes())));
}

// Scratch of `bytes` bytes (at least one element, so that data() is never null), poisoned.
DeviceBuffer<unsigned char> scratch(int64_t bytes) {
  DeviceBuffer<unsigned char> d(std::max<int64_t>(bytes, 1));
  poison(d);
  return d;
}

void sync() { EOS_CUDA_CHECK(cudaDeviceSynchronize()); }

template <typename T>
bool same_bytes(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

bool all_finite(const std::vector<float>& v) {
  for (float e : v) {
    if (!std::isfinite(e)) return false;
  }
  return true;
}

// |got - exact| <= rtol * scale per element (NaN fails).
bool check_scaled(const std::string& what, const std::vector<float>& got, const std::vector<double>& exact,
                  const std::vector<double>& scale, double rtol) {
  double worst = 0;  // largest |got - exact| / scale
  bool ok = got.size() == exact.size();
  for (size_t i = 0; ok && i < got.size(); ++i) {
    const double err = std::fabs(static_cast<double>(got[i]) - exact[i]);
    if (!(err <= rtol * scale[i] + 1e-30)) ok = false;
    if (scale[i] > 0 && err / scale[i] > worst) worst = err / scale[i];
    if (err != err) worst = err;
  }
  char detail[96];
  std::snprintf(detail, sizeof detail, "max |diff| / sum|terms| %.3g (rtol %.3g, %zu values)", worst, rtol,
                got.size());
  return check(ok, what, detail);
}

std::vector<double> to_double(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }
std::vector<double> abs_of(const std::vector<float>& v) {
  std::vector<double> a(v.size());
  for (size_t i = 0; i < v.size(); ++i) a[i] = std::fabs(static_cast<double>(v[i]));
  return a;
}

// --- convolution -----------------------------------------------------------------------------------------

std::string conv_name(const ConvDims& d, MathMode mode) {
  return std::string("cuda conv3x3 ") + cuda::math_mode_name(mode) + " n" + std::to_string(d.n) + " c" +
         std::to_string(d.c) + " " + std::to_string(d.h) + "x" + std::to_string(d.w) + " k" +
         std::to_string(d.k) + " s" + std::to_string(d.stride);
}

double conv_rtol(MathMode mode) {
  switch (mode) {
    case MathMode::kFp32:
      return 1e-4;
    case MathMode::kTf32:
      return 2e-3;
    case MathMode::kBf16:
      return 2e-2;
  }
  return 0;
}

// The double ref kernels on double copies of the float inputs: the exact value (up to double rounding) and,
// on absolute values, the sum of |terms| of every output.
struct ConvExpect {
  std::vector<double> y, y_scale, dx, dx_scale, dw, dw_scale;
};
ConvExpect conv_expect(const ConvDims& d, const std::vector<float>& x, const std::vector<float>& w,
                       const std::vector<float>& dy) {
  std::vector<double> ws(static_cast<size_t>(ref::conv2d_workspace_size(d, omp_get_max_threads())));
  ConvExpect e;
  e.y.resize(static_cast<size_t>(d.n * d.k * d.p * d.q));
  e.y_scale.resize(e.y.size());
  e.dx.resize(x.size());
  e.dx_scale.resize(x.size());
  e.dw.resize(w.size());
  e.dw_scale.resize(w.size());
  const auto xd = to_double(x), wd = to_double(w), dyd = to_double(dy);
  const auto xa = abs_of(x), wa = abs_of(w), dya = abs_of(dy);
  ref::conv2d_forward<double>(d, xd.data(), wd.data(), e.y.data(), ws.data());
  ref::conv2d_forward<double>(d, xa.data(), wa.data(), e.y_scale.data(), ws.data());
  ref::conv2d_backward_data<double>(d, wd.data(), dyd.data(), e.dx.data(), false, ws.data());
  ref::conv2d_backward_data<double>(d, wa.data(), dya.data(), e.dx_scale.data(), false, ws.data());
  ref::conv2d_backward_weights<double>(d, xd.data(), dyd.data(), e.dw.data(), ws.data());
  ref::conv2d_backward_weights<double>(d, xa.data(), dya.data(), e.dw_scale.data(), ws.data());
  return e;
}

const ConvDims kConvShapes[] = {
    conv3x3_dims(2, 3, 13, 13, 16, 1),   // the stem's 3 channels, odd sides
    conv3x3_dims(1, 16, 7, 7, 16, 2),    // batch 1, stride 2 on an odd side
    conv3x3_dims(3, 1, 8, 8, 5, 1),      // one input channel, a K that fills no tile
    conv3x3_dims(2, 16, 32, 32, 32, 2),  // a stage change (16 -> 32, stride 2)
    conv3x3_dims(2, 32, 16, 16, 32, 1),  // stage 2
    conv3x3_dims(2, 64, 8, 8, 64, 1),    // stage 3
    conv3x3_dims(1, 20, 13, 11, 40, 2),  // channels off every tile size, non-square, odd sides
    conv3x3_dims(3, 64, 7, 7, 96, 1),    // K over one 64-row tile
    conv3x3_dims(3, 8, 30, 30, 16, 1),   // the weight gradient in 6 chunks, the last one short
    conv3x3_dims(5, 32, 16, 16, 64, 1),  // 3 chunks over 5 column tiles
};

EOS_TEST(cuda_conv3x3_matches_ref) {
  std::string why;
  if (!eos::cuda::device_available(&why)) {
    check(true, "cuda skipped: " + why);
    return;
  }
  Rand rnd(501);
  for (const ConvDims& d : kConvShapes) {
    const int64_t xs = d.n * d.c * d.h * d.w, ws = d.k * d.c * 9, ys = d.n * d.k * d.p * d.q;
    const auto x = rnd.normals<float>(xs), w = rnd.normals<float>(ws, 0.2), dy = rnd.normals<float>(ys);
    const auto dx0 = rnd.normals<float>(xs);  // what accumulate adds onto
    const ConvExpect e = conv_expect(d, x, w, dy);
    std::vector<double> dx_acc(e.dx.size()), dx_acc_scale(e.dx.size());
    for (size_t i = 0; i < dx_acc.size(); ++i) {
      dx_acc[i] = static_cast<double>(dx0[i]) + e.dx[i];
      dx_acc_scale[i] = std::fabs(static_cast<double>(dx0[i])) + e.dx_scale[i];
    }
    auto x_d = to_device(x), w_d = to_device(w), dy_d = to_device(dy);
    DeviceBuffer<float> y_d(ys), dxo_d(xs), dw_d(ws);
    for (MathMode mode : {MathMode::kFp32, MathMode::kTf32, MathMode::kBf16}) {
      const std::string name = conv_name(d, mode);
      const double rtol = conv_rtol(mode);
      auto work = scratch(cuda::conv3x3_workspace_bytes(d, mode));
      // Each pass twice: the second run must repeat the first's bytes.
      std::vector<float> y[2], dx[2], dxa[2], dw[2];
      for (int run = 0; run < 2; ++run) {
        poison(y_d);
        poison(dxo_d);
        poison(dw_d);
        poison(work);
        cuda::conv3x3_forward(d, x_d.data(), w_d.data(), y_d.data(), mode, work.data(), nullptr);
        cuda::conv3x3_backward_data(d, w_d.data(), dy_d.data(), dxo_d.data(), false, mode, work.data(),
                                    nullptr);
        cuda::conv3x3_backward_weights(d, x_d.data(), dy_d.data(), dw_d.data(), mode, work.data(), nullptr);
        sync();
        y[run] = to_host(y_d);
        dx[run] = to_host(dxo_d);
        dw[run] = to_host(dw_d);
        dxo_d.upload(dx0.data());
        cuda::conv3x3_backward_data(d, w_d.data(), dy_d.data(), dxo_d.data(), true, mode, work.data(),
                                    nullptr);
        sync();
        dxa[run] = to_host(dxo_d);
      }
      check(all_finite(y[0]) && all_finite(dx[0]) && all_finite(dw[0]) && all_finite(dxa[0]),
            name + ": every output element written");
      check_scaled(name + " forward", y[0], e.y, e.y_scale, rtol);
      check_scaled(name + " backward data", dx[0], e.dx, e.dx_scale, rtol);
      check_scaled(name + " backward data, accumulate", dxa[0], dx_acc, dx_acc_scale, rtol);
      check_scaled(name + " backward weights", dw[0], e.dw, e.dw_scale, rtol);
      check(same_bytes(y[0], y[1]) && same_bytes(dx[0], dx[1]) && same_bytes(dxa[0], dxa[1]) &&
                same_bytes(dw[0], dw[1]),
            name + ": two runs give identical bytes");
    }
  }
}

// The checks run on the host before any launch, so this test needs no GPU.
EOS_TEST(cuda_conv3x3_refuses_bad_dims) {
  ConvDims d = conv3x3_dims(1, 3, 8, 8, 4, 3);  // stride 3
  bool threw = false;
  try {
    cuda::conv3x3_workspace_bytes(d, MathMode::kFp32);
  } catch (const std::invalid_argument& e) {
    threw = std::string(e.what()).find("stride") != std::string::npos;
  }
  check(threw, "cuda conv3x3: stride 3 is refused with an error naming the stride");
  d = conv3x3_dims(1, 3, 8, 8, 4, 1);
  d.p = 7;
  threw = false;
  try {
    cuda::conv3x3_workspace_bytes(d, MathMode::kFp32);
  } catch (const std::invalid_argument& e) {
    threw = std::string(e.what()).find("output size") != std::string::npos;
  }
  check(threw, "cuda conv3x3: an output size that does not fit is refused");
  // A zero size, through every pass (the weight gradient once divided by it before checking).
  for (int pass = 0; pass < 3; ++pass) {
    d = conv3x3_dims(1, 0, 8, 8, 4, 1);
    threw = false;
    try {
      if (pass == 0) cuda::conv3x3_forward(d, nullptr, nullptr, nullptr, MathMode::kFp32, nullptr, nullptr);
      if (pass == 1) {
        cuda::conv3x3_backward_data(d, nullptr, nullptr, nullptr, false, MathMode::kFp32, nullptr, nullptr);
      }
      if (pass == 2) {
        cuda::conv3x3_backward_weights(d, nullptr, nullptr, nullptr, MathMode::kFp32, nullptr, nullptr);
      }
    } catch (const std::invalid_argument& e) {
      threw = std::string(e.what()).find("dims") != std::string::npos;
    }
    check(threw, "cuda conv3x3: c = 0 is refused by pass " + std::to_string(pass) + ", naming the dims");
  }
}

// --- batch norm ------------------------------------------------------------------------------------------

struct BnShape {
  int64_t n, c, s;
};
// Batch 1 with odd sides, one channel, chunks of several images with a short last chunk (37 images in 13
// chunks of 3), many chunks per channel.
const BnShape kBnShapes[] = {{2, 3, 13 * 13}, {1, 16, 7 * 7}, {5, 1, 64},
                             {37, 32, 4},     {64, 16, 1024}, {3, 64, 1}};

EOS_TEST(cuda_batchnorm_matches_ref) {
  std::string why;
  if (!eos::cuda::device_available(&why)) {
    check(true, "cuda skipped: " + why);
    return;
  }
  Rand rnd(502);
  for (const BnShape& sh : kBnShapes) {
    const int64_t n = sh.n, c = sh.c, s = sh.s, count = n * c * s;
    std::vector<float> x = rnd.normals<float>(count, 2.0);
    for (size_t i = 0; i < x.size(); ++i) x[i] += 0.5f;  // a non-zero mean
    const auto gamma = rnd.normals<float>(c), beta = rnd.normals<float>(c), dy = rnd.normals<float>(count);
    std::vector<float> rm0(static_cast<size_t>(c)), rv0(static_cast<size_t>(c));
    for (int64_t i = 0; i < c; ++i) {
      rm0[i] = static_cast<float>(rnd.uniform(-1, 1));
      rv0[i] = static_cast<float>(rnd.uniform(0.5, 2));
    }
    const double momentum = 0.1, eps = 1e-5;
    const std::string base =
        "cuda batchnorm n" + std::to_string(n) + " c" + std::to_string(c) + " s" + std::to_string(s);
    auto x_d = to_device(x), g_d = to_device(gamma), b_d = to_device(beta), dy_d = to_device(dy);
    DeviceBuffer<float> y_d(count), mean_d(c), is_d(c), rm_d(c), rv_d(c), dx_d(count), dg_d(c), db_d(c);
    auto work = scratch(cuda::batchnorm_workspace_bytes(n, c, s));
    for (bool relu : {false, true}) {
      const std::string name = base + (relu ? " +relu" : "");
      // ref: forward (then relu), backward of the masked gradient
      std::vector<float> ry(count), rmean(c), ris(c), rrm = rm0, rrv = rv0, rdx(count), rdg(c), rdb(c);
      ref::batchnorm2d_forward_train<float>(n, c, s, x.data(), gamma.data(), beta.data(), ry.data(),
                                            rmean.data(), ris.data(), rrm.data(), rrv.data(), momentum, eps);
      std::vector<float> rdy = dy;
      if (relu) {
        ref::relu_forward<float>(count, ry.data(), ry.data());
        ref::relu_backward<float>(count, ry.data(), dy.data(), rdy.data());
      }
      ref::batchnorm2d_backward<float>(n, c, s, x.data(), rdy.data(), gamma.data(), rmean.data(), ris.data(),
                                       rdx.data(), rdg.data(), rdb.data());
      std::vector<float> y[2], mean[2], is[2], rm[2], rv[2], dx[2], dg[2], db[2];
      for (int run = 0; run < 2; ++run) {
        for (auto* b : {&y_d, &mean_d, &is_d, &dx_d, &dg_d, &db_d}) poison(*b);
        poison(work);
        rm_d.upload(rm0.data());
        rv_d.upload(rv0.data());
        cuda::batchnorm_forward_train(n, c, s, x_d.data(), g_d.data(), b_d.data(), y_d.data(), mean_d.data(),
                                      is_d.data(), rm_d.data(), rv_d.data(), momentum, eps, relu, work.data(),
                                      nullptr);
        poison(work);
        cuda::batchnorm_backward(n, c, s, x_d.data(), dy_d.data(), relu ? y_d.data() : nullptr, g_d.data(),
                                 mean_d.data(), is_d.data(), dx_d.data(), dg_d.data(), db_d.data(),
                                 work.data(), nullptr);
        sync();
        y[run] = to_host(y_d);
        mean[run] = to_host(mean_d);
        is[run] = to_host(is_d);
        rm[run] = to_host(rm_d);
        rv[run] = to_host(rv_d);
        dx[run] = to_host(dx_d);
        dg[run] = to_host(dg_d);
        db[run] = to_host(db_d);
      }
      check(all_finite(y[0]) && all_finite(dx[0]) && all_finite(dg[0]) && all_finite(db[0]),
            name + ": every output element written");
      check_arrays(name + " y", y[0].data(), ry.data(), count, 1e-5, 1e-5);
      check_arrays(name + " mean", mean[0].data(), rmean.data(), c, 1e-6, 1e-7);
      check_arrays(name + " invstd", is[0].data(), ris.data(), c, 1e-6, 0);
      check_arrays(name + " running_mean", rm[0].data(), rrm.data(), c, 1e-6, 1e-7);
      check_arrays(name + " running_var", rv[0].data(), rrv.data(), c, 1e-6, 0);
      check_arrays(name + " dx", dx[0].data(), rdx.data(), count, 1e-5, 1e-5);
      check_arrays(name + " dgamma", dg[0].data(), rdg.data(), c, 1e-5, 1e-5);
      check_arrays(name + " dbeta", db[0].data(), rdb.data(), c, 1e-5, 1e-5);
      check(same_bytes(y[0], y[1]) && same_bytes(mean[0], mean[1]) && same_bytes(is[0], is[1]) &&
                same_bytes(rm[0], rm[1]) && same_bytes(rv[0], rv[1]) && same_bytes(dx[0], dx[1]) &&
                same_bytes(dg[0], dg[1]) && same_bytes(db[0], db[1]),
            name + ": two runs give identical bytes");
      // dx in dy's buffer: the same bytes as into a separate one.
      auto inplace = to_device(dy);
      poison(work);
      cuda::batchnorm_backward(n, c, s, x_d.data(), inplace.data(), relu ? y_d.data() : nullptr, g_d.data(),
                               mean_d.data(), is_d.data(), inplace.data(), dg_d.data(), db_d.data(),
                               work.data(), nullptr);
      sync();
      check(same_bytes(to_host(inplace), dx[0]), name + ": dx aliasing dy gives the same bytes");

      // eval with the running statistics
      std::vector<float> re(count);
      ref::batchnorm2d_forward_eval<float>(n, c, s, x.data(), gamma.data(), beta.data(), rm0.data(),
                                           rv0.data(), eps, re.data());
      if (relu) ref::relu_forward<float>(count, re.data(), re.data());
      rm_d.upload(rm0.data());
      rv_d.upload(rv0.data());
      poison(y_d);
      cuda::batchnorm_forward_eval(n, c, s, x_d.data(), g_d.data(), b_d.data(), rm_d.data(), rv_d.data(), eps,
                                   relu, y_d.data(), nullptr);
      sync();
      const auto ye = to_host(y_d);
      check_arrays(name + " eval", ye.data(), re.data(), count, 1e-6, 1e-6);
    }
  }
}

// --- relu, shortcut, pooling -----------------------------------------------------------------------------

EOS_TEST(cuda_relu_matches_ref_bitwise) {
  std::string why;
  if (!eos::cuda::device_available(&why)) {
    check(true, "cuda skipped: " + why);
    return;
  }
  Rand rnd(503);
  for (int64_t count : {int64_t{1}, int64_t{1000}, int64_t{3 * 13 * 13 * 5}}) {
    const auto x = rnd.normals<float>(count), dy = rnd.normals<float>(count);
    std::vector<float> ry(count), rdx(count);
    ref::relu_forward<float>(count, x.data(), ry.data());
    ref::relu_backward<float>(count, ry.data(), dy.data(), rdx.data());
    auto x_d = to_device(x), dy_d = to_device(dy);
    DeviceBuffer<float> y_d(count), dx_d(count);
    poison(y_d);
    poison(dx_d);
    cuda::relu_forward(count, x_d.data(), y_d.data(), nullptr);
    cuda::relu_backward(count, y_d.data(), dy_d.data(), dx_d.data(), nullptr);
    cuda::relu_forward(count, x_d.data(), x_d.data(), nullptr);  // in place
    cuda::relu_backward(count, y_d.data(), dy_d.data(), dy_d.data(), nullptr);
    sync();
    const std::string name = "cuda relu " + std::to_string(count);
    check(same_bytes(to_host(y_d), ry) && same_bytes(to_host(x_d), ry), name + " forward (and in place)");
    check(same_bytes(to_host(dx_d), rdx) && same_bytes(to_host(dy_d), rdx),
          name + " backward (and in place)");
  }
}

EOS_TEST(cuda_shortcut_matches_ref_bitwise) {
  std::string why;
  if (!eos::cuda::device_available(&why)) {
    check(true, "cuda skipped: " + why);
    return;
  }
  Rand rnd(504);
  const ShortcutDims shapes[] = {option_a_dims(2, 16, 13, 13, 16, 1), option_a_dims(1, 16, 13, 13, 32, 2),
                                 option_a_dims(3, 32, 8, 8, 64, 2), option_a_dims(1, 8, 7, 7, 16, 2)};
  for (const ShortcutDims& d : shapes) {
    const int64_t xs = d.n * d.c_in * d.h * d.w, ys = d.n * d.c_out * d.p * d.q;
    const auto x = rnd.normals<float>(xs), y0 = rnd.normals<float>(ys), dy = rnd.normals<float>(ys);
    const auto dx0 = rnd.normals<float>(xs);
    const std::string name = "cuda shortcut " + std::to_string(d.c_in) + "->" + std::to_string(d.c_out) +
                             " " + std::to_string(d.h) + "x" + std::to_string(d.w) + " s" +
                             std::to_string(d.stride);
    std::vector<float> ry = y0, rrelu, rdx(xs), rdxa = dx0;
    ref::shortcut_add_forward<float>(d, x.data(), ry.data());
    rrelu = ry;
    ref::relu_forward<float>(ys, rrelu.data(), rrelu.data());
    ref::shortcut_add_backward<float>(d, dy.data(), rdx.data(), false);
    ref::shortcut_add_backward<float>(d, dy.data(), rdxa.data(), true);
    auto x_d = to_device(x), y_d = to_device(y0), yr_d = to_device(y0), dy_d = to_device(dy);
    DeviceBuffer<float> dx_d(xs);
    auto dxa_d = to_device(dx0);
    poison(dx_d);
    cuda::shortcut_add_forward(d, x_d.data(), y_d.data(), nullptr);
    cuda::shortcut_add_relu_forward(d, x_d.data(), yr_d.data(), nullptr);
    cuda::shortcut_add_backward(d, dy_d.data(), dx_d.data(), false, nullptr);
    cuda::shortcut_add_backward(d, dy_d.data(), dxa_d.data(), true, nullptr);
    sync();
    check(same_bytes(to_host(y_d), ry), name + " forward");
    check(same_bytes(to_host(yr_d), rrelu), name + " forward + relu");
    check(same_bytes(to_host(dx_d), rdx), name + " backward");
    check(same_bytes(to_host(dxa_d), rdxa), name + " backward, accumulate");
  }
}

EOS_TEST(cuda_avgpool_matches_ref_bitwise) {
  std::string why;
  if (!eos::cuda::device_available(&why)) {
    check(true, "cuda skipped: " + why);
    return;
  }
  Rand rnd(505);
  const int64_t shapes[][3] = {{2, 64, 64}, {1, 3, 13 * 13}, {5, 7, 7 * 7}, {3, 2, 1}};
  for (const auto& sh : shapes) {
    const int64_t n = sh[0], c = sh[1], s = sh[2];
    const auto x = rnd.normals<float>(n * c * s), dy = rnd.normals<float>(n * c);
    const auto dx0 = rnd.normals<float>(n * c * s);
    std::vector<float> ry(n * c), rdx(n * c * s), rdxa = dx0;
    ref::global_avgpool_forward<float>(n, c, s, x.data(), ry.data());
    ref::global_avgpool_backward<float>(n, c, s, dy.data(), rdx.data(), false);
    ref::global_avgpool_backward<float>(n, c, s, dy.data(), rdxa.data(), true);
    auto x_d = to_device(x), dy_d = to_device(dy), dxa_d = to_device(dx0);
    DeviceBuffer<float> y_d(n * c), dx_d(n * c * s);
    poison(y_d);
    poison(dx_d);
    cuda::global_avgpool_forward(n, c, s, x_d.data(), y_d.data(), nullptr);
    cuda::global_avgpool_backward(n, c, s, dy_d.data(), dx_d.data(), false, nullptr);
    cuda::global_avgpool_backward(n, c, s, dy_d.data(), dxa_d.data(), true, nullptr);
    sync();
    const std::string name =
        "cuda avgpool n" + std::to_string(n) + " c" + std::to_string(c) + " s" + std::to_string(s);
    check(same_bytes(to_host(y_d), ry), name + " forward");
    check(same_bytes(to_host(dx_d), rdx), name + " backward");
    check(same_bytes(to_host(dxa_d), rdxa), name + " backward, accumulate");
  }
}

// --- heads -----------------------------------------------------------------------------------------------

EOS_TEST(cuda_linear_matches_ref) {
  std::string why;
  if (!eos::cuda::device_available(&why)) {
    check(true, "cuda skipped: " + why);
    return;
  }
  Rand rnd(506);
  const int64_t shapes[][3] = {{1, 64, 10}, {37, 64, 100}, {128, 3, 1}};
  for (const auto& sh : shapes) {
    const int64_t n = sh[0], in = sh[1], out = sh[2];
    const auto x = rnd.normals<float>(n * in), w = rnd.normals<float>(out * in, 0.1),
               b = rnd.normals<float>(out), dy = rnd.normals<float>(n * out);
    const std::string name =
        "cuda linear " + std::to_string(n) + "x" + std::to_string(in) + "->" + std::to_string(out);
    auto x_d = to_device(x), w_d = to_device(w), b_d = to_device(b), dy_d = to_device(dy);
    DeviceBuffer<float> y_d(n * out), dx_d(n * in), dw_d(out * in), db_d(out);
    for (bool bias : {true, false}) {
      std::vector<float> ry(n * out), rdx(n * in), rdw(out * in), rdb(out);
      ref::linear_forward<float>(n, in, out, x.data(), w.data(), bias ? b.data() : nullptr, ry.data());
      ref::linear_backward<float>(n, in, out, x.data(), w.data(), dy.data(), rdx.data(), rdw.data(),
                                  bias ? rdb.data() : nullptr);
      std::vector<float> y[2], dx[2], dw[2], db[2];
      for (int run = 0; run < 2; ++run) {
        for (auto* buf : {&y_d, &dx_d, &dw_d, &db_d}) poison(*buf);
        cuda::linear_forward(n, in, out, x_d.data(), w_d.data(), bias ? b_d.data() : nullptr, y_d.data(),
                             nullptr);
        cuda::linear_backward(n, in, out, x_d.data(), w_d.data(), dy_d.data(), dx_d.data(), dw_d.data(),
                              bias ? db_d.data() : nullptr, nullptr);
        sync();
        y[run] = to_host(y_d);
        dx[run] = to_host(dx_d);
        dw[run] = to_host(dw_d);
        db[run] = to_host(db_d);
      }
      const std::string nm = name + (bias ? " bias" : " no bias");
      check_arrays(nm + " forward", y[0].data(), ry.data(), n * out, 1e-5, 1e-6);
      check_arrays(nm + " dx", dx[0].data(), rdx.data(), n * in, 1e-5, 1e-6);
      check_arrays(nm + " dw", dw[0].data(), rdw.data(), out * in, 1e-5, 1e-6);
      if (bias) check_arrays(nm + " db", db[0].data(), rdb.data(), out, 1e-5, 1e-6);
      if (!bias) check(std::isnan(db[0][0]), nm + ": db untouched when null");
      check(same_bytes(y[0], y[1]) && same_bytes(dx[0], dx[1]) && same_bytes(dw[0], dw[1]),
            nm + ": two runs give identical bytes");
    }
    // dx null: dw still right (and nothing written through the null pointer, or the run would fault)
    poison(dw_d);
    cuda::linear_backward(n, in, out, x_d.data(), w_d.data(), dy_d.data(), nullptr, dw_d.data(), nullptr,
                          nullptr);
    sync();
    std::vector<float> rdw(out * in), rdx(n * in);
    ref::linear_backward<float>(n, in, out, x.data(), w.data(), dy.data(), rdx.data(), rdw.data(), nullptr);
    check_arrays(name + " dw without dx", to_host(dw_d).data(), rdw.data(), out * in, 1e-5, 1e-6);
  }
}

EOS_TEST(cuda_normed_linear_matches_ref) {
  std::string why;
  if (!eos::cuda::device_available(&why)) {
    check(true, "cuda skipped: " + why);
    return;
  }
  Rand rnd(507);
  const int64_t shapes[][3] = {{1, 64, 10}, {37, 64, 100}, {16, 3, 2}};
  for (const auto& sh : shapes) {
    const int64_t n = sh[0], in = sh[1], out = sh[2];
    auto x = rnd.normals<float>(n * in);
    const auto w = rnd.normals<float>(in * out, 0.1), dy = rnd.normals<float>(n * out);
    if (n > 1) {
      for (int64_t i = 0; i < in; ++i) x[(n - 1) * in + i] = 0.0f;  // a zero row: the clamped norm
    }
    const std::string name =
        "cuda normed linear " + std::to_string(n) + "x" + std::to_string(in) + "->" + std::to_string(out);
    std::vector<float> rws(static_cast<size_t>(ref::normed_linear_workspace_size(n, in, out)));
    std::vector<float> ry(n * out), rdx(n * in), rdw(in * out);
    ref::normed_linear_forward<float>(n, in, out, x.data(), w.data(), ry.data(), rws.data());
    ref::normed_linear_backward<float>(n, in, out, x.data(), w.data(), dy.data(), rdx.data(), rdw.data(),
                                       rws.data());
    auto x_d = to_device(x), w_d = to_device(w), dy_d = to_device(dy);
    DeviceBuffer<float> y_d(n * out), dx_d(n * in), dw_d(in * out);
    auto work = scratch(cuda::normed_linear_workspace_bytes(n, in, out));
    std::vector<float> y[2], dx[2], dw[2];
    for (int run = 0; run < 2; ++run) {
      for (auto* buf : {&y_d, &dx_d, &dw_d}) poison(*buf);
      poison(work);
      cuda::normed_linear_forward(n, in, out, x_d.data(), w_d.data(), y_d.data(), work.data(), nullptr);
      poison(work);
      cuda::normed_linear_backward(n, in, out, x_d.data(), w_d.data(), dy_d.data(), dx_d.data(), dw_d.data(),
                                   work.data(), nullptr);
      sync();
      y[run] = to_host(y_d);
      dx[run] = to_host(dx_d);
      dw[run] = to_host(dw_d);
    }
    check_arrays(name + " forward", y[0].data(), ry.data(), n * out, 1e-5, 1e-6);
    check_arrays(name + " dx", dx[0].data(), rdx.data(), n * in, 1e-5, 1e-6);
    check_arrays(name + " dw", dw[0].data(), rdw.data(), in * out, 1e-5, 1e-6);
    check(same_bytes(y[0], y[1]) && same_bytes(dx[0], dx[1]) && same_bytes(dw[0], dw[1]),
          name + ": two runs give identical bytes");
    poison(dw_d);
    poison(work);
    cuda::normed_linear_backward(n, in, out, x_d.data(), w_d.data(), dy_d.data(), nullptr, dw_d.data(),
                                 work.data(), nullptr);
    sync();
    check(same_bytes(to_host(dw_d), dw[0]), name + ": dw without dx is the same");
  }
}

// --- loss ------------------------------------------------------------------------------------------------

EOS_TEST(cuda_loss_matches_ref_for_every_kind) {
  std::string why;
  if (!eos::cuda::device_available(&why)) {
    check(true, "cuda skipped: " + why);
    return;
  }
  Rand rnd(508);
  struct Case {
    const char* name;
    LossConfig cfg;
  };
  std::vector<Case> cases;
  {
    LossConfig c;
    cases.push_back({"cross entropy", c});
    c.kind = LossKind::kFocal;
    c.focal_gamma = 2.0;
    cases.push_back({"focal gamma 2", c});
    c.focal_gamma = 0.0;
    cases.push_back({"focal gamma 0", c});
    c.focal_gamma = 0.5;
    cases.push_back({"focal gamma 0.5", c});
    c = LossConfig{};
    c.kind = LossKind::kLdam;
    c.ldam_scale = 30.0;
    cases.push_back({"ldam", c});
    c = LossConfig{};
    c.kind = LossKind::kAsl;
    cases.push_back({"asl (0, 4, 0.1)", c});
    c.asl_gamma_pos = 1.0;
    c.asl_gamma_neg = 2.0;
    c.asl_eps = 0.05;
    cases.push_back({"asl (1, 2, 0.05)", c});
    c.asl_gamma_pos = 0.0;
    c.asl_gamma_neg = 0.0;
    c.asl_eps = 0.0;
    cases.push_back({"asl (0, 0, 0)", c});
  }
  const int64_t shapes[][2] = {{1, 3}, {37, 10}, {300, 10}, {64, 100}};
  for (const auto& sh : shapes) {
    const int64_t n = sh[0], k = sh[1];
    const auto logits = rnd.normals<float>(n * k, 2.0);
    std::vector<int32_t> labels(static_cast<size_t>(n));
    for (auto& l : labels) l = rnd.below(static_cast<int>(k));
    std::vector<int64_t> counts(static_cast<size_t>(k));
    std::vector<double> weights(static_cast<size_t>(k));
    for (int64_t j = 0; j < k; ++j) {
      counts[j] = 1 + rnd.below(500);
      weights[j] = rnd.uniform(0.2, 3.0);
    }
    const auto margins = ldam_margins(counts, 0.5);
    auto logits_d = to_device(logits);
    auto labels_d = to_device(labels);
    auto weights_d = to_device(weights), margins_d = to_device(margins);
    DeviceBuffer<float> dl_d(n * k);
    DeviceBuffer<double> loss_d(1);
    auto work = scratch(cuda::loss_workspace_bytes(n, k));
    for (Case c : cases) {
      for (bool weighted : {false, true}) {
        LossConfig cfg = c.cfg;
        if (cfg.kind == LossKind::kLdam) cfg.ldam_margins = margins;
        if (weighted) cfg.class_weights = weights;
        std::vector<float> rdl(n * k);
        const double rloss =
            loss_forward_backward<float>(cfg, n, k, logits.data(), labels.data(), rdl.data());
        cuda::DeviceLoss dcfg;
        dcfg.kind = cfg.kind;
        dcfg.class_weights = weighted ? weights_d.data() : nullptr;
        dcfg.ldam_margins = cfg.kind == LossKind::kLdam ? margins_d.data() : nullptr;
        dcfg.focal_gamma = cfg.focal_gamma;
        dcfg.ldam_scale = cfg.ldam_scale;
        dcfg.asl_gamma_pos = cfg.asl_gamma_pos;
        dcfg.asl_gamma_neg = cfg.asl_gamma_neg;
        dcfg.asl_eps = cfg.asl_eps;
        std::vector<float> dl[2];
        double loss[2] = {0, 0};
        for (int run = 0; run < 2; ++run) {
          poison(dl_d);
          poison(loss_d);
          poison(work);
          cuda::loss_forward_backward(dcfg, n, k, logits_d.data(), labels_d.data(), dl_d.data(),
                                      loss_d.data(), work.data(), nullptr);
          sync();
          dl[run] = to_host(dl_d);
          loss_d.download(&loss[run]);
        }
        const std::string name = std::string("cuda loss ") + c.name + (weighted ? " weighted" : "") + " n" +
                                 std::to_string(n) + " k" + std::to_string(k);
        check_near(loss[0], rloss, 1e-12 * std::max(1.0, std::fabs(rloss)), name + ": loss");
        check_arrays(name + ": dlogits", dl[0].data(), rdl.data(), n * k, 1e-6, 1e-9);
        check(same_bytes(dl[0], dl[1]) && std::memcmp(&loss[0], &loss[1], sizeof(double)) == 0,
              name + ": two runs give identical bytes");
        // the loss alone (no gradient buffer)
        poison(loss_d);
        cuda::loss_forward_backward(dcfg, n, k, logits_d.data(), labels_d.data(), nullptr, loss_d.data(),
                                    work.data(), nullptr);
        sync();
        double alone = 0;
        loss_d.download(&alone);
        check(std::memcmp(&alone, &loss[0], sizeof(double)) == 0,
              name + ": the loss without dlogits is the same");
      }
    }
  }
}

// The refusal happens on the host before any launch, so this one runs without a GPU too.
EOS_TEST(cuda_loss_refuses_ldam_without_margins) {
  cuda::DeviceLoss cfg;
  cfg.kind = LossKind::kLdam;
  bool threw = false;
  try {
    cuda::loss_forward_backward(cfg, 1, 3, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr);
  } catch (const std::invalid_argument& e) {
    threw = std::string(e.what()).find("ldam_margins") != std::string::npos;
  }
  check(threw, "cuda loss: ldam without margins is refused with an error naming ldam_margins");
}

// --- SGD -------------------------------------------------------------------------------------------------

// Bitwise: sgd.cu rounds after every multiply and add (__fmul_rn / __fadd_rn), as sgd.cc does on the CPU in
// the default portable build (baseline x86-64 has no FMA instruction to contract into; an EOS_NATIVE_ARCH
// build may let the compiler fuse sgd.cc's multiply-adds, and then this test would rightly report that the
// two no longer agree bit for bit).
EOS_TEST(cuda_sgd_matches_ref_bitwise) {
  std::string why;
  if (!eos::cuda::device_available(&why)) {
    check(true, "cuda skipped: " + why);
    return;
  }
  Rand rnd(509);
  struct Case {
    double momentum, wd;
    bool nesterov;
  };
  const Case cases[] = {
      {0.9, 5e-4, false}, {0.9, 5e-4, true}, {0.0, 0.0, false}, {0.9, 0.0, false}, {0.0, 1e-3, false}};
  const int64_t count = 10007;
  const double lrs[] = {0.1, 0.05, 0.0123};
  for (const Case& c : cases) {
    std::vector<float> p = rnd.normals<float>(count), m(static_cast<size_t>(count), 0.0f);
    auto p_d = to_device(p), m_d = to_device(m);
    DeviceBuffer<double> lr_d(1);
    DeviceBuffer<int32_t> skip_d(1);
    const std::string name = "cuda sgd momentum " + std::to_string(c.momentum) + " wd " +
                             std::to_string(c.wd) + (c.nesterov ? " nesterov" : "");
    bool ok = true;
    for (int step = 0; step < 3; ++step) {
      const auto g = rnd.normals<float>(count);
      auto g_d = to_device(g);
      SgdConfig cfg;
      cfg.lr = lrs[step];
      cfg.momentum = c.momentum;
      cfg.weight_decay = c.wd;
      cfg.nesterov = c.nesterov;
      sgd_step<float>(count, p.data(), g.data(), m.data(), cfg);
      lr_d.upload(&lrs[step]);  // the device op reads lr from here, not from cfg
      SgdConfig dcfg = cfg;
      dcfg.lr = 999.0;
      const int32_t zero = 0;
      skip_d.upload(&zero);
      cuda::sgd_step(count, p_d.data(), g_d.data(), m_d.data(), dcfg, lr_d.data(),
                     step == 1 ? skip_d.data() : nullptr, nullptr);
      sync();
      ok = ok && same_bytes(to_host(p_d), p) && same_bytes(to_host(m_d), m);
    }
    check(ok, name + ": three steps bitwise the ref's");
    // skip set: nothing changes
    const auto before_p = to_host(p_d), before_m = to_host(m_d);
    const int32_t one = 1;
    skip_d.upload(&one);
    auto g_d = to_device(rnd.normals<float>(count));
    SgdConfig cfg;
    cfg.momentum = c.momentum;
    cfg.weight_decay = c.wd;
    cfg.nesterov = c.nesterov;
    cuda::sgd_step(count, p_d.data(), g_d.data(), m_d.data(), cfg, lr_d.data(), skip_d.data(), nullptr);
    sync();
    check(same_bytes(to_host(p_d), before_p) && same_bytes(to_host(m_d), before_m),
          name + ": a set skip flag leaves params and momentum untouched");
  }
}

// --- CUDA graphs -----------------------------------------------------------------------------------------

// The engine captures whole steps: every op must run inside a stream capture (global mode refuses any
// synchronising or allocating call), on the given stream only, and the replayed graph must give the eager
// run's bytes. One small training step's worth of ops, chained (the chain exercises every op; it is not an
// exact backward pass of the forward it follows).
EOS_TEST(cuda_ops_run_inside_a_cuda_graph) {
  std::string why;
  if (!eos::cuda::device_available(&why)) {
    check(true, "cuda skipped: " + why);
    return;
  }
  Rand rnd(510);
  const int64_t n = 4, c = 16, side = 13, classes = 10;
  const ConvDims d = conv3x3_dims(n, c, side, side, c, 1);
  const ShortcutDims sd = option_a_dims(n, c, side, side, c, 1);
  const int64_t act = n * c * side * side, wsz = c * c * 9, s = side * side;
  const auto x = rnd.normals<float>(act), w0 = rnd.normals<float>(wsz, 0.1), gamma = rnd.normals<float>(c),
             beta = rnd.normals<float>(c), fc = rnd.normals<float>(classes * c, 0.1);
  std::vector<int32_t> labels(static_cast<size_t>(n));
  for (auto& l : labels) l = rnd.below(static_cast<int>(classes));
  const std::vector<float> ones(static_cast<size_t>(c), 1.0f), zeros(static_cast<size_t>(c), 0.0f);
  auto x_d = to_device(x), w_d = to_device(w0), g_d = to_device(gamma), b_d = to_device(beta),
       fc_d = to_device(fc);
  auto labels_d = to_device(labels);
  DeviceBuffer<float> conv_d(act), bn_d(act), mean_d(c), is_d(c), rm_d(c), rv_d(c), pool_d(n * c),
      logits_d(n * classes), dlogits_d(n * classes), dpool_d(n * c), dfc_d(classes * c), dact_d(act),
      dbn_d(act), dg_d(c), db_d(c), dx_d(act), dw_d(wsz), mom_d(wsz);
  DeviceBuffer<double> loss_d(1), lr_d(1);
  const double lr = 0.1;
  lr_d.upload(&lr);
  const MathMode mode = MathMode::kTf32;
  auto work =
      scratch(std::max({cuda::conv3x3_workspace_bytes(d, mode), cuda::batchnorm_workspace_bytes(n, c, s),
                        cuda::loss_workspace_bytes(n, classes)}));
  SgdConfig sgd;
  sgd.momentum = 0.9;
  sgd.weight_decay = 5e-4;
  cudaStream_t stream = nullptr;
  EOS_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));

  auto step = [&] {
    cuda::conv3x3_forward(d, x_d.data(), w_d.data(), conv_d.data(), mode, work.data(), stream);
    cuda::batchnorm_forward_train(n, c, s, conv_d.data(), g_d.data(), b_d.data(), bn_d.data(), mean_d.data(),
                                  is_d.data(), rm_d.data(), rv_d.data(), 0.1, 1e-5, true, work.data(),
                                  stream);
    cuda::shortcut_add_relu_forward(sd, x_d.data(), bn_d.data(), stream);
    cuda::global_avgpool_forward(n, c, s, bn_d.data(), pool_d.data(), stream);
    cuda::linear_forward(n, c, classes, pool_d.data(), fc_d.data(), nullptr, logits_d.data(), stream);
    cuda::DeviceLoss loss;
    cuda::loss_forward_backward(loss, n, classes, logits_d.data(), labels_d.data(), dlogits_d.data(),
                                loss_d.data(), work.data(), stream);
    cuda::linear_backward(n, c, classes, pool_d.data(), fc_d.data(), dlogits_d.data(), dpool_d.data(),
                          dfc_d.data(), nullptr, stream);
    cuda::global_avgpool_backward(n, c, s, dpool_d.data(), dact_d.data(), false, stream);
    cuda::relu_backward(act, bn_d.data(), dact_d.data(), dact_d.data(), stream);
    cuda::shortcut_add_backward(sd, dact_d.data(), dx_d.data(), false, stream);
    cuda::batchnorm_backward(n, c, s, conv_d.data(), dact_d.data(), nullptr, g_d.data(), mean_d.data(),
                             is_d.data(), dbn_d.data(), dg_d.data(), db_d.data(), work.data(), stream);
    cuda::conv3x3_backward_data(d, w_d.data(), dbn_d.data(), dx_d.data(), true, mode, work.data(), stream);
    cuda::conv3x3_backward_weights(d, x_d.data(), dbn_d.data(), dw_d.data(), mode, work.data(), stream);
    cuda::sgd_step(wsz, w_d.data(), dw_d.data(), mom_d.data(), sgd, lr_d.data(), nullptr, stream);
  };
  // The state a step changes (weights, momentum, running statistics) starts over before each run, every
  // output is poisoned, and the device waits for those copies (made on the legacy stream, which the
  // non-blocking `stream` does not wait for).
  auto reset = [&] {
    w_d.upload(w0.data());
    EOS_CUDA_CHECK(cudaMemset(mom_d.data(), 0, static_cast<size_t>(mom_d.bytes())));
    rm_d.upload(zeros.data());
    rv_d.upload(ones.data());
    for (auto* b : {&conv_d, &bn_d, &mean_d, &is_d, &pool_d, &logits_d, &dlogits_d, &dpool_d, &dfc_d, &dact_d,
                    &dbn_d, &dg_d, &db_d, &dx_d, &dw_d})
      poison(*b);
    poison(loss_d);
    poison(work);
    sync();
  };
  struct Results {
    std::vector<std::vector<float>> tensors;
    double loss = 0;
  };
  auto results = [&] {
    EOS_CUDA_CHECK(cudaStreamSynchronize(stream));
    Results r;
    r.tensors = {to_host(w_d),  to_host(mom_d), to_host(rm_d), to_host(rv_d),
                 to_host(dx_d), to_host(dfc_d), to_host(dg_d), to_host(db_d)};
    loss_d.download(&r.loss);
    return r;
  };

  reset();
  step();
  const auto eager = results();

  reset();
  EOS_CUDA_CHECK(cudaStreamSynchronize(stream));
  cudaGraph_t graph = nullptr;
  EOS_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
  try {
    step();
  } catch (...) {
    cudaStreamEndCapture(stream, &graph);  // leave the stream usable for the tests that follow
    if (graph) cudaGraphDestroy(graph);
    cudaStreamDestroy(stream);
    throw;
  }
  EOS_CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
  cudaGraphExec_t exec = nullptr;
  EOS_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  EOS_CUDA_CHECK(cudaGraphLaunch(exec, stream));
  const auto replay = results();
  bool finite = std::isfinite(replay.loss);
  for (const auto& v : replay.tensors) finite = finite && all_finite(v);
  check(finite, "cuda graph: a replayed step writes finite values everywhere");
  bool same = std::memcmp(&replay.loss, &eager.loss, sizeof(double)) == 0;
  for (size_t i = 0; same && i < replay.tensors.size(); ++i)
    same = same_bytes(replay.tensors[i], eager.tensors[i]);
  check(same, "cuda graph: a replayed step gives the eager step's bytes");
  EOS_CUDA_CHECK(cudaGraphExecDestroy(exec));
  EOS_CUDA_CHECK(cudaGraphDestroy(graph));
  EOS_CUDA_CHECK(cudaStreamDestroy(stream));
}

}  // namespace
}  // namespace eos::test
