// The progress of loading an image folder on the terminal: a live cli-progress bar per stage (reading the
// headers, decoding) on a TTY, else one line per finished stage, so logs stay readable. Nothing is shown when
// the cache serves the tensor (no progress is reported then).
import { SingleBar } from 'cli-progress';
import type { FolderProgress } from '../data/folder-types.js';

const STAGE_NAMES = { inspect: 'reading image headers', decode: 'decoding images' } as const;

export interface FolderProgressBar {
  onProgress: (p: FolderProgress) => void;
  /** Ends a bar still shown (after an error, say). */
  stop: () => void;
}

export function folderProgressBar(stream: NodeJS.WriteStream = process.stderr): FolderProgressBar {
  let bar: SingleBar | null = null;
  let stage: FolderProgress['stage'] | null = null;
  let started = performance.now();
  const stop = () => {
    bar?.stop();
    bar = null;
  };
  const onProgress = (p: FolderProgress) => {
    if (p.stage !== stage) {
      stop();
      stage = p.stage;
      started = performance.now();
      if (stream.isTTY) {
        bar = new SingleBar({
          format: `data | ${STAGE_NAMES[p.stage]} | {bar} | {value}/{total} | {ips} img/s | ETA {eta_formatted}`,
          hideCursor: true,
          clearOnComplete: true,
          stream,
        });
        bar.start(p.total, 0, { ips: '-' });
      }
    }
    const seconds = Math.max((performance.now() - started) / 1000, 1e-3);
    bar?.update(p.done, { ips: (p.done / seconds).toFixed(0) });
    if (p.done === p.total) {
      stop();
      stream.write(`data: ${STAGE_NAMES[p.stage]}: ${p.total} in ${seconds.toFixed(1)} s\n`);
    }
  };
  return { onProgress, stop };
}
