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

const GIB = 1024 ** 3;

function backendLine(a: NativeInfo): string {
  if (a.backend === 'cuda') return `cuda (GPU 0: ${a.cudaInfo?.devices[0]?.name ?? 'unnamed'})`;
  if (a.backend === 'dnnl') return `dnnl (oneDNN ${a.dnnlVersion}, CPU ISA ${a.dnnlIsa})`;
  return 'ref (portable reference kernels; oneDNN not built in)';
}

/** One line each when CUDA is not built or no GPU is found; otherwise the build, every GPU, math, determinism. */
function cudaLines(a: NativeInfo): string[] {
  const c = a.cudaInfo;
  if (!a.cuda || !c)
    return ['cuda            not built (rebuild with npx cmake-js compile --CDEOS_CUDA=ON; nvcc needed)'];
  const lines = [
    `cuda            built for ${c.targets} (runtime ${c.runtimeVersion}, driver ${c.driverVersion})`,
    ...(c.devices.length === 0
      ? [`gpu             none: ${c.unavailable ?? 'no CUDA device found'}`]
      : c.devices.map(
          (d) =>
            `gpu ${String(d.index).padEnd(12)}${d.name}, ${(d.totalMemory / GIB).toFixed(1)} GiB (${(d.freeMemory / GIB).toFixed(1)} free), compute capability ${d.computeCapability}, ${d.multiprocessors} SMs`,
        )),
    `cuda math       ${c.math} (convolutions; EOS_CUDA_MATH=fp32|tf32|bf16)`,
    `cuda determinism ${c.deterministic}`,
  ];
  return lines;
}

export function formatInfo(r: InfoReport): string {
  const a = r.addon;
  const lines = [
    `${r.package.name} ${r.package.version}`,
    `node            ${r.node}`,
    `addon           ${a.path} (built by ${a.buildSystem}, ${a.compiler})`,
    `backend         ${backendLine(a)}`,
    `backends        ${a.backends.join(', ')}`,
    `own kernels     ${a.cpuIsa}${a.cpuIsa === a.cpuIsaDetected ? '' : ` (capped by EOS_MAX_ISA; the CPU has ${a.cpuIsaDetected})`}`,
    `threads         ${a.defaultThreads} (default; set with --threads or OMP_NUM_THREADS)`,
    ...cudaLines(a),
    `faiss           ${a.faiss ? `${a.faissVersion} (--knn ivf|hnsw)` : 'not built in (exact nearest neighbours only; apt-get install libfaiss-dev and npm run build:native)'}`,
    `default data    fashion-mnist at ${r.dataset.dir}: ${
      r.dataset.installed
        ? 'installed'
        : `MISSING (${r.dataset.missing.length} files; apt-get install dataset-fashion-mnist)`
    }`,
  ];
  return lines.join('\n');
}
