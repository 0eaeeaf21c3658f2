"""Peer of eos_bench_train_step: one PyTorch training step of the same CIFAR ResNet (option-A shortcuts,
linear head, cross-entropy, SGD momentum 0.9 / weight decay 2e-4), images/s at a batch, input shape and
thread count, then eval images/s and peak resident memory. Prints one JSON line.

Usage: python3 torch_train_step.py [--channels 3] [--side 32] [--depth 32] [--batch 128] [--threads 2]
                                   [--steps 20] [--warmup 3] [--eval-steps 20]
Run with OPENBLAS_CORETYPE unset: a machine-wide OPENBLAS_CORETYPE=Haswell halves OpenBLAS's GEMM speed
(bench/train.ts unsets it for this peer).
"""

import argparse
import json
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

# The same reference network as the PyTorch test fixtures.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "fixtures"))
from reference_resnet import ResNetCifar  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    for name, default in (("channels", 3), ("side", 32), ("depth", 32), ("batch", 128), ("threads", 2),
                          ("steps", 20), ("warmup", 3), ("eval-steps", 20)):
        ap.add_argument("--" + name, type=int, default=default)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = ResNetCifar(a.depth, a.channels, 10)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=2e-4)
    x = torch.randn(a.batch, a.channels, a.side, a.side)
    y = torch.arange(a.batch) % 10

    def step():
        opt.zero_grad(set_to_none=False)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    model.train()
    for _ in range(a.warmup):
        step()
    c0 = time.process_time()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    train_s = time.perf_counter() - t0
    train_cpu_s = time.process_time() - c0
    model.eval()
    with torch.no_grad():
        model(x)
        t1 = time.perf_counter()
        for _ in range(a.eval_steps):
            model(x)
        eval_s = time.perf_counter() - t1
    print(json.dumps({
        "train_ips": round(a.steps * a.batch / train_s, 1),
        "train_cpu_ips": round(a.steps * a.batch / train_cpu_s, 1),
        "eval_ips": round(a.eval_steps * a.batch / eval_s, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
