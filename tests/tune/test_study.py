"""Studies on SyntheticScenes with a tiny network: pruning, shared workers, a killed worker,
two objectives, and the CLI."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from ffseg.cli import main
from ffseg.config import load_config
from ffseg.tune import LatencySpec, Reference, tune
from ffseg.tune.objective import retried_from
from ffseg.tune.study import (
    FileHeartbeat,
    create_pruner,
    open_storage,
    remaining_trials,
    run_worker,
    surplus_guard,
)

from .conftest import LR_SPACE, TINY

ROOT = Path(__file__).resolve().parents[2]


class PruneOddTrials(optuna.pruners.BasePruner):
    """Prune every odd-numbered trial at its first report (deterministic pruning)."""

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        return trial.number % 2 == 1


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.read_text().splitlines()))


def _worker(out: Path, space: Path, *extra: str) -> subprocess.Popen:
    """``ffseg tune`` in a separate process (a worker)."""
    sets = [a for item in TINY for a in ("--set", item)]
    cmd = [sys.executable, "-m", "ffseg", "tune", "--config", "demo", "--space", str(space)]
    cmd += ["--out", str(out), "--no-plots", *sets, *extra]
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def test_pruners_by_name() -> None:
    assert isinstance(create_pruner("median", 8), optuna.pruners.MedianPruner)
    assert isinstance(create_pruner("hyperband", 8), optuna.pruners.HyperbandPruner)
    assert isinstance(create_pruner("none", 8), optuna.pruners.NopPruner)
    with pytest.raises(ValueError, match="median, hyperband, none"):
        create_pruner("asha", 8)


def test_a_four_trial_study_with_pruning(tmp_path, write_space) -> None:
    lines: list[str] = []
    study = dict(trials=4, study="s", out=tmp_path, overrides=TINY, plots=False, emit=lines.append)
    result = tune("demo", write_space(LR_SPACE), pruner=PruneOddTrials(), seed=0, **study)
    trials = result.study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.PRUNED] * 2
    assert all(list(t.intermediate_values) == [1] for t in trials[1::2])  # stopped after eval 1
    for t in trials:  # every trial is a normal run folder
        run = Path(t.user_attrs["run_dir"])
        assert run.name == f"trial_{t.number:04d}" and (run / "summary.csv").is_file()
    pruned_rows = _rows(Path(trials[1].user_attrs["run_dir"]) / "summary.csv")
    assert len(pruned_rows) == 1
    best = max(trials[0::2], key=lambda t: t.value)
    assert result.best[0]["number"] == best.number
    recipe = load_config(result.recipes[0])  # ready to train
    assert recipe.optim.lr == pytest.approx(best.params["optim.lr"])
    rows = _rows(result.trials_csv)
    assert [r["state"] for r in rows] == ["COMPLETE", "PRUNED"] * 2
    assert len(lines) == 4 and "best: miou=" in lines[-1] and "ETA" in lines[-1]
    again = tune("demo", write_space(LR_SPACE), **study)
    assert again.trials_run == 0  # a finished study is not run again


def test_two_workers_share_a_study_without_repeating_trials(tmp_path, write_space) -> None:
    space, journal = write_space(LR_SPACE), tmp_path / "shared" / "study.log"
    workers = [
        _worker(
            tmp_path,
            space,
            "--trials",
            "6",
            "--study",
            "w",
            "--storage",
            f"journal:{journal}",
            "--pruner",
            "none",
        )
        for _ in range(2)
    ]
    for w in workers:
        out, _ = w.communicate(timeout=300)
        assert w.returncode == 0, out
    study = optuna.load_study(
        study_name="w",
        storage=optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(journal))
        ),
    )
    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(done) == 6  # a trial both workers start at the very end is marked surplus
    assert all(t.user_attrs.get("surplus") for t in study.trials if t.state != TrialState.COMPLETE)
    assert len({t.user_attrs["run_dir"] for t in done}) == len(done)
    assert len({t.params["optim.lr"] for t in done}) == len(done)


def test_a_trial_created_after_the_study_is_full_is_surplus_and_not_run() -> None:
    """Two workers that both saw one trial left: the later-numbered trial is not run."""
    study = optuna.create_study()
    study.ask()  # another worker's trial, created between this worker's check and its own
    ran: list[int] = []

    def objective(trial) -> float:
        ran.append(trial.number)
        return 0.5

    study.optimize(surplus_guard(study, objective, 1), n_trials=1, catch=(Exception,))
    assert ran == [] and remaining_trials(study, 1) == 0
    surplus = study.trials[-1]
    assert surplus.state == TrialState.FAIL and surplus.user_attrs["surplus"] is True
    assert run_worker(study, objective, 1) == 0  # the study is full: nothing more to run


def test_a_killed_worker_is_detected_and_its_trial_resumed(tmp_path, write_space) -> None:
    space = write_space(LR_SPACE)
    slow = ["--set", "train.iters=8", "--set", "train.eval_every=4", "--heartbeat", "1"]
    worker = _worker(tmp_path, space, "--trials", "1", "--study", "k", *slow)
    run = tmp_path / "k" / "trials" / "trial_0000"
    deadline = time.monotonic() + 120
    while not (run / "last.pt").is_file():  # killed mid-trial, after its first checkpoint
        assert worker.poll() is None and time.monotonic() < deadline, worker.communicate()[0]
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    result = tune(  # right away: it waits for the killed trial's heartbeat to go stale (2 s)
        "demo",
        space,
        trials=1,
        study="k",
        out=tmp_path,
        overrides=[*TINY, "train.iters=8", "train.eval_every=4"],
        heartbeat_s=1,
        plots=False,
    )
    killed, retry = result.study.trials
    assert killed.state == TrialState.FAIL and retry.state == TrialState.COMPLETE
    assert retried_from(retry) == 0 and retry.params == killed.params
    assert retry.user_attrs["run_dir"] == str(run)  # the same run folder, resumed
    rows = _rows(run / "summary.csv")
    assert float(rows[-1]["iteration"]) == 8


def test_two_objectives_give_a_pareto_set(tmp_path, write_space) -> None:
    space = write_space("model.kwargs.width: {choices: [2, 16]}\n" + LR_SPACE)
    result = tune(
        "demo",
        space,
        trials=3,
        study="m",
        out=tmp_path,
        overrides=TINY,
        objectives="miou,latency",
        latency=LatencySpec(runs=2, warmup=1),
        seed=1,
        references=[Reference("reference", 0.1, 0.5)],
        plots=True,
    )
    assert result.objectives == ["miou", "latency"]
    assert result.best and all(len(b["values"]) == 2 for b in result.best)
    pareto = sorted(p.name for p in (tmp_path / "m" / "pareto").glob("*.yaml"))
    assert pareto == [f"trial_{b['number']:04d}.yaml" for b in result.best]
    widths = {t.params["model.kwargs.width"] for t in result.study.trials}
    assert len(list((tmp_path / "m" / "latency").glob("*.json"))) == len(widths)  # cached
    assert all(t.user_attrs["latency_ms"] > 0 for t in result.study.trials)
    pytest.importorskip("matplotlib")
    assert {p.name for p in result.plots} >= {"history.png", "pareto.png"}


def test_cli_reports_a_bad_space_with_the_key_and_the_fix(tmp_path, write_space, capsys) -> None:
    space = write_space("optim.lr: {type: float, low: 0.1, high: 0.1}\n")
    code = main(
        ["tune", "--config", "demo", "--space", str(space), "--trials", "2", "--out", str(tmp_path)]
    )
    err = capsys.readouterr().err
    assert code == 2 and "optim.lr" in err and "empty range" in err and "widen" in err


def test_cli_without_optuna_names_the_extra(tmp_path, write_space, monkeypatch, capsys) -> None:
    monkeypatch.setattr("ffseg.deploy.extras._installed", lambda module: module != "optuna")
    args = ["tune", "--config", "demo", "--space", str(write_space(LR_SPACE)), "--trials", "1"]
    assert main(args) == 2
    assert "pip install 'ffseg[tune]'" in capsys.readouterr().err


def test_the_facade_function_and_the_package_are_both_callable() -> None:
    import ffseg
    import ffseg.tune as package

    assert callable(ffseg.tune) and callable(package)
    with pytest.raises(ValueError, match="positive number of trials"):
        package("demo", "unused.yaml", trials=0)


def test_a_journal_trial_without_heartbeat_is_failed_and_queued_again(tmp_path) -> None:
    storage = open_storage(f"journal:{tmp_path / 'j.log'}", tmp_path)
    study = optuna.create_study(study_name="j", storage=storage)
    lost = study.ask({"optim.lr": optuna.distributions.FloatDistribution(1e-4, 1e-2)})
    beat = FileHeartbeat(tmp_path / "heartbeats", interval_s=1, max_retry=3)
    with beat.beating(lost.number):
        assert (tmp_path / "heartbeats" / "trial_0000").is_file()
    beat.fail_stale(study)  # started just now: still within the grace period
    assert study.trials[0].state == TrialState.RUNNING
    beat.grace_s = -1.0  # as if the worker had been silent for longer than the grace period
    beat.fail_stale(study)
    failed, queued = study.trials
    assert failed.state == TrialState.FAIL and queued.state == TrialState.WAITING
    assert queued.system_attrs["fixed_params"] == failed.params and retried_from(queued) == 0
    assert remaining_trials(study, 1) == 0  # the retry takes the failed trial's place


def test_cli_refuses_a_malformed_reference(tmp_path, write_space, capsys) -> None:
    args = ["tune", "--config", "demo", "--space", str(write_space(LR_SPACE)), "--trials", "1"]
    assert main([*args, "--out", str(tmp_path), "--reference", "fastscnn"]) == 2
    assert "NAME=MIOU" in capsys.readouterr().err
