"""Training-step throughput (images/s) on CPU: plain fp32 NCHW eager vs ffseg's fast settings.

A step is forward + loss + backward + AdamW step, batch 8 at 360x480 by default, for three
FFNets. Settings: ``fp32`` (what any plain PyTorch script gets), ``bf16+cl`` (bf16 autocast +
channels_last, ffseg's recommended CPU setting: ``train.amp=bf16 model.channels_last=true``)
and optionally ``+compile`` (``model.compile=true``). The loss-curve check trains the demo
model for ``--loss-steps`` steps in fp32 and in bf16+cl from the same init on the same batches
and reports the largest loss difference. Results go to docs/benchmarks/training.md.

    python benchmarks/train_throughput.py --steps 3 --compile
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import environment, write_section

from ffseg.models import create_model
from ffseg.models.ffnet import FFNet

MODELS = ("ffnet40s_dbbb_mobile", "ffnet46ns_ccc_mobile", "ffnet54s_bbb_mobile")


def _step_fn(model, opt, x, y, amp: bool):
    def step() -> float:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            logits = model(x)
        logits = F.interpolate(logits.float(), size=y.shape[-2:], mode="bilinear")
        loss = F.cross_entropy(logits, y, ignore_index=255)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return float(loss.detach())

    return step


def throughput(name: str, setting: str, batch: int, size: tuple[int, int], steps: int) -> float:
    torch.manual_seed(0)
    model = create_model(name, num_classes=11).train()
    x = torch.randn(batch, 3, *size)
    y = torch.randint(0, 11, (batch, *size))
    amp = setting != "fp32"
    if amp:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    if "compile" in setting:
        model = torch.compile(model)
    step = _step_fn(model, opt, x, y, amp)
    step()  # warm-up (and compilation)
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return batch / sorted(times)[len(times) // 2]


def loss_curves(steps: int) -> tuple[list[float], list[float]]:
    curves = []
    for amp in (False, True):
        torch.manual_seed(0)
        model = FFNet(
            "resnet22s", "B", "B", mobile=True, first_stage_stride=2, num_classes=5, init="kaiming"
        )
        from ffseg.data import SyntheticScenes, train_transforms

        ds = SyntheticScenes(32, (96, 128), transforms=train_transforms((96, 128)))
        if amp:
            model = model.to(memory_format=torch.channels_last)
        opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
        losses = []
        g = torch.Generator().manual_seed(0)
        for _ in range(steps):
            idx = torch.randint(0, len(ds), (8,), generator=g).tolist()
            with torch.random.fork_rng():
                torch.manual_seed(len(losses))
                batch = [ds[i] for i in idx]
            x = torch.stack([b[0] for b in batch])
            y = torch.stack([b[1] for b in batch])
            if amp:
                x = x.contiguous(memory_format=torch.channels_last)
            losses.append(_step_fn(model, opt, x, y, amp)())
        curves.append(losses)
    return curves[0], curves[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(MODELS))
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--size", type=int, nargs=2, default=(360, 480))
    p.add_argument("--steps", type=int, default=3, help="timed steps per setting (median)")
    p.add_argument("--compile", action="store_true", help="also time torch.compile")
    p.add_argument("--loss-steps", type=int, default=50)
    args = p.parse_args()
    settings = ["fp32", "bf16+cl"] + (["bf16+cl+compile"] if args.compile else [])
    rows = []
    for name in args.models:
        speeds = {
            s: throughput(name, s, args.batch, tuple(args.size), args.steps) for s in settings
        }
        rows.append((name, speeds))
        print(name, {k: round(v, 2) for k, v in speeds.items()}, flush=True)
    fp32, fast = loss_curves(args.loss_steps)
    diff = max(abs(a - b) for a, b in zip(fp32, fast))
    head = "| model | " + " | ".join(f"{s} img/s" for s in settings) + " | best / fp32 |"
    lines = [head, "|" + "---|" * (len(settings) + 2)]
    for name, speeds in rows:
        best = max(speeds[s] for s in settings[1:])
        lines.append(
            f"| {name} | "
            + " | ".join(f"{speeds[s]:.2f}" for s in settings)
            + f" | {best / speeds['fp32']:.2f}x |"
        )
    table = "\n".join(lines)
    print(table)
    print(
        f"loss curves over {args.loss_steps} steps: max |fp32 - bf16+cl| = {diff:.4f}; "
        f"first {fp32[0]:.3f}/{fast[0]:.3f}, last {fp32[-1]:.3f}/{fast[-1]:.3f}"
    )
    command = "python benchmarks/train_throughput.py " + " ".join(sys.argv[1:])
    body = f"""## Training-step throughput on CPU (`benchmarks/train_throughput.py`)

Forward + loss + backward + AdamW step, batch {args.batch}, input {args.size[0]}x{args.size[1]},
11 classes, median of {args.steps} timed steps after one warm-up step. `fp32` = plain fp32 NCHW
eager; `bf16+cl` = bf16 autocast + channels_last (`train.amp=bf16 model.channels_last=true`)
{"; `+compile` adds `torch.compile` (`model.compile=true`)" if args.compile else ""}.

{table}

Loss curves (demo FFNet, SyntheticScenes 96x128, batch 8, same init and batches, AdamW 2e-3),
{args.loss_steps} steps: largest per-step loss difference fp32 vs bf16+cl = {diff:.4f}
(first loss {fp32[0]:.3f} vs {fast[0]:.3f}, last {fp32[-1]:.3f} vs {fast[-1]:.3f}).

{environment()}
- command: `{command}`
"""
    print(f"wrote {write_section('train_throughput', body)}")


if __name__ == "__main__":
    main()
