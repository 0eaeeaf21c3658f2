// Scheduling of the self-search's block pairs across threads.
//
// Legend: B blocks of rows; pair (I, J) with I <= J compares block I with block J.
// No two running pairs may share a block (each block's candidate lists have one writer at a time), yet
// there are no barriers between rounds: a barrier stalls every thread whenever one is descheduled, which
// on a shared machine is often. Pairs are numbered in round-robin tournament order (the B diagonal pairs,
// then rounds of disjoint pairs by the circle method) and a thread takes the first pending pair whose two
// blocks are idle. Which thread computes which pair when does not change the answer (see topk.h).
#pragma once

#include <cstdint>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace eos::knn_detail {

class BlockPairQueue {
 public:
  explicit BlockPairQueue(int64_t blocks) : blocks_(blocks), slots_(blocks + (blocks & 1)), busy_(blocks, 0) {
    taken_.assign(blocks + (slots_ - 1) * (slots_ / 2), 0);
  }

  // The next pair to compute as (I, J) with I <= J; false once every pair has been handed out.
  bool acquire(int64_t* I, int64_t* J) {
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        const int64_t total = static_cast<int64_t>(taken_.size());
        while (first_ < total && taken_[first_]) ++first_;
        if (first_ == total) return false;
        for (int64_t t = first_; t < total; ++t) {
          if (taken_[t]) continue;
          int64_t a, b;
          if (!pair_at(t, &a, &b)) {  // a bye: nothing to compute
            taken_[t] = 1;
            continue;
          }
          if (busy_[a] || busy_[b]) continue;
          taken_[t] = busy_[a] = busy_[b] = 1;
          *I = a;
          *J = b;
          return true;
        }
      }
      std::this_thread::yield();  // every pending pair touches a running one
    }
  }

  void release(int64_t I, int64_t J) {
    std::lock_guard<std::mutex> lock(mu_);
    busy_[I] = busy_[J] = 0;
  }

 private:
  // Pair number t; false for a bye (the block left out of a round when B is odd).
  bool pair_at(int64_t t, int64_t* I, int64_t* J) const {
    if (t < blocks_) {
      *I = *J = t;
      return true;
    }
    const int64_t round = (t - blocks_) / (slots_ / 2), m = (t - blocks_) % (slots_ / 2);
    int64_t a = m == 0 ? round : (round + m) % (slots_ - 1);
    int64_t b = m == 0 ? slots_ - 1 : (round - m + slots_ - 1) % (slots_ - 1);
    if (a > b) std::swap(a, b);
    *I = a;
    *J = b;
    return b < blocks_;
  }

  int64_t blocks_, slots_;  // slots: B rounded up to even, as the circle method needs
  std::mutex mu_;
  std::vector<uint8_t> taken_, busy_;
  int64_t first_ = 0;  // every pair before it is taken
};

}  // namespace eos::knn_detail
