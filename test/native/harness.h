// A minimal test runner for the native engine: no framework, one executable (eos_native_tests).
//
// Tests register themselves with EOS_TEST(name) { ... } and report checks with check(); every check prints
// one line ("ok" or "FAIL"), and the process exits non-zero when any check failed or a test threw.
// `eos_native_tests [substring]` runs only the tests whose name contains the substring.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/rng.h"

namespace eos::test {

using TestFn = void (*)();
int register_test(const char* name, TestFn fn);

#define EOS_TEST(name)                                                                           \
  static void name();                                                                            \
  [[maybe_unused]] static const int name##_registered = ::eos::test::register_test(#name, name); \
  static void name()

// Records and prints one check; returns `ok`.
bool check(bool ok, const std::string& what, const std::string& detail = "");

// |actual - expected| <= tol.
bool check_near(double actual, double expected, double tol, const std::string& what);

// Largest |a - b| over two arrays, and whether every element is within atol + rtol * |b|.
struct Diff {
  double max_abs = 0, max_ref = 0;
  bool within = true;
};
template <typename A, typename B>
Diff compare(const A* a, const B* b, int64_t count, double rtol, double atol) {
  Diff d;
  for (int64_t i = 0; i < count; ++i) {
    const double x = static_cast<double>(a[i]), y = static_cast<double>(b[i]);
    const double e = x - y < 0 ? y - x : x - y;
    if (!(e <= atol + rtol * (y < 0 ? -y : y))) d.within = false;  // NaN fails too
    if (e > d.max_abs || e != e) d.max_abs = e;
    const double r = y < 0 ? -y : y;
    if (r > d.max_ref) d.max_ref = r;
  }
  return d;
}
bool check_arrays(const std::string& what, const float* actual, const float* expected, int64_t count,
                  double rtol, double atol);
bool check_arrays(const std::string& what, const double* actual, const double* expected, int64_t count,
                  double rtol, double atol);

// Deterministic test data (Philox, identical on every machine).
class Rand {
 public:
  explicit Rand(uint64_t seed) : rng_(seed, 0x74657374ull) {}
  double normal() {
    const Philox4x32 b = rng_.block(next_++);
    return standard_normal(b.v[0], b.v[1]);
  }
  double uniform(double lo, double hi) {
    const Philox4x32 b = rng_.block(next_++);
    return lo + (hi - lo) * (static_cast<double>(b.v[0]) / 4294967296.0);
  }
  int below(int n) { return static_cast<int>(uniform(0, n)); }
  template <typename T>
  std::vector<T> normals(int64_t count, double scale = 1.0) {
    std::vector<T> v(static_cast<size_t>(count));
    for (T& e : v) e = static_cast<T>(scale * normal());
    return v;
  }

 private:
  CounterRng rng_;
  uint64_t next_ = 0;
};

// Central-difference gradient check of a scalar function f of the array x (double precision).
// `analytic` holds df/dx; the check probes `probes` evenly spread elements (all when probes <= 0 or >= size),
// each as (f(x + h e_i) - f(x - h e_i)) / 2h with x restored afterwards, and passes when
// max |analytic - numeric| <= tol * max(1, max |numeric|).
bool grad_check(const std::string& what, std::vector<double>& x, const std::vector<double>& analytic,
                const std::function<double()>& f, double h = 1e-6, double tol = 1e-6, int64_t probes = 0);

}  // namespace eos::test
