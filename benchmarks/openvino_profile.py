"""Where an OpenVINO model's CPU time goes: per operation type and kernel, from OpenVINO's own
per-layer counters (``PERF_COUNT``), compiled as ffseg compiles it (fp32, latency, N threads).

    python benchmarks/openvino_profile.py --weights runs/camvid_15min_cpu --size 360 480

Prints a table of milliseconds per inference by operation type and by (type, kernel); the
share is of the summed layer times. Needs the ``openvino`` extra.
"""

from __future__ import annotations

import argparse
import collections
import tempfile
from pathlib import Path

import numpy as np

from ffseg.deploy.openvino import _core, export_openvino, signal_stack_kept
from ffseg.models import load_model


def profile(xml: Path, size: tuple[int, int], threads: int, runs: int) -> list[tuple[str, float]]:
    """``(operation type / kernel, ms per inference)``, largest first."""
    config = {
        "INFERENCE_PRECISION_HINT": "f32",
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_NUM_THREADS": threads,
        "PERF_COUNT": "YES",
    }
    with signal_stack_kept():
        compiled = _core().compile_model(str(xml), "CPU", config)
    request = compiled.create_infer_request()
    x = np.random.default_rng(0).random((1, 3, *size), dtype=np.float32)
    for _ in range(3):
        request.infer({0: x})
    totals: collections.Counter[str] = collections.Counter()
    for _ in range(runs):
        request.infer({0: x})
        for layer in request.profiling_info:
            ms = layer.real_time.total_seconds() * 1000 / runs
            totals[layer.node_type] += ms
            totals[f"{layer.node_type} / {layer.exec_type}"] += ms
    return totals.most_common()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", required=True, help="run folder or checkpoint")
    p.add_argument("--size", type=int, nargs=2, default=[360, 480], metavar=("H", "W"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=10)
    args = p.parse_args()
    size = (args.size[0], args.size[1])
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "model.xml"
        export_openvino(load_model(args.weights).eval(), xml, size)
        rows = profile(xml, size, args.threads, args.runs)
    total = sum(ms for name, ms in rows if " / " not in name)
    print(f"summed layer time: {total:.1f} ms per inference ({args.threads} threads)")
    print("| operation / kernel | ms | share |\n|---|---:|---:|")
    for name, ms in rows:
        if ms >= 0.01 * total:
            print(f"| {name} | {ms:.2f} | {100 * ms / total:.1f} % |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
