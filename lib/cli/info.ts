// `eos info`: versions, backend, threads, CUDA, and whether the default data set is installed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FASHION_MNIST_DIR, missingFashionMnistFiles } from '../data/fashion-mnist-files.js';
import { type NativeInfo, native, nativePath, packageRoot } from '../native.js';

export interface InfoReport {
  package: { name: string; version: string };
  node: string;
  addon: NativeInfo & { path: string };
  dataset: { name: 'fashion-mnist'; dir: string; installed: boolean; missing: string[] };
}

export function packageVersion(): { name: string; version: string } {
  const pkg = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as {
    name: string;
    version: string;
  };
  return { name: pkg.name, version: pkg.version };
}

export function collectInfo(): InfoReport {
  const missing = missingFashionMnistFiles();
  return {
    package: packageVersion(),
    node: process.version,
    addon: { ...native().info(), path: nativePath() },
    dataset: { name: 'fashion-mnist', dir: FASHION_MNIST_DIR, installed: missing.length === 0, missing },
  };
}

export function formatInfo(r: InfoReport): string {
  const a = r.addon;
  const lines = [
    `${r.package.name} ${r.package.version}`,
    `node            ${r.node}`,
    `addon           ${a.path} (built by ${a.buildSystem}, ${a.compiler})`,
    `backend         ${a.backend}${a.backend === 'dnnl' ? ` (oneDNN ${a.dnnlVersion}, CPU ISA ${a.dnnlIsa})` : ' (portable reference kernels; oneDNN not built in)'}`,
    `backends        ${a.backends.join(', ')}`,
    `own kernels     ${a.cpuIsa}${a.cpuIsa === a.cpuIsaDetected ? '' : ` (capped by EOS_MAX_ISA; the CPU has ${a.cpuIsaDetected})`}`,
    `threads         ${a.defaultThreads} (default; set with --threads or OMP_NUM_THREADS)`,
    `cuda            ${a.cuda ? 'built' : 'not built'}`,
    `faiss           ${a.faiss ? `${a.faissVersion} (--knn ivf|hnsw)` : 'not built in (exact nearest neighbours only; apt-get install libfaiss-dev and npm run build:native)'}`,
    `default data    fashion-mnist at ${r.dataset.dir}: ${
      r.dataset.installed
        ? 'installed'
        : `MISSING (${r.dataset.missing.length} files; apt-get install dataset-fashion-mnist)`
    }`,
  ];
  return lines.join('\n');
}
