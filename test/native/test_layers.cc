// Reference layers: forward against direct formulas, backward against central finite differences
// (double precision), accumulate flags, and reproducibility across thread counts.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/threads.h"
#include "harness.h"
#include "nn/ref/avgpool.h"
#include "nn/ref/batchnorm2d.h"
#include "nn/ref/conv2d.h"
#include "nn/ref/gemm.h"
#include "nn/ref/linear.h"
#include "nn/ref/normed_linear.h"
#include "nn/ref/relu.h"
#include "nn/ref/shortcut.h"

namespace eos::test {
namespace {

using Vec = std::vector<double>;

double dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

std::string conv_name(const ConvDims& d) {
  return "conv2d n" + std::to_string(d.n) + " c" + std::to_string(d.c) + " " + std::to_string(d.h) + "x" +
         std::to_string(d.w) + " k" + std::to_string(d.k) + " s" + std::to_string(d.stride);
}

// Direct definition of the convolution, for the forward check.
Vec conv_direct(const ConvDims& d, const Vec& x, const Vec& w) {
  Vec y(static_cast<size_t>(d.n * d.k * d.p * d.q), 0.0);
  for (int64_t n = 0; n < d.n; ++n)
    for (int64_t k = 0; k < d.k; ++k)
      for (int64_t p = 0; p < d.p; ++p)
        for (int64_t q = 0; q < d.q; ++q) {
          double s = 0;
          for (int64_t c = 0; c < d.c; ++c)
            for (int64_t i = 0; i < 3; ++i)
              for (int64_t j = 0; j < 3; ++j) {
                const int64_t iy = p * d.stride + i - 1, ix = q * d.stride + j - 1;
                if (iy < 0 || iy >= d.h || ix < 0 || ix >= d.w) continue;
                s += w[((k * d.c + c) * 3 + i) * 3 + j] * x[((n * d.c + c) * d.h + iy) * d.w + ix];
              }
          y[((n * d.k + k) * d.p + p) * d.q + q] = s;
        }
  return y;
}

EOS_TEST(gemm_matches_naive_for_all_transposes) {
  Rand rnd(1);
  // Shapes crossing every blocking boundary (register tile 6 x 16, blocks 96 x 256 x 1024).
  const int64_t shapes[][3] = {{1, 1, 1}, {7, 17, 5}, {97, 33, 257}, {13, 1030, 40}, {6, 16, 256}};
  for (const auto& s : shapes) {
    const int64_t m = s[0], n = s[1], k = s[2];
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        Vec a = rnd.normals<double>(m * k), b = rnd.normals<double>(k * n), c0 = rnd.normals<double>(m * n);
        const int64_t lda = ta ? m : k, ldb = tb ? k : n;
        Vec expect(static_cast<size_t>(m * n));
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) {
            double acc = 0;
            for (int64_t p = 0; p < k; ++p)
              acc += (ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
            expect[i * n + j] = acc;
          }
        Vec c = c0;
        ref::gemm<double>(ta, tb, m, n, k, a.data(), lda, b.data(), ldb, false, c.data(), n);
        const std::string name = "gemm " + std::to_string(m) + "x" + std::to_string(n) + "x" +
                                 std::to_string(k) + (ta ? " A^T" : "") + (tb ? " B^T" : "");
        check_arrays(name, c.data(), expect.data(), m * n, 1e-12, 1e-12);
        c = c0;
        ref::gemm<double>(ta, tb, m, n, k, a.data(), lda, b.data(), ldb, true, c.data(), n);
        for (int64_t i = 0; i < m * n; ++i) expect[i] += c0[i];
        check_arrays(name + " accumulate", c.data(), expect.data(), m * n, 1e-12, 1e-12);
      }
  }
}

EOS_TEST(conv2d_forward_matches_direct_definition) {
  Rand rnd(2);
  const ConvDims shapes[] = {conv3x3_dims(2, 3, 7, 7, 4, 1),
                             conv3x3_dims(2, 4, 8, 8, 8, 2),
                             conv3x3_dims(1, 1, 9, 9, 16, 2),
                             conv3x3_dims(2, 3, 5, 6, 2, 1),
                             conv3x3_dims(3, 2, 6, 5, 3, 2),
                             conv3x3_dims(1, 32, 33, 33, 8, 1)};  // C*9 > 256 and P*Q > 1024: GEMM blocking
  for (const ConvDims& d : shapes) {
    const Vec x = rnd.normals<double>(d.n * d.c * d.h * d.w), w = rnd.normals<double>(d.k * d.c * 9);
    Vec y(static_cast<size_t>(d.n * d.k * d.p * d.q));
    Vec ws(static_cast<size_t>(ref::conv2d_workspace_size(d, omp_get_max_threads())));
    ref::conv2d_forward(d, x.data(), w.data(), y.data(), ws.data());
    const Vec expect = conv_direct(d, x, w);
    check_arrays(conv_name(d) + " forward", y.data(), expect.data(), static_cast<int64_t>(y.size()), 1e-12,
                 1e-12);
  }
}

EOS_TEST(conv2d_gradients_match_finite_differences) {
  Rand rnd(3);
  const ConvDims shapes[] = {conv3x3_dims(2, 3, 6, 6, 4, 1), conv3x3_dims(2, 4, 7, 7, 6, 2),
                             conv3x3_dims(2, 1, 8, 8, 4, 1), conv3x3_dims(3, 2, 5, 6, 3, 2)};
  for (const ConvDims& d : shapes) {
    Vec x = rnd.normals<double>(d.n * d.c * d.h * d.w), w = rnd.normals<double>(d.k * d.c * 9);
    const Vec r = rnd.normals<double>(d.n * d.k * d.p * d.q);  // L = sum(r * y), so dL/dy = r
    Vec y(r.size()), dx(x.size()), dw(w.size());
    Vec ws(static_cast<size_t>(ref::conv2d_workspace_size(d, omp_get_max_threads())));
    auto loss = [&] {
      ref::conv2d_forward(d, x.data(), w.data(), y.data(), ws.data());
      return dot(r, y);
    };
    ref::conv2d_backward_data(d, w.data(), r.data(), dx.data(), false, ws.data());
    ref::conv2d_backward_weights(d, x.data(), r.data(), dw.data(), ws.data());
    grad_check(conv_name(d) + " dx", x, dx, loss);
    grad_check(conv_name(d) + " dw", w, dw, loss);
    // accumulate = true adds onto what is there.
    Vec acc(x.size(), 1.5);
    ref::conv2d_backward_data(d, w.data(), r.data(), acc.data(), true, ws.data());
    for (double& v : acc) v -= 1.5;
    check_arrays(conv_name(d) + " dx accumulate", acc.data(), dx.data(), static_cast<int64_t>(dx.size()),
                 1e-12, 1e-12);
  }
}

EOS_TEST(conv2d_float_is_reproducible_per_thread_count) {
  Rand rnd(4);
  const ConvDims d = conv3x3_dims(7, 16, 12, 12, 16, 1);
  const auto x = rnd.normals<float>(d.n * d.c * d.h * d.w), w = rnd.normals<float>(d.k * d.c * 9, 0.1),
             dy = rnd.normals<float>(d.n * d.k * d.p * d.q);
  const int saved = omp_get_max_threads();
  std::vector<float> ws(static_cast<size_t>(ref::conv2d_workspace_size(d, std::max(saved, 3))));
  auto run = [&](int threads, std::vector<float>& y, std::vector<float>& dx, std::vector<float>& dw) {
    use_threads(threads);
    y.resize(dy.size());
    dx.resize(x.size());
    dw.resize(w.size());
    ref::conv2d_forward(d, x.data(), w.data(), y.data(), ws.data());
    ref::conv2d_backward_data(d, w.data(), dy.data(), dx.data(), false, ws.data());
    ref::conv2d_backward_weights(d, x.data(), dy.data(), dw.data(), ws.data());
  };
  std::vector<float> y1, dx1, dw1, y2, dx2, dw2, y3, dx3, dw3;
  run(2, y1, dx1, dw1);
  run(2, y2, dx2, dw2);
  run(3, y3, dx3, dw3);
  use_threads(saved);
  check(y1 == y2 && dx1 == dx2 && dw1 == dw2, "conv2d float: two runs with 2 threads give identical bytes");
  check(y1 == y3 && dx1 == dx3, "conv2d float: forward and data gradient do not depend on the thread count");
  check_arrays("conv2d float dw with 3 threads vs 2", dw3.data(), dw1.data(),
               static_cast<int64_t>(dw1.size()), 1e-5, 1e-5);
}

EOS_TEST(batchnorm2d_forward_train_statistics) {
  Rand rnd(5);
  const int64_t n = 3, c = 4, s = 10, m = n * s;
  const Vec x = rnd.normals<double>(n * c * s, 2.0), gamma = rnd.normals<double>(c),
            beta = rnd.normals<double>(c);
  Vec y(x.size()), mean(c), invstd(c), rm(c), rv(c);
  for (int64_t ch = 0; ch < c; ++ch) {
    rm[ch] = 0.5 * ch;
    rv[ch] = 1.0 + ch;
  }
  const Vec rm0 = rm, rv0 = rv;
  ref::batchnorm2d_forward_train(n, c, s, x.data(), gamma.data(), beta.data(), y.data(), mean.data(),
                                 invstd.data(), rm.data(), rv.data(), 0.1, 1e-5);
  Vec ey(x.size()), erm(c), erv(c), emean(c), einv(c);
  for (int64_t ch = 0; ch < c; ++ch) {
    double mu = 0, var = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < s; ++j) mu += x[(i * c + ch) * s + j] / m;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < s; ++j) var += std::pow(x[(i * c + ch) * s + j] - mu, 2) / m;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < s; ++j) {
        const int64_t e = (i * c + ch) * s + j;
        ey[e] = (x[e] - mu) / std::sqrt(var + 1e-5) * gamma[ch] + beta[ch];
      }
    emean[ch] = mu;
    einv[ch] = 1 / std::sqrt(var + 1e-5);
    erm[ch] = 0.9 * rm0[ch] + 0.1 * mu;
    erv[ch] = 0.9 * rv0[ch] + 0.1 * var * m / (m - 1);  // unbiased running variance
  }
  check_arrays("batchnorm2d train forward", y.data(), ey.data(), n * c * s, 1e-12, 1e-12);
  check_arrays("batchnorm2d saved mean", mean.data(), emean.data(), c, 1e-12, 1e-12);
  check_arrays("batchnorm2d saved invstd", invstd.data(), einv.data(), c, 1e-12, 1e-12);
  check_arrays("batchnorm2d running_mean (momentum 0.1)", rm.data(), erm.data(), c, 1e-12, 1e-12);
  check_arrays("batchnorm2d running_var (momentum 0.1, unbiased)", rv.data(), erv.data(), c, 1e-12, 1e-12);

  Vec ye(x.size()), eye(x.size());
  ref::batchnorm2d_forward_eval(n, c, s, x.data(), gamma.data(), beta.data(), rm.data(), rv.data(), 1e-5,
                                ye.data());
  for (int64_t e = 0; e < n * c * s; ++e) {
    const int64_t ch = (e / s) % c;
    eye[e] = (x[e] - rm[ch]) / std::sqrt(rv[ch] + 1e-5) * gamma[ch] + beta[ch];
  }
  check_arrays("batchnorm2d eval forward uses running statistics", ye.data(), eye.data(), n * c * s, 1e-12,
               1e-12);
}

EOS_TEST(batchnorm2d_gradients_match_finite_differences) {
  Rand rnd(6);
  const int64_t n = 3, c = 4, s = 6;
  Vec x = rnd.normals<double>(n * c * s, 1.5), gamma = rnd.normals<double>(c), beta = rnd.normals<double>(c);
  for (double& v : x) v += 0.7;  // non-zero mean
  const Vec r = rnd.normals<double>(n * c * s);
  Vec y(x.size()), mean(c), invstd(c), rm(c, 0.0), rv(c, 1.0);
  auto loss = [&] {
    ref::batchnorm2d_forward_train(n, c, s, x.data(), gamma.data(), beta.data(), y.data(), mean.data(),
                                   invstd.data(), rm.data(), rv.data(), 0.1, 1e-5);
    return dot(r, y);
  };
  loss();
  Vec dx(x.size()), dgamma(c), dbeta(c);
  ref::batchnorm2d_backward(n, c, s, x.data(), r.data(), gamma.data(), mean.data(), invstd.data(), dx.data(),
                            dgamma.data(), dbeta.data());
  grad_check("batchnorm2d dx", x, dx, loss);
  grad_check("batchnorm2d dgamma", gamma, dgamma, loss);
  grad_check("batchnorm2d dbeta", beta, dbeta, loss);
  // In place (dx == dy), as the network runs it.
  Vec inplace = r;
  ref::batchnorm2d_backward(n, c, s, x.data(), inplace.data(), gamma.data(), mean.data(), invstd.data(),
                            inplace.data(), dgamma.data(), dbeta.data());
  check_arrays("batchnorm2d backward in place", inplace.data(), dx.data(), n * c * s, 1e-14, 1e-14);
}

EOS_TEST(relu_forward_and_gradient) {
  Rand rnd(7);
  const int64_t count = 50;
  Vec x = rnd.normals<double>(count);
  for (double& v : x) v += (v >= 0 ? 0.1 : -0.1);  // keep finite differences away from the kink
  const Vec r = rnd.normals<double>(count);
  Vec y(count), dx(count);
  auto loss = [&] {
    ref::relu_forward(count, x.data(), y.data());
    return dot(r, y);
  };
  loss();
  bool forward_ok = true;
  for (int64_t i = 0; i < count; ++i) forward_ok &= y[i] == std::max(x[i], 0.0);
  check(forward_ok, "relu forward = max(x, 0)");
  ref::relu_backward(count, y.data(), r.data(), dx.data());
  grad_check("relu dx", x, dx, loss);
  Vec zero = {0.0, -0.0}, zy(2), zd(2), one = {1.0, 1.0};
  ref::relu_forward<double>(2, zero.data(), zy.data());
  ref::relu_backward<double>(2, zy.data(), one.data(), zd.data());
  check(zd[0] == 0.0 && zd[1] == 0.0, "relu gradient at 0 is 0 (as PyTorch)");
}

EOS_TEST(shortcut_option_a_forward_and_gradient) {
  Rand rnd(8);
  struct Case {
    int64_t n, c_in, h, w, c_out, stride;
  };
  const Case cases[] = {{2, 4, 5, 5, 4, 1}, {2, 4, 6, 6, 8, 2}, {2, 8, 7, 7, 16, 2}, {1, 16, 5, 4, 32, 2}};
  for (const Case& k : cases) {
    const ShortcutDims d = option_a_dims(k.n, k.c_in, k.h, k.w, k.c_out, k.stride);
    const std::string name = "shortcut " + std::to_string(k.c_in) + "x" + std::to_string(k.h) + "x" +
                             std::to_string(k.w) + " -> " + std::to_string(k.c_out) + "x" +
                             std::to_string(d.p) + "x" + std::to_string(d.q);
    Vec x = rnd.normals<double>(k.n * k.c_in * k.h * k.w);
    const Vec branch = rnd.normals<double>(k.n * k.c_out * d.p * d.q), r = rnd.normals<double>(branch.size());
    // Expected: F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, Co/4, Co/4)) + branch (identity + branch for stride 1).
    Vec expect = branch;
    const int64_t pad = k.stride == 1 ? 0 : k.c_out / 4;
    for (int64_t n = 0; n < k.n; ++n)
      for (int64_t co = 0; co < k.c_out; ++co)
        for (int64_t p = 0; p < d.p; ++p)
          for (int64_t q = 0; q < d.q; ++q) {
            const int64_t ci = co - pad;
            if (ci < 0 || ci >= k.c_in) continue;
            expect[((n * k.c_out + co) * d.p + p) * d.q + q] +=
                x[((n * k.c_in + ci) * k.h + p * k.stride) * k.w + q * k.stride];
          }
    Vec y = branch;
    ref::shortcut_add_forward(d, x.data(), y.data());
    check_arrays(name + " forward", y.data(), expect.data(), static_cast<int64_t>(y.size()), 1e-15, 1e-15);
    auto loss = [&] {
      Vec out = branch;
      ref::shortcut_add_forward(d, x.data(), out.data());
      return dot(r, out);
    };
    Vec dx(x.size(), 99.0);
    ref::shortcut_add_backward(d, r.data(), dx.data(), false);
    grad_check(name + " dx", x, dx, loss);
    Vec acc(x.size(), 2.0);
    ref::shortcut_add_backward(d, r.data(), acc.data(), true);
    for (double& v : acc) v -= 2.0;
    check_arrays(name + " dx accumulate", acc.data(), dx.data(), static_cast<int64_t>(dx.size()), 1e-14,
                 1e-14);
  }
}

EOS_TEST(global_avgpool_forward_and_gradient) {
  Rand rnd(9);
  const int64_t n = 3, c = 5, s = 16;
  Vec x = rnd.normals<double>(n * c * s);
  const Vec r = rnd.normals<double>(n * c);
  Vec y(n * c), dx(x.size());
  auto loss = [&] {
    ref::global_avgpool_forward(n, c, s, x.data(), y.data());
    return dot(r, y);
  };
  loss();
  double expect = 0;
  for (int64_t j = 0; j < s; ++j) expect += x[(2 * c + 3) * s + j] / s;
  check_near(y[2 * c + 3], expect, 1e-14, "global_avgpool forward = mean over pixels");
  ref::global_avgpool_backward(n, c, s, r.data(), dx.data(), false);
  grad_check("global_avgpool dx", x, dx, loss);
}

EOS_TEST(linear_forward_and_gradients) {
  Rand rnd(10);
  const int64_t n = 5, in = 7, out = 3;
  Vec x = rnd.normals<double>(n * in), w = rnd.normals<double>(out * in), b = rnd.normals<double>(out);
  const Vec r = rnd.normals<double>(n * out);
  Vec y(n * out), dx(x.size()), dw(w.size()), db(out);
  auto loss = [&] {
    ref::linear_forward(n, in, out, x.data(), w.data(), b.data(), y.data());
    return dot(r, y);
  };
  loss();
  double expect = b[2];
  for (int64_t i = 0; i < in; ++i) expect += x[4 * in + i] * w[2 * in + i];
  check_near(y[4 * out + 2], expect, 1e-13, "linear forward = x w^T + b");
  ref::linear_backward(n, in, out, x.data(), w.data(), r.data(), dx.data(), dw.data(), db.data());
  grad_check("linear dx", x, dx, loss);
  grad_check("linear dw", w, dw, loss);
  grad_check("linear db", b, db, loss);
}

EOS_TEST(normed_linear_forward_and_gradients) {
  Rand rnd(11);
  const int64_t n = 4, in = 6, out = 3;
  Vec x = rnd.normals<double>(n * in), w = rnd.normals<double>(in * out, 0.3);
  const Vec r = rnd.normals<double>(n * out);
  Vec y(n * out), dx(x.size()), dw(w.size());
  Vec ws(static_cast<size_t>(ref::normed_linear_workspace_size(n, in, out)));
  auto loss = [&] {
    ref::normed_linear_forward(n, in, out, x.data(), w.data(), y.data(), ws.data());
    return dot(r, y);
  };
  loss();
  // Cosine similarity of row 2 of x and column 1 of w.
  double xy = 0, xx = 0, ww = 0;
  for (int64_t i = 0; i < in; ++i) {
    xy += x[2 * in + i] * w[i * out + 1];
    xx += x[2 * in + i] * x[2 * in + i];
    ww += w[i * out + 1] * w[i * out + 1];
  }
  check_near(y[2 * out + 1], xy / std::sqrt(xx * ww), 1e-13, "normed_linear forward = cosine(x_n, w[:, o])");
  ref::normed_linear_backward(n, in, out, x.data(), w.data(), r.data(), dx.data(), dw.data(), ws.data());
  grad_check("normed_linear dx", x, dx, loss);
  grad_check("normed_linear dw", w, dw, loss);
  // Scale invariance: the output does not change when a row of x is scaled.
  loss();
  const Vec y0 = y;
  for (int64_t i = 0; i < in; ++i) x[i] *= 3.0;
  loss();
  check_arrays("normed_linear output invariant to the scale of x", y.data(), y0.data(), n * out, 1e-13,
               1e-13);
}

}  // namespace
}  // namespace eos::test
