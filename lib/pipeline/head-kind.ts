// Which classifier head a run trains. LDAM's margins are defined on cosine logits, so a run whose phase 1
// trains with LDAM gets a cosine-normalised head, in phase 1 and again for every fresh phase-3 head.
import type { HeadKindName } from '../native.js';
import type { RunConfig } from './config.js';

export function headKindFor(config: RunConfig<string>): HeadKindName {
  return config.phase1.loss === 'ldam' ? 'cosine' : 'linear';
}
