"""Peer of eos_bench_train_step: one PyTorch training step of the same CIFAR ResNet (option-A shortcuts,
linear head, cross-entropy, SGD momentum 0.9 / weight decay 2e-4), images/s at a batch, input shape and
thread count, then eval images/s and peak resident memory. Prints one JSON line.

Usage: python3 torch_train_step.py [--channels 3] [--side 32] [--depth 32] [--batch 128] [--threads 2]
                                   [--steps 20] [--warmup 3] [--eval-steps 20]
Run with OPENBLAS_CORETYPE unset (DESIGN.md section 9).
"""

import argparse
import json
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.pad = 0 if (stride == 1 and cin == planes) else planes // 4

    def shortcut(self, x):
        if self.pad == 0:
            return x
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, depth, channels, classes=10):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(channels, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, cin = [], 16
        for s, planes in enumerate((16, 32, 64)):
            blocks = []
            for b in range(n):
                blocks.append(Block(cin, planes, 2 if (s > 0 and b == 0) else 1))
                cin = planes
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.linear = nn.Linear(64, classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.avg_pool2d(out, out.size(3))
        return self.linear(out.flatten(1))


def main():
    ap = argparse.ArgumentParser()
    for name, default in (("channels", 3), ("side", 32), ("depth", 32), ("batch", 128), ("threads", 2),
                          ("steps", 20), ("warmup", 3), ("eval-steps", 20)):
        ap.add_argument("--" + name, type=int, default=default)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = ResNet(a.depth, a.channels)
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
