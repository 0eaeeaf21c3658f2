// Run-time choice of the k-NN kernels: the highest level the CPU allows (capped by the caller) that this
// build compiled.
#include "knn/kernel_set.h"

namespace eos::knn_detail {

const KernelSet& kernel_set(CpuLevel level) {
  const KernelSet* set = nullptr;
  if (level >= CpuLevel::kAvx512Bf16) set = avx512_bf16_kernel_set();
  if (set == nullptr && level >= CpuLevel::kAvx512) set = avx512_kernel_set();
  if (set == nullptr && level >= CpuLevel::kAvx2) set = avx2_kernel_set();
  return set != nullptr ? *set : *portable_kernel_set();
}

}  // namespace eos::knn_detail
