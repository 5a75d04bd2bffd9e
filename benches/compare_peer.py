#!/usr/bin/env python3
"""unet3d against its PyTorch peer in one sitting, interleaved: `rounds` times, `unet3d bench`
(flex, the project's kernels) then `pytorch_peer.py --bench-json` on exactly the network it timed,
so that both see the same machine state; every timed call of every round is pooled. Prints, per
workload, the median and the minimum of both and their ratios (< 1: unet3d faster). On a shared
machine single sittings moved by ±25 %; the pooled, interleaved figures are what the README states.

    python3 benches/compare_peer.py --unet3d target/release/unet3d --preset demo --volume 24,128,128
    python3 benches/compare_peer.py --unet3d target/release/unet3d --preset small --rounds 3

Needs the peer's Python (torch); pass it with --python (default: this interpreter).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

WORKLOADS = ["U-Net forward", "training step", "sliding window"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--unet3d", default="target/release/unet3d")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--preset", default="demo")
    ap.add_argument("--volume", default=None, help="sliding-window volume d,h,w (unet3d bench's default otherwise)")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="compare-out")
    a = ap.parse_args()
    peer = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pytorch_peer.py")
    ours, theirs = {w: [] for w in WORKLOADS}, {w: [] for w in WORKLOADS}
    for r in range(a.rounds):
        odir, tdir = os.path.join(a.out, f"unet3d-{r}"), os.path.join(a.out, f"torch-{r}")
        cmd = [a.unet3d, "bench", "--backends", "flex", "--kernels", "own", "--preset", a.preset,
               "--workloads", "unet-forward,train-step,sliding-window", "--reps", str(a.reps), "--out", odir]
        if a.volume:
            cmd += ["--volume", a.volume]
        subprocess.run(cmd, check=True, capture_output=True)
        with open(os.path.join(odir, "bench.json")) as f:
            for row in json.load(f)["rows"]:
                ours[row["case"]].extend(row["result"]["measurement"]["samples_s"])
        subprocess.run([a.python, peer, "--bench-json", os.path.join(odir, "bench.json"), "--threads",
                        str(a.threads), "--reps", str(a.reps), "--no-conv", "--out", tdir],
                       check=True, capture_output=True)
        with open(os.path.join(tdir, "bench-torch.json")) as f:
            for row in json.load(f)["rows"]:
                theirs[row["case"]].extend(row["samples_s"])
        print(f"round {r + 1}/{a.rounds} done", file=sys.stderr, flush=True)
    print(f"| {a.preset} preset, {a.rounds} interleaved rounds × {a.reps} calls | unet3d median s | "
          f"PyTorch median s | ratio | unet3d min s | PyTorch min s | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for w in WORKLOADS:
        om, tm = statistics.median(ours[w]), statistics.median(theirs[w])
        on, tn = min(ours[w]), min(theirs[w])
        print(f"| {w} | {om:.4f} | {tm:.4f} | {om / tm:.2f} | {on:.4f} | {tn:.4f} | {on / tn:.2f} |")


if __name__ == "__main__":
    main()
