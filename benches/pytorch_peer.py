#!/usr/bin/env python3
"""PyTorch peer of `unet3d bench`: the same U-Net and the same workloads on the same machine, so a
ratio between the two can be stated honestly. Optional: needs `pip install torch` (the CPU wheel is
enough); unet3d itself never calls it.

    python3 benches/pytorch_peer.py [--device cpu|cuda|mps] [--reps 5] [--threads N] [--out DIR]
    python3 benches/pytorch_peer.py --bench-json BENCHDIR/bench.json [--threads N]   # the network unet3d timed
    python3 benches/pytorch_peer.py --bench-json BENCHDIR/bench.json --profile      # + per-op tables, side by side

The network matches unet3d's `demo` preset after its pooling plan (in 1, 3 classes, depth 3, base 8,
InstanceNorm (affine), LeakyReLU 0.01, pooling [1,2,2], [2,2,2], [2,2,2], up-convolution with
kernel = stride = pooling to the skip's width (`up_conv_width = "Skip"`; `--up-conv keep` for the
paper's), 1x1x1 head); the shapes are `unet3d bench`'s defaults (`--preset demo`).
With --bench-json the training step also runs unet3d's deep-supervision heads and loss when its
model has them (weights halving per level, labels taken at each block's centre voxel).
Method as in unet3d: one untimed first call reported apart, then `reps` timed calls each ending in a
device sync; median, min, max; GFLOP/s from the same analytic conv FLOP count. --profile times every
op alone (pytorch_profile.py) under the names `unet3d bench --profile` uses.
"""
import argparse
import json
import math
import os
import platform
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

import pytorch_profile

BASE, DEPTH, CLASSES = 8, 3, 3
POOLS = [(1, 2, 2), (2, 2, 2), (2, 2, 2)]
PATCH, BATCH, WINDOW_BATCH = (16, 40, 40), 2, 2
TRAIN_PATCH = PATCH  # the training step's patch (PATCH: the forward's and the sliding window's)
CONVS = [(1, 32, 32, 32, 32), (1, 32, 16, 64, 64), (1, 64, 16, 16, 16)]
VOLUME = (24, 192, 192)
DEEP = False  # deep-supervision heads in the training step (set from --bench-json)


def block(cin, cout):
    return nn.Sequential(
        nn.Conv3d(cin, cout, 3, padding=1),
        nn.InstanceNorm3d(cout, affine=True),
        nn.LeakyReLU(0.01),
    )


def double(cin, cmid, cout):
    return nn.Sequential(block(cin, cmid), block(cmid, cout))


def up_out(up, skip, up_conv):
    """Channels out of a decoder level's up-convolution: kept (the paper) or the skip's (nnU-Net)."""
    return up if up_conv == "keep" else skip


class UNet3d(nn.Module):
    """Cicek et al. 2016 channel plan: level l goes to BASE*2^l, then BASE*2^(l+1)."""

    def __init__(self, up_conv, deep=False):
        super().__init__()
        enc = lambda l: (1 if l == 0 else BASE * 2**l, BASE * 2**l, BASE * 2 ** (l + 1))
        self.encoder = nn.ModuleList(double(*enc(l)) for l in range(DEPTH))
        self.bottom = double(*enc(DEPTH))
        self.ups = nn.ModuleList()
        self.decoder = nn.ModuleList()
        for l in range(DEPTH):
            up, skip = BASE * 2 ** (l + 2), BASE * 2 ** (l + 1)
            u = up_out(up, skip, up_conv)
            self.ups.append(nn.ConvTranspose3d(up, u, POOLS[l], stride=POOLS[l]))
            self.decoder.append(double(u + skip, skip, skip))
        self.head = nn.Conv3d(BASE * 2, CLASSES, 1)
        # Deep-supervision heads on the decoder outputs of levels 1 .. DEPTH-1 (as unet3d's), used
        # by the training step only.
        self.aux = nn.ModuleList(nn.Conv3d(BASE * 2 ** (l + 1), CLASSES, 1) for l in range(1, DEPTH)) \
            if deep else nn.ModuleList()

    def forward(self, x, deep=False):
        skips = []
        for l, convs in enumerate(self.encoder):
            x = convs(x)
            skips.append(x)
            x = F.max_pool3d(x, POOLS[l])
        x = self.bottom(x)
        aux = []
        for l in reversed(range(DEPTH)):
            x = self.decoder[l](torch.cat([self.ups[l](x), skips[l]], 1))
            if deep and l >= 1 and len(self.aux) >= l:
                aux.append(self.aux[l - 1](x))
        out = self.head(x)
        return [out] + aux[::-1] if deep else out


def unet_flops_per_voxel(up_conv):
    """Forward FLOPs per input voxel, counted as unet3d's model_stats does (convs only)."""
    macs, scale = 0.0, 1.0
    for l in range(DEPTH + 1):
        cin = 1 if l == 0 else BASE * 2**l
        mid, out = BASE * 2**l, BASE * 2 ** (l + 1)
        macs += 27 * (cin * mid + mid * out) / scale
        if l < DEPTH:
            scale *= math.prod(POOLS[l])
    for l in reversed(range(DEPTH)):
        scale /= math.prod(POOLS[l])
        up, skip = BASE * 2 ** (l + 2), BASE * 2 ** (l + 1)
        u = up_out(up, skip, up_conv)
        macs += up * u / scale + 27 * ((u + skip) * skip + skip * skip) / scale
    macs += BASE * 2 * CLASSES
    return 2 * macs


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()
    elif device.type == "mps":
        torch.mps.synchronize()


def measure(device, reps, f):
    t = time.perf_counter()
    f()
    sync(device)
    first = time.perf_counter() - t
    samples = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        sync(device)
        samples.append(time.perf_counter() - t)
    return first, samples


def window_starts(size, patch, step=0.5):
    if size <= patch:
        return [0]
    n = math.ceil((size - patch) / (patch * step)) + 1
    return [round(i * (size - patch) / (n - 1)) for i in range(n)]


def soft_dice_ce(logits, labels):
    ce = F.cross_entropy(logits, labels)
    p = logits.softmax(1)[:, 1:]
    onehot = F.one_hot(labels, CLASSES).permute(0, 4, 1, 2, 3)[:, 1:].float()
    dims = (0, 2, 3, 4)
    dice = (2 * (p * onehot).sum(dims) + 1e-5) / (p.sum(dims) + onehot.sum(dims) + 1e-5)
    return ce + 1 - dice.mean()


def deep_supervision_loss(outputs, labels):
    """unet3d's deep-supervision loss: the loss of every output against the labels at its
    resolution (the centre voxel of each block), weights halving per level and summing to 1."""
    raw = [0.5 ** i for i in range(len(outputs))]
    total, f = 0.0, [1, 1, 1]
    for level, (logits, w) in enumerate(zip(outputs, raw)):
        if level > 0:
            f = [f[a] * POOLS[level - 1][a] for a in range(3)]
        lab = labels[:, f[0] // 2::f[0], f[1] // 2::f[1], f[2] // 2::f[2]]
        total = total + soft_dice_ce(logits, lab) * (w / sum(raw))
    return total


def take_bench_json(path):
    """Sets the network and shapes to those `unet3d bench` timed (its bench.json `planned_train`:
    the preset after its pooling plan; `config.conv`, `config.volume`). Returns the up-conv width
    and the differences that remain between the two networks."""
    global BASE, DEPTH, CLASSES, POOLS, PATCH, TRAIN_PATCH, BATCH, WINDOW_BATCH, CONVS, VOLUME
    with open(path) as f:
        run = json.load(f)
    train = run.get("planned_train")
    if train is None:
        raise SystemExit(f"{path}: no planned_train (written by an older unet3d bench); rerun the bench")
    model = train["model"]
    for key in ("stage_channels", "conv_kernels"):
        if model.get(key) is not None:
            raise SystemExit(f"{path}: model.{key} is set; this peer builds only the Cicek channel plan")
    if model.get("downsample", "MaxPool") != "MaxPool" or model.get("in_channels", 1) != 1:
        raise SystemExit(f"{path}: only max pooling and one input channel are rebuilt here")
    BASE, DEPTH, CLASSES = model["base_channels"], model["depth"], model["num_classes"]
    POOLS = [tuple(p) for p in model["pool_kernels"]]
    PATCH, WINDOW_BATCH = tuple(train["inference"]["patch"]), train["inference"]["batch"]
    TRAIN_PATCH, BATCH = tuple(train["sampler"]["patch"]), train["sampler"]["batch_size"]
    CONVS = [tuple(c) for c in run["config"]["conv"]]
    VOLUME = tuple(run["config"]["volume"])
    notes = []
    if model.get("norm") != "Instance":
        notes.append(f"unet3d uses {model.get('norm')} norm, this peer InstanceNorm")
    global DEEP
    DEEP = bool(model.get("deep_supervision"))
    if train["inference"].get("mirror_axes"):
        notes.append("unet3d's sliding window mirrors (TTA); this peer does not")
    up_conv = "skip" if model.get("up_conv_width") == "Skip" else "keep"
    return up_conv, notes


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--volume", default=",".join(map(str, VOLUME)))
    ap.add_argument("--out", default="bench-torch")
    ap.add_argument("--up-conv", choices=["skip", "keep"], default="skip")
    ap.add_argument("--bench-json", help="unet3d bench's bench.json: time exactly the network, patches, "
                    "batches, conv shapes and volume it timed (overrides --up-conv and --volume)")
    ap.add_argument("--no-conv", action="store_true", help="skip the single conv-layer rows")
    ap.add_argument("--profile", action="store_true", help="also time every op of the forward, the training "
                    "step and the sliding window (as `unet3d bench --profile`); with --bench-json from a "
                    "profiled unet3d run, print the two side by side")
    a = ap.parse_args()
    notes = []
    bench_run = None
    if a.bench_json:
        with open(a.bench_json) as f:
            bench_run = json.load(f)
        a.up_conv, notes = take_bench_json(a.bench_json)
        a.volume = ",".join(map(str, VOLUME))
        print(f"from {a.bench_json}: base {BASE}, depth {DEPTH}, pools {POOLS}, up-conv {a.up_conv}, "
              f"patch {PATCH} (training {TRAIN_PATCH}), batch {BATCH}, window batch {WINDOW_BATCH}, volume {VOLUME}")
        for n in notes:
            print("note:", n)
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    torch.manual_seed(7)
    volume = tuple(int(v) for v in a.volume.split(","))
    rows = []

    def row(case, shape, flops, voxels, first, samples):
        med = statistics.median(samples)
        rows.append(dict(case=case, shape=shape, first_call_s=first, samples_s=samples,
                         median_s=med, gflops=flops / med / 1e9, mvoxels=voxels / med / 1e6))
        print(f"{case:<34} median {med:.4f} s  first {first:.2f} s  {flops / med / 1e9:.2f} GFLOP/s",
              flush=True)

    for n, c, d, h, w in ([] if a.no_conv else CONVS):
        conv = nn.Conv3d(c, c, 3, padding=1).to(dev)
        x = torch.randn(n, c, d, h, w, device=dev)
        flops = 2.0 * n * d * h * w * c * c * 27
        with torch.no_grad():
            first, s = measure(dev, a.reps, lambda: F.relu(conv(x)))
        row(f"conv3d forward {c}->{c} {d}x{h}x{w}", [n, c, d, h, w], flops, n * d * h * w, first, s)
        xg = x.clone().requires_grad_()

        def train_conv():
            F.relu(conv(xg)).sum().backward()

        first, s = measure(dev, a.reps, train_conv)
        row(f"conv3d fwd+bwd {c}->{c} {d}x{h}x{w}", [n, c, d, h, w], 3 * flops, n * d * h * w,
            first, s)

    fpv = unet_flops_per_voxel(a.up_conv)
    model = UNet3d(a.up_conv, DEEP).to(dev)
    vox = math.prod(PATCH)
    x = torch.randn(WINDOW_BATCH, 1, *PATCH, device=dev)
    model.eval()
    with torch.no_grad():
        first, s = measure(dev, a.reps, lambda: model(x))
    row("U-Net forward", [WINDOW_BATCH, 1, *PATCH], fpv * vox * WINDOW_BATCH, vox * WINDOW_BATCH,
        first, s)

    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=3e-5)
    xb = torch.randn(BATCH, 1, *TRAIN_PATCH, device=dev)
    labels = torch.randint(0, CLASSES, (BATCH, *TRAIN_PATCH), device=dev)
    tvox = math.prod(TRAIN_PATCH)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = deep_supervision_loss(model(xb, True), labels) if DEEP else soft_dice_ce(model(xb), labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 12.0)
        opt.step()

    first, s = measure(dev, a.reps, step)
    row("training step", [BATCH, 1, *TRAIN_PATCH], 3 * fpv * tvox * BATCH, tvox * BATCH, first, s)

    model.eval()
    image = torch.randn(1, 1, *volume, device=dev)
    sig = [p / 8 for p in PATCH]
    g = torch.ones(PATCH, device=dev)
    for ax, p in enumerate(PATCH):
        c = torch.arange(p, device=dev, dtype=torch.float32) - (p - 1) / 2
        shape = [1, 1, 1]
        shape[ax] = p
        g = g * torch.exp(-0.5 * (c / sig[ax]) ** 2).reshape(shape)
    g = g / g.max()
    starts = [window_starts(volume[i], PATCH[i]) for i in range(3)]
    windows = [(z, y, x_) for z in starts[0] for y in starts[1] for x_ in starts[2]]

    def sliding(laps=None):
        # laps: phase -> seconds, the phases of unet3d's profile (None: not timed)
        clock = [time.perf_counter()]

        def lap(name):
            if laps is not None:
                sync(dev)
                now = time.perf_counter()
                laps[name] = laps.get(name, 0.0) + now - clock[0]
                clock[0] = now

        acc = torch.zeros(CLASSES, *volume, device=dev)
        norm = torch.zeros(volume, device=dev)
        lap("pad and allocate")
        with torch.no_grad():
            for i in range(0, len(windows), WINDOW_BATCH):
                chunk = windows[i:i + WINDOW_BATCH]
                xs = torch.cat([image[..., z:z + PATCH[0], y:y + PATCH[1], x_:x_ + PATCH[2]]
                                for z, y, x_ in chunk])
                lap("window extraction")
                probs = model(xs).softmax(1)
                lap("network, softmax, read back")
                for (z, y, x_), p in zip(chunk, probs):
                    sl = (slice(z, z + PATCH[0]), slice(y, y + PATCH[1]), slice(x_, x_ + PATCH[2]))
                    acc[(slice(None),) + sl] += p * g
                    norm[sl] += g
                lap("weighting and accumulation")
            out = acc / norm
        lap("normalise and crop back")
        return out

    first, s = measure(dev, a.reps, sliding)
    row("sliding window", list(volume) + [len(windows)], fpv * vox * len(windows),
        math.prod(volume), first, s)

    profile = None
    if a.profile:
        def sliding_phases():
            runs = []
            for i in range(a.reps + 1):
                laps = {}
                sliding(laps)
                if i > 0:
                    runs.append(laps)
            ops = [dict(op=n, shape="", seconds=statistics.median(r[n] for r in runs)) for n in runs[0]]
            return dict(name=f"sliding window {list(volume)}, phases", ops=ops,
                        whole_s=statistics.median(sum(r.values()) for r in runs))

        def opt_step():
            torch.nn.utils.clip_grad_norm_(model.parameters(), 12.0)
            opt.step()
            opt.zero_grad(set_to_none=True)

        loss_fn = deep_supervision_loss if DEEP else soft_dice_ce
        profile = pytorch_profile.profile(model, POOLS, DEEP, lambda: sync(dev), a.reps,
                                          torch.randn(WINDOW_BATCH, 1, *PATCH, device=dev), xb, labels,
                                          loss_fn, opt_step, sliding_phases)
        print()
        print(pytorch_profile.markdown(profile, f"PyTorch {torch.__version__} {dev}, "
                                                f"{torch.get_num_threads()} threads"))
        ours = (bench_run or {}).get("profiles") or []
        # The project's kernels' profile when unet3d profiled several targets.
        ours = [p for p in ours if "own" in p["target"]] or ours
        if ours:
            print(pytorch_profile.side_by_side(ours[0]["sections"], profile))

    os.makedirs(a.out, exist_ok=True)
    meta = dict(torch=torch.__version__, device=str(dev), threads=torch.get_num_threads(), up_conv=a.up_conv,
                bench_json=a.bench_json, base=BASE, depth=DEPTH, pools=POOLS, patch=PATCH,
                train_patch=TRAIN_PATCH, batch=BATCH, window_batch=WINDOW_BATCH, notes=notes,
                python=platform.python_version(), machine=platform.processor() or platform.machine())
    with open(os.path.join(a.out, "bench-torch.json"), "w") as f:
        json.dump(dict(meta=meta, rows=rows, profile=profile), f, indent=2)
    print(f"\n| case | median s | GFLOP/s |  (torch {torch.__version__}, {dev}, "
          f"{torch.get_num_threads()} threads)\n|---|---:|---:|")
    for r in rows:
        print(f"| {r['case']} | {r['median_s']:.4f} | {r['gflops']:.2f} |")


if __name__ == "__main__":
    main()
