#!/usr/bin/python3
"""The machine's fp32 GEMM rate, the FLOP limit the training benchmark reports its fraction of.

Usage: sgemm_rate.py THREADS  (prints one JSON object: {"gflops": best GFLOP/s, "config": numpy's BLAS})
numpy's OpenBLAS multiplies two 2048 x 2048 float32 matrices, best of 8 repeats. OPENBLAS_CORETYPE chooses
OpenBLAS's kernel (Haswell = AVX2, SkylakeX = AVX-512): the caller sets it to the ISA level under test, so
the limit is the limit of that level on this CPU.
"""
import json
import os
import sys
import time

threads = sys.argv[1] if len(sys.argv) > 1 else "2"
os.environ["OPENBLAS_NUM_THREADS"] = threads
import numpy as np  # noqa: E402  (after the thread count is set)

n = 2048
a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
a @ b
best = float("inf")
for _ in range(8):
    t = time.perf_counter()
    a @ b
    best = min(best, time.perf_counter() - t)
# The limit is OpenBLAS's: with libblas.so.3 pointing at the reference BLAS (a fresh Debian machine without
# libopenblas0-pthread) the rate is 50x lower and every fraction of it meaningless, so refuse.
with open("/proc/self/maps") as maps:
    if "openblas" not in maps.read():
        sys.exit("sgemm_rate.py: numpy is not running OpenBLAS (libblas.so.3 is another BLAS): "
                 "apt-get install libopenblas0-pthread (node scripts/setup.mjs --peers pytorch does)")
print(json.dumps({"gflops": 2 * n**3 / best / 1e9, "coretype": os.environ.get("OPENBLAS_CORETYPE", "auto")}))
