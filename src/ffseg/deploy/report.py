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

__all__ = [
    "RESULT_SUFFIXES",
    "miou_label",
    "miou_table",
    "pareto_plot",
    "results_markdown",
    "write_results",
]

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


#: The results file formats :func:`write_results` writes, by suffix.
RESULT_SUFFIXES = (".csv", ".json", ".md")


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
        key = _published_key(name)
        if key is not None:
            table[name] = float(get_pretrained_cfg(name).published[key])
    return table


def _published_key(name: str) -> str | None:
    return next((k for k in get_pretrained_cfg(name).published if "miou" in k), None)


def miou_label(names: Iterable[str], miou_file: str | os.PathLike[str] | None = None) -> str:
    """What the mIoU axis shows: the file it came from, or which published number (dataset,
    split) at which resolution."""
    if miou_file:
        return f"mIoU, % (measured: {Path(miou_file).name})"
    names = list(dict.fromkeys(names))
    keys = {k for k in map(_published_key, names) if k}
    where = ", ".join(sorted(k.removesuffix("_miou").replace("_", " ") for k in keys)) or "-"
    size = {tuple(get_pretrained_cfg(n).input_size[1:]) for n in names}
    at = "at " + "x".join(map(str, next(iter(size)))) if len(size) == 1 else "native sizes"
    return f"published mIoU, % ({where}, as reported by the authors; {at})"


def _latency_label(results: Sequence[BenchResult]) -> str:
    sizes = {f"{r.height}x{r.width}" for r in results}
    batches = {r.batch for r in results}
    threads = {r.threads for r in results}
    size = sizes.pop() if len(sizes) == 1 else "native input sizes"
    return (
        f"latency, ms (median; input {size}, batch {'/'.join(map(str, sorted(batches)))}, "
        f"{'/'.join(map(str, sorted(threads)))} threads)"
    )


def _marker_label(backend: str, precision: str, group: Sequence[BenchResult]) -> str:
    agree = [r.argmax_agreement for r in group if r.argmax_agreement == r.argmax_agreement]
    if precision == "fp32" or not agree:
        return f"{backend} {precision}"
    return f"{backend} {precision} (argmax agrees with fp32 on {100 * min(agree):.1f}%)"


def pareto_plot(
    results: Sequence[BenchResult],
    path: str | os.PathLike[str],
    miou: dict[str, float],
    *,
    title: str = "",
    miou_axis: str = "mIoU, %",
) -> Path:
    """Latency vs mIoU as a PNG: one marker per backend/precision, the Pareto front of each
    model's fastest configuration joined by a line, axes saying what was measured.

    ``miou`` maps model names to mIoU (e.g. :func:`miou_table`); ``miou_axis`` says which
    (e.g. :func:`miou_label`). Models without an mIoU are left out.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [r for r in results if not r.error and r.model in miou]
    if not shown:
        raise ValueError("no benchmarked model has an mIoU to plot (pass --miou-file)")
    groups: dict[tuple[str, str], list[BenchResult]] = {}
    for r in shown:
        groups.setdefault((r.backend, r.precision), []).append(r)
    best: dict[str, float] = {}
    for r in shown:
        best[r.model] = min(best.get(r.model, float("inf")), r.median_ms)
    points = sorted((lat, miou[m], m) for m, lat in best.items())
    front, top = [], -float("inf")
    for lat, acc, _name in points:
        if acc > top:
            front.append((lat, acc))
            top = acc
    fig, ax = plt.subplots(figsize=(8, 5.5))
    for (backend, precision), group in groups.items():
        xs, ys = [r.median_ms for r in group], [miou[r.model] for r in group]
        ax.scatter(
            xs,
            ys,
            marker=_MARKERS[len(ax.collections) % len(_MARKERS)],
            label=_marker_label(backend, precision, group),
        )
    for lat, acc, name in points:
        ax.annotate(name, (lat, acc), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.plot([p[0] for p in front], [p[1] for p in front], "r--", label="Pareto front (fastest)")
    ax.set_xlabel(_latency_label(shown))
    ax.set_ylabel(miou_axis)
    ax.set_title(title or "latency vs mIoU")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    try:
        return atomic_write(
            path, lambda tmp: fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
        )
    finally:
        plt.close(fig)


_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
