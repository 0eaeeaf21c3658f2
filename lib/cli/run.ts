// `eos run`: the three-phase pipeline. Until every phase exists, it runs what exists and says what is missing.
import { collectInfo, formatInfo } from './info.js';

export interface RunOptions {
  threads?: number;
}

export async function runPipeline(_opts: RunOptions): Promise<number> {
  const report = collectInfo();
  console.log(formatInfo(report));
  if (!report.dataset.installed) {
    console.error('eos run: the default data set is not installed: apt-get install dataset-fashion-mnist');
    return 1;
  }
  console.log(
    [
      '',
      'eos run: the pipeline is not complete yet. Present: the native addon, the augmentation kernel.',
      'Not there yet: phase 1 training (issue 3), phase 2 samplers (issue 4), phase 3 and evaluation (issue 5).',
    ].join('\n'),
  );
  return 0;
}
