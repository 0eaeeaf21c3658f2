// The ISA levels this machine can run, and the environment that caps a child process to one of them.
//
// Why caps: the binary is portable and picks kernels at run time (our own by EOS_MAX_ISA, oneDNN's JIT by
// ONEDNN_MAX_CPU_ISA), so one machine tests every level up to its own; an AVX-512 machine thereby also
// tests what an AVX2-only user runs. Both variables are read once per process, hence child processes.
import { CPU_ISA_LEVELS, type CpuIsaLevel, native } from '../lib/native.js';

// oneDNN's cap for each of our levels: the widest oneDNN ISA within it (SSE4.1 is oneDNN's floor).
const ONEDNN_CAP: Record<CpuIsaLevel, string> = {
  portable: 'SSE41',
  avx2: 'AVX2',
  avx512: 'AVX512_CORE',
  avx512_bf16: 'AVX512_CORE_BF16',
};

/** Every level up to the CPU's own, highest first. */
export function machineIsaLevels(): CpuIsaLevel[] {
  const top = CPU_ISA_LEVELS.indexOf(native().info().cpuIsaDetected);
  return CPU_ISA_LEVELS.slice(0, top + 1).reverse();
}

/** The environment of a child process capped to `level`, for our kernels and oneDNN's alike. */
export function isaEnv(level: CpuIsaLevel, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...base, EOS_MAX_ISA: level, ONEDNN_MAX_CPU_ISA: ONEDNN_CAP[level] };
}
