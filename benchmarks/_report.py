"""Shared helpers of the training benchmarks: environment description, markdown sections."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

import torch
import torchvision

from ffseg.engine.precision import cpu_has_native_bf16

__all__ = ["environment", "load_note", "write_section"]

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / "training.md"
HEADER = """# Training benchmarks

Written by `benchmarks/train_throughput.py` and `benchmarks/camvid_cpu.py` (each replaces its
own section). Numbers come from a shared machine: other jobs ran at the same time, so absolute
speeds are pessimistic and noisy; ratios measured back to back are more reliable.
"""


def load_note(load: float, cores: int, shared_effect: str) -> str:
    """What the 1-min load average at the start says about the figures: ``shared_effect`` is
    said when other jobs ran (above 1.5x the cores; the average lags a just-ended job)."""
    if load > 1.5 * cores:
        return (
            f"The machine was shared with other jobs while this ran (1-min load average "
            f"{load:.1f} at the start on {cores} logical cores): {shared_effect}"
        )
    return f"The machine was otherwise idle (1-min load average {load:.1f} at the start on {cores} logical cores)."


def environment() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"- machine: {platform.node() or '?'} ({platform.system()} {platform.release()}), CPU {cpu} "
        f"({torch.backends.cpu.get_cpu_capability()}, bf16 instructions: "
        f"{'yes' if cpu_has_native_bf16() else 'no'}), {os.cpu_count()} logical cores, "
        f"torch threads {torch.get_num_threads()}, 1-min load average at start {load:.1f}\n"
        f"- python {platform.python_version()}, torch {torch.__version__}, "
        f"torchvision {torchvision.__version__}"
    )


def write_section(name: str, body: str, doc: Path = DOC) -> Path:
    """Replace (or append) the ``<!-- name -->`` ... ``<!-- /name -->`` section of the doc."""
    doc.parent.mkdir(parents=True, exist_ok=True)
    text = doc.read_text() if doc.is_file() else HEADER
    block = f"<!-- {name} -->\n{body.strip()}\n<!-- /{name} -->"
    pattern = re.compile(rf"<!-- {re.escape(name)} -->.*?<!-- /{re.escape(name)} -->", re.S)
    text = (
        pattern.sub(lambda _: block, text)
        if pattern.search(text)
        else f"{text.rstrip()}\n\n{block}\n"
    )
    tmp = doc.with_suffix(".md.tmp")
    tmp.write_text(text)
    os.replace(tmp, doc)
    return doc
