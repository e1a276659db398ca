"""What a study keeps and draws: pruning waits for enough completed trials, finished trials keep
their recipe, metrics and best weights (pruned ones their metrics) and say how much disk they
keep, and plots need enough completed trials."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ffseg.tune import tune
from ffseg.tune.report import MIN_TRIALS_FOR_IMPORTANCE
from ffseg.tune.study import PRUNE_AFTER_TRIALS, create_pruner

from .conftest import LR_SPACE, TINY
from .test_study import PruneOddTrials

optuna = pytest.importorskip("optuna")


def test_median_pruning_waits_for_enough_completed_trials() -> None:
    study = optuna.create_study(direction="maximize", pruner=create_pruner("median", 3))
    pruned = []
    for number in range(PRUNE_AFTER_TRIALS + 2):
        trial = study.ask()
        score = 1.0 - 0.1 * number  # every trial worse than all before it
        trial.report(score, step=1)
        pruned.append(trial.should_prune())
        study.tell(trial, score)
    assert pruned[:PRUNE_AFTER_TRIALS] == [False] * PRUNE_AFTER_TRIALS  # a 3-trial study: never
    assert pruned[PRUNE_AFTER_TRIALS:] == [True, True]  # then the median acts


def test_trials_keep_what_a_user_needs_and_say_how_much(
    tmp_path: Path, write_space, caplog
) -> None:
    lines: list[str] = []
    with caplog.at_level(logging.INFO, logger="ffseg"):
        result = tune(
            "demo", write_space(LR_SPACE), trials=2, study="s", out=tmp_path, overrides=TINY,
            pruner=PruneOddTrials(), seed=0, emit=lines.append,
        )  # fmt: skip
    done, pruned = result.study.trials
    kept = {p.name for p in Path(done.user_attrs["run_dir"]).iterdir()}
    assert "last.pt" not in kept and {"best.safetensors", "config.yaml", "summary.csv"} <= kept
    left = {p.name for p in Path(pruned.user_attrs["run_dir"]).iterdir()}
    assert not left & {"last.pt", "best.safetensors", "config.json"} and "summary.csv" in left
    for trial, line in zip((done, pruned), lines, strict=True):
        size = sum(p.stat().st_size for p in Path(trial.user_attrs["run_dir"]).rglob("*"))
        assert trial.user_attrs["disk_bytes"] == size
        assert f"| {size / 1e6:.1f} MB kept |" in line
    # one completed trial: no history, no importances, each skip says why
    assert not (tmp_path / "s" / "importances.png").exists()
    assert (
        f"importances.png skipped: it needs {MIN_TRIALS_FOR_IMPORTANCE} completed trials, the "
        "study has 1"
    ) in caplog.text
    assert "history.png skipped: it needs 2 completed trials" in caplog.text
