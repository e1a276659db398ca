"""Typed recipes: defaults == demo recipe, base, overrides with conversion, helpful errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ffseg.config import Config, ConfigError, load_config, save_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_demo_recipe_equals_builtin_defaults() -> None:
    assert load_config(CONFIGS / "demo.yaml") == Config()


@pytest.mark.parametrize("path", sorted(CONFIGS.rglob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_recipe_loads(path: Path) -> None:
    assert isinstance(load_config(path), Config)


def test_overrides_convert_types() -> None:
    cfg = load_config(None, [
        "optim.lr=1e-2", "data.crop_size=[64, 80]", "train.iters=none", "train.ema=true",
        "model.kwargs.init=official", "eval.scales=[0.5, 1.0, 1.5]", "train.epochs=3",
        "optim.grad_clip=null", "data.train_kwargs={n: 4}",
    ])  # fmt: skip
    assert cfg.optim.lr == 0.01 and isinstance(cfg.optim.lr, float)
    assert cfg.data.crop_size == (64, 80)
    assert cfg.train.iters is None and cfg.train.ema is True and cfg.train.epochs == 3
    assert cfg.model.kwargs["init"] == "official" and cfg.model.kwargs["backbone"] == "resnet22s"
    assert cfg.eval.scales == (0.5, 1.0, 1.5)
    assert cfg.optim.grad_clip is None
    assert cfg.data.train_kwargs == {"n": 4}


def test_unknown_keys_suggest_the_closest() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'lr'"):
        load_config(None, ["optim.lrr=0.1"])
    with pytest.raises(ConfigError, match="Did you mean 'optim'"):
        load_config(None, ["optimizer.lr=0.1"])
    with pytest.raises(ConfigError, match="expected an integer"):
        load_config(None, ["train.epochs=ten"])
    with pytest.raises(ConfigError, match=r"section\.key=value"):
        load_config(None, ["train.epochs"])


def test_base_recipe_one_level(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("optim: {lr: 0.5, name: sgd}\ntrain: {epochs: 7}\n")
    (tmp_path / "child.yaml").write_text("base: base.yaml\noptim: {lr: 0.25}\n")
    cfg = load_config(tmp_path / "child.yaml")
    assert (cfg.optim.name, cfg.optim.lr, cfg.train.epochs) == ("sgd", 0.25, 7)
    (tmp_path / "grandchild.yaml").write_text("base: child.yaml\n")
    with pytest.raises(ConfigError, match="only one level"):
        load_config(tmp_path / "grandchild.yaml")
    (tmp_path / "typo.yaml").write_text("optim: {momentun: 0.9}\n")
    with pytest.raises(ConfigError, match=r"typo.yaml.*Did you mean 'momentum'"):
        load_config(tmp_path / "typo.yaml")
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_saved_config_reloads_identically(tmp_path: Path) -> None:
    cfg = load_config(None, ["optim.lr=0.125", "data.crop_size=[32, 48]"])
    path = save_config(cfg, tmp_path / "config.yaml")
    assert load_config(path) == cfg
