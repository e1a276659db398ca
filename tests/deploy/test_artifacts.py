"""One runtime loader: every artifact ``ffseg export`` writes runs like the model it came from."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import ffseg
from ffseg.deploy.artifacts import artifact_kind, is_exported, load_artifact
from ffseg.deploy.export import export_model

SIZE = (64, 96)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[torch.nn.Module, Path]:
    """A small model saved as a folder, a checkpoint and every export format it supports."""
    torch.manual_seed(0)
    model = ffseg.create_model("ffnet40s_bbb_mobile", num_classes=5, init="kaiming").eval()
    folder = tmp_path_factory.mktemp("artifacts")
    ffseg.save_pretrained(model, folder / "run")
    torch.save(model.state_dict(), folder / "ckpt.pt")
    suffixes = [".pt2", ".ts"]
    if _has("onnxruntime") and _has("onnxscript"):
        suffixes.append(".onnx")
    if _has("openvino"):
        suffixes.append(".xml")
    for suffix in suffixes:
        export_model(model, folder / f"m{suffix}", SIZE)
    return model, folder


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", ["run", "run/model.safetensors", "m.onnx", "m.xml", "m.pt2", "m.ts"]
)
def test_every_artifact_runs_like_the_model(exported, name: str) -> None:
    model, folder = exported
    path = folder / name
    if not path.exists():
        pytest.skip(f"{name}: its runtime is not installed")
    loaded = load_artifact(path, threads=1)
    cfg = loaded.pretrained_cfg
    assert cfg.architecture == "ffnet40s_bbb_mobile" and loaded.num_classes == 5
    assert tuple(cfg.mean) == tuple(model.pretrained_cfg.mean)
    assert is_exported(path) == (not name.startswith("run"))
    x = torch.randn(2, 3, *SIZE)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x).float(), model(x), atol=1e-4, rtol=1e-3)


@pytest.mark.slow
def test_checkpoint_pt_is_not_torchscript(exported) -> None:
    _, folder = exported
    assert artifact_kind(folder / "ckpt.pt") == "pytorch"
    assert artifact_kind(folder / "m.ts") == "torchscript"
    loaded = load_artifact(folder / "ckpt.pt", name="ffnet40s_bbb_mobile")
    assert isinstance(loaded, torch.nn.Module) and loaded.num_classes == 5
    with pytest.raises(ValueError, match="5 classes but 3 were asked for"):
        load_artifact(folder / "m.pt2", num_classes=3)


def test_missing_artifact_and_sidecar_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.pt2"):
        load_artifact(tmp_path / "nope.pt2")
    lonely = tmp_path / "lonely.pt2"
    lonely.write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"sidecar .*lonely\.json"):
        load_artifact(lonely)
