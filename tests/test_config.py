"""Typed recipes: neutral defaults, packaged recipes by name, base, overrides with conversion,
choices checked at load, helpful errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest

from ffseg.config import (
    RECIPES_DIR,
    RESUMABLE_KEYS,
    AmpName,
    Config,
    ConfigError,
    DatasetName,
    apply_overrides,
    find_recipe,
    list_recipes,
    load_config,
    save_config,
    validate_config,
)
from ffseg.data import DATASETS
from ffseg.engine.precision import PRECISIONS

RECIPES = sorted(RECIPES_DIR.glob("*.yaml"))
BAD_CHOICES = [
    ("optim.name", "adam"),
    ("sched.name", "polly"),
    ("train.amp", "bf32"),
    ("data.task", "segment"),
    ("data.name", "citiscapes"),
    ("eval.mode", "slid"),
]


def test_defaults_are_neutral_and_model_name_is_required(tmp_path: Path) -> None:
    cfg = Config()
    assert cfg.model.name == "" and cfg.model.kwargs == {}
    assert cfg.data.train_kwargs == {} and cfg.data.val_kwargs == {}
    (tmp_path / "r.yaml").write_text("data: {name: synthetic}\n")
    with pytest.raises(ConfigError, match=r"r\.yaml: model\.name is required"):
        load_config(tmp_path / "r.yaml")
    assert load_config(tmp_path / "r.yaml", ["model.name=ddrnet23_slim"]).model.name
    with pytest.raises(ConfigError, match=r"model\.name is required"):
        validate_config(Config())


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_every_shipped_recipe_loads_by_path_and_by_name(path: Path) -> None:
    assert isinstance(load_config(path), Config)
    assert load_config(path.stem) == load_config(path) == load_config(path.name)


def test_recipes_are_listed_with_a_summary() -> None:
    recipes = list_recipes()
    assert [r.path for r in recipes] == RECIPES and len(recipes) >= 5
    assert all(r.summary and not r.summary.startswith("#") for r in recipes)
    with pytest.raises(ConfigError, match="Close names: demo"):
        find_recipe("demoo")


def test_choices_are_checked_at_load_with_suggestions() -> None:
    with pytest.raises(
        ConfigError, match=r"loss\.name: 'cee' is not one of ce, ohem, dice\. Did you mean 'ce'"
    ):
        load_config("demo", ["loss.name=cee"])
    for key, bad in BAD_CHOICES:
        with pytest.raises(ConfigError, match=f"{key}: '{bad}' is not one of"):
            load_config("demo", [f"{key}={bad}"])
    assert load_config("demo", ["optim.name=AdamW"]).optim.name == "adamw"
    cfg = load_config("demo")
    cfg.sched.name = "cosinus"  # type: ignore[assignment]
    with pytest.raises(ConfigError, match="Did you mean 'cosine'"):
        validate_config(cfg)


def test_choice_lists_match_the_library() -> None:
    assert set(get_args(DatasetName)) == set(DATASETS)
    assert set(get_args(AmpName)) == set(PRECISIONS)


def test_cross_key_rules() -> None:
    with pytest.raises(ConfigError, match=r"kd\.weight=1\.0 needs a teacher"):
        load_config("demo", ["kd.weight=1"])
    with pytest.raises(ConfigError, match=r"kd\.feature_weight=0\.5 needs a teacher"):
        load_config("demo", ["kd.feature_weight=0.5"])


def test_budget_class_uniform_and_feature_kd_keys() -> None:
    cfg = load_config("demo", ["sched.name=linear", "data.class_uniform=0.5"])
    assert cfg.sched.name == "linear" and cfg.data.class_uniform == 0.5
    assert cfg.data.class_uniform_off_at == 1.0 and cfg.kd.feature_weight == 0.0
    for bad, allowed in (
        ("data.class_uniform=1.5", "0 <= value <= 1"),
        ("data.class_uniform_off_at=-0.1", "0 <= value <= 1"),
        ("sched.warmup_fraction=1", "0 <= value < 1"),
        ("kd.feature_weight=-1", ">= 0"),
    ):
        with pytest.raises(ConfigError, match=re.escape(allowed)):
            load_config("demo", [bad])
    with pytest.raises(ConfigError, match=r"kd\.feature_loss"):
        load_config("demo", ["kd.feature_loss=l1"])
    assert "sched.warmup_fraction" in RESUMABLE_KEYS
    assert "data.class_uniform" not in RESUMABLE_KEYS  # it changes what the data means
    with pytest.raises(ConfigError, match=r"data\.extra_train\[0\]"):
        load_config("demo", ["data.extra_train=[{mode: coarse}]"])


def test_overrides_convert_types() -> None:
    cfg = load_config(
        "demo",
        [
            "optim.lr=1e-2",
            "data.crop_size=[64, 80]",
            "train.iters=none",
            "train.ema=true",
            "model.kwargs.up_head=C",
            "eval.scales=[0.5, 1.0, 1.5]",
            "train.epochs=3",
            "optim.grad_clip=null",
            "data.train_kwargs={n: 4}",
        ],
    )
    assert cfg.optim.lr == 0.01 and isinstance(cfg.optim.lr, float)
    assert cfg.data.crop_size == (64, 80)
    assert cfg.train.iters is None and cfg.train.ema is True and cfg.train.epochs == 3
    assert cfg.model.kwargs["up_head"] == "C" and cfg.model.kwargs["init"] == "kaiming"
    assert cfg.eval.scales == (0.5, 1.0, 1.5)
    assert cfg.optim.grad_clip is None
    assert cfg.data.train_kwargs == {"n": 4}


def test_unknown_keys_suggest_the_closest() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'lr'"):
        load_config("demo", ["optim.lrr=0.1"])
    with pytest.raises(ConfigError, match="Did you mean 'optim'"):
        load_config("demo", ["optimizer.lr=0.1"])
    with pytest.raises(ConfigError, match="expected an integer"):
        load_config("demo", ["train.epochs=ten"])
    with pytest.raises(ConfigError, match=r"section\.key=value"):
        load_config("demo", ["train.epochs"])
    assert apply_overrides(load_config("demo"), ["train.iters=1_000"]).train.iters == 1000


def test_base_recipe_one_level(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(
        "model: {name: ddrnet23_slim}\noptim: {lr: 0.5, name: sgd}\ntrain: {epochs: 7}\n"
    )
    (tmp_path / "child.yaml").write_text("base: base.yaml\noptim: {lr: 0.25}\n")
    cfg = load_config(tmp_path / "child.yaml")
    assert (cfg.optim.name, cfg.optim.lr, cfg.train.epochs) == ("sgd", 0.25, 7)
    (tmp_path / "grandchild.yaml").write_text("base: child.yaml\n")
    with pytest.raises(ConfigError, match="only one level"):
        load_config(tmp_path / "grandchild.yaml")
    (tmp_path / "typo.yaml").write_text("model: {name: x}\noptim: {momentun: 0.9}\n")
    with pytest.raises(ConfigError, match=r"typo.yaml.*Did you mean 'momentum'"):
        load_config(tmp_path / "typo.yaml")
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_saved_config_reloads_identically(tmp_path: Path) -> None:
    cfg = load_config("demo", ["optim.lr=0.125", "data.crop_size=[32, 48]"])
    path = save_config(cfg, tmp_path / "config.yaml")
    assert load_config(path) == cfg


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("train.seed=1e20", "train.seed"),
        ("train.seed=-1", "train.seed"),
        ("train.iters=100000000000000000000", "train.iters"),
        ("optim.lr=nan", "optim.lr"),
        ("optim.weight_decay=inf", "optim.weight_decay"),
        ("eval.scales=[1.0, nan]", "eval.scales"),
    ],
)
def test_overflow_and_non_finite_values_name_the_key_value_and_fix(override: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config("demo", [override])
    message = str(caught.value)
    assert f"{key}=" in message and "out of range" in message
    assert f"--set {key}=VALUE" in message and "\n" not in message


def test_a_base_that_is_a_folder_is_named(tmp_path) -> None:
    (tmp_path / "sub").mkdir()
    recipe = tmp_path / "r.yaml"
    recipe.write_text("base: sub\ntrain: {iters: 2}\n")
    with pytest.raises(ConfigError, match=r"base: 'sub' is a folder .*give a recipe YAML file"):
        load_config(recipe)
