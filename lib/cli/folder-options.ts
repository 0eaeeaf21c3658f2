// The image-folder flags (--dataset folder) shared by `eos run`/`eos train` and `eos embed`/`eos evaluate`:
// their definitions, and what the given ones mean as options of the folder reader.
import { InvalidArgumentError, Option } from 'commander';
import type { FolderOptions } from '../data/folder-types.js';
import { FOLDER } from '../defaults.js';
import { fraction, int } from './option-parsers.js';

export interface FolderFlags {
  imageSize?: number;
  channels?: '1' | '3';
  testFraction?: number;
  skipBadImages?: boolean;
}

/** A test fraction in (0, 1): a test set of no images cannot score anything. */
function testFraction(flag: string) {
  const inUnitInterval = fraction(flag);
  return (v: string): number => {
    const n = inUnitInterval(v);
    if (n === 0) throw new InvalidArgumentError(`${flag} must be a number in (0, 1), got '${v}'.`);
    return n;
  };
}

/** A new Option for one folder flag (commander wants a fresh Option per command). */
export function folderOption(name: keyof FolderFlags): Option {
  switch (name) {
    case 'imageSize':
      return new Option(
        '--image-size <s>',
        "folder: resize the shorter side to S and centre-crop to S x S (default: the images' own size)",
      ).argParser(int('--image-size', 8, FOLDER.maxImageSize));
    case 'channels':
      return new Option(
        '--channels <n>',
        'folder: 1 (grey) or 3 (RGB) (default: 1 when every image is grey, else 3)',
      ).choices(['1', '3']);
    case 'testFraction':
      return new Option(
        '--test-fraction <f>',
        `folder, single <class>/ tree: share of each class held out as the test set (default ${FOLDER.testFraction}; seed: --split-seed)`,
      ).argParser(testFraction('--test-fraction'));
    case 'skipBadImages':
      return new Option(
        '--skip-bad-images',
        'folder: leave out unreadable or broken image files (and list them) instead of failing',
      );
  }
}

/** The folder flags that were given, as reader options; undefined when none was. */
export function folderConfig(f: FolderFlags): FolderFlagOptions | undefined {
  const folder: FolderFlagOptions = {};
  if (f.imageSize !== undefined) folder.imageSize = f.imageSize;
  if (f.channels !== undefined) folder.channels = f.channels === '1' ? 1 : 3;
  if (f.testFraction !== undefined) folder.testFraction = f.testFraction;
  if (f.skipBadImages !== undefined) folder.skipBadImages = f.skipBadImages;
  return Object.keys(folder).length > 0 ? folder : undefined;
}

export type FolderFlagOptions = Pick<
  FolderOptions,
  'imageSize' | 'channels' | 'testFraction' | 'skipBadImages'
>;
