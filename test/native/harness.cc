#include "harness.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <utility>

namespace eos::test {

namespace {

struct Registry {
  std::vector<std::pair<const char*, TestFn>> tests;
  int checks = 0, failures = 0;
};
Registry& registry() {
  static Registry r;
  return r;
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

template <typename T>
bool check_arrays_impl(const std::string& what, const T* actual, const T* expected, int64_t count,
                       double rtol, double atol) {
  const Diff d = compare(actual, expected, count, rtol, atol);
  return check(d.within, what,
               "max|diff| " + fmt(d.max_abs) + ", max|ref| " + fmt(d.max_ref) + " (rtol " + fmt(rtol) +
                   ", atol " + fmt(atol) + ", " + std::to_string(count) + " values)");
}

}  // namespace

int register_test(const char* name, TestFn fn) {
  registry().tests.emplace_back(name, fn);
  return 0;
}

bool check(bool ok, const std::string& what, const std::string& detail) {
  Registry& r = registry();
  ++r.checks;
  if (!ok) ++r.failures;
  std::printf("%s %s%s%s\n", ok ? "ok  " : "FAIL", what.c_str(), detail.empty() ? "" : ": ", detail.c_str());
  std::fflush(stdout);
  return ok;
}

bool check_near(double actual, double expected, double tol, const std::string& what) {
  const bool ok = std::fabs(actual - expected) <= tol;  // false for NaN
  return check(ok, what, "got " + fmt(actual) + ", expected " + fmt(expected) + " (tol " + fmt(tol) + ")");
}

bool check_arrays(const std::string& what, const float* actual, const float* expected, int64_t count,
                  double rtol, double atol) {
  return check_arrays_impl(what, actual, expected, count, rtol, atol);
}
bool check_arrays(const std::string& what, const double* actual, const double* expected, int64_t count,
                  double rtol, double atol) {
  return check_arrays_impl(what, actual, expected, count, rtol, atol);
}

bool grad_check(const std::string& what, std::vector<double>& x, const std::vector<double>& analytic,
                const std::function<double()>& f, double h, double tol, int64_t probes) {
  const int64_t size = static_cast<int64_t>(x.size());
  const int64_t count = (probes <= 0 || probes >= size) ? size : probes;
  double max_err = 0, max_num = 0;
  int64_t worst = -1;
  for (int64_t p = 0; p < count; ++p) {
    const int64_t i = count == size ? p : (p * size) / count + (size / count) / 2;
    const double saved = x[i];
    x[i] = saved + h;
    const double up = f();
    x[i] = saved - h;
    const double down = f();
    x[i] = saved;
    const double numeric = (up - down) / (2 * h);
    const double err = std::fabs(numeric - analytic[i]);
    if (!(err <= max_err)) {
      max_err = err;
      worst = i;
    }
    max_num = std::max(max_num, std::fabs(numeric));
  }
  const double limit = tol * std::max(1.0, max_num);
  return check(max_err <= limit, "gradient " + what,
               "max|analytic - numeric| " + fmt(max_err) + " at " + std::to_string(worst) +
                   ", max|numeric| " + fmt(max_num) + ", limit " + fmt(limit) + " (" + std::to_string(count) +
                   " probes)");
}

}  // namespace eos::test

int main(int argc, char** argv) {
  using eos::test::registry;
  const std::string filter = argc > 1 ? argv[1] : "";
  int run = 0, crashed = 0;
  for (const auto& [name, fn] : registry().tests) {
    if (!filter.empty() && std::string(name).find(filter) == std::string::npos) continue;
    ++run;
    std::printf("== %s\n", name);
    try {
      fn();
    } catch (const std::exception& e) {
      ++crashed;
      eos::test::check(false, std::string(name) + " threw", e.what());
    }
  }
  const auto& r = registry();
  std::printf("%d tests, %d checks, %d failed\n", run, r.checks, r.failures);
  if (run == 0) {
    std::printf("no test matches '%s'\n", filter.c_str());
    return 1;
  }
  return r.failures == 0 ? 0 : 1;
}
