"""The FFNet paper's comparison on this CPU: FFNets vs DDRNet, FANet, HRNet, BiSeNet, STDC, ...

Times every model with ffseg's bench machinery (``ffseg.deploy.bench``: batch-norm folding,
``time_fn``, ``BenchResult``) in two ways, batch 1: plain eager fp32 (``raw``, the reference)
and ffseg's best in-process CPU path (BN folded + channels_last + bf16; ``--best`` adds ONNX
Runtime fp32 or others). Results are appended to a CSV after every model, so an interrupted
run resumes with ``--resume``. Then it draws latency vs published Cityscapes mIoU Pareto charts
like the paper's Figures 3 (GPU-small class) and 5 (mobile class).

    OMP_WAIT_POLICY=PASSIVE python benchmarks/ffnet_vs_prior_art.py --threads 2 --runs 3
    python benchmarks/ffnet_vs_prior_art.py --set gpu-small --filter 'ffnet1*' --size 512 1024
    python benchmarks/ffnet_vs_prior_art.py --zoo-latency --resume   # docs/benchmarks/zoo_latency.csv
    python benchmarks/ffnet_vs_prior_art.py --plot-only              # charts from the CSV

Sets (each model at its class's resolution unless ``--size``):

- ``gpu-small``: FFNet GPU-small models (``ffnet*_d???``, not mobile) and the comparison
  networks at 1024x2048 (Figure 3);
- ``mobile``: the mobile FFNets without ``_pre_down`` at their native input
  (``pretrained_cfg.input_size``: 512x1024, or 1024x2048 for the ``d`` stems) and the
  comparison networks at 512x1024 (Figure 5);
- ``--zoo-latency``: every registered segmentation model at 512x1024, written as
  ``model,eager_ms,best_ms`` to docs/benchmarks/zoo_latency.csv for docs/MODEL_ZOO.md
  (rows already measured at 512x1024 with the same settings are reused).

Weights are random (He init where the constructor has it; denormals flushed): latency does
not depend on trained values. OMP_WAIT_POLICY defaults to PASSIVE (set before torch loads).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import csv
import fnmatch
import io
import math
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ffseg._io import atomic_write, atomic_write_text
from ffseg.deploy.bench import benchmark_model, load_bench_model, machine_info
from ffseg.deploy.flops import count_macs, count_params
from ffseg.deploy.fuse import prepare_for_inference
from ffseg.deploy.runtime import flushed_denormals, time_fn, torch_threads
from ffseg.engine.precision import resolve_precision
from ffseg.models import get_model_entry, get_pretrained_cfg, list_models

__all__ = ["COMPARISON", "main", "measure", "model_sets", "pareto_chart", "published_miou"]

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "benchmarks"
#: the paper's comparison networks (plus the STDC / PP-LiteSeg / BiSeNet headline models)
COMPARISON = [
    "ddrnet23_slim", "ddrnet23", "ddrnet39", "fanet18", "fanet34", "hrnetv2_w18",
    "bisenetv1", "bisenetv2", "stdc1", "stdc2", "pp_liteseg_t", "pp_liteseg_b",
]  # fmt: skip
FULL, HALF = (1024, 2048), (512, 1024)
FIELDS = [
    "set", "model", "family", "height", "width", "params_m", "gmacs", "eager_ms", "eager_p90_ms",
    "best_ms", "best_p90_ms", "best_path", "best_max_abs_diff", "best_argmax_agree", "miou",
    "miou_split", "runs", "sessions", "load_avg", "note",
]  # fmt: skip


# ----------------------------------------------------------------------------- model sets
def _task(name: str) -> str:
    return get_pretrained_cfg(name).task


def _native(name: str) -> tuple[int, int]:
    return tuple(get_pretrained_cfg(name).input_size[1:])  # type: ignore[return-value]


def model_sets() -> dict[str, list[tuple[str, tuple[int, int]]]]:
    """``{set: [(model, (H, W)), ...]}`` for ``gpu-small``, ``mobile`` and ``zoo``."""
    seg = [n for n in list_models() if _task(n) == "segmentation"]
    ffnet = [n for n in seg if get_model_entry(n).module == "ffnet"]
    gpu_small = [n for n in ffnet if fnmatch.fnmatch(n, "ffnet*_d???") and "mobile" not in n]
    mobile = [n for n in ffnet if n.endswith("_mobile")]
    return {
        "gpu-small": [(n, FULL) for n in gpu_small + COMPARISON],
        "mobile": [(n, _native(n)) for n in mobile] + [(n, HALF) for n in COMPARISON],
        "zoo": [(n, HALF) for n in seg],
    }


def published_miou(name: str) -> tuple[float, str]:
    """Published Cityscapes mIoU (val preferred, else test) and which split; NaN if none."""
    pub = get_pretrained_cfg(name).published
    for split in ("val", "test"):
        value = pub.get(f"cityscapes_{split}_miou")
        if value is not None:
            return float(value), split
    return float("nan"), ""


# ----------------------------------------------------------------------------- measuring
def measure(
    name: str,
    size: tuple[int, int],
    *,
    runs: int,
    warmup: int,
    threads: int,
    best: Sequence[str],
    max_run_s: float,
) -> dict[str, object]:
    """One CSV row: eager fp32 and the fastest of the ``best`` paths (``backend:precision``)."""
    model = load_bench_model(name)
    macs = count_macs(model, size) / 1e9
    miou, split = published_miou(name)
    row: dict[str, object] = {
        "model": name, "family": get_model_entry(name).module, "height": size[0],
        "width": size[1], "params_m": round(count_params(model) / 1e6, 3),
        "gmacs": round(macs, 2), "miou": miou, "miou_split": split, "runs": runs, "sessions": 1,
        "load_avg": round(os.getloadavg()[0], 2), "note": "",
    }  # fmt: skip
    x = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        start = time.perf_counter()
        reference = model(x).float()  # the first eager call doubles as its warm-up
        first = time.perf_counter() - start
        if first > max_run_s:
            row["note"] = f"skipped: one eager fp32 run took {first:.0f} s > {max_run_s:.0f} s"
            return row
        times = time_fn(lambda: model(x), runs, max(warmup - 1, 0))
    row["eager_ms"], row["eager_p90_ms"] = _stats(times)
    candidates = []
    for path in best:
        backend, precision = path.split(":")
        try:
            if backend == "onnxruntime":
                (res,) = benchmark_model(
                    model, size, backends=[backend], precisions=[precision], runs=runs,
                    warmup=warmup, threads=threads,
                )  # fmt: skip
                if res.error:
                    raise RuntimeError(res.error)
                candidates.append((round(res.median_ms, 2), round(res.p90_ms, 2), path, res.max_abs_diff,
                                   res.argmax_agreement))  # fmt: skip
                continue
            dtype = resolve_precision(precision, "cpu").dtype
            cl = backend == "channels_last"
            prepared = prepare_for_inference(model, channels_last=cl, dtype=dtype)
            inp = x.to(dtype)
            if cl:
                inp = inp.contiguous(memory_format=torch.channels_last)
            with torch.inference_mode():
                times = time_fn(lambda p=prepared, i=inp: p(i), runs, warmup)
                out = prepared(inp).float()  # not timed: the accuracy check
            diff = float((out - reference).abs().max())
            agree = float((out.argmax(1) == reference.argmax(1)).float().mean())
            candidates.append((*_stats(times), path, diff, agree))
        except Exception as exc:  # one path may not support a model: note it, keep going
            row["note"] = f"{row['note']} {path} failed: {type(exc).__name__}: {exc}"[:300]
    if candidates:
        ms, p90, path, diff, agree = min(candidates)
        row.update(best_ms=ms, best_p90_ms=p90, best_path=path, best_max_abs_diff=f"{diff:.2e}",
                   best_argmax_agree=round(agree, 5))  # fmt: skip
    return row


def _stats(times: list[float]) -> tuple[float, float]:
    """Median and 90th percentile, ms."""
    return round(statistics.median(times), 2), round(float(np.percentile(times, 90)), 2)


# ----------------------------------------------------------------------------- files
def _read(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open() as f:
        return list(csv.DictReader(f))


def _write_csv(path: Path, rows: list[dict[str, object]], fields: Sequence[str]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(fields), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def _num(v: object) -> float:
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def _ms(v: object) -> str:
    x = _num(v)
    return f"{x:.0f}" if x == x else "-"


def markdown(rows: Sequence[dict[str, object]]) -> str:
    """The results as a markdown table (one line per set x model)."""
    head = ["set", "model", "input", "params M", "GMACs", "mIoU (split)", "eager fp32 ms",
            "best ms", "best path", "speed-up", "argmax agree", "note"]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        eager, best = _num(r.get("eager_ms")), _num(r.get("best_ms"))
        miou = _num(r.get("miou"))
        agree = _num(r.get("best_argmax_agree"))
        cells = [
            str(r["set"]), f"`{r['model']}`", f"{r['height']}x{r['width']}",
            f"{_num(r['params_m']):.2f}", f"{_num(r['gmacs']):.1f}",
            f"{miou:.1f} ({r['miou_split']})" if miou == miou else "-",
            f"{eager:.0f}" if eager == eager else "-", f"{best:.0f}" if best == best else "-",
            str(r.get("best_path") or "-"),
            f"{eager / best:.2f}x" if eager == eager and best == best else "-",
            f"{agree * 100:.2f} %" if agree == agree else "-", str(r.get("note") or ""),
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def merge_sessions(
    rows: list[dict[str, object]], other: Sequence[dict[str, object]]
) -> list[dict[str, object]]:
    """Per model x size, the faster eager and best medians of two measuring sessions."""
    key = lambda r: (r["model"], int(r["height"]), int(r["width"]))  # noqa: E731
    theirs = {key(r): r for r in other}
    merged = []
    for r in rows:
        o, r = theirs.get(key(r)), dict(r)
        if o is not None:
            for col, cols in (("eager_ms", ("eager_p90_ms",)), ("best_ms", ("best_p90_ms",
                              "best_path", "best_max_abs_diff", "best_argmax_agree"))):  # fmt: skip
                if _num(o.get(col)) < _num(r.get(col)) or _num(r.get(col)) != _num(r.get(col)):
                    r.update({c: o.get(c) for c in (col, *cols)})
            sessions = int(_num(r.get("sessions")) if _num(r.get("sessions")) > 0 else 1) + 1
            r["sessions"] = sessions
            r["load_avg"] = f"{r['load_avg']}/{o.get('load_avg')}"
        merged.append(r)
    return merged


# ----------------------------------------------------------------------------- charts
def pareto_chart(rows: Sequence[dict[str, object]], path: Path, title: str) -> Path | None:
    """Latency (eager fp32 and best path, two panels) vs published mIoU; FFNets vs prior art."""
    import matplotlib

    matplotlib.use("Agg")
    from collections import Counter

    import matplotlib.pyplot as plt
    from matplotlib.ticker import ScalarFormatter

    pts = [r for r in rows if _num(r.get("miou")) == _num(r.get("miou"))]
    if not pts:
        return None
    sizes = Counter((int(r["height"]), int(r["width"])) for r in pts)
    common = sizes.most_common(1)[0][0]
    fig, axes = plt.subplots(1, 2, figsize=(14, 6), sharey=True)
    for ax, key, label in zip(axes, ("eager_ms", "best_ms"), ("eager fp32", "best path")):
        data = [(_num(r[key]), _num(r["miou"]), r) for r in pts if _num(r.get(key)) > 0]
        for is_ffnet, color, marker, name in ((True, "tab:red", "o", "FFNet"),
                                              (False, "tab:blue", "s", "prior art")):  # fmt: skip
            sel = [(x, y, r) for x, y, r in data if (r["family"] == "ffnet") == is_ffnet]
            ax.scatter([p[0] for p in sel], [p[1] for p in sel], c=color, marker=marker,
                       label=name, s=28, zorder=3)  # fmt: skip
            for x, y, r in sel:
                tag = str(r["model"]) + ("*" if r["miou_split"] == "test" else "")
                if (int(r["height"]), int(r["width"])) != common:
                    tag += f" @{r['height']}x{r['width']}"
                ax.annotate(tag, (x, y), fontsize=6, xytext=(3, 2), textcoords="offset points")
        front, top = [], -math.inf
        for x, y, _ in sorted(data, key=lambda p: (p[0], -p[1])):
            if y > top:
                front.append((x, y))
                top = y
        ax.plot([p[0] for p in front], [p[1] for p in front], "k--", lw=1, label="Pareto front")
        ax.set_xscale("log")
        for axis in (ax.xaxis.set_major_formatter, ax.xaxis.set_minor_formatter):
            axis(ScalarFormatter())
        ax.tick_params(axis="x", which="minor", labelsize=7)
        ax.set_xlabel(f"CPU latency, ms ({label}, batch 1, median)")
        ax.grid(alpha=0.3, which="both")
        ax.set_title(f"{title} (input {common[0]}x{common[1]} unless tagged): {label}")
        ax.legend(fontsize=8, loc="lower right")
    axes[0].set_ylabel("published Cityscapes mIoU (val; * = test)")
    try:
        return atomic_write(
            path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
        )
    finally:
        plt.close(fig)


# ----------------------------------------------------------------------------- main
def _wait_for_idle(limit: float, max_minutes: float) -> None:
    if limit <= 0:
        return
    deadline = time.time() + max_minutes * 60
    while os.getloadavg()[0] >= limit and time.time() < deadline:
        print(f"load average {os.getloadavg()[0]:.2f} >= {limit}: waiting 30 s", flush=True)
        time.sleep(30)
    print(f"starting at load average {os.getloadavg()[0]:.2f}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--set", action="append", choices=("gpu-small", "mobile"), default=None,
                   help="model sets to time (default both)")  # fmt: skip
    p.add_argument("--zoo-latency", action="store_true",
                   help="time every segmentation model at 512x1024 -> zoo_latency.csv")  # fmt: skip
    p.add_argument("--filter", action="append", default=None, help="fnmatch on model names")
    p.add_argument("--size", nargs=2, type=int, metavar=("H", "W"), help="override every size")
    p.add_argument("--runs", type=int, default=3, help="timed runs per path")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--best", action="append", default=None,
                   help="backend:precision candidates for the best path (default "
                        "channels_last:bf16; e.g. onnxruntime:fp32, channels_last:fp32)")  # fmt: skip
    p.add_argument("--max-run-s", type=float, default=20.0, help="skip slower models")
    p.add_argument("--max-minutes", type=float, default=None, help="stop timing after this")
    p.add_argument("--wait-load", type=float, default=1.5,
                   help="first wait (<= 20 min) for a 1-min load average below this; 0: no wait")  # fmt: skip
    p.add_argument("--resume", action="store_true", help="keep rows already in the CSV")
    p.add_argument("--plot-only", action="store_true", help="only redraw charts and tables")
    p.add_argument("--merge", action="append", default=[],
                   help="another session's zoo_comparison.csv: keep the faster median per "
                        "model and path (contention on a shared CPU only adds time)")  # fmt: skip
    p.add_argument("--out-dir", default=str(OUT))
    args = p.parse_args(argv)
    with torch_threads(args.threads), flushed_denormals():
        return _run(args, argv)


def _run(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results_csv = out / "zoo_comparison.csv"
    best = args.best or ["channels_last:bf16"]
    sets = model_sets()
    chosen = ["zoo"] if args.zoo_latency else (args.set or ["gpu-small", "mobile"])
    rows: list[dict[str, object]] = list(_read(results_csv)) if (args.resume or args.plot_only) else []  # fmt: skip
    if not args.plot_only:
        todo = []
        for s in chosen:
            for name, size in sets[s]:
                if args.filter and not any(fnmatch.fnmatch(name, f) for f in args.filter):
                    continue
                todo.append((s, name, tuple(args.size) if args.size else size))
        _wait_for_idle(args.wait_load, 20)
        start = time.time()
        for s, name, size in todo:
            done = [r for r in rows if r["set"] == s and r["model"] == name
                    and (int(r["height"]), int(r["width"])) == size]  # fmt: skip
            same = [r for r in rows if r["model"] == name and _num(r.get("best_ms")) > 0
                    and (int(r["height"]), int(r["width"])) == size]  # fmt: skip
            if done:
                continue
            if same:  # already measured at this size in another set: reuse
                rows.append({**same[0], "set": s})
                continue
            if args.max_minutes and time.time() - start > args.max_minutes * 60:
                print(f"--max-minutes reached: {name} and later models not timed", flush=True)
                break
            t0 = time.time()
            row = {"set": s, **measure(name, size, runs=args.runs, warmup=args.warmup,
                                       threads=args.threads, best=best,
                                       max_run_s=args.max_run_s)}  # fmt: skip
            rows.append(row)
            _write_csv(results_csv, rows, FIELDS)
            print(f"[{time.time() - start:6.0f} s] {s:9s} {name:32s} {size[0]}x{size[1]} "
                  f"eager {row.get('eager_ms', '-')} ms  best {row.get('best_ms', '-')} ms "
                  f"({row.get('best_path', '-')})  load {row['load_avg']}  "
                  f"[{time.time() - t0:.0f} s] {row['note']}", flush=True)  # fmt: skip
        _write_csv(results_csv, rows, FIELDS)

    for other in args.merge:
        rows = merge_sessions(rows, _read(Path(other)))
        _write_csv(results_csv, rows, FIELDS)
    info = machine_info(args.threads)
    meta = "\n".join(f"- {k}: {v}" for k, v in info.items())
    cmd = "OMP_WAIT_POLICY=PASSIVE python benchmarks/ffnet_vs_prior_art.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    table = markdown(rows)
    print(table)
    atomic_write_text(
        out / "zoo_comparison.md",
        "# FFNet vs prior art: CPU latency table (generated)\n\n"
        f"Written by `benchmarks/ffnet_vs_prior_art.py` (last command: `{cmd}`); "
        f"see [zoo.md](zoo.md) for the protocol and caveats.\n\n{meta}\n\n{table}\n",
    )
    for s, title in (("gpu-small", "GPU-small class"), ("mobile", "mobile class")):
        chart = pareto_chart([r for r in rows if r["set"] == s], out / f"zoo_{s}.png", title)
        if chart:
            print(f"wrote {chart}")
    zoo = {r["model"]: r for r in rows if (int(r["height"]), int(r["width"])) == HALF
           and (_num(r.get("eager_ms")) > 0 or _num(r.get("best_ms")) > 0)}  # fmt: skip
    if args.zoo_latency or (out / "zoo_latency.csv").is_file():
        latency = [{"model": m, "eager_ms": _ms(r.get("eager_ms")), "best_ms": _ms(r.get("best_ms"))}
                   for m, r in sorted(zoo.items())]  # fmt: skip
        _write_csv(out / "zoo_latency.csv", latency, ["model", "eager_ms", "best_ms"])
        print(f"wrote {out / 'zoo_latency.csv'} ({len(latency)} models)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
