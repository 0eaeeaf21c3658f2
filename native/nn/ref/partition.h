// Static work partition for deterministic OpenMP reductions.
//
// Why not `omp for schedule(static)`: the standard leaves the chunk-to-thread assignment to the runtime. A
// reduction whose per-thread partial sums are combined in thread order is reproducible only if every run
// gives thread t the same items, so reductions split their range with this explicit formula instead.
#pragma once

#include <cstdint>

namespace eos::ref {

struct Range {
  int64_t begin, end;
};

// Below this many elementary operations a kernel runs on the calling thread only: waking a team costs
// microseconds, and far more when the cores are shared and a team member has to be rescheduled. Whether a
// kernel goes parallel depends only on its shape, so results stay reproducible for a given thread count.
constexpr int64_t kParallelMinWork = int64_t{1} << 15;

// Items [begin, end) of `count` for part `part` of `parts` (contiguous, sizes differ by at most one).
inline Range partition(int64_t count, int part, int parts) {
  return Range{count * part / parts, count * (part + 1) / parts};
}

}  // namespace eos::ref
