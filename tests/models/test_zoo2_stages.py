"""Group II, stage by stage: each network against its recorded figures and their source.

``tests/golden/zoo2_stages.json`` holds, per registered group-II name, the figures measured on
ffseg's graph by :func:`tests.models.stages.measure` at 1x3x512x1024 (params and conv MACs per
output stride, the stride-change shape sequence, the logits' stride and sign) and the source it
was compared with: the authors' released code (repository + file), the paper, or a
re-implementation, with that source's figures where they were derived. A stage of ffseg that
differs from its source by more than 1 % must be listed under ``kept`` with the reason.
"""

from __future__ import annotations

import importlib
import json
import re
from functools import cache

import pytest
import torch

import ffseg
from ffseg.deploy.flops import count_params
from ffseg.models import get_model_entry
from tests.conftest import GOLDEN
from tests.models.stages import logits_nonnegative, measure

GROUP_II = (
    "adscnet", "aglnet", "cfpnet", "cgnet", "contextnet", "dabnet", "edanet", "enet", "erfnet",
    "esnet", "espnet", "espnetv2", "fddwnet", "fpenet", "fssnet", "lednet", "lite_hrnet",
    "mininet", "mininetv2", "segnet",
)  # fmt: skip
NAMES = sorted(n for n in ffseg.list_models() if get_model_entry(n).module in GROUP_II)
KINDS = ("authors' code", "paper", "re-implementation")
STATUSES = ("matched", "kept", "not compared")
TOL = 0.01


@cache
def golden() -> dict:
    return json.loads((GOLDEN / "zoo2_stages.json").read_text())["models"]


def _close(a: int, b: int) -> bool:
    return abs(a - b) <= TOL * max(abs(b), 1)


def test_every_group_ii_name_has_a_sourced_entry() -> None:
    assert sorted(golden()) == NAMES
    for name, entry in golden().items():
        source = entry["source"]
        assert source["kind"] in KINDS and source["ref"], name
        assert entry["status"] in STATUSES, name
        if entry["status"] != "matched":
            assert entry["reason"], f"{name}: a difference needs its reason"


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_built_model_equals_recorded_figures(name: str) -> None:
    recorded, got = golden()[name]["ffseg"], measure(name)
    assert got["output_stride"] == recorded["output_stride"]
    assert got["shapes"] == recorded["shapes"]
    assert got["stages"].keys() == recorded["stages"].keys()
    for stage, fig in recorded["stages"].items():
        for key in ("params", "macs"):
            assert _close(got["stages"][stage][key], fig[key]), f"{name} {stage} {key}"
    assert logits_nonnegative(name) == recorded["logits_nonnegative"]


@pytest.mark.parametrize("name", NAMES)
def test_stages_agree_with_source_or_are_kept_with_reason(name: str) -> None:
    entry = golden()[name]
    ours, source, kept = entry["ffseg"], entry["source"].get("figures", {}), entry.get("kept", {})
    differs = []
    for stage, fig in source.get("stages", {}).items():
        mine = ours["stages"].get(stage, {"params": 0, "macs": 0})
        if not all(_close(mine[k], fig[k]) for k in ("params", "macs") if k in fig):
            differs.append(stage)
    if "params" in source and not _close(ours["params"], source["params"]):
        differs.append("params")
    if "output_stride" in source and source["output_stride"] != ours["output_stride"]:
        differs.append("output_stride")
    unexplained = [d for d in differs if not kept.get(d)]
    assert not unexplained, f"{name}: {unexplained} differ from {entry['source']['ref']}"
    if entry["status"] == "matched":
        assert not differs, f"{name} is recorded as matched but {differs} differ"


#: In group-II module docstrings a number written with thousands separators is a parameter count.
COUNT = re.compile(r"(?<![\d.])\d{1,3}(?:,\d{3})+(?![\d])")


def _figures(name: str) -> set[int]:
    entry = golden()[name]
    source = entry["source"].get("figures", {})
    found = {entry["ffseg"]["params"], *entry.get("counts", {}).values()}
    found |= {s["params"] for s in entry["ffseg"]["stages"].values()}
    if "params" in source:
        found.add(source["params"])
    return found | {s["params"] for s in source.get("stages", {}).values() if "params" in s}


@pytest.mark.parametrize("module", sorted({get_model_entry(n).module for n in NAMES}))
def test_docstring_counts_are_measured(module: str) -> None:
    """Every count a docstring quotes is a built model's, a recorded stage's or a source's."""
    doc = importlib.import_module(f"ffseg.models.{module}").__doc__ or ""
    names = [n for n in NAMES if get_model_entry(n).module == module]
    with torch.device("meta"):
        built = {count_params(ffseg.create_model(n)) for n in names}
    known = built.union(*(_figures(n) for n in names))
    quoted = {int(q.replace(",", "")) for q in COUNT.findall(doc)}
    assert quoted <= known, f"{module}: {sorted(quoted - known)} are not measured counts"
