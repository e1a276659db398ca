"""CamVid training smoke run for one model of every zoo family, through the real engine.

A few iterations at a small crop prove that ``ffseg.engine.train.fit`` trains each family's
auxiliary-head layout (``AuxOutput`` kinds ``seg`` / ``detail``) without model-specific code:
the run finishes, the loss stays finite, the weights move and every aux head is a loss term.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

import ffseg
from ffseg.config import load_config
from ffseg.engine.train import TrainState, fit
from ffseg.models import get_model_entry

ITERS = 3
CROP = (128, 160)

#: (family module, representative model, aux-head kinds its ``forward_train`` declares)
FAMILIES = [
    ("bisenet", "bisenetv1", ("seg", "seg")),
    ("bisenetv2", "bisenetv2", ("seg", "seg", "seg", "seg")),
    ("canet", "canet", ()),
    ("ddrnet", "ddrnet23_slim", ("seg",)),
    ("dfanet", "dfanet", ()),
    ("fanet", "fanet18", ()),
    ("farseenet", "farseenet", ()),
    ("fastscnn", "fastscnn", ("seg", "seg")),
    ("ffnet", "ffnet46ns_ccc_mobile", ()),
    ("hrnet", "hrnetv2_w18", ()),
    ("icnet", "icnet", ("seg", "seg")),
    ("linknet", "linknet", ()),
    ("liteseg", "liteseg", ()),
    ("pp_liteseg", "pp_liteseg_t", ("seg", "seg")),
    ("regseg", "regseg", ()),
    ("shelfnet", "shelfnet", ("seg", "seg")),
    ("sqnet", "sqnet", ()),
    ("stdc", "stdc1", ("seg", "seg", "detail")),
    ("swiftnet", "swiftnet", ()),
    ("fpenet", "fpenet", ()),
    ("fssnet", "fssnet", ()),
    ("lite_hrnet", "lite_hrnet18", ()),
    ("mininet", "mininet", ()),
    ("mininetv2", "mininetv2", ()),
    ("segnet", "segnet", ()),
    ("dabnet", "dabnet", ()),
    ("edanet", "edanet", ()),
    ("enet", "enet", ()),
    ("erfnet", "erfnet", ()),
    ("esnet", "esnet", ()),
    ("fddwnet", "fddwnet", ()),
    ("lednet", "lednet", ()),
    ("adscnet", "adscnet", ()),
    ("aglnet", "aglnet", ()),
    ("cfpnet", "cfpnet", ()),
    ("cgnet", "cgnet", ()),
    ("contextnet", "contextnet", ()),
    ("espnet", "espnet", ()),
    ("espnetv2", "espnetv2", ()),
]


def test_every_segmentation_family_has_a_representative() -> None:
    families = set()
    for name in ffseg.list_models():
        with torch.device("meta"):
            task = ffseg.create_model(name).pretrained_cfg.task
        if task == "segmentation":
            families.add(get_model_entry(name).module)
    assert families == {family for family, _, _ in FAMILIES}


def _recipe(model: str, camvid_root: Path, out: Path) -> list[str]:
    return [
        "data.name=camvid",
        f"data.root={camvid_root}",
        "data.train_kwargs={}",
        "data.val_kwargs={}",
        f"data.subset={2 * ITERS}",
        "data.val_subset=2",
        f"data.crop_size=[{CROP[0]}, {CROP[1]}]",
        "data.scale_range=[0.4, 0.5]",
        "data.batch_size=2",
        f"eval.resize=[{CROP[0]}, {CROP[1]}]",
        "eval.batch_size=2",
        f"model.name={model}",
        "model.num_classes=11",
        "model.kwargs={}",
        f"train.iters={ITERS}",
        "train.eval_every=100",
        "sched.warmup_iters=1",
        f"train.output_dir={out}",
        "log.progress=false",
        "log.tensorboard=false",
        "log.overlays=0",
    ]


@pytest.mark.slow
@pytest.mark.parametrize(("family", "model", "aux_kinds"), FAMILIES, ids=[f[0] for f in FAMILIES])
def test_family_trains_on_camvid_with_its_aux_heads(
    family: str, model: str, aux_kinds: tuple[str, ...], camvid_root: Path, tmp_path: Path
) -> None:
    assert get_model_entry(model).module == family
    cfg = load_config("demo", _recipe(model, camvid_root, tmp_path))

    # the engine seeds with train.seed right before building the model: rebuild the start point
    torch.manual_seed(cfg.train.seed)
    initial = ffseg.create_model(model, num_classes=11).state_dict()
    torch.manual_seed(cfg.train.seed)
    again = ffseg.create_model(model, num_classes=11).state_dict()
    assert all(torch.equal(initial[k], again[k]) for k in initial), "construction not seeded"

    steps: list[dict[str, float]] = []

    def record(state: TrainState) -> None:
        steps.append(dict(state.last))

    result = fit(cfg, on_step=record)

    assert result.iterations == ITERS and len(steps) == ITERS
    for scalars in steps:
        assert all(math.isfinite(v) for v in scalars.values()), scalars

    trained: torch.nn.Module = result.model
    with torch.no_grad():  # the heads' names and kinds, as the engine saw them
        aux = trained.train().forward_train(torch.zeros(2, 3, *CROP)).aux
    assert sorted(a.kind for a in aux) == sorted(aux_kinds)
    for a in aux:
        assert all(f"aux/{a.name}" in s for s in steps), (a.name, sorted(steps[-1]))
    # the logged total is the main term plus every aux term times the head's weight
    for s in steps:
        total = s["ce"] + sum(a.weight * s[f"aux/{a.name}"] for a in aux)
        assert s["loss"] == pytest.approx(total, rel=1e-4), (s, [(a.name, a.weight) for a in aux])

    params = dict(trained.named_parameters())
    moved = [n for n, p in params.items() if not torch.equal(p.detach(), initial[n])]
    assert len(moved) > 0.9 * len(params), f"only {len(moved)}/{len(params)} parameters moved"
    assert all(torch.isfinite(p).all() for p in params.values())
    assert math.isfinite(result.metrics["miou"])
