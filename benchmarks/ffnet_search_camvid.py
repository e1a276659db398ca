"""The FFNet paper's future work, measured: a latency-aware search of the FFNet design space on
CamVid on this CPU, compared with the registered mobile FFNets and zoo networks.

Every network (search trial or reference) trains with the packaged CamVid CPU recipe (240x320
crops, ``train.amp=auto``: bf16 autocast where the CPU has bf16 instructions, else fp32;
channels_last, EMA off) for the same wall-clock budget ``--minutes``
(``train.max_minutes``), is evaluated once on CamVid val, and is timed at 360x480 on the
fastest CPU backend/precision (picked first by timing a mid-size FFNet on each candidate).
The search is ``ffseg.tune`` with two objectives (val mIoU up, latency down; NSGA-II) over
mobile FFNet design-space names and the learning rate. The references' results go to
``<study>/references.csv`` (resumable: a model already there is skipped) and the study itself
is resumable (re-running continues it). Results, chart and command go to
docs/benchmarks/search.md and docs/benchmarks/search.png.

    python benchmarks/ffnet_search_camvid.py --trials 24 --minutes 10       # hours: idle machine
    python benchmarks/ffnet_search_camvid.py --trials 2 --minutes 0.1 --references fastscnn \\
        --set data.subset=16 --set data.val_subset=4 --study-dir /tmp/s --out-dir /tmp/s  # smoke
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import re
import shutil
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import environment

import ffseg
from ffseg._io import atomic_write_text
from ffseg.config import load_config
from ffseg.deploy.bench import BenchResult, benchmark_model, load_bench_model
from ffseg.deploy.report import pareto_plot
from ffseg.engine.precision import resolve_precision
from ffseg.engine.train import fit
from ffseg.tune import LatencyCache, LatencySpec, Reference, design_space_names, tune

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "benchmarks"
RECIPE = "ffnet40s_dbbb_mobile_camvid-360x480_cpu"
SIZE = (360, 480)
NUM_CLASSES = 11
#: The searched architectures: mobile FFNets of the shallower backbones, every head/up-head.
SEARCHED = r"ffnet(18|22|34|40|54)(s|ns)?_d?[a-c][a-c][a-c]_mobile"
REFERENCES = [
    "ffnet40s_bbb_mobile",
    "ffnet40s_dbbb_mobile",
    "ffnet46ns_cbb_mobile",
    "ffnet54s_dbbb_mobile",
    "ffnet78s_dbbb_mobile",
    "fastscnn",
    "bisenetv2",
    "ddrnet23_slim",
    "pp_liteseg_t",
    "stdc1",
]
#: Backend/precision pairs tried for the latency measurement (the fastest is used).
CANDIDATES = [
    ("eager", "fp32"),
    ("channels_last", "fp32"),
    ("channels_last", "bf16"),
    ("onnxruntime", "fp32"),
]
PROBE = "ffnet40s_dbbb_mobile"
#: A reference trained fewer iterations than this is flagged in the report.
MIN_ITERATIONS = 20
FIELDS = ["model", "kind", "val_miou", "latency_ms", "iterations", "budget_min", "date"]


def budget_overrides(args: argparse.Namespace) -> list[str]:
    """The recipe changes every network shares: data, budget, precision, channels_last, one
    eval."""
    return [
        f"data.root={args.root}",
        "train.amp=auto",
        "model.channels_last=true",
        "train.ema=false",
        f"train.max_minutes={args.minutes}",
        "train.eval_every=100000",
        "log.progress=false",
        "log.overlays=0",
        "log.tensorboard=false",
        *args.overrides,
    ]


def best_backend(runs: int) -> tuple[str, str]:
    """The fastest (backend, precision) of :data:`CANDIDATES` on this CPU for a mid-size FFNet."""
    model = load_bench_model(PROBE, num_classes=NUM_CLASSES)
    timed = []
    for backend, precision in CANDIDATES:
        (r,) = benchmark_model(
            model, SIZE, backends=(backend,), precisions=(precision,), runs=runs, warmup=2
        )
        if not r.error:
            timed.append((r.median_ms, backend, precision))
            print(f"latency probe {PROBE} {backend}/{precision}: {r.median_ms:.1f} ms")
    if not timed:
        raise RuntimeError("no CPU backend could be timed")
    _, backend, precision = min(timed)
    return backend, precision


def write_space(path: Path, lr: tuple[float, float]) -> Path:
    names = [n for n in design_space_names() if re.fullmatch(SEARCHED, n)]
    lines = [f"model.name: {{choices: [{', '.join(names)}]}}"]
    lines.append(f"optim.lr: {{type: float, low: {lr[0]!r}, high: {lr[1]!r}, log: true}}")
    return atomic_write_text(path, "\n".join(lines) + "\n")


def read_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.read_text().splitlines())) if path.is_file() else []


def write_rows(path: Path, rows: list[dict[str, str]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def train_reference(name: str, args: argparse.Namespace, cache: LatencyCache) -> dict[str, str]:
    """Train one reference network on the same budget; its row."""
    extra = [f"model.name={name}", "model.kwargs={}", f"train.output_dir={args.study_dir}/refs"]
    cfg = load_config(args.recipe, [*budget_overrides(args), *extra, f"train.name={name}"])
    result = fit(cfg)
    ms = cache.get(name, SIZE, num_classes=result.num_classes, model=result.model.float())
    return {
        "model": name,
        "kind": "registered FFNet" if name.startswith("ffnet") else "zoo",
        "val_miou": f"{100 * max(result.best_score, 0.0):.2f}",
        "latency_ms": f"{ms:.1f}",
        "iterations": str(result.iterations),
        "budget_min": f"{args.minutes:g}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def verdict(pareto: list[dict[str, str]], refs: list[dict[str, str]]) -> list[str]:
    """For each reference (registered FFNets first): the best searched network at no more
    latency, and the gap."""
    lines = []
    for ref in sorted(refs, key=lambda r: r["kind"] != "registered FFNet"):
        budget = float(ref["latency_ms"])
        fits = [p for p in pareto if float(p["latency_ms"]) <= budget * 1.05]
        if not fits:
            lines.append(
                f"- `{ref['model']}` ({ref['kind']}, {budget:.1f} ms, "
                f"{float(ref['val_miou']):.2f} mIoU): no searched network as fast."
            )
            continue
        best = max(fits, key=lambda p: float(p["val_miou"]))
        gap = float(best["val_miou"]) - float(ref["val_miou"])
        word = "beats" if gap > 0 else "does not beat"
        lines.append(
            f"- `{ref['model']}` ({ref['kind']}, {budget:.1f} ms, {float(ref['val_miou']):.2f} "
            "mIoU): the search's "
            f"`{best['model']}` ({float(best['latency_ms']):.1f} ms) {word} it by {gap:+.2f} mIoU"
        )
    return lines


def report(args: argparse.Namespace, result, refs: list[dict[str, str]], header: str) -> None:
    pareto = []
    for b in result.best:
        name = b["params"].get("model.name", "?")
        label = f"{name} (trial {b['number']}, lr {b['params'].get('optim.lr', 0):.2g})"
        miou, ms = f"{100 * b['values'][0]:.2f}", f"{b['values'][1]:.1f}"
        pareto.append({"model": label, "val_miou": miou, "latency_ms": ms})
    lines = ["# Latency-aware FFNet search on CamVid (CPU)", "", header, ""]
    lines += ["## Verdict at equal or lower latency (up to +5%)", "", *verdict(pareto, refs), ""]
    lines += ["## Pareto front of the search", "", "| network | val mIoU | latency (ms) |"]
    lines += ["|---|---:|---:|"] + [
        f"| {p['model']} | {p['val_miou']} | {p['latency_ms']} |"
        for p in sorted(pareto, key=lambda p: float(p["latency_ms"]))
    ]
    lines += ["", "## References (same budget)", ""]
    lines += [
        "| model | kind | val mIoU | latency (ms) | iterations trained |",
        "|---|---|---:|---:|---:|",
    ]
    lines += [
        f"| `{r['model']}` | {r['kind']} | {r['val_miou']} | {r['latency_ms']} | {r['iterations']} |"
        for r in refs
    ]
    starved = [f"`{r['model']}`" for r in refs if int(r.get("iterations") or 0) < MIN_ITERATIONS]
    if starved:
        lines += [
            "",
            f"{', '.join(starved)}: fewer than {MIN_ITERATIONS} iterations in the budget (a "
            "slow network: its iterations and its final evaluation both cost more); its score "
            "says how slow it is more than how well it learns.",
        ]
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(result.trials_csv, out / "search_trials.csv")
    write_rows(out / "search_references.csv", refs)
    lines += [
        "",
        "Every trial: [`search_trials.csv`](search_trials.csv); the references: "
        "[`search_references.csv`](search_references.csv); chart: `search.png`.",
        "",
    ]
    atomic_write_text(out / "search.md", "\n".join(lines))
    print(f"wrote {out / 'search.md'}")
    shown = pareto + refs
    threads = torch.get_num_threads()  # LatencySpec's default: torch's own thread count
    results = [
        BenchResult(
            r["model"], *SIZE, 1, args.backend, args.precision, threads, float(r["latency_ms"])
        )
        for r in shown
    ]
    try:
        chart = pareto_plot(
            results,
            out / "search.png",
            {r["model"]: float(r["val_miou"]) for r in shown},
            title=f"CamVid, {args.minutes:g} min per network: searched FFNets vs references",
            miou_axis="CamVid val mIoU, %",
        )
        print(f"wrote {chart}")
    except ImportError:
        print("matplotlib is not installed: no chart (pip install 'ffseg[plot]')")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=24, help="search trials (study total)")
    p.add_argument("--minutes", type=float, default=10.0, help="wall-clock budget per network")
    p.add_argument("--references", default=",".join(REFERENCES), help="a,b,c: reference models")
    p.add_argument("--recipe", default=RECIPE, help="base recipe (name or YAML file)")
    p.add_argument("--root", default=str(ROOT.parent / "shared" / "datasets" / "camvid"))
    p.add_argument("--study-dir", default=str(ROOT / "runs" / "search"), help="study parent")
    p.add_argument("--out-dir", default=str(OUT), help="where search.md and search.png go")
    p.add_argument("--storage", default=None, help="Optuna storage (default: SQLite file)")
    p.add_argument("--runs", type=int, default=20, help="timed runs per latency measurement")
    p.add_argument("--backend", default=None, help="latency backend (default: the fastest)")
    p.add_argument("--precision", default="fp32", help="latency precision with --backend")
    p.add_argument("--lr", type=float, nargs=2, default=(5e-4, 5e-3), help="searched LR range")
    p.add_argument("--seed", type=int, default=0, help="sampler seed")
    p.add_argument("--set", dest="overrides", action="append", default=[], help="recipe override")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    study_dir = Path(args.study_dir)
    study_dir.mkdir(parents=True, exist_ok=True)
    if args.backend is None:
        args.backend, args.precision = best_backend(args.runs)
    spec = LatencySpec(args.backend, args.precision, SIZE, runs=args.runs)
    command = "python benchmarks/ffnet_search_camvid.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    header = (
        f"Written by `benchmarks/ffnet_search_camvid.py`: recipe `{args.recipe}` "
        f"({resolve_precision('auto', 'cpu').name} + channels_last training, EMA off), "
        f"{args.minutes:g} min per network, from scratch; "
        f"CamVid val mIoU; latency at {SIZE[0]}x{SIZE[1]}, batch 1, {args.backend}/"
        f"{args.precision} (the fastest CPU backend), median.\n\n{environment()}\n"
        f"- ffseg {ffseg.__version__}\n- command: `{command}`"
    )
    cache = LatencyCache(study_dir / "camvid_search" / "latency", spec)
    refs_csv = study_dir / "references.csv"
    refs = read_rows(refs_csv)
    for name in [n for n in args.references.split(",") if n]:
        if name in {r["model"] for r in refs}:
            continue
        print(f"=== reference {name}: {args.minutes:g} min ===")
        try:
            refs.append(train_reference(name, args, cache))
        except Exception:  # one model's failure must not end the benchmark; retried next run
            logging.exception("reference %s failed (not in %s)", name, refs_csv)
            continue
        write_rows(refs_csv, refs)
    space = write_space(study_dir / "space.yaml", tuple(args.lr))
    result = tune(
        args.recipe,
        space,
        trials=args.trials,
        study="camvid_search",
        storage=args.storage,
        objectives="miou,latency",
        pruner="none",
        out=study_dir,
        latency=spec,
        references=[
            Reference(r["model"], float(r["val_miou"]) / 100, float(r["latency_ms"])) for r in refs
        ],
        overrides=budget_overrides(args),
        seed=args.seed,
        emit=print,
    )
    report(args, result, refs, header)
    return 0


if __name__ == "__main__":
    sys.exit(main())
