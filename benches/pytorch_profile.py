"""Per-op profile of the PyTorch peer, the counterpart of `unet3d bench --profile`: the same ops
under the same names (each timed alone on the input the network gives it, median of `reps`), the
training step's phases and the sliding window's, then the two profiles side by side when
bench.json holds unet3d's. Used by `pytorch_peer.py --profile`; see that script.
"""
import statistics
import time

import torch
import torch.nn.functional as F


def kname(k):
    k = tuple(k)
    return str(k[0]) if all(v == k[0] for v in k) else "x".join(map(str, k))


class OpTimer:
    """Times ops one at a time: forward only, or (train) forward + backward of sum(op(x))."""

    def __init__(self, sync, reps, train):
        self.sync, self.reps, self.train, self.ops = sync, reps, train, []

    def time(self, name, inputs, f):
        if self.train:
            inputs = [t.detach().requires_grad_() for t in inputs]

        def call():
            if self.train:
                f(inputs).sum().backward()
            else:
                with torch.no_grad():
                    f(inputs)
            self.sync()

        call()
        samples = []
        for _ in range(self.reps):
            t = time.perf_counter()
            call()
            samples.append(time.perf_counter() - t)
        self.ops.append(dict(op=name, shape=str(list(inputs[0].shape)), seconds=statistics.median(samples)))
        with torch.no_grad():
            return f(inputs).detach()

    def block(self, name, blk, x):
        conv, norm, act = blk[0], blk[1], blk[2]
        k = kname(conv.kernel_size)
        z = self.time(f"{name} conv {conv.in_channels}->{conv.out_channels} k{k}", [x], lambda v: conv(v[0]))
        return self.time(f"{name} norm + act", [z], lambda v: act(norm(v[0])))


def walk(model, x, t, pools, deep):
    """The peer network's forward op by op; the outputs (full resolution first, then aux heads)."""
    depth = len(pools)
    skips = []
    for l, convs in enumerate(model.encoder):
        x = t.block(f"enc{l}.1", convs[0], x)
        x = t.block(f"enc{l}.2", convs[1], x)
        skips.append(x)
        x = t.time(f"enc{l} max pool {kname(pools[l])}", [x], lambda v, k=pools[l]: F.max_pool3d(v[0], k))
    x = t.block("bottom.1", model.bottom[0], x)
    x = t.block("bottom.2", model.bottom[1], x)
    aux = []
    for l in reversed(range(depth)):
        up = model.ups[l]
        x = t.time(f"dec{l} up-conv {up.in_channels}->{up.out_channels} k{kname(up.kernel_size)}", [x],
                   lambda v: up(v[0]))
        x = t.time(f"dec{l} concat", [x, skips[l]], lambda v: torch.cat(v, 1))
        x = t.block(f"dec{l}.1", model.decoder[l][0], x)
        x = t.block(f"dec{l}.2", model.decoder[l][1], x)
        if deep and l >= 1 and len(model.aux) >= l:
            aux.append(t.time(f"dec{l} aux head", [x], lambda v, h=model.aux[l - 1]: h(v[0])))
    out = t.time("head 1x1x1", [x], lambda v: model.head(v[0]))
    return [out] + aux[::-1]


def profile(model, pools, deep, sync, reps, x_inf, x_train, labels, loss_fn, opt_step, sliding_phases):
    """Sections as unet3d's: forward + softmax, training per op, training phases, sliding window."""
    sections = []
    model.eval()
    t = OpTimer(sync, reps, False)
    logits = walk(model, x_inf, t, pools, False)[0]
    t.time("softmax", [logits], lambda v: v[0].softmax(1))
    whole = []
    for _ in range(reps + 1):
        s = time.perf_counter()
        with torch.no_grad():
            model(x_inf).softmax(1)
        sync()
        whole.append(time.perf_counter() - s)
    sections.append(dict(name="U-Net forward + softmax", ops=t.ops, whole_s=statistics.median(whole[1:])))

    model.train()
    t = OpTimer(sync, reps, True)
    outputs = walk(model, x_train, t, pools, deep)
    outs = [o.detach().requires_grad_() for o in outputs]

    def loss_call():
        loss_fn(outs if deep else outs[0], labels).backward()
        sync()

    loss_call()
    samples = []
    for _ in range(reps):
        s = time.perf_counter()
        loss_call()
        samples.append(time.perf_counter() - s)
    t.ops.append(dict(op=f"loss (CE + Dice, {len(outs)} outputs)", shape=str(list(outs[0].shape)),
                      seconds=statistics.median(samples)))
    names = ["forward", "loss", "backward", "collect gradients", "optimiser update"]
    laps = {n: [] for n in names}
    for i in range(reps + 1):
        s = time.perf_counter()
        out = model(x_train, deep) if deep else model(x_train)
        sync()
        got = [time.perf_counter()]
        loss = loss_fn(out, labels)
        sync()
        got.append(time.perf_counter())
        loss.backward()
        sync()
        got.append(time.perf_counter())
        got.append(time.perf_counter())  # PyTorch keeps gradients on the parameters: nothing to collect
        opt_step()
        sync()
        got.append(time.perf_counter())
        if i > 0:
            prev = s
            for n, g in zip(names, got):
                laps[n].append(g - prev)
                prev = g
    phases = [dict(op=n, shape="", seconds=statistics.median(laps[n])) for n in names]
    step = sum(p["seconds"] for p in phases)
    sections.append(dict(name="training step, each op forward + backward alone", ops=t.ops, whole_s=step))
    sections.append(dict(name="training step, phases", ops=phases, whole_s=step))
    sections.append(sliding_phases())
    return sections


def markdown(sections, title):
    md = f"### Profile: {title}\n"
    for s in sections:
        total = sum(o["seconds"] for o in s["ops"]) or float("nan")
        md += f"\n**{s['name']}**\n\n| op | input | median s | share |\n|---|---|---:|---:|\n"
        for o in s["ops"]:
            md += f"| {o['op']} | {o['shape']} | {o['seconds']:.5f} | {100 * o['seconds'] / total:.1f} % |\n"
        md += f"| **sum of the above** | | {total:.5f} | |\n| **whole, timed as one** | | {s['whole_s']:.5f} | |\n"
    return md


def side_by_side(ours, theirs):
    """unet3d's profile (bench.json) and PyTorch's, matched by section and op name; ratio > 1:
    unet3d slower."""
    md = "### Profile side by side: unet3d / PyTorch (ratio > 1: unet3d slower)\n"
    by_name = {s["name"].split(" [")[0]: s for s in theirs}
    for s in ours:
        t = by_name.get(s["name"].split(" [")[0])
        if t is None:
            continue
        tops = {o["op"]: o["seconds"] for o in t["ops"]}
        md += f"\n**{s['name']}**\n\n| op | unet3d s | PyTorch s | ratio |\n|---|---:|---:|---:|\n"
        for o in s["ops"]:
            p = tops.get(o["op"])
            ratio = f"{o['seconds'] / p:.2f}" if p else "–"
            md += f"| {o['op']} | {o['seconds']:.5f} | {p if p is None else f'{p:.5f}'} | {ratio} |\n"
        a, b = sum(o["seconds"] for o in s["ops"]), sum(tops.values())
        md += f"| **sum** | {a:.5f} | {b:.5f} | {a / b:.2f} |\n"
        md += f"| **whole** | {s['whole_s']:.5f} | {t['whole_s']:.5f} | {s['whole_s'] / t['whole_s']:.2f} |\n"
    return md
