"""Train any subset of the zoo on CamVid from scratch, the same wall-clock budget each.

Every model trains with the packaged CamVid CPU recipe (240x320 crops, bf16 autocast,
channels_last; EMA off, so the short run's own weights are scored) for ``--minutes``
(``train.max_minutes``: the LR schedule follows the clock and the run stops in time for its final
evaluation), is evaluated on CamVid val at the labels' 360x480, and timed on the CPU at 360x480
(eager fp32, batch 1). The table (val mIoU, inference params, GMACs, CPU latency, training
images/s) goes to docs/benchmarks/zoo_camvid.md/.csv and the latency-vs-mIoU chart to
docs/benchmarks/zoo_camvid.png. A model already in the CSV is skipped (resumable): delete its
row to re-run it.

    python benchmarks/zoo_camvid.py --models default --minutes 10     # 16 models, both groups
    python benchmarks/zoo_camvid.py --models fastscnn,enet,smp:Unet:resnet18 --minutes 5
    python benchmarks/zoo_camvid.py --report-only                      # md + png from the CSV
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import gc
import io
import logging
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import environment

import ffseg
from ffseg._io import atomic_write_text
from ffseg.config import load_config
from ffseg.deploy.bench import BenchResult, benchmark_model
from ffseg.deploy.flops import count_macs, count_params
from ffseg.deploy.report import pareto_plot
from ffseg.engine.train import fit
from ffseg.models import list_models, resolve_name

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "benchmarks"
RECIPE = "ffnet40s_dbbb_mobile_camvid-360x480_cpu"  # packaged: `ffseg recipes`
SIZE = (360, 480)  # CamVid's label resolution: evaluation and latency
NUM_CLASSES = 11
#: Group I (the real-time comparison set) and group II (compact networks), ../shared/specs/zoo.md.
GROUP_1 = [
    "hrnetv2_w18",
    "ddrnet23_slim",
    "ddrnet23",
    "fanet18",
    "bisenetv1",
    "bisenetv2",
    "stdc1",
    "stdc2",
    "pp_liteseg_t",
    "pp_liteseg_b",
    "fastscnn",
    "regseg",
    "swiftnet",
    "icnet",
    "linknet",
    "shelfnet",
    "farseenet",
    "dfanet",
    "liteseg",
    "canet",
    "sqnet",
]
GROUP_2 = [
    "adscnet",
    "aglnet",
    "cfpnet",
    "cgnet",
    "contextnet",
    "dabnet",
    "edanet",
    "enet",
    "erfnet",
    "esnet",
    "espnet",
    "espnetv2",
    "fddwnet",
    "fpenet",
    "fssnet",
    "lednet",
    "lite_hrnet18",
    "mininet",
    "mininetv2",
    "segnet",
]
#: 14 models covering both groups, plus FFNet and an smp baseline.
DEFAULT = [
    "ffnet40s_dbbb_mobile",
    "fastscnn",
    "regseg",
    "ddrnet23_slim",
    "bisenetv2",
    "stdc1",
    "pp_liteseg_t",
    "liteseg",
    "enet",
    "erfnet",
    "cgnet",
    "contextnet",
    "espnetv2",
    "lednet",
    "dabnet",
    "smp:Unet:resnet18",
]
GROUPS = {"group1": GROUP_1, "group2": GROUP_2, "zoo": GROUP_1 + GROUP_2, "default": DEFAULT}
FIELDS = [
    "model",
    "group",
    "val_miou",
    "params_m",
    "train_heads_m",
    "gmacs",
    "cpu_ms",
    "train_img_s",
    "threads",
    "iterations",
    "train_min",
    "budget_min",
    "date",
]


def group_of(name: str) -> str:
    if name in GROUP_1:
        return "I"
    if name in GROUP_2:
        return "II"
    return "smp" if name.startswith("smp:") else "ffnet" if name.startswith("ffnet") else "-"


def select(spec: str) -> list[str]:
    """Model names from ``a,b,c`` (names, ``fnmatch`` patterns, groups, ``smp:...`` names);
    group members not registered (yet) are skipped with a note."""
    registered = set(list_models())
    names: list[str] = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        if item in GROUPS:
            found = [n for n in GROUPS[item] if n in registered]
            missing = sorted(set(GROUPS[item]) - registered)
            if missing:
                print(f"note: not registered (skipped): {', '.join(missing)}")
        elif item.startswith("smp:"):
            found = [item]
        elif any(c in item for c in "*?["):
            found = sorted(n for n in registered if fnmatch.fnmatch(n, item))
        else:
            found = [resolve_name(item)]
        names += [n for n in found if n not in names]
    return names


def read_rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open() as f:
        return list(csv.DictReader(f))


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def overrides(name: str, args: argparse.Namespace) -> list[str]:
    """The recipe changes of one model's run (its own model, the budget, only a final eval)."""
    run = name.replace(":", "_")
    return [
        f"data.root={args.root}",
        f"model.name={name}",
        "model.kwargs={}",
        "train.ema=false",
        f"train.max_minutes={args.minutes}",
        "train.eval_every=100000",
        f"train.output_dir={args.output_dir}",
        f"train.name=zoo_camvid_{run}",
        "log.progress=false",
        "log.overlays=0",
        "log.tensorboard=false",
        *args.overrides,
    ]


def measure(name: str, args: argparse.Namespace) -> dict[str, str]:
    """Train, evaluate and time one model; its CSV row."""
    cfg = load_config(args.recipe, overrides(name, args))
    result = fit(cfg)
    model = result.model.float().eval()
    aux = getattr(model, "aux_heads", None)
    heads = count_params(aux) if isinstance(aux, torch.nn.Module) else 0
    timed = benchmark_model(
        model, SIZE, backends=("raw",), precisions=("fp32",), runs=args.runs, warmup=1
    )[0]
    with torch.device("meta"):
        layout = ffseg.create_model(name, num_classes=NUM_CLASSES)
    images = result.iterations * cfg.data.batch_size
    return {
        "model": name,
        "group": group_of(name),
        "val_miou": f"{100 * (result.score or 0.0):.2f}",
        "params_m": f"{(count_params(model) - heads) / 1e6:.3f}",
        "train_heads_m": f"{heads / 1e6:.3f}",
        "gmacs": f"{count_macs(layout, SIZE) / 1e9:.2f}",
        "cpu_ms": f"{timed.median_ms:.1f}",
        "train_img_s": f"{images / max(result.train_seconds, 1e-9):.2f}",
        "threads": str(torch.get_num_threads()),
        "iterations": str(result.iterations),
        "train_min": f"{result.seconds / 60:.2f}",
        "budget_min": f"{args.minutes:g}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def markdown(rows: list[dict[str, str]], header: str) -> str:
    rows = sorted(rows, key=lambda r: -float(r["val_miou"]))
    lines = [
        "# The zoo on CamVid from scratch, same wall-clock budget each",
        "",
        header,
        "",
        "| model | group | val mIoU | params (M) | train-only heads (M) | GMACs 360x480 "
        "| CPU ms 360x480 | train img/s | threads | iterations | minutes | budget | date |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        cells = [f"`{r['model']}`", *(r[k] for k in FIELDS[1:])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def chart(rows: list[dict[str, str]], path: Path, minutes: str) -> Path:
    results = [
        BenchResult(
            r["model"], *SIZE, 1, "raw", "fp32", torch.get_num_threads(), float(r["cpu_ms"])
        )
        for r in rows
    ]
    miou = {r["model"]: float(r["val_miou"]) for r in rows}
    return pareto_plot(
        results,
        path,
        miou,
        title=f"CamVid from scratch, {minutes} min each: CPU latency vs val mIoU",
        miou_axis="CamVid val mIoU, % (360x480 labels)",
    )


def report(rows: list[dict[str, str]], out_dir: Path, header: str) -> None:
    if not rows:
        print("no results yet")
        return
    md = out_dir / "zoo_camvid.md"
    atomic_write_text(md, markdown(rows, header))
    print(f"wrote {md}")
    budgets = sorted({r["budget_min"] for r in rows})
    try:
        print(f"wrote {chart(rows, out_dir / 'zoo_camvid.png', '/'.join(budgets))}")
    except ImportError:
        print("matplotlib is not installed: no chart (pip install 'ffseg[plot]')")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    groups = ", ".join(GROUPS)
    p.add_argument(
        "--models",
        default="default",
        help=f"a,b,c: names, fnmatch patterns, groups ({groups}) or smp:<Arch>:<encoder>",
    )
    p.add_argument("--minutes", type=float, default=10.0, help="wall-clock budget per model")
    p.add_argument("--recipe", default=RECIPE, help="base recipe (name or YAML file)")
    p.add_argument("--root", default=str(ROOT.parent / "shared" / "datasets" / "camvid"))
    p.add_argument("--output-dir", default=str(ROOT / "runs"), help="parent of the run folders")
    p.add_argument("--out-dir", default=str(OUT), help="where the table and chart go")
    p.add_argument("--runs", type=int, default=10, help="timed CPU runs per model")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    p.add_argument("--set", dest="overrides", action="append", default=[], help="recipe override")
    p.add_argument("--report-only", action="store_true", help="rewrite md + png from the CSV")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    out_dir = Path(args.out_dir)
    csv_path = out_dir / "zoo_camvid.csv"
    command = "python benchmarks/zoo_camvid.py " + " ".join(sys.argv[1:] if argv is None else argv)
    header = (
        f"Written by `benchmarks/zoo_camvid.py`: recipe `{args.recipe}` (EMA off), from scratch,"
        " evaluated on CamVid val (101 images) at 360x480; CPU ms: eager fp32, batch 1, median."
        f"\n\n{environment()}\n- ffseg {ffseg.__version__}\n- last command: `{command}`"
    )
    print(header)
    rows = read_rows(csv_path)
    if not args.report_only:
        done = {r["model"] for r in rows}
        failed: list[str] = []
        for name in select(args.models):
            if name in done:
                print(f"{name}: already in {csv_path} (skipped)")
                continue
            print(f"=== {name}: {args.minutes:g} min ===")
            try:
                rows.append(measure(name, args))
            except Exception as exc:  # one model's failure must not end the benchmark
                logging.exception("%s failed", name)
                failed.append(f"{name} ({type(exc).__name__}: {exc})")
                continue
            finally:
                gc.collect()
            write_csv(csv_path, rows)
            print(f"{name}: val mIoU {rows[-1]['val_miou']}, CPU {rows[-1]['cpu_ms']} ms")
        if failed:
            print("failed (not in the CSV, retried on the next run):\n  " + "\n  ".join(failed))
    report(rows, out_dir, header)
    return 0


if __name__ == "__main__":
    sys.exit(main())
