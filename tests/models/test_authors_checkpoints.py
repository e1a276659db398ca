"""The authors' released checkpoints load through the per-family key converters.

Each ``tests/golden/authors_keys/<family>_<variant>.json`` is the authors' state_dict key/shape
list, written from reading their model code (source named in the file). A fake checkpoint with
those keys (random tensors, wrapped as the authors save it) must load with every key used and
none missing, and the classifier must land on ffseg's classifier.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ffseg.models import create_model
from ffseg.models._authors import CONVERTERS, converters_for, find_converter
from ffseg.models._weights import WeightsError

GOLDEN = Path(__file__).parents[1] / "golden" / "authors_keys"
CASES = sorted(p.stem for p in GOLDEN.glob("*.json"))
BUILD = {"bisenetv2_city": {"head_channels": 1024}}


def _golden(case: str) -> dict:
    return json.loads((GOLDEN / f"{case}.json").read_text())


def _fake_state(keys: dict[str, list[int]], real: str = "") -> dict[str, torch.Tensor]:
    """One value per tensor (broadcast: tiny files), random values for the key ``real``."""
    state = {}
    for i, (key, shape) in enumerate(keys.items()):
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(7)
        elif key == real:
            state[key] = torch.rand(shape, generator=torch.Generator().manual_seed(0))
        else:
            state[key] = torch.tensor(0.5 + i / len(keys)).expand(shape)
    return state


def _save(state: dict[str, torch.Tensor], wrapping: str, path: Path) -> Path:
    if wrapping == "model":  # RegSeg's train.py save(): the model plus training state
        optimizer = {"state": {}, "param_groups": [{"lr": 0.01, "params": [0, 1]}]}
        obj = {"model": state, "optimizer": optimizer, "epoch": 999, "best_mIU": 78.1, "run": 1}
    else:
        obj = state
    torch.save(obj, path)
    return path


@pytest.mark.parametrize("case", CASES)
def test_golden_key_list_is_complete(case: str) -> None:
    doc = _golden(case)
    assert doc["num_keys"] == len(doc["keys"]) and doc["source"] and doc["ffseg_model"]
    assert doc["classifier"] in doc["keys"]
    assert [c for c in CONVERTERS if c.family == doc["family"]], doc["family"]


@pytest.mark.filterwarnings("ignore:.*meta parameter")
@pytest.mark.parametrize("case", CASES)
def test_converter_uses_every_key(case: str) -> None:
    """strict=True semantics: the converted keys are exactly the model's (bar training-only)."""
    doc = _golden(case)
    state = _fake_state(doc["keys"])
    converter = find_converter(state, family=doc["family"])
    assert converter is not None
    converted = converter.convert(state)
    with torch.device("meta"):
        model = create_model(doc["ffseg_model"], **BUILD.get(case, {}))
    own = model.state_dict()
    counters = {k for k in own if k.endswith("num_batches_tracked")}
    expected = {k for k in own if not k.startswith(converter.absent or ("\0",))}
    assert set(converted) - counters == expected - counters
    wrong = [k for k in converted if tuple(converted[k].shape) != tuple(own[k].shape)]
    assert not wrong


#: One release per family through the whole create_model path (the others: the meta test above).
FULL_LOAD = [
    "bisenetv2_city",
    "ddrnet_23_slim",
    "fastscnn_citys",
    "pp_liteseg_t_stdc1",
    "regseg_exp48_decoder26",
    "stdc1_seg",
]


def test_every_family_has_a_full_load_case() -> None:
    families = {_golden(c)["family"] for c in FULL_LOAD} | {"hrnet"}
    assert families == {c.family for c in CONVERTERS}


@pytest.mark.parametrize("case", FULL_LOAD)
def test_create_model_loads_authors_file(case: str, tmp_path: Path) -> None:
    doc = _golden(case)
    state = _fake_state(doc["keys"], real=doc["classifier"])
    path = _save(state, doc["wrapping"], tmp_path / "authors.pth")
    model = create_model(doc["ffseg_model"], pretrained=path, **BUILD.get(case, {}))
    loaded = model.get_classifier().weight
    source = state[doc["classifier"]]
    if loaded.shape != source.shape:  # BiSeNetV2: 8x8 sub-pixel classifiers averaged
        source = source.reshape(loaded.shape[0], -1, *source.shape[1:]).mean(1)
    assert torch.equal(loaded, source)


@pytest.mark.filterwarnings("ignore:.*meta parameter")
def test_hrnet_w48_loads_with_model_prefix_and_loss_weights(tmp_path: Path) -> None:
    """The 66 M-parameter release, loaded into a meta-device model (no 260 MB allocation)."""
    from ffseg.models._weights import load_pretrained_weights

    doc = _golden("hrnet_w48")
    state = _fake_state(doc["keys"], real=doc["classifier"])
    path = _save(state, doc["wrapping"], tmp_path / "hrnet.pth")
    with torch.device("meta"):
        model = create_model("hrnetv2_w48")
    load_pretrained_weights(model, path)  # raises on any missing / unexpected / shape mismatch
    converted = find_converter(state, family="hrnet").convert(state)
    assert torch.equal(converted["head.cls.weight"], state["model.last_layer.3.weight"])
    folded = state["model.last_layer.1.running_mean"] - state["model.last_layer.0.bias"]
    assert torch.equal(converted["head.conv.1.running_mean"], folded)


def test_bias_fold_is_exact_in_eval() -> None:
    conv = torch.nn.Conv2d(4, 4, 1)
    bn = torch.nn.BatchNorm2d(4).eval()
    bn.running_mean.uniform_()
    bn.running_var.uniform_(0.5, 2)
    x = torch.randn(2, 4, 3, 3)
    ref = bn(conv(x))
    from ffseg.models._authors._common import fold_bias_into_bn

    state = {
        "c.weight": conv.weight,
        "c.bias": conv.bias.detach(),
        **{f"b.{k}": v for k, v in bn.state_dict().items()},
    }
    fold_bias_into_bn(state, "c", "b")
    bn.load_state_dict({k[2:]: v for k, v in state.items() if k.startswith("b.")})
    out = bn(torch.nn.functional.conv2d(x, conv.weight))
    assert torch.allclose(out, ref, atol=1e-6)


def test_unknown_layout_keeps_the_clear_error(tmp_path: Path) -> None:
    path = _save({"foo.weight": torch.zeros(3)}, "plain", tmp_path / "x.pth")
    with pytest.raises(WeightsError, match="does not fit"):
        create_model("fastscnn", pretrained=path)


def test_authors_file_with_an_unknown_key_is_refused(tmp_path: Path) -> None:
    state = _fake_state(_golden("fastscnn_citys")["keys"])
    state["feature_fusion.extra.weight"] = torch.zeros(1)
    path = _save(state, "plain", tmp_path / "x.pth")
    with pytest.raises(WeightsError, match="no ffseg counterpart"):
        create_model("fastscnn", pretrained=path)


def test_wrong_build_names_the_needed_arguments(tmp_path: Path) -> None:
    state = _fake_state(_golden("bisenetv2_city")["keys"])
    path = _save(state, "plain", tmp_path / "x.pth")
    with pytest.raises(WeightsError, match="head_channels=1024"):
        create_model("bisenetv2", pretrained=path)


def test_new_class_count_fine_tunes_from_authors_file(tmp_path: Path) -> None:
    state = _fake_state(_golden("fastscnn_citys")["keys"])
    path = _save(state, "plain", tmp_path / "x.pth")
    model = create_model("fastscnn", pretrained=path, num_classes=5)
    assert model.get_classifier().weight.shape[0] == 5


def test_lookup_by_family_or_architecture() -> None:
    assert [c.family for c in converters_for(architecture="hrnetv2_w18")] == ["hrnet"]
    assert [c.family for c in converters_for("regseg")] == ["regseg"]
    assert converters_for("ffnet") == []


def test_pretrained_backbone_from_authors_file(tmp_path: Path) -> None:
    doc = _golden("fastscnn_citys")
    key = "learning_to_downsample.conv.conv.0.weight"
    state = _fake_state(doc["keys"], real=key)
    path = _save(state, "plain", tmp_path / "x.pth")
    model = create_model("fastscnn", pretrained_backbone=path, num_classes=3)
    assert torch.equal(model.encoder.downsample[0][0].weight, state[key])


@pytest.mark.parametrize("case", ["ddrnet_23_slim", "hrnet_w48"])
def test_wrapper_prefix_is_optional(case: str) -> None:
    """Files re-saved without the training wrapper's ``model.`` prefix convert the same."""
    doc = _golden(case)
    state = _fake_state(doc["keys"])
    bare = {k.removeprefix("model."): v for k, v in state.items()}
    converter = find_converter(bare, family=doc["family"])
    assert converter is not None
    assert converter.convert(bare).keys() == converter.convert(state).keys()
