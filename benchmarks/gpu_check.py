"""The GPU path, proven on one CUDA GPU in under 8 minutes (prints one line per check).

1. a training step in fp16 + GradScaler and in bf16, channels_last, for one model per family;
2. ``torch.compile`` of a training step (fp16);
3. ffseg's DDP over NCCL under ``torchrun`` (world size 1): a short ``fit`` on synthetic data;
4. a 200-iteration CamVid run (``fit``) and its val mIoU at the full 360x480 labels;
5. inference latency of the FFNet GPU-large / GPU-small variants at 1024x2048 in fp16 next to
   the authors' RTX 2080 Ti figures, with the Spearman rank correlation of the two.

Without CUDA every part is skipped with its reason and the script exits 0 (``--quick`` makes
every part smaller; the test suite runs it that way on CPU).

    python benchmarks/gpu_check.py --camvid-root ../shared/datasets/camvid
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

from ffseg.config import load_config
from ffseg.engine.train import fit
from ffseg.models import create_model, get_pretrained_cfg, list_models

ROOT = Path(__file__).resolve().parents[1]
NO_CUDA = "no CUDA device (torch.cuda.is_available() is False)"


class Skip(Exception):
    """A check that cannot run here; the message says why."""


def _need_cuda() -> torch.device:
    if not torch.cuda.is_available():
        raise Skip(NO_CUDA)
    return torch.device("cuda")


def one_per_family() -> list[str]:
    """The first registered segmentation model of every family."""
    chosen: dict[str, str] = {}
    for name in list_models():
        cfg = get_pretrained_cfg(name)
        if cfg.task == "segmentation":
            chosen.setdefault(cfg.family or name, name)
    return sorted(chosen.values())


def _train_step(model, x, y, dtype: torch.dtype, scaler) -> float:
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    with torch.autocast("cuda", dtype=dtype):
        out = model(x)
    logits = F.interpolate(out.float(), size=y.shape[-2:], mode="bilinear")
    loss = F.cross_entropy(logits, y)
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()
    return float(loss)


def check_amp_steps(args: argparse.Namespace) -> str:
    device = _need_cuda()
    names = one_per_family()[: 4 if args.quick else None]
    x = torch.randn(2, 3, 256, 512, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 19, (2, 256, 512), device=device)
    failed = []
    for name in names:
        for dtype in (torch.float16, torch.bfloat16):
            model = create_model(name, num_classes=19).to(device).train()
            model = model.to(memory_format=torch.channels_last)
            scaler = torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)
            try:
                loss = _train_step(model, x, y, dtype, scaler)
                if loss != loss:
                    failed.append(f"{name}/{dtype}: NaN loss")
            except Exception as exc:  # reported, the other models still run
                failed.append(f"{name}/{dtype}: {type(exc).__name__}: {exc}"[:200])
    ok = 2 * len(names) - len(failed)
    return f"{ok}/{2 * len(names)} steps ok" + ("; " + "; ".join(failed) if failed else "")


def check_compile(args: argparse.Namespace) -> str:
    device = _need_cuda()
    model = create_model("ddrnet23_slim", num_classes=19).to(device).train()
    compiled = torch.compile(model)
    x = torch.randn(2, 3, 256, 512, device=device)
    y = torch.randint(0, 19, (2, 256, 512), device=device)
    scaler = torch.amp.GradScaler("cuda")
    t0 = time.perf_counter()
    first = _train_step(compiled, x, y, torch.float16, scaler)
    compile_s = time.perf_counter() - t0
    losses = [_train_step(compiled, x, y, torch.float16, scaler) for _ in range(3)]
    return f"compiled fp16 steps ok ({compile_s:.1f} s to compile; losses {first:.3f} -> {losses[-1]:.3f})"


def ddp_worker(out: str) -> None:
    """Run under torchrun: ffseg's fit over NCCL (train.device=cuda) on synthetic data."""
    cfg = load_config(
        "demo",
        [
            "train.iters=10",
            "train.device=cuda",
            "train.amp=fp16",
            f"train.output_dir={out}",
            "log.progress=false",
            "log.tensorboard=false",
            "log.overlays=0",
        ],
    )
    result = fit(cfg)
    print(f"DDP_OK iterations={result.iterations} miou={result.score}")


def check_ddp(args: argparse.Namespace) -> str:
    _need_cuda()
    if not torch.distributed.is_nccl_available():
        raise Skip("this PyTorch build has no NCCL")
    with tempfile.TemporaryDirectory() as out:
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=1",
            __file__,
            "--ddp-worker",
            out,
        ]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    line = next((s for s in run.stdout.splitlines() if s.startswith("DDP_OK")), None)
    if run.returncode or line is None:
        raise RuntimeError(f"torchrun exit {run.returncode}: {run.stderr[-600:]}")
    return f"torchrun world size 1, backend nccl: {line[len('DDP_OK ') :]}"


def check_camvid(args: argparse.Namespace) -> str:
    _need_cuda()
    root = Path(args.camvid_root)
    if not (root / "train").is_dir() and not any(root.glob("*train*")):
        raise Skip(f"no CamVid at {root} (--camvid-root)")
    iters = 20 if args.quick else 200
    with tempfile.TemporaryDirectory() as out:
        cfg = load_config(
            args.camvid_recipe,
            [
                f"data.root={root}",
                "train.max_minutes=null",
                f"train.iters={iters}",
                "train.device=cuda",
                "train.amp=auto",
                f"train.output_dir={out}",
                "log.progress=false",
                "log.overlays=0",
                "data.class_uniform=0",
            ],
        )
        t0 = time.perf_counter()
        result = fit(cfg)
    miou = result.score
    shown = "n/a" if miou is None else f"{miou * 100:.2f}"
    return (
        f"{args.camvid_recipe}: {result.iterations} iterations in {time.perf_counter() - t0:.0f} s,"
        f" val mIoU {shown} (360x480 labels)"
    )


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation (average ranks for ties)."""

    def ranks(v: Sequence[float]) -> list[float]:
        order = sorted(range(len(v)), key=lambda i: v[i])
        out = [0.0] * len(v)
        i = 0
        while i < len(v):
            j = i
            while j + 1 < len(v) and v[order[j + 1]] == v[order[i]]:
                j += 1
            for k in range(i, j + 1):
                out[order[k]] = (i + j) / 2
            i = j + 1
        return out

    ra, rb = ranks(a), ranks(b)
    ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb, strict=True))
    var = (sum((x - ma) ** 2 for x in ra) * sum((y - mb) ** 2 for y in rb)) ** 0.5
    return cov / var if var else float("nan")


def gpu_ffnets() -> dict[str, float]:
    """FFNet variants with the authors' RTX 2080 Ti fp16 latency (ms at 1024x2048)."""
    out = {}
    for name in list_models():
        published = get_pretrained_cfg(name).published or {}
        if "gpu_fp16_ms" in published:
            out[name] = float(published["gpu_fp16_ms"])
    return out


@torch.no_grad()
def latency_ms(name: str, device: torch.device, runs: int) -> float:
    model = create_model(name, num_classes=19).to(device).half().eval()
    x = torch.randn(1, 3, 1024, 2048, device=device, dtype=torch.half)
    for _ in range(5):
        model(x)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(runs):
        model(x)
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) / runs * 1000


def check_latency(args: argparse.Namespace) -> str:
    device = _need_cuda()
    paper = gpu_ffnets()
    names = sorted(paper)[: 6 if args.quick else None]
    ours = {n: latency_ms(n, device, 10 if args.quick else 50) for n in names}
    rows = "\n".join(f"    {n:<18} {ours[n]:8.2f} ms   paper {paper[n]:6.1f} ms" for n in names)
    rho = spearman([ours[n] for n in names], [paper[n] for n in names])
    gpu = torch.cuda.get_device_name(device)
    return f"{len(names)} models on {gpu}, Spearman rho vs RTX 2080 Ti = {rho:.3f}\n{rows}"


CHECKS: tuple[tuple[str, Callable[[argparse.Namespace], str]], ...] = (
    ("fp16+GradScaler / bf16 steps, channels_last, one model per family", check_amp_steps),
    ("torch.compile training step", check_compile),
    ("DDP over NCCL under torchrun", check_ddp),
    ("CamVid run with val mIoU", check_camvid),
    ("FFNet GPU latency at 1024x2048 fp16 vs the paper", check_latency),
)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller checks (a smoke test)")
    p.add_argument("--camvid-root", default=str(ROOT.parent / "shared" / "datasets" / "camvid"))
    p.add_argument("--camvid-recipe", default="camvid_15min_cpu")
    p.add_argument("--ddp-worker", metavar="OUT", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.ddp_worker:
        ddp_worker(args.ddp_worker)
        return 0
    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, pid {os.getpid()}")
    failures = 0
    start = time.perf_counter()
    for title, check in CHECKS:
        t0 = time.perf_counter()
        try:
            status = "ok     " + check(args)
        except Skip as why:
            status = f"skipped {why}"
        except Exception as exc:
            failures += 1
            status = f"FAILED  {type(exc).__name__}: {exc}"
        print(f"[{time.perf_counter() - t0:6.1f} s] {title}: {status}", flush=True)
    print(f"total {time.perf_counter() - start:.1f} s, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
