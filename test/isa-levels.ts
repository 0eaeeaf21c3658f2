// The ISA levels this machine can run, and the environment that caps a child process to one of them.
//
// Why caps: the binary is portable and picks kernels at run time (our own by EOS_MAX_ISA, oneDNN's JIT by
// ONEDNN_MAX_CPU_ISA), so one machine tests every level up to its own; an AVX-512 machine thereby also
// tests what an AVX2-only user runs. Both variables are read once per process, hence child processes.
import { CPU_ISA_LEVELS, type CpuIsaLevel, native, ONEDNN_ISA_CAP } from '../lib/native.js';

/** Every level up to the CPU's own, highest first. */
export function machineIsaLevels(): CpuIsaLevel[] {
  const top = CPU_ISA_LEVELS.indexOf(native().info().cpuIsaDetected);
  return CPU_ISA_LEVELS.slice(0, top + 1).reverse();
}

/** The environment of a child process capped to `level`, for our kernels and oneDNN's alike. */
export function isaEnv(level: CpuIsaLevel, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...base, EOS_MAX_ISA: level, ONEDNN_MAX_CPU_ISA: ONEDNN_ISA_CAP[level] };
}
