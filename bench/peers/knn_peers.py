#!/usr/bin/python3
"""Exact k-NN peers for bench/knn.ts (run by it, one case per process; prints one JSON object on stdout).

Usage: knn_peers.py faiss|sklearn DATA.f32 N D K REPEATS THREADS INDICES_OUT.i32 [QUERIES]

Self-search of the N x D float32 rows in DATA.f32 (each row is among its own K neighbours, as
faiss's search(x, K) and scikit-learn's kneighbors(x) return it):
- faiss: IndexFlatL2, faiss.omp_set_num_threads(THREADS);
- sklearn: NearestNeighbors(n_neighbors=K, algorithm='brute', n_jobs=THREADS).
Reports the best wall time of REPEATS searches (index construction included: both are trivial for a flat
index), the resident memory before the search and the peak after it (ru_maxrss), and writes the last
search's indices (int32, N x K) to INDICES_OUT.i32 for the neighbour-agreement check.
QUERIES (bench/knn-approx.ts, where a full search would take too long): only the first QUERIES rows are
searched, among all N (the indices file is then QUERIES x K).
"""
import json
import resource
import sys
import time

import numpy as np


def rss_bytes():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def main():
    peer, data_path, n, d, k, repeats, threads, out_path = sys.argv[1:9]
    queries = int(sys.argv[9]) if len(sys.argv) > 9 else int(n)
    n, d, k, repeats, threads = int(n), int(d), int(k), int(repeats), int(threads)
    x = np.fromfile(data_path, dtype=np.float32)
    if x.size != n * d:
        raise SystemExit(f'{data_path}: {x.size} floats, expected {n} x {d}')
    x = x.reshape(n, d)
    q = x[:queries]

    if peer == 'faiss':
        import faiss

        faiss.omp_set_num_threads(threads)
        version = faiss.__version__

        def search():
            index = faiss.IndexFlatL2(d)
            index.add(x)
            return index.search(q, k)[1]
    elif peer == 'sklearn':
        import sklearn
        from sklearn.neighbors import NearestNeighbors

        version = sklearn.__version__

        def search():
            model = NearestNeighbors(n_neighbors=k, algorithm='brute', n_jobs=threads).fit(x)
            return model.kneighbors(q, return_distance=False)
    else:
        raise SystemExit(f'unknown peer {peer!r}: expected faiss or sklearn')

    rss_before = rss_bytes()
    best = float('inf')
    indices = None
    for _ in range(repeats):
        start = time.perf_counter()
        indices = search()
        best = min(best, time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    np.ascontiguousarray(indices, dtype=np.int32).tofile(out_path)
    json.dump({'seconds': best, 'rssBefore': rss_before, 'peakRss': peak, 'version': version}, sys.stdout)


if __name__ == '__main__':
    main()
