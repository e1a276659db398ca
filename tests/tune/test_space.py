"""Search-space files: what they accept, and errors that name the key, the value and the fix."""

from __future__ import annotations

import pytest

from ffseg.config import load_config
from ffseg.tune import SpaceError, load_space

from .conftest import TINY


@pytest.fixture(scope="module")
def cfg():
    return load_config("demo", TINY)


def test_a_space_over_numbers_and_choices(write_space, cfg) -> None:
    path = write_space(
        "optim.lr: {type: float, low: 1e-4, high: 1.0e-2, log: true}\n"
        "data.batch_size: {type: int, low: 2, high: 8, step: 2}\n"
        "loss.name: {choices: [ce, ohem]}\n"
        "model.kwargs.width: {type: categorical, choices: [4, 8]}\n"
    )
    space = load_space(path, cfg)
    assert space.keys == ["optim.lr", "data.batch_size", "loss.name", "model.kwargs.width"]
    lr = space.params[0]
    assert (lr.kind, lr.low, lr.high, lr.log) == ("float", 1e-4, 1e-2, True)
    trial = space.apply(cfg, {"optim.lr": 0.005, "model.kwargs.width": 4, "loss.name": "ohem"})
    assert (trial.optim.lr, trial.model.kwargs, trial.loss.name) == (0.005, {"width": 4}, "ohem")


def test_model_names_from_a_pattern_and_kwargs_reset(write_space, cfg) -> None:
    space = load_space(write_space('model.name: {choices: "ffnet22s_*_mobile"}\n'), cfg)
    names = space.params[0].choices
    assert "ffnet22s_bbb_mobile" in names and all(n.startswith("ffnet22s") for n in names)
    trial = space.apply(cfg, {"model.name": "ffnet22s_bbb_mobile"})
    assert trial.model.name == "ffnet22s_bbb_mobile" and trial.model.kwargs == {}


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        (
            "optim.lrr: {type: float, low: 0.001, high: 0.1}\n",
            ["optim.lrr", "not a recipe key", "did you mean optim.lr", "--print-config"],
        ),
        (
            "optim.lr: {type: float, low: 0.01, high: 0.01}\n",
            ["optim.lr", "0.01", "empty range", "widen the range"],
        ),
        ("optim.lr: {type: float, low: 0.1, high: 0.01}\n", ["optim.lr", "low 0.1 > high", "swap"]),
        ("loss.name: {choices: []}\n", ["loss.name", "empty range", "at least one value"]),
        ('model.name: {choices: "nonet*"}\n', ["model.name", "nonet*", "fix the pattern"]),
        (
            "data.batch_size: {type: float, low: 2, high: 8}\n",
            ["data.batch_size", "type float", "int", "matching numeric type"],
        ),
        ("loss.name: {choices: [ce, cee]}\n", ["loss.name", "'cee'", "fix the range or"]),
        ("model.name: {choices: [ffnet99_zzz]}\n", ["model.name", "ffnet99_zzz", "ffseg list"]),
        ("optim.lr: {type: float, low: 0, high: 1, log: true}\n", ["optim.lr", "low > 0"]),
        ("optim.lr: {type: float, lo: 0, high: 1}\n", ["optim.lr", "'lo'", "use ["]),
        ("optim.lr: {type: float, low: abc, high: 1}\n", ["optim.lr", "'abc'", "finite number"]),
        ("optim: {type: float, low: 0, high: 1}\n", ["'optim'", "a section"]),
        ("model.kwargs: {choices: [1]}\n", ["model.kwargs", "model.kwargs.NAME"]),
        ("[1, 2]\n", ["maps recipe keys"]),
    ],
)
def test_bad_space_files_name_the_key_and_the_fix(write_space, cfg, text, needles) -> None:
    path = write_space(text)
    with pytest.raises(SpaceError) as info:
        load_space(path, cfg)
    message = str(info.value)
    assert str(path) in message
    for needle in needles:
        assert needle in message, (needle, message)


def test_a_missing_space_file_is_named(tmp_path) -> None:
    with pytest.raises(SpaceError, match="cannot read the search space"):
        load_space(tmp_path / "nope.yaml")
