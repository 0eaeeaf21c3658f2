// Which of our own SIMD kernels may run on this CPU: detected once from CPUID, capped by EOS_MAX_ISA.
//
// Why a cap: the binary is portable (no -march=native) and chooses its kernels at run time, so one machine
// can test every lower level by capping it, as ONEDNN_MAX_CPU_ISA does for oneDNN's JIT. The two caps are
// separate variables because they govern separate code; the test matrix sets both.
//   EOS_MAX_ISA = portable | avx2 | avx512 | avx512_bf16 (unset or empty: no cap; case-insensitive)
// Levels: avx2 means AVX2 + FMA; avx512 means AVX-512 F/BW/DQ/VL (Skylake-SP and later, Zen 4);
// avx512_bf16 adds AVX512-BF16 (Cooper Lake, Zen 4).
#pragma once

#include <string>

namespace eos {

enum class CpuLevel { kPortable = 0, kAvx2 = 1, kAvx512 = 2, kAvx512Bf16 = 3 };

// What the CPU (and the OS, which must save the wider registers) supports, ignoring EOS_MAX_ISA.
CpuLevel detected_cpu_level();

// detected_cpu_level() lowered to EOS_MAX_ISA, read at the first call. Throws std::invalid_argument naming
// EOS_MAX_ISA when the variable holds anything else than the names above (the addon checks at load).
CpuLevel cpu_level();

const char* cpu_level_name(CpuLevel level);

// The level named `name` (one of cpu_level_name's names, exact); false for any other text. The one parser of
// level names: EOS_MAX_ISA and the binding's options use it.
bool parse_cpu_level(const std::string& name, CpuLevel* level);

}  // namespace eos
