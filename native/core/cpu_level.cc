#include "core/cpu_level.h"

#include <cctype>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace eos {

CpuLevel detected_cpu_level() {
#if defined(__x86_64__) || defined(__i386__)
  // libgcc's CPUID reader also checks XCR0, so a level is reported only when the OS saves its registers.
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  if (avx512 && __builtin_cpu_supports("avx512bf16")) return CpuLevel::kAvx512Bf16;
  if (avx512) return CpuLevel::kAvx512;
  if (avx2) return CpuLevel::kAvx2;
#endif
  return CpuLevel::kPortable;
}

namespace {

CpuLevel capped_level() {
  const CpuLevel detected = detected_cpu_level();
  const char* env = std::getenv("EOS_MAX_ISA");
  if (env == nullptr || env[0] == '\0') return detected;
  std::string cap(env);
  for (char& ch : cap) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  CpuLevel limit;
  if (!parse_cpu_level(cap, &limit)) {
    throw std::invalid_argument("EOS_MAX_ISA must be portable, avx2, avx512 or avx512_bf16, got '" +
                                std::string(env) + "'");
  }
  return limit < detected ? limit : detected;
}

}  // namespace

CpuLevel cpu_level() {
  // Read once, like ONEDNN_MAX_CPU_ISA: the level must not change under a running kernel. A throwing
  // first read is retried by the next call (a static whose initialisation throws stays uninitialised).
  static const CpuLevel level = capped_level();
  return level;
}

bool parse_cpu_level(const std::string& name, CpuLevel* level) {
  for (CpuLevel l : {CpuLevel::kPortable, CpuLevel::kAvx2, CpuLevel::kAvx512, CpuLevel::kAvx512Bf16}) {
    if (name == cpu_level_name(l)) {
      *level = l;
      return true;
    }
  }
  return false;
}

const char* cpu_level_name(CpuLevel level) {
  switch (level) {
    case CpuLevel::kAvx2:
      return "avx2";
    case CpuLevel::kAvx512:
      return "avx512";
    case CpuLevel::kAvx512Bf16:
      return "avx512_bf16";
    default:
      return "portable";
  }
}

}  // namespace eos
