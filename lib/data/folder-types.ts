// Types of the image-folder reader (folder-*.ts), in their own module so that the scan, the decoder, the cache
// and the loader that strings them together need not import each other for a type.
import type { TrainTest } from './types.js';

/** How the folder is laid out: DIR/train/<class>/ + DIR/test/<class>/, or one DIR/<class>/ tree split here. */
export type FolderLayout = 'split' | 'single';

/** One image file the scan found. */
export interface FolderFile {
  /** Path relative to the data folder, '/'-separated (train/cat/001.png, or cat/001.png in a single tree). */
  path: string;
  /** The part the layout puts it in; a single tree's files are all 'train' until the test split. */
  part: 'train' | 'test';
  /** Index of its class in the sorted class names. */
  label: number;
  size: number;
  mtimeMs: number;
}

/** A file that is not a usable image: where it is and what is wrong, as one line. */
export interface BadImage {
  /** Path relative to the data folder. */
  file: string;
  /** What is wrong, one line. */
  problem: string;
  /** "<full path>: <problem>". */
  message: string;
}

export interface FolderProgress {
  /** 'inspect': reading the headers (size, channels); 'decode': decoding the pixels. */
  stage: 'inspect' | 'decode';
  done: number;
  total: number;
}

export interface FolderOptions {
  /** Resize the shorter side to this and centre-crop to a square. Default: the images' own size, when all agree. */
  imageSize?: number;
  /** 1 (grey) or 3 (RGB). Default: 1 when every image is grey, else 3 (WebP files are RGB on disk, even grey ones). */
  channels?: 1 | 3;
  /** Single tree only: share of each class held out as the test set. Default FOLDER.testFraction (0.2). */
  testFraction?: number;
  /** Single tree only: seed of the test split. Default 0. */
  splitSeed?: number;
  /** Leave out unreadable or broken image files (reported in `skipped`) instead of failing. */
  skipBadImages?: boolean;
  /** Images read and decoded at once. Default: one per logical core. */
  threads?: number;
  /**
   * Where the decoded tensor is cached: default <dir>/.eos-cache, or, when <dir> cannot be written,
   * $XDG_CACHE_HOME/eos-imbalance/image-folders/<hash of the folder's path> (~/.cache when unset); false: no cache.
   */
  cacheDir?: string | false;
  onProgress?: (progress: FolderProgress) => void;
  /** Stops the header and decoding passes at the next file; the load rejects with an AbortError. */
  signal?: AbortSignal;
}

export interface FolderCacheInfo {
  /** The folder the cache lives in; null when caching is off or no folder could be written. */
  dir: string | null;
  /** The tensor came from the cache (nothing decoded). */
  hit: boolean;
  /** Why nothing was cached, when nothing was. */
  note?: string;
}

export interface FolderTrainTest extends TrainTest {
  /** Files left out by skipBadImages (all of them, in scan order: train part first, class by class); empty otherwise. */
  skipped: BadImage[];
  folder: {
    layout: FolderLayout;
    /** Images decoded by this call (0 when the cache served them). */
    decoded: number;
    cache: FolderCacheInfo;
    /** Files in class folders that are not .png/.jpg/.jpeg/.webp (hidden files aside), relative paths. */
    ignored: string[];
  };
}
