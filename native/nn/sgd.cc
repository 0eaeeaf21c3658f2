#include "nn/sgd.h"

namespace eos {

template <typename T>
void sgd_step(int64_t count, T* params, const T* grads, T* momentum, const SgdConfig& cfg) {
  const T lr = static_cast<T>(cfg.lr), mom = static_cast<T>(cfg.momentum),
          wd = static_cast<T>(cfg.weight_decay);
  const bool use_momentum = cfg.momentum != 0.0, nesterov = cfg.nesterov;
#pragma omp parallel for schedule(static) if (count >= (int64_t{1} << 15))
  for (int64_t i = 0; i < count; ++i) {
    T g = grads[i];
    if (wd != T(0)) g = g + wd * params[i];
    T step = g;
    if (use_momentum) {
      const T buf = mom * momentum[i] + g;
      momentum[i] = buf;
      step = nesterov ? g + mom * buf : buf;
    }
    params[i] = params[i] - lr * step;
  }
}

template void sgd_step<float>(int64_t, float*, const float*, float*, const SgdConfig&);
template void sgd_step<double>(int64_t, double*, const double*, double*, const SgdConfig&);

}  // namespace eos
