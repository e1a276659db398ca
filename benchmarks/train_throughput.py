"""Training-step throughput (images/s) on CPU: plain fp32 NCHW eager vs ffseg's fast settings.

A step is ``forward_train`` + loss (main and auxiliary heads, as ffseg trains) + backward +
AdamW step, batch 8 at 360x480 by default, for the models ffseg shares with the real-time
framework it is compared with (DDRNet-23-slim, STDC1, BiSeNetV2, PP-LiteSeg-T, Fast-SCNN).
Each setting's achieved GFLOP/s (training FLOPs ~ 3 x 2 x forward MACs per image: forward plus
a backward of about twice its cost) is shown as a share of the machine's bf16 convolution peak,
measured in the same run (a 3x3 128->128 convolution, channels_last, bf16 autocast). Settings: ``fp32`` (what any plain PyTorch script gets), ``bf16+cl`` (bf16 autocast +
channels_last, ffseg's recommended setting on a CPU with bf16 instructions:
``train.amp=auto model.channels_last=true``, auto being bf16 there and fp32 elsewhere)
and optionally ``+compile`` (``model.compile=true``). The loss-curve check trains the demo
model for ``--loss-steps`` steps in fp32 and in bf16+cl from the same init on the same batches
and reports the largest loss difference. Results go to docs/benchmarks/training.md.

    python benchmarks/train_throughput.py --steps 3 --compile
    python benchmarks/train_throughput.py --models fastscnn --size 64 64 --batch 2 --steps 1 \
        --loss-steps 2 --no-doc   # a smoke test
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import environment, write_section

from ffseg.config import LossConfig
from ffseg.deploy.flops import count_macs
from ffseg.engine.build import TrainForward
from ffseg.losses import build_loss
from ffseg.models import AuxOutput, SegOutput, create_model
from ffseg.models.ffnet import FFNet

MODELS = ("ddrnet23_slim", "stdc1", "bisenetv2", "pp_liteseg_t", "fastscnn")
CRITERION = build_loss(LossConfig(), 255)


def _outputs(model, x) -> SegOutput:
    out = model(x)  # a TrainForward: the model's forward_train
    aux = [AuxOutput(a.name, a.logits.float(), a.weight, a.kind) for a in out.aux]
    return SegOutput(out.logits.float(), aux)


def _step_fn(model, opt, x, y, amp: bool):
    def step() -> float:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            out = _outputs(model, x)
        loss, _ = CRITERION(out, y)
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
    model = TrainForward(model)
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


def conv_peak_gflops(bf16: bool, runs: int = 5) -> float:
    """Measured GFLOP/s of a 3x3 128->128 convolution (batch 8, 64x80, channels_last)."""
    conv = torch.nn.Conv2d(128, 128, 3, padding=1, bias=False).to(memory_format=torch.channels_last)
    x = torch.randn(8, 128, 64, 80).contiguous(memory_format=torch.channels_last)
    flops = 2 * 8 * 64 * 80 * 128 * 128 * 9
    times = []
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for _ in range(runs + 1):
            t = time.perf_counter()
            conv(x)
            times.append(time.perf_counter() - t)
    return flops / min(times[1:]) / 1e9


def train_gflop_per_image(name: str, size: tuple[int, int]) -> float:
    """~ training GFLOP per image: 3 x 2 x forward MACs (forward + backward)."""
    return 6 * count_macs(create_model(name, num_classes=11), size) / 1e9


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
            losses.append(_step_fn(TrainForward(model), opt, x, y, amp)())
        curves.append(losses)
    return curves[0], curves[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(MODELS))
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--size", type=int, nargs=2, default=(360, 480))
    p.add_argument("--steps", type=int, default=3, help="timed steps per setting (median)")
    p.add_argument("--compile", action="store_true", help="also time torch.compile")
    p.add_argument("--loss-steps", type=int, default=50)
    p.add_argument("--no-doc", action="store_true", help="print only (e.g. a smoke run)")
    args = p.parse_args(argv)
    settings = ["fp32", "bf16+cl"] + (["bf16+cl+compile"] if args.compile else [])
    size = tuple(args.size)
    peak = conv_peak_gflops(bf16=True)
    peak_fp32 = conv_peak_gflops(bf16=False)
    print(f"conv peak: bf16 {peak:.1f} GFLOP/s, fp32 {peak_fp32:.1f} GFLOP/s", flush=True)
    rows = []
    for name in args.models:
        speeds = {s: throughput(name, s, args.batch, size, args.steps) for s in settings}
        rows.append((name, speeds, train_gflop_per_image(name, size)))
        print(name, {k: round(v, 2) for k, v in speeds.items()}, flush=True)
    fp32, fast = loss_curves(args.loss_steps)
    diff = max(abs(a - b) for a, b in zip(fp32, fast))
    head = "| model | train GFLOP/img | " + " | ".join(f"{s} img/s (% bf16 peak)" for s in settings)
    lines = [head + " | best / fp32 |", "|" + "---|" * (len(settings) + 3)]
    for name, speeds, gflop in rows:
        best = max(speeds[s] for s in settings[1:])
        cells = [f"{speeds[s]:.2f} ({speeds[s] * gflop / peak:.1%})" for s in settings]
        lines.append(
            f"| {name} | {gflop:.1f} | " + " | ".join(cells) + f" | {best / speeds['fp32']:.2f}x |"
        )
    table = "\n".join(lines)
    print(table)
    print(
        f"loss curves over {args.loss_steps} steps: max |fp32 - bf16+cl| = {diff:.4f}; "
        f"first {fp32[0]:.3f}/{fast[0]:.3f}, last {fp32[-1]:.3f}/{fast[-1]:.3f}"
    )
    shown_args = sys.argv[1:] if argv is None else argv
    command = "python benchmarks/train_throughput.py " + " ".join(shown_args)
    body = f"""## Training-step throughput on CPU (`benchmarks/train_throughput.py`)

Forward + loss + backward + AdamW step, batch {args.batch}, input {args.size[0]}x{args.size[1]},
11 classes, median of {args.steps} timed steps after one warm-up step; `forward_train` with the
auxiliary heads' losses. Measured bf16 convolution peak of this machine: {peak:.1f} GFLOP/s
(fp32: {peak_fp32:.1f}); training GFLOP per image ~ 3 x 2 x forward MACs. `fp32` = plain fp32 NCHW
eager; `bf16+cl` = bf16 autocast + channels_last (`train.amp=bf16 model.channels_last=true`)
{"; `+compile` adds `torch.compile` (`model.compile=true`)" if args.compile else ""}.

{table}

Loss curves (demo FFNet, SyntheticScenes 96x128, batch 8, same init and batches, AdamW 2e-3),
{args.loss_steps} steps: largest per-step loss difference fp32 vs bf16+cl = {diff:.4f}
(first loss {fp32[0]:.3f} vs {fast[0]:.3f}, last {fp32[-1]:.3f} vs {fast[-1]:.3f}).

{environment()}
- command: `{command}`
"""
    if not args.no_doc:
        print(f"wrote {write_section('train_throughput', body)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
