// The machine a comparison ran on, as its reports state it.
import { arch, cpus, release, totalmem, type } from 'node:os';
import { native } from '../native.js';

export interface MachineInfo {
  os: string;
  cpu: string;
  cpus: number;
  memoryGiB: number;
  node: string;
  /** The native addon's default backend and oneDNN ISA, when the addon loads. */
  addon: string;
}

export function describeMachine(): MachineInfo {
  const cores = cpus();
  let addon: string;
  try {
    const info = native().info();
    addon =
      `${info.backend}${info.dnnlIsa ? ` (oneDNN ${info.dnnlVersion}, ${info.dnnlIsa})` : ''}, ` +
      `${info.defaultThreads} threads by default${info.cuda ? ', CUDA built' : ''}`;
  } catch (err) {
    addon = `not loadable: ${(err as Error).message.split('\n')[0]}`;
  }
  return {
    os: `${type()} ${release()} ${arch()}`,
    cpu: cores[0]?.model.trim() ?? 'unknown',
    cpus: cores.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    addon,
  };
}

/** The machine as one phrase (what tells its training speed apart: CPU, memory, the addon's backend and ISA). */
export const machineLabel = (m: MachineInfo) => `${m.cpus} x ${m.cpu}; ${m.memoryGiB} GiB; addon ${m.addon}`;
