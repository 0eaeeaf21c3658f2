"""The last step of bench/gpu/run.sh: reads OUTDIR's JSON lines (parts.jsonl, ours.jsonl, torch.jsonl) and the
CUDA test log, writes OUTDIR/results.json (every figure, the targets and their verdicts) and prints one short
table: images/s, the ratios to PyTorch, peak device memory, and PASS / FAIL / NO DATA against issue 14's
targets. A figure that a part did not produce is shown as missing with that part's status, never guessed.

Usage: python3 summarize.py OUTDIR
"""

import json
import os
import re
import sys

# Issue 14's targets on the H200.
TRAIN_128_VS_EAGER = 3.0  # ours >= 3x PyTorch eager fp32 images/s at batch 128 (at 512: >= PyTorch's best form)
PHASE1_SECONDS = 60.0     # the paper's phase 1: 12,406 images x 200 epochs
KNN_SECONDS = 1.0         # self-kNN, N = 1e6, d = 64, k = 11
TORCH_FORMS = (("eager", "eager fp32"), ("bf16", "channels_last bf16"), ("graph", "graph cl bf16"))
EOS_FORMS = ("fp32", "tf32", "bf16")  # run.sh's eos-<form> parts (EOS_CUDA_MATH)


def read_lines(path):
    out = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass  # a line cut short by a timeout, or not JSON
    return out


def find(rows, **fields):
    return next((r for r in rows if all(r.get(k) == v for k, v in fields.items())), None)


def ratio(a, b):
    return a / b if a and b else None


def fmt(value, pattern):
    return "" if value is None else pattern.format(value)


def tests_summary(path, part):
    status = {"ok": "PASS", "failed": "FAIL"}.get(part.get("status"), part.get("status", "not run").upper())
    if not os.path.exists(path):
        return {"status": status, "line": "no log"}
    text = open(path, errors="replace").read()
    counts = re.findall(r"^(\d+) tests, (\d+) checks, (\d+) failed$", text, re.M)
    skipped = len(re.findall(r"^skip ", text, re.M))
    out = {"status": status, "skipped": skipped,
           "failures": [line for line in text.splitlines() if "FAIL" in line][:20]}
    if counts:
        out["tests"], out["checks"], out["failed"] = (int(v) for v in counts[-1])
        out["line"] = "%d tests, %d checks, %d failed, %d skipped" % (out["tests"], out["checks"], out["failed"],
                                                                        skipped)
        if skipped and skipped == out["tests"]:
            out["status"] += " (EVERY TEST SKIPPED)"
    else:
        out["line"] = "no summary line (cut short?)"
    return out


class Summary:
    def __init__(self, outdir):
        self.parts = {p["part"]: p for p in read_lines(os.path.join(outdir, "parts.jsonl"))}
        self.ours = read_lines(os.path.join(outdir, "ours.jsonl"))
        self.peer = read_lines(os.path.join(outdir, "torch.jsonl"))
        self.rows, self.lines, self.targets = [], [], []
        # Our forms: fp32 always (its targets must show even when it did not run), the others when their part
        # ran (a tensor-core form skipped for lack of time is only named in the parts line).
        self.forms = [f for f in EOS_FORMS if f == "fp32" or find(self.ours, form=f) or
                      self.parts.get("eos-" + f, {}).get("status", "skipped") != "skipped"]

    def missing(self, part):
        return "missing (%s)" % self.parts.get(part, {}).get("status", "not run")

    def row(self, what, rec, part, base, best, target="", result=""):
        ips = rec["ips"] if rec else None
        self.rows.append((what, fmt(ips, "{:,.0f}") if rec else self.missing(part),
                          fmt(ratio(ips, base), "{:.2f}x"), fmt(ratio(ips, best), "{:.2f}x"),
                          fmt(rec and rec.get("peak_mib"), "{:.0f}"), target, result))
        return ips

    def target(self, what, value, goal, ok, **figures):
        result = "NO DATA" if value is None else ("PASS" if ok else "FAIL")
        self.targets.append(dict({"what": what, "target": goal, "verdict": result}, **figures))
        return result

    def train(self, batch):
        peers = [(label, find(self.peer, part="train", form=f, batch=batch), "torch-" + f)
                 for f, label in TORCH_FORMS]
        eager = peers[0][1]["ips"] if peers[0][1] else None
        best = max((r for _, r, _ in peers if r), key=lambda r: r["ips"], default=None)
        best_ips = best["ips"] if best else None
        for form in self.forms:
            rec = find(self.ours, part="train", form=form, batch=batch)
            ips = rec["ips"] if rec else None
            what = "train b%d eos %s" % (batch, form)
            if batch == 128:
                goal, r, need = ">= %gx eager fp32" % TRAIN_128_VS_EAGER, ratio(ips, eager), TRAIN_128_VS_EAGER
            else:
                goal, r, need = ">= best torch (%s)" % (best["form"] if best else "?"), ratio(ips, best_ips), 1.0
            result = self.target(what, r, goal, r is not None and r >= need, images_per_s=ips,
                                 vs_eager_fp32=ratio(ips, eager), vs_best_torch=ratio(ips, best_ips))
            self.row(what, rec, "eos-" + form, eager, best_ips, goal, result)
        for label, rec, part in peers:
            self.row("train b%d torch %s" % (batch, label), rec, part, eager, best_ips)

    def embed(self):
        peers = [(label, find(self.peer, part="embed", form=f), "torch-" + f) for f, label in TORCH_FORMS[:2]]
        eager = peers[0][1]["ips"] if peers[0][1] else None
        best_ips = max((r["ips"] for _, r, _ in peers if r), default=None)
        for form in self.forms:
            self.row("embed b1024 eos %s" % form, find(self.ours, part="embed", form=form), "eos-" + form, eager,
                     best_ips)
        for label, rec, part in peers:
            self.row("embed b1024 torch %s" % label, rec, part, eager, best_ips)

    def phase1(self):
        for form in self.forms:
            rec = find(self.ours, part="phase1", form=form)
            sec = rec["projected_200_epochs_s"] if rec else None
            what = "phase 1 eos %s" % form
            result = self.target(what, sec, "<= %g s" % PHASE1_SECONDS, sec is not None and sec <= PHASE1_SECONDS,
                                 projected_200_epochs_s=sec)
            if rec:
                text = "%.1f s PROJECTED for 12,406 images x 200 epochs (first epoch %.2f s + 199 x %.3f s)" % (
                    sec, rec["first_epoch_s"], rec["epoch_s"])
            else:
                text = self.missing("eos-" + form)
            self.lines.append("%-20s %s   <= %g s  %s" % (what, text, PHASE1_SECONDS, result))

    def knn(self):
        ours, peer = find(self.ours, part="knn"), find(self.peer, part="knn")
        sec = ours["seconds"] if ours else None
        figures = {"seconds": sec, "torch_seconds": peer and peer["seconds"]}
        text = "self-kNN 1e6 d64 k11  eos "
        text += ("%.3f s (%s first pass, %d brute-force rows, peak %.0f MiB)" % (
            sec, ours["form"], ours["brute_force_rows"], ours["peak_mib"]) if ours else self.missing("eos-knn"))
        if peer:
            text += "; torch cdist+topk %.3f s%s (peak %.0f MiB)" % (
                peer["seconds"], fmt(ratio(peer["seconds"], sec), ", ours {:.1f}x faster"), peer["peak_mib"] or 0)
            agree = peer.get("vs_eos")
            if agree:
                same_data = ours is not None and ours["data_checksum"] == peer["data_checksum"]
                figures.update(agreement=agree, same_data=same_data)
                text += "; lists equal %.3f%%, same sets %.3f%%, recall %.4f%%%s" % (
                    100 * agree["rows_equal"], 100 * agree["rows_same_set"], 100 * agree["recall"],
                    "" if same_data else " (THE DATA DIFFER: checksums disagree)")
            elif "vs_eos_error" in peer:
                text += "; agreement not measured: " + peer["vs_eos_error"]
        else:
            text += "; torch " + self.missing("torch-knn")
        result = self.target("self-kNN eos", sec, "<= %g s" % KNN_SECONDS, sec is not None and sec <= KNN_SECONDS,
                             **figures)
        self.lines.append("%s   <= %g s  %s" % (text, KNN_SECONDS, result))


def main():
    outdir = sys.argv[1]
    s = Summary(outdir)
    tests = tests_summary(os.path.join(outdir, "cuda-tests.log"), s.parts.get("cuda-tests", {}))
    s.train(128)
    s.train(512)
    s.embed()
    s.phase1()
    s.knn()
    device = find(s.ours, part="device") or {}
    torch_version = next((r["torch"] for r in s.peer if "torch" in r), "?")
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump({"device": device, "torch": torch_version, "tests": tests, "parts": list(s.parts.values()),
                   "targets": s.targets, "eos": [r for r in s.ours if r["part"] != "device"], "torch_peer": s.peer},
                  f, indent=1)

    print()
    print("GPU check: %s (cc %s, %s SMs, %s MiB), torch %s; every figure in %s/results.json" % (
        device.get("name", "device ?"), device.get("cc", "?"), device.get("sms", "?"),
        device.get("memory_mib", "?"), torch_version, outdir))
    print("CUDA tests: %s, %s" % (tests["status"], tests["line"]))
    head = ("", "images/s", "x eager", "x best", "peak MiB", "target", "")
    widths = [max(len(r[i]) for r in s.rows + [head]) for i in range(len(head))]
    for r in [head] + s.rows:
        cells = [c.rjust(w) if 0 < i < 5 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))]
        print("  ".join(cells).rstrip())
    for line in s.lines:
        print(line)
    print("x eager / x best: images/s over torch eager fp32 / over torch's fastest form at that batch. peak MiB: "
          "ours cudaMemGetInfo delta (held after each call; kNN polled during it), torch max_memory_allocated")
    print("parts: " + ", ".join("%s %s %ds" % (p["part"], p["status"], p["seconds"]) for p in s.parts.values()))


if __name__ == "__main__":
    main()
