// The one file that loads the native addon and gives it types.
//
// The binary is looked for, in order, at $EOS_NATIVE_PATH, the cmake-js build (the fast, oneDNN-backed one)
// and the node-gyp build (portable reference backend). If none loads, the error lists every path tried, why
// each failed, and the command that builds the addon.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What the binary was built with and where it runs (see `eos info`). */
export interface NativeInfo {
  backend: 'dnnl' | 'ref';
  backends: string[];
  dnnlVersion: string | null;
  dnnlIsa: string | null;
  cuda: boolean;
  buildSystem: 'cmake-js' | 'node-gyp' | string;
  defaultThreads: number;
  compiler: string;
}

export interface AugmentOptions {
  /** Per-channel mean and std of pixel/255, as torchvision's Normalize. */
  mean: ArrayLike<number>;
  std: ArrayLike<number>;
  /** Zero padding of the random crop (default 4; 0 disables the crop). */
  pad?: number;
  /** Random horizontal flip (default true). */
  flip?: boolean;
  seed?: number;
  epoch?: number;
  threads?: number;
}

export interface NativeAddon {
  info(): NativeInfo;
  /** Random crop + flip + normalise the images at `indices` (NCHW uint8, shape [N, C, H, W]) into `out`. */
  augmentBatch(
    images: Uint8Array,
    shape: [number, number, number, number],
    indices: Int32Array,
    out: Float32Array,
    options: AugmentOptions,
  ): void;
  /** Normalise only (evaluation): same arguments as augmentBatch; pad/flip/seed/epoch are ignored. */
  normalizeBatch(
    images: Uint8Array,
    shape: [number, number, number, number],
    indices: Int32Array,
    out: Float32Array,
    options: AugmentOptions,
  ): void;
}

/** Root of the package (this file is compiled to dist/lib/native.js). */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const BUILD_COMMAND = 'npm run build:native   (portable fallback without CMake: npm run build:gyp)';

/** The places the binary is looked for, in order. */
export function candidatePaths(env: NodeJS.ProcessEnv = process.env): string[] {
  const paths: string[] = [];
  if (env.EOS_NATIVE_PATH) paths.push(resolve(env.EOS_NATIVE_PATH));
  paths.push(resolve(packageRoot, 'build/cmake/Release/eos_native.node'));
  paths.push(resolve(packageRoot, 'build/Release/eos_native.node'));
  return paths;
}

export class NativeLoadError extends Error {
  constructor(readonly attempts: { path: string; reason: string }[]) {
    super(
      'eos-imbalance: could not load the native addon. Tried:\n' +
        attempts.map((a) => `  - ${a.path}: ${a.reason}`).join('\n') +
        `\nBuild it with: ${BUILD_COMMAND}`,
    );
    this.name = 'NativeLoadError';
  }
}

const requireNative = createRequire(import.meta.url);

/** Loads the first candidate that works; throws NativeLoadError listing every failure. */
export function loadNative(paths: string[] = candidatePaths()): { addon: NativeAddon; path: string } {
  const attempts: { path: string; reason: string }[] = [];
  for (const path of paths) {
    if (!existsSync(path)) {
      attempts.push({ path, reason: 'file not found' });
      continue;
    }
    try {
      return { addon: requireNative(path) as NativeAddon, path };
    } catch (err) {
      attempts.push({ path, reason: (err as Error).message.split('\n')[0] ?? String(err) });
    }
  }
  throw new NativeLoadError(attempts);
}

let loaded: { addon: NativeAddon; path: string } | undefined;

/** The addon, loaded on first use. */
export function native(): NativeAddon {
  loaded ??= loadNative();
  return loaded.addon;
}

/** Path of the loaded binary (loads it if needed). */
export function nativePath(): string {
  native();
  return loaded!.path;
}
