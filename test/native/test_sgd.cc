// SGD: the flat-buffer update against torch.optim.SGD's algorithm, written out step by step.
#include <string>
#include <vector>

#include "harness.h"
#include "nn/sgd.h"

namespace eos::test {
namespace {

// torch.optim.SGD (dampening 0), single tensor, for `steps` steps with gradient grads[step].
std::vector<double> torch_sgd(std::vector<double> p, const std::vector<std::vector<double>>& grads, double lr,
                              double momentum, double wd, bool nesterov) {
  std::vector<double> buf;
  for (size_t step = 0; step < grads.size(); ++step) {
    std::vector<double> d(p.size());
    for (size_t i = 0; i < p.size(); ++i) d[i] = grads[step][i] + wd * p[i];
    if (momentum != 0) {
      if (buf.empty()) {
        buf = d;  // first step: buf = clone(d_p)
      } else {
        for (size_t i = 0; i < p.size(); ++i) buf[i] = momentum * buf[i] + d[i];
      }
      for (size_t i = 0; i < p.size(); ++i) d[i] = nesterov ? d[i] + momentum * buf[i] : buf[i];
    }
    for (size_t i = 0; i < p.size(); ++i) p[i] -= lr * d[i];
  }
  return p;
}

EOS_TEST(sgd_matches_torch_update_rule) {
  Rand rnd(30);
  const int64_t count = 37;
  const auto p0 = rnd.normals<double>(count);
  std::vector<std::vector<double>> grads;
  for (int s = 0; s < 4; ++s) grads.push_back(rnd.normals<double>(count));
  struct Case {
    double lr, momentum, wd;
    bool nesterov;
  };
  for (const Case& c : {Case{0.1, 0.9, 2e-4, false}, Case{0.05, 0.9, 5e-4, true}, Case{0.1, 0.0, 2e-4, false},
                        Case{0.2, 0.5, 0.0, false}}) {
    const auto expect = torch_sgd(p0, grads, c.lr, c.momentum, c.wd, c.nesterov);
    std::vector<double> p = p0, mom(count, 0.0);
    SgdConfig cfg{c.lr, c.momentum, c.wd, c.nesterov};
    for (const auto& g : grads) sgd_step(count, p.data(), g.data(), mom.data(), cfg);
    check_arrays("sgd lr " + std::to_string(c.lr) + " momentum " + std::to_string(c.momentum) + " wd " +
                     std::to_string(c.wd) + (c.nesterov ? " nesterov" : ""),
                 p.data(), expect.data(), count, 1e-14, 1e-14);
  }
}

}  // namespace
}  // namespace eos::test
