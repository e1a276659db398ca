"""Reporting benchmark results: markdown / CSV / JSON files and a latency-vs-mIoU Pareto plot."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from ffseg._io import atomic_write, atomic_write_text
from ffseg.deploy.bench import BenchResult
from ffseg.models import get_pretrained_cfg

__all__ = ["miou_table", "pareto_plot", "results_markdown", "write_results"]

_COLUMNS = [f.name for f in fields(BenchResult)]
_HEADER = [
    "model", "input", "backend", "prec", "median ms", "p90 ms", "img/s", "params M", "GMACs",
    "GFLOP/s", "% peak", "speedup", "max abs diff", "argmax agree", "note",
]  # fmt: skip


def _num(value: float, fmt: str, suffix: str = "") -> str:
    return "" if value != value else format(value, fmt) + suffix  # NaN -> empty


def _row(r: BenchResult) -> list[str]:
    return [
        r.model,
        f"{r.batch}x{r.height}x{r.width}",
        r.backend,
        r.precision,
        _num(r.median_ms, ".1f"),
        _num(r.p90_ms, ".1f"),
        _num(r.images_per_s, ".2f"),
        _num(r.params_m, ".2f"),
        _num(r.gmacs, ".1f"),
        _num(r.gflops_per_s, ".1f"),
        _num(r.peak_share * 100, ".0f"),
        _num(r.speedup_vs_raw, ".2f", "x"),
        _num(r.max_abs_diff, ".2e"),
        _num(r.argmax_agreement * 100, ".2f"),
        r.error,
    ]


def results_markdown(results: Sequence[BenchResult]) -> str:
    """A markdown table of results (errors in the last column)."""
    lines = ["| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
    lines += ["| " + " | ".join(_row(r)) + " |" for r in results]
    return "\n".join(lines)


def _csv(results: Sequence[BenchResult]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=_COLUMNS)
    writer.writeheader()
    for r in results:
        writer.writerow(r.to_dict())
    return buf.getvalue()


def write_results(
    results: Sequence[BenchResult],
    path: str | os.PathLike[str],
    meta: dict[str, Any] | None = None,
) -> Path:
    """Write results as ``.csv``, ``.json`` or ``.md`` (by suffix), atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        text = _csv(results)
    elif suffix == ".json":
        data = {"meta": meta or {}, "results": [r.to_dict() for r in results]}
        text = json.dumps(data, indent=2)
    elif suffix == ".md":
        info = "\n".join(f"- {k}: {v}" for k, v in (meta or {}).items())
        text = (info + "\n\n" if info else "") + results_markdown(results) + "\n"
    else:
        raise ValueError(f"results file must end in .csv, .json or .md, got {path}")
    return atomic_write_text(path, text)


def miou_table(names: Iterable[str], miou_file: str | os.PathLike[str] | None = None) -> dict:
    """``{model: mIoU}`` from a JSON file, else the published mIoU in each model's cfg."""
    if miou_file:
        try:
            data = json.loads(Path(miou_file).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(
                f"cannot read mIoU file {miou_file}: {exc} (expected JSON {{model: mIoU}})"
            ) from exc
        return {str(k): float(v) for k, v in data.items()}
    table = {}
    for name in dict.fromkeys(names):
        published = get_pretrained_cfg(name).published
        value = next((v for k, v in published.items() if "miou" in k), None)
        if value is not None:
            table[name] = float(value)
    return table


def pareto_plot(
    results: Sequence[BenchResult],
    path: str | os.PathLike[str],
    miou: dict[str, float],
    *,
    title: str = "",
) -> Path:
    """Latency (best backend per model) vs mIoU as a PNG, the Pareto front joined by a line.

    ``miou`` maps model names to mIoU (e.g. :func:`miou_table`); models without one are left
    out.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    best: dict[str, float] = {}
    for r in results:
        if not r.error and r.model in miou:
            best[r.model] = min(best.get(r.model, float("inf")), r.median_ms)
    if not best:
        raise ValueError("no benchmarked model has an mIoU to plot (pass --miou-file)")
    points = sorted((lat, miou[m], m) for m, lat in best.items())
    front, top = [], -float("inf")
    for lat, acc, _name in points:
        if acc > top:
            front.append((lat, acc))
            top = acc
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.scatter([p[0] for p in points], [p[1] for p in points])
    for lat, acc, name in points:
        ax.annotate(name, (lat, acc), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.plot([p[0] for p in front], [p[1] for p in front], "r--", label="Pareto front")
    ax.set_xlabel("latency, ms (median, best backend)")
    ax.set_ylabel("mIoU")
    ax.set_title(title or "latency vs mIoU")
    ax.grid(alpha=0.3)
    ax.legend()
    try:
        return atomic_write(
            path, lambda tmp: fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
        )
    finally:
        plt.close(fig)
