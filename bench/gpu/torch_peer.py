"""PyTorch peer of eos_bench_gpu (bench/gpu/run.sh): the same CIFAR ResNet (test/fixtures/reference_resnet.py),
the same synthetic data (bit for bit: the formulas of gpu_bench.cc, written again here) and the same recipe
(crop with zero padding 4 + flip augmentation on the device, cross-entropy, SGD lr 0.01 / momentum 0.9 /
weight decay 2e-4), timed in one of three forms; and self-kNN by torch.cdist + topk in chunks. Prints one JSON
line per measurement, flushed at once, so a part killed by run.sh's timeout keeps what it finished.

Forms: eager (fp32: TF32 off for convolutions and matmuls), bf16 (channels_last + bf16 autocast), graph
(channels_last + bf16 autocast, the whole step - augmentation, forward, loss, backward, SGD - captured once as a
CUDA graph and replayed, as PyTorch's CUDA-graph notes show: warm-up on a side stream, static inputs).

Usage: python3 torch_peer.py --part train|embed|knn[,...] [--form eager|bf16|graph] [--batches 128,512]
           [--rep-images 12800] [--warmup 10] [--reps 3] [--images 12406] [--embed-batch 1024]
           [--embed-rows 16384] [--n 1000000] [--d 64] [--k 11] [--chunk 4096] [--ours-knn FILE]
       python3 torch_peer.py --data [--images N] [--n N] [--d D]   (data checksums, as eos_bench_gpu --part data)
       python3 torch_peer.py --smoke   (the CPU at tiny sizes: eager training, embeddings and kNN, the kNN
                                        checked against float64; bf16 and graph need a GPU and are skipped)
"""

import argparse
import inspect
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

# The same reference network as the PyTorch test fixtures.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "fixtures"))
from reference_resnet import ResNetCifar  # noqa: E402

# The keys and constants of gpu_bench.cc's synthetic data.
IMAGE_KEY, CLUSTER_KEY = 0x696D616765730000, 0x636C757374657200
CENTER_KEY, NOISE_KEY = 0x63656E7465720000, 0x6E6F697365000000
CLUSTERS = 100
MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)  # CIFAR-10's, as gpu_bench.cc


def splitmix64(x):
    """x: uint64 array. numpy's uint64 arithmetic wraps mod 2^64, as C++'s does."""
    z = x + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def keys(base, count):
    return np.uint64(base) + np.arange(count, dtype=np.uint64)


def synthetic_images(n, c, s):
    """[n, c, s, s] uint8: element e is byte (e % 8) of splitmix64(IMAGE_KEY + e / 8)."""
    count = n * c * s * s
    words = splitmix64(keys(IMAGE_KEY, (count + 7) // 8))
    return words.view(np.uint8)[:count].reshape(n, c, s, s)  # little-endian: byte j is bits 8j..8j+7


def synthetic_embeddings(n, d):
    """[n, d] float32 in 100 clusters: centre 2u - 1 (u 24-bit uniform) plus (u0 + u1 + u2 + u3 - 2) / 8,
    the u_j the four 16-bit fields of one draw per coordinate. Every step is exact in float64."""
    u = (splitmix64(keys(CENTER_KEY, CLUSTERS * d)) >> np.uint64(40)).astype(np.float64) * 2.0**-24
    centers = (2.0 * u - 1.0).reshape(CLUSTERS, d)
    cluster = (splitmix64(keys(CLUSTER_KEY, n)) >> np.uint64(32)) % np.uint64(CLUSTERS)
    out = np.empty((n, d), dtype=np.float32)
    rows = 1 << 16  # chunks keep the uint64 temporaries small
    for r0 in range(0, n, rows):
        r1 = min(n, r0 + rows)
        h = splitmix64(keys(NOISE_KEY + r0 * d, (r1 - r0) * d)).reshape(r1 - r0, d)
        total = np.zeros((r1 - r0, d), dtype=np.float64)
        for j in range(4):
            total += ((h >> np.uint64(16 * j)) & np.uint64(0xFFFF)).astype(np.float64) * 2.0**-16
        out[r0:r1] = centers[cluster[r0:r1].astype(np.int64)] + (total - 2.0) * 0.125
    return out


def checksum(values):
    """gpu_bench.cc's checksum: sum_e value_e * (e + 1) mod 2^64, floats taken times 2^24 (exact integers)."""
    flat = values.reshape(-1)
    if flat.dtype == np.float32:
        ints = (flat.astype(np.float64) * 2.0**24).astype(np.int64).view(np.uint64)
    else:
        ints = flat.astype(np.uint64)
    step = 1 << 22
    partial = [(ints[e0:e0 + step] * np.arange(e0 + 1, min(flat.size, e0 + step) + 1, dtype=np.uint64))
               .sum(dtype=np.uint64) for e0 in range(0, flat.size, step)]
    return int(np.array(partial, dtype=np.uint64).sum(dtype=np.uint64))  # array sums wrap without a warning


def emit(record):
    print(json.dumps(dict({"impl": "torch", "torch": torch.__version__}, **record)), flush=True)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def median(values):
    return float(np.median(np.asarray(values)))


def set_fp32_math():
    """IEEE fp32 convolutions and matmuls (PyTorch lets cuDNN use TF32 for convolutions by default)."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


def augment(images, idx, mean, std, pad=4):
    """Random crop of the zero-padded image, horizontal flip with probability 1/2, (x / 255 - mean) / std,
    all on the device without a host sync (so it can be captured in a graph)."""
    x = F.pad(images[idx], (pad, pad, pad, pad))
    b, c, h, w = idx.shape[0], images.shape[1], images.shape[2], images.shape[3]
    dev = images.device
    oy = torch.randint(0, 2 * pad + 1, (b, 1), device=dev)
    ox = torch.randint(0, 2 * pad + 1, (b, 1), device=dev)
    flip = torch.randint(0, 2, (b, 1), device=dev)
    rows = oy + torch.arange(h, device=dev)
    cols = torch.arange(w, device=dev).expand(b, w)
    cols = ox + torch.where(flip == 1, w - 1 - cols, cols)
    out = x[torch.arange(b, device=dev)[:, None, None, None], torch.arange(c, device=dev)[None, :, None, None],
            rows[:, None, :, None], cols[:, None, None, :]]
    return (out.float() / 255 - mean) / std


class Setup:
    def __init__(self, a, device):
        self.a, self.device = a, device
        self.images = torch.from_numpy(synthetic_images(a.images, a.channels, a.side)).to(device)
        self.labels = (torch.arange(a.images) % a.classes).to(device)
        c = a.channels
        self.mean = torch.tensor((list(MEAN) + [0.5] * c)[:c], device=device).view(1, c, 1, 1)
        self.std = torch.tensor((list(STD) + [0.25] * c)[:c], device=device).view(1, c, 1, 1)

    def model(self, form):
        torch.manual_seed(1)
        m = ResNetCifar(self.a.depth, self.a.channels, self.a.classes).to(self.device)
        return m.to(memory_format=torch.channels_last) if form != "eager" else m

    def autocast(self, form):
        # cache_enabled=False: PyTorch's notes require it when autocast runs inside a graph capture.
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=form != "eager", cache_enabled=False)

    def record(self, form, part, **fields):
        a = self.a
        return dict({"part": part, "form": form, "depth": a.depth, "shape": [a.channels, a.side, a.side]}, **fields)


def train(s, form, batch):
    """Warm-up steps, then `reps` timed runs of ceil(rep_images / batch) steps each (as eos_bench_gpu) over the
    data set in index order (wrapping); images/s of each run, the median, and the peak allocated device memory."""
    a, dev = s.a, s.device
    steps = -(-a.rep_images // batch)
    if dev.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    model = s.model(form)
    model.train()
    # A PyTorch whose SGD has a capturable flag checks it when step() is captured (older ones have none).
    capturable = form == "graph" and "capturable" in inspect.signature(torch.optim.SGD.__init__).parameters
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=2e-4,
                          **({"capturable": True} if capturable else {}))
    order = torch.arange((a.warmup + a.reps * steps) * batch, device=dev) % a.images
    fmt = torch.channels_last if form != "eager" else torch.contiguous_format

    def body(idx):
        x = augment(s.images, idx, s.mean, s.std).contiguous(memory_format=fmt)
        with s.autocast(form):
            loss = F.cross_entropy(model(x), s.labels[idx])
        loss.backward()
        opt.step()
        return loss

    def eager_step(i):
        opt.zero_grad(set_to_none=True)
        return body(order[i * batch:(i + 1) * batch])

    step = eager_step
    t_build = time.perf_counter()
    if form == "graph":
        static_idx = order[:batch].clone()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for i in range(a.warmup):
                eager_step(i)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        opt.zero_grad(set_to_none=True)  # backward then allocates .grad from the graph's private pool
        with torch.cuda.graph(graph):
            static_loss = body(static_idx)

        def graph_step(i):
            static_idx.copy_(order[i * batch:(i + 1) * batch])
            graph.replay()
            return static_loss

        step = graph_step
    else:
        for i in range(a.warmup):
            step(i)
    sync(dev)
    first_call_s = time.perf_counter() - t_build
    loss_first = float(step(0).item())
    ips = []
    for r in range(a.reps):
        sync(dev)
        t0 = time.perf_counter()
        for i in range(a.warmup + r * steps, a.warmup + (r + 1) * steps):
            loss = step(i)
        sync(dev)
        ips.append(steps * batch / (time.perf_counter() - t0))
    emit(s.record(form, "train", batch=batch, steps=steps, ips=round(median(ips), 1),
                  ips_each=[round(v, 1) for v in ips], peak_mib=peak_mib(dev), first_call_s=round(first_call_s, 3),
                  loss_first=round(loss_first, 4), loss_last=round(float(loss.item()), 4)))


def embed(s, form):
    """Eval-mode 64-d embeddings of embed_rows images (index order, wrapping) in batches of embed_batch."""
    a, dev = s.a, s.device
    if dev.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    model = s.model(form)
    model.eval()
    idx = torch.arange(a.embed_rows, device=dev) % a.images
    fmt = torch.channels_last if form != "eager" else torch.contiguous_format

    def run():
        outs = []
        with torch.no_grad(), s.autocast(form):
            for r0 in range(0, a.embed_rows, a.embed_batch):
                x = (s.images[idx[r0:r0 + a.embed_batch]].float() / 255 - s.mean) / s.std
                outs.append(model.embed(x.contiguous(memory_format=fmt)))
        return torch.cat(outs)

    run()
    ips = []
    for _ in range(a.reps):
        sync(dev)
        t0 = time.perf_counter()
        out = run()
        sync(dev)
        ips.append(a.embed_rows / (time.perf_counter() - t0))
    emit(s.record(form, "embed", batch=a.embed_batch, rows=a.embed_rows, ips=round(median(ips), 1),
                  ips_each=[round(v, 1) for v in ips], peak_mib=peak_mib(dev),
                  output_sum=float(out.float().sum().item())))


def knn_lists(x, k, chunk):
    """Self-kNN of x [n, d] (each row's k nearest other rows, nearest first) by torch.cdist + topk on
    chunks of rows: memory [chunk, n] distances at a time."""
    n = x.shape[0]
    out = torch.empty((n, k), dtype=torch.int64, device=x.device)
    for r0 in range(0, n, chunk):
        r1 = min(n, r0 + chunk)
        dist = torch.cdist(x[r0:r1], x)
        rows = torch.arange(r1 - r0, device=x.device)
        dist[rows, rows + r0] = float("inf")  # a row is not its own neighbour
        out[r0:r1] = torch.topk(dist, k, dim=1, largest=False, sorted=True).indices
    return out


def agreement(a, b):
    """Rows whose two lists are equal (same neighbours, same order), rows with the same neighbour sets, and
    the share of one list's neighbours found in the other's row (recall)."""
    same_order = float(np.mean(np.all(a == b, axis=1)))
    sa, sb = np.sort(a, axis=1), np.sort(b, axis=1)
    same_set = float(np.mean(np.all(sa == sb, axis=1)))
    found = 0
    for r0 in range(0, a.shape[0], 1 << 16):  # [rows, k, k] comparisons, 2^16 rows at a time
        found += int((sa[r0:r0 + (1 << 16), :, None] == sb[r0:r0 + (1 << 16), None, :]).any(axis=2).sum())
    return {"rows_equal": same_order, "rows_same_set": same_set, "recall": found / a.size}


def knn(a, dev):
    x_host = synthetic_embeddings(a.n, a.d)
    x = torch.from_numpy(x_host).to(dev)
    if dev.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    knn_lists(x[:min(a.n, 20000)], a.k, a.chunk)  # warm-up (kernels, cuBLAS handle)
    sync(dev)
    t0 = time.perf_counter()
    idx = knn_lists(x, a.k, a.chunk)
    sync(dev)
    seconds = time.perf_counter() - t0
    lists = idx.cpu().numpy().astype(np.int32)
    rec = {"part": "knn", "form": "fp32 cdist+topk", "n": a.n, "d": a.d, "k": a.k, "chunk": a.chunk,
           "seconds": round(seconds, 4), "peak_mib": peak_mib(dev), "data_checksum": checksum(x_host)}
    if a.ours_knn:
        if os.path.exists(a.ours_knn):
            ours = np.fromfile(a.ours_knn, dtype=np.int32)
            if ours.size == lists.size:
                rec["vs_eos"] = agreement(lists, ours.reshape(lists.shape))
            else:
                rec["vs_eos_error"] = "%s holds %d indices, expected %d" % (a.ours_knn, ours.size, lists.size)
        else:
            rec["vs_eos_error"] = "%s not found (the eos kNN part did not finish)" % a.ours_knn
    if a.check_exact:
        rec["vs_float64"] = agreement(lists, exact_lists(x_host, a.k))
    emit(rec)
    return rec


def exact_lists(x, k):
    """The exact answer (float64 distances, ties to the smaller index), for small n: the smoke test's check."""
    xd = x.astype(np.float64)
    d2 = ((xd[:, None, :] - xd[None, :, :]) ** 2).sum(axis=2)
    np.fill_diagonal(d2, np.inf)
    return np.argsort(d2, axis=1, kind="stable")[:, :k].astype(np.int32)


def peak_mib(dev):
    return round(torch.cuda.max_memory_allocated() / 2**20, 1) if dev.type == "cuda" else None


def run_parts(a, device):
    """The parts of --part in order; returns the kNN part's record (None without one)."""
    parts = a.part.split(",")
    for part in parts:
        if part not in ("train", "embed", "knn"):
            raise SystemExit("--part: unknown part %r (train, embed, knn)" % part)
    if a.form == "eager":
        set_fp32_math()
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels
    s = Setup(a, device) if "train" in parts or "embed" in parts else None
    knn_record = None
    for part in parts:
        if part == "train":
            for b in a.batches:
                train(s, a.form, b)
        elif part == "embed":
            embed(s, a.form)
        else:
            set_fp32_math()
            knn_record = knn(a, device)
    return knn_record


def smoke(a):
    """Every part at tiny sizes on the CPU (the forms a CPU can run), so CI notices when this script rots."""
    a.batches, a.rep_images, a.warmup, a.reps = [4], 8, 1, 1  # 2 timed steps of 4
    a.images, a.embed_batch, a.embed_rows = 16, 4, 8
    a.n, a.chunk, a.check_exact, a.ours_knn = 2000, 512, True, ""
    device = torch.device("cpu")
    torch.set_num_threads(2)
    for form in ("eager", "bf16", "graph"):
        if form != "eager":
            print("torch_peer smoke: form %s skipped on the CPU (%s)" % (
                form, "CUDA graphs need a GPU" if form == "graph" else "bf16 autocast is timed on the GPU only"),
                flush=True)
            continue
        a.form = form
        run_parts(argparse.Namespace(**dict(vars(a), part="train,embed")), device)
    a.form = "eager"
    rec = run_parts(argparse.Namespace(**dict(vars(a), part="knn")), device)
    # fp32 distances may order near-ties differently from float64, but never miss a neighbour by much.
    if rec["vs_float64"]["recall"] < 0.99:
        raise SystemExit("torch_peer smoke: cdist + topk found only %.4f of the exact neighbours"
                         % rec["vs_float64"]["recall"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", default="train")
    ap.add_argument("--form", default="eager", choices=("eager", "bf16", "graph"))
    ap.add_argument("--batches", default="128,512")
    for name, default in (("depth", 32), ("channels", 3), ("side", 32), ("classes", 10), ("images", 12406),
                          ("rep-images", 12800), ("warmup", 10), ("reps", 3), ("embed-batch", 1024),
                          ("embed-rows", 16384), ("n", 1000000), ("d", 64), ("k", 11), ("chunk", 4096)):
        ap.add_argument("--" + name, type=int, default=default)
    ap.add_argument("--ours-knn", default="")
    ap.add_argument("--data", action="store_true")
    ap.add_argument("--smoke", action="store_true")
    a = ap.parse_args()
    a.batches = [int(b) for b in a.batches.split(",") if b]
    a.check_exact = False
    if a.data:
        print(json.dumps({"impl": "torch", "part": "data", "images": a.images,
                          "image_checksum": checksum(synthetic_images(a.images, a.channels, a.side)),
                          "n": a.n, "d": a.d, "data_checksum": checksum(synthetic_embeddings(a.n, a.d))}))
        return
    if a.smoke:
        smoke(a)
        return
    if not torch.cuda.is_available():
        print("no CUDA device: torch.cuda.is_available() is False", file=sys.stderr)
        sys.exit(2)
    run_parts(a, torch.device("cuda"))


if __name__ == "__main__":
    main()
