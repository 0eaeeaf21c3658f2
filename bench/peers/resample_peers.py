#!/usr/bin/python3
"""imbalanced-learn peers for bench/resample.ts (run by it; prints one JSON object on stdout).

Usage: resample_peers.py EMBEDDINGS.f32 LABELS.i32 DIM REPEATS PIXEL_DIM PIXEL_SEED

- SMOTE and ADASYN (imbalanced-learn defaults, random_state 0) on the embeddings the TypeScript side wrote;
- SMOTE on raw pixels: the same class sizes, PIXEL_DIM values per row (3,072 = 32 x 32 x 3), clustered
  random images generated here (numpy, PIXEL_SEED) so 150 MB need not cross a pipe.
Each case reports the best wall time of REPEATS runs of fit_resample (pixels: one run), in seconds.
"""
import json
import os
import sys
import time

import imblearn
import numpy as np
import sklearn
from imblearn.over_sampling import ADASYN, SMOTE


def best_time(make, x, y, repeats):
    best = float('inf')
    rows = 0
    for _ in range(repeats):
        sampler = make()
        start = time.perf_counter()
        x_res, _ = sampler.fit_resample(x, y)
        best = min(best, time.perf_counter() - start)
        rows = x_res.shape[0]
    return best, rows


def clustered_pixels(labels, dim, seed):
    """Per class a random 'mean image' in [0, 255], rows = mean + N(0, 40), clipped; float32 like a
    pipeline that feeds flattened CIFAR images to a resampler."""
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    centres = rng.uniform(0, 255, size=(len(classes), dim)).astype(np.float32)
    x = np.empty((len(labels), dim), dtype=np.float32)
    for index, label in enumerate(classes):
        rows = np.flatnonzero(labels == label)
        noise = rng.normal(0, 40, size=(len(rows), dim)).astype(np.float32)
        x[rows] = np.clip(centres[index] + noise, 0, 255)
    return x


def main():
    x_path, y_path, dim, repeats, pixel_dim, pixel_seed = sys.argv[1:7]
    dim, repeats, pixel_dim, pixel_seed = int(dim), int(repeats), int(pixel_dim), int(pixel_seed)
    y = np.fromfile(y_path, dtype='<i4')
    x = np.fromfile(x_path, dtype='<f4').reshape(len(y), dim)
    results = {}
    seconds, rows = best_time(lambda: SMOTE(random_state=0), x, y, repeats)
    results['smote_embeddings'] = {'seconds': seconds, 'rows': rows}
    seconds, rows = best_time(lambda: ADASYN(random_state=0), x, y, repeats)
    results['adasyn_embeddings'] = {'seconds': seconds, 'rows': rows}
    pixels = clustered_pixels(y, pixel_dim, pixel_seed)
    seconds, rows = best_time(lambda: SMOTE(random_state=0), pixels, y, 1)
    results['smote_pixels'] = {'seconds': seconds, 'rows': rows, 'dim': pixel_dim}
    results['versions'] = {
        'imblearn': imblearn.__version__,
        'sklearn': sklearn.__version__,
        'numpy': np.__version__,
        'OPENBLAS_CORETYPE': os.environ.get('OPENBLAS_CORETYPE'),
    }
    print(json.dumps(results))


if __name__ == '__main__':
    main()
