"""Generate docs/MODEL_ZOO.md and src/ffseg/model_index.json from the model registry.

    python scripts/gen_model_zoo.py            # rewrite both (never edit them by hand)
    python scripts/gen_model_zoo.py --check    # exit 1 if either is out of date (CI)

The index is what ``ffseg list`` reads without importing torch.

Every number is deterministic: parameters and MACs are counted on the ``meta`` device (shapes
only), published numbers come from each model's ``pretrained_cfg`` (``published`` with its
``published_context``), and measured CPU latencies are read from the stored benchmark CSV
docs/benchmarks/zoo_latency.csv (written by benchmarks/ffnet_vs_prior_art.py); a model missing
from it gets an empty cell.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from pathlib import Path

import torch

import ffseg
from ffseg._io import atomic_write_text
from ffseg.deploy.flops import count_macs, count_params
from ffseg.model_index import INDEX_FILE
from ffseg.models import PretrainedCfg, get_model_entry, get_pretrained_cfg, model_index

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "MODEL_ZOO.md"
LATENCY_CSV = ROOT / "docs" / "benchmarks" / "zoo_latency.csv"
#: Group II compared stage by stage with its sources (checked by tests/models/test_zoo2_stages.py)
STAGES_JSON = ROOT / "tests" / "golden" / "zoo2_stages.json"
#: Where and how zoo_latency.csv was measured (see docs/benchmarks/zoo.md, "Protocol").
LATENCY_MACHINE = (
    "measured on 2026-11-22 by `benchmarks/ffnet_vs_prior_art.py --zoo-latency` on an AMD EPYC "
    "(Zen 5, AVX-512 BF16) KVM guest with 2 vCPUs, torch 2.14.1 CPU, 2 threads, batch 1, "
    "random weights, median of 3 runs at 512x1024"
)
GPU_PATTERN = re.compile(r"NVIDIA [A-Za-z0-9 ]+?(?=[;,.]|$)")
MIOU_SIZES = ((1024, 2048), (512, 1024))


def _latencies() -> dict[str, dict[str, str]]:
    if not LATENCY_CSV.is_file():
        return {}
    with LATENCY_CSV.open() as f:
        return {row["model"]: row for row in csv.DictReader(f)}


def _gmacs(model: torch.nn.Module, hw: tuple[int, int]) -> str:
    try:
        return f"{count_macs(model, hw) / 1e9:.1f}"
    except Exception:  # a model that cannot take this size
        return "n/a"


def _params(model: torch.nn.Module) -> tuple[str, str]:
    """``(inference params, training-only head params)`` in millions (``aux_heads``)."""
    total = count_params(model)
    aux = getattr(model, "aux_heads", None)
    extra = count_params(aux) if isinstance(aux, torch.nn.Module) else 0
    return f"{(total - extra) / 1e6:.2f}", f"{extra / 1e6:.2f}" if extra else ""


def _miou_label(key: str) -> str:
    """``"cityscapes_val_miou"`` -> ``"val"``; other datasets and suffixes are spelled out
    (``"camvid test"``, ``"val (ffnet paper)"``)."""
    head, _, suffix = key.partition("_miou")
    dataset, _, split = head.partition("_")
    label = split if dataset == "cityscapes" else f"{dataset} {split}"
    suffix = suffix.strip("_").replace("_", " ")
    return f"{label} ({suffix})" if suffix else label


class Notes:
    """Numbered notes of one family: each distinct published context gets one number."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def ref(self, cfg: PretrainedCfg, key: str) -> str:
        text = cfg.published_context.get(key, "") or "resolution and source not recorded"
        if text not in self.texts:
            self.texts.append(text)
        return f"[{self.texts.index(text) + 1}]"

    def lines(self) -> list[str]:
        return [f"[{i}] {text}  " for i, text in enumerate(self.texts, 1)]


def _published_miou(cfg: PretrainedCfg, notes: Notes) -> str:
    keys = [k for k in cfg.published if "_miou" in k]
    return "; ".join(f"{cfg.published[k]:g} {_miou_label(k)} {notes.ref(cfg, k)}" for k in keys)


def _gpu_name(cfgs: list[PretrainedCfg]) -> str:
    for cfg in cfgs:
        for key, text in cfg.published_context.items():
            found = GPU_PATTERN.search(text) if key.startswith("gpu_") else None
            if found:
                return found.group(0).strip()
    return "GPU not recorded"


def _gpu_ms(cfg: PretrainedCfg, notes: Notes) -> str:
    fp32, fp16 = cfg.published.get("gpu_fp32_ms"), cfg.published.get("gpu_fp16_ms")
    if fp32 is None and fp16 is None:
        return ""
    values = " / ".join("-" if v is None else f"{v:g}" for v in (fp32, fp16))
    refs = dict.fromkeys(
        notes.ref(cfg, k) for k in ("gpu_fp32_ms", "gpu_fp16_ms") if k in cfg.published
    )
    return f"{values} {''.join(refs)}"


def _family_table(family: str, names: list[str], latency: dict[str, dict[str, str]]) -> list[str]:
    cfgs = {name: get_pretrained_cfg(name) for name in names}
    with_gpu = any(k.startswith("gpu_") for c in cfgs.values() for k in c.published)
    gpu_head = f" | GPU ms fp32 / fp16 (published, {_gpu_name(list(cfgs.values()))})"
    lines = [
        f"## {family} ({len(names)} model{'s' if len(names) > 1 else ''})",
        "",
        "| model | params (M) | train-only heads (M) | native input | GMACs (native) "
        "| GMACs 1024x2048 | GMACs 512x1024 | os | published mIoU | CPU ms eager | CPU ms best"
        + (gpu_head if with_gpu else "")
        + " | official / other names |",
        "|---|---:|---:|---|---:|---:|---:|---:|---|---:|---:|"
        + ("---|" if with_gpu else "")
        + "---|",
    ]
    notes = Notes()
    for name in names:
        cfg = cfgs[name]
        with torch.device("meta"):  # shapes only: params and MACs
            model = ffseg.create_model(name)
        hw = tuple(cfg.input_size[1:])
        seg = cfg.task == "segmentation"
        macs = {size: _gmacs(model, size) for size in {hw, *(MIOU_SIZES if seg else ())}}
        params, aux = _params(model)
        lat = latency.get(name, {})
        cells = [
            f"`{name}`",
            params,
            aux,
            f"{hw[0]}x{hw[1]}",
            macs[hw],
            *(macs.get(size, "-") for size in MIOU_SIZES),
            str(cfg.output_stride or "-"),
            _published_miou(cfg, notes),
            lat.get("eager_ms", ""),
            lat.get("best_ms", ""),
            *([_gpu_ms(cfg, notes)] if with_gpu else []),
            ", ".join(get_model_entry(name).aliases) or "-",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, "", *notes.lines(), ""]


SMP_SECTION = """\
## segmentation-models-pytorch (optional extra `smp`)

With `pip install 'ffseg[smp]'`, `create_model("smp:<Arch>:<encoder>", num_classes=N)` builds
any decoder of segmentation-models-pytorch (Unet, UnetPlusPlus, MAnet, Linknet, FPN, PSPNet,
PAN, DeepLabV3, DeepLabV3Plus; smp 0.6 adds Segformer, UPerNet and DPT) on any of its encoders
(`resnet18`, `mobilenet_v2`, `efficientnet-b0`, ..., or `tu-<timm model>`), e.g.
`ffseg train --set model.name=smp:Unet:resnet18`. They train, distil (as student or
`kd.teacher`), export and predict like the models above; logits come at the input resolution
(os 1). Nothing is downloaded: weights start random, and a local encoder checkpoint can be
given with `pretrained_backbone=` (`model.pretrained_backbone`). They are not in the tables
above because their size depends on the encoder and on the installed smp version.
"""


def _pct(mine: int, theirs: int) -> str:
    return f"{100 * (mine - theirs) / theirs:+.1f} %" if theirs else "-"


def _agreement(entry: dict) -> str:
    """Per stage: params / MACs of ffseg against the source's, in percent."""
    ours, theirs = entry["ffseg"]["stages"], entry["source"].get("figures", {}).get("stages", {})
    cells = []
    for stage, fig in theirs.items():
        mine = ours.get(stage, {"params": 0, "macs": 0})
        cells.append(
            f"{stage} {_pct(mine['params'], fig['params'])} / {_pct(mine['macs'], fig['macs'])}"
        )
    return "; ".join(cells) or "not derived"


def _group_ii_section() -> list[str]:
    if not STAGES_JSON.is_file():
        return []
    models = json.loads(STAGES_JSON.read_text())["models"]
    lines = [
        "## Group II: sources and stage-by-stage agreement",
        "",
        "Each compact network against the source it was compared with (authors' released code,",
        "else the paper), at 1x3x512x1024 and 19 classes. A stage is every parameterised layer",
        "whose output sits at one output stride (s1, s2, ...); the agreement is ffseg against the",
        "source, params / conv MACs. Recorded in tests/golden/zoo2_stages.json and checked by",
        "tests/models/test_zoo2_stages.py.",
        "",
        "| model | source | status | params (M) | GMACs 512x1024 | os | per stage: params / MACs "
        "| notes |",
        "|---|---|---|---:|---:|---:|---|---|",
    ]
    for name, entry in models.items():
        ours, source = entry["ffseg"], entry["source"]
        cells = [
            f"`{name}`",
            f"{source['kind']}: {source['ref']}",
            entry["status"],
            f"{ours['params'] / 1e6:.3f}",
            f"{ours['macs'] / 1e9:.2f}",
            str(ours["output_stride"]),
            _agreement(entry),
            entry.get("reason", "") or "-",
        ]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return [*lines, ""]


def render() -> str:
    latency = _latencies()
    lines = [
        "# Model zoo",
        "",
        "Generated by `python scripts/gen_model_zoo.py` from the registry; do not edit by hand.",
        "",
        "- **params**: parameters used at inference; **train-only heads**: the auxiliary heads",
        "  (`aux_heads`) that only training runs, not counted in params or GMACs.",
        "- **GMACs**: conv + linear multiply-accumulates of the inference forward pass",
        "  (`torch.utils.flop_counter` on the meta device), batch 1, at the stated input size.",
        "- **os**: output stride of the logits (input size / logits size).",
        "- **published mIoU**: as reported by the model's authors, never measured by ffseg; the",
        "  split (val/test) follows each number and the numbered note under each table gives the",
        "  evaluation resolution and the source. Empty: the authors report none.",
        "- **CPU ms**: median latency from docs/benchmarks/zoo_latency.csv, "
        + LATENCY_MACHINE
        + "; *eager* is fp32 as built, *best* is BN folded + channels_last + bf16 (protocol in"
        " docs/benchmarks/zoo.md). Empty: not measured.",
        "- **GPU ms**: published by the model's authors on the GPU named in the column header.",
        "",
    ]
    families: dict[str, list[str]] = {}
    for name in ffseg.list_models():
        families.setdefault(get_model_entry(name).module, []).append(name)
    for family in sorted(families, key=lambda f: (f != "ffnet", f)):
        lines += _family_table(family, families[family], latency)
    lines += _group_ii_section()
    lines.append(SMP_SECTION)
    return "\n".join(lines)


def render_index() -> str:
    """The model index as JSON text (sorted, stable)."""
    data = {"generated_by": "scripts/gen_model_zoo.py", "models": model_index()}
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if a file is out of date")
    args = parser.parse_args()
    outputs = {OUT: render(), INDEX_FILE: render_index()}
    stale = [
        path for path, text in outputs.items() if not path.is_file() or path.read_text() != text
    ]
    if args.check:
        for path in stale:
            print(f"{path} is out of date: run python scripts/gen_model_zoo.py", file=sys.stderr)
        if not stale:
            print(f"{OUT} and {INDEX_FILE} are up to date")
        return 1 if stale else 0
    for path in stale:
        atomic_write_text(path, outputs[path])
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
