#include "nn/ref/ref_backend.h"

#include <omp.h>

#include <cstring>
#include <new>
#include <vector>

#include "nn/ref/avgpool.h"
#include "nn/ref/batchnorm2d.h"
#include "nn/ref/conv2d.h"
#include "nn/ref/linear.h"
#include "nn/ref/normed_linear.h"
#include "nn/ref/relu.h"
#include "nn/ref/shortcut.h"

namespace eos {

namespace {

template <typename T>
class RefBackend final : public Backend<T> {
 public:
  const char* name() const override { return "ref"; }

  T* allocate(int64_t count) override {
    if (count <= 0) return nullptr;
    // 64-byte alignment for the vector loads of the kernels.
    const size_t bytes = static_cast<size_t>(count) * sizeof(T);
    void* p = ::operator new (bytes, std::align_val_t{64});  // throws std::bad_alloc
    std::memset(p, 0, bytes);
    return static_cast<T*>(p);
  }
  void release(T* p) override {
    if (p) ::operator delete (p, std::align_val_t{64});
  }
  void upload(T* dst, const T* host, int64_t count) override {
    if (count > 0 && dst != host) std::memcpy(dst, host, static_cast<size_t>(count) * sizeof(T));
  }
  void download(T* host, const T* src, int64_t count) override {
    if (count > 0 && host != src) std::memcpy(host, src, static_cast<size_t>(count) * sizeof(T));
  }

  void conv3x3_forward(const ConvDims& d, const T* x, const T* w, T* y) override {
    ref::conv2d_forward(d, x, w, y, conv_workspace(d));
  }
  void conv3x3_backward_data(const ConvDims& d, const T* w, const T* dy, T* dx, bool accumulate) override {
    ref::conv2d_backward_data(d, w, dy, dx, accumulate, conv_workspace(d));
  }
  void conv3x3_backward_weights(const ConvDims& d, const T* x, const T* dy, T* dw) override {
    ref::conv2d_backward_weights(d, x, dy, dw, conv_workspace(d));
  }

  void batchnorm_forward_train(int64_t n, int64_t c, int64_t s, const T* x, const T* gamma, const T* beta,
                               T* y, T* mean, T* invstd, T* running_mean, T* running_var, double momentum,
                               double eps) override {
    ref::batchnorm2d_forward_train(n, c, s, x, gamma, beta, y, mean, invstd, running_mean, running_var,
                                   momentum, eps);
  }
  void batchnorm_forward_eval(int64_t n, int64_t c, int64_t s, const T* x, const T* gamma, const T* beta,
                              const T* running_mean, const T* running_var, double eps, T* y) override {
    ref::batchnorm2d_forward_eval(n, c, s, x, gamma, beta, running_mean, running_var, eps, y);
  }
  void batchnorm_backward(int64_t n, int64_t c, int64_t s, const T* x, const T* dy, const T* gamma,
                          const T* mean, const T* invstd, T* dx, T* dgamma, T* dbeta) override {
    ref::batchnorm2d_backward(n, c, s, x, dy, gamma, mean, invstd, dx, dgamma, dbeta);
  }

  void relu_forward(int64_t count, const T* x, T* y) override { ref::relu_forward(count, x, y); }
  void relu_backward(int64_t count, const T* y, const T* dy, T* dx) override {
    ref::relu_backward(count, y, dy, dx);
  }

  void shortcut_add_forward(const ShortcutDims& d, const T* x, T* y) override {
    ref::shortcut_add_forward(d, x, y);
  }
  void shortcut_add_backward(const ShortcutDims& d, const T* dy, T* dx, bool accumulate) override {
    ref::shortcut_add_backward(d, dy, dx, accumulate);
  }

  void global_avgpool_forward(int64_t n, int64_t c, int64_t s, const T* x, T* y) override {
    ref::global_avgpool_forward(n, c, s, x, y);
  }
  void global_avgpool_backward(int64_t n, int64_t c, int64_t s, const T* dy, T* dx,
                               bool accumulate) override {
    ref::global_avgpool_backward(n, c, s, dy, dx, accumulate);
  }

  void linear_forward(int64_t n, int64_t in, int64_t out, const T* x, const T* w, const T* b, T* y) override {
    ref::linear_forward(n, in, out, x, w, b, y);
  }
  void linear_backward(int64_t n, int64_t in, int64_t out, const T* x, const T* w, const T* dy, T* dx, T* dw,
                       T* db) override {
    ref::linear_backward(n, in, out, x, w, dy, dx, dw, db);
  }
  void normed_linear_forward(int64_t n, int64_t in, int64_t out, const T* x, const T* w, T* y) override {
    ref::normed_linear_forward(n, in, out, x, w, y, workspace(ref::normed_linear_workspace_size(n, in, out)));
  }
  void normed_linear_backward(int64_t n, int64_t in, int64_t out, const T* x, const T* w, const T* dy, T* dx,
                              T* dw) override {
    ref::normed_linear_backward(n, in, out, x, w, dy, dx, dw,
                                workspace(ref::normed_linear_workspace_size(n, in, out)));
  }

  void sgd_step(int64_t count, T* params, const T* grads, T* momentum, const SgdConfig& cfg) override {
    eos::sgd_step(count, params, grads, momentum, cfg);
  }

 private:
  T* conv_workspace(const ConvDims& d) {
    return workspace(ref::conv2d_workspace_size(d, omp_get_max_threads()));
  }

  // One scratch buffer, grown to the largest request and then reused.
  T* workspace(int64_t count) {
    if (static_cast<int64_t>(workspace_.size()) < count) workspace_.resize(static_cast<size_t>(count));
    return workspace_.data();
  }

  std::vector<T> workspace_;
};

}  // namespace

template <typename T>
std::unique_ptr<Backend<T>> make_ref_backend() {
  return std::make_unique<RefBackend<T>>();
}

template std::unique_ptr<Backend<float>> make_ref_backend<float>();
template std::unique_ptr<Backend<double>> make_ref_backend<double>();

}  // namespace eos
