// The in-memory image data set every part of the pipeline passes around. Its own module so that the readers
// that build one and the loader dispatch that picks a reader (dataset.ts) need not import each other.
//
// Images stay uint8 NCHW: 60k Fashion-MNIST images are 47 MB instead of 188 MB as float32, and normalisation
// happens inside the native augmentation kernel anyway.

export interface Dataset {
  /** N x C x H x W pixels, row-major. */
  images: Uint8Array;
  /** N labels in [0, classes). */
  labels: Int32Array;
  shape: [number, number, number, number];
  classes: number;
  classNames?: string[];
}

export interface TrainTest {
  train: Dataset;
  test: Dataset;
  /** Image folders with skipBadImages: the files left out (folder-types.ts). */
  skipped?: import('./folder-types.js').BadImage[];
}
