"""Two ``ffseg tune`` workers share a study on a real PostgreSQL server; one is killed."""

from __future__ import annotations

import csv
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import optuna
import pytest
from optuna.trial import TrialState

from ffseg.tune.objective import retried_from

from ..postgres_server import postgres_url
from .conftest import LR_SPACE, TINY
from .test_study import ROOT

DOCS = ROOT / "docs" / "TUNING.md"


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres_url() as url:
        yield url


def docs_command(**values: str) -> list[str]:
    """The PostgreSQL example of docs/TUNING.md as arguments after ``ffseg tune``, with the
    value of each ``--<flag>`` in ``values`` replaced."""
    text = DOCS.read_text()
    block = re.search(r"a database server\*\*.*?```bash\n(.*?)```", text, re.S)
    assert block, f"{DOCS} lost its PostgreSQL example"
    lines = [ln for ln in block.group(1).replace("\\\n", " ").splitlines() if ln.strip()]
    command = shlex.split(next(ln for ln in lines if ln.startswith("ffseg tune")))
    assert command[:2] == ["ffseg", "tune"]
    args = command[2:]
    for flag, value in values.items():
        i = args.index(f"--{flag}")  # the example must keep passing each of these flags
        args[i + 1] = value
    return args


def _tune(args: list[str]) -> subprocess.Popen:
    """A worker: ``ffseg tune ARGS`` on the tiny recipe, 8 iterations, a 1 s heartbeat."""
    sets = [a for item in [*TINY, "train.iters=8", "train.eval_every=4"] for a in ("--set", item)]
    cmd = [sys.executable, "-m", "ffseg", "tune", *args, "--no-plots", *sets]
    cmd += ["--heartbeat", "1", "--pruner", "none"]
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def test_the_docs_example_uses_the_installed_driver() -> None:
    storage = docs_command()[docs_command().index("--storage") + 1]
    assert storage.startswith("postgresql+psycopg://")


@pytest.mark.slow
def test_two_workers_share_a_postgres_study_and_a_killed_trial_runs_once(
    pg_url, tmp_path, write_space
) -> None:
    study = f"pg_{uuid.uuid4().hex[:8]}"  # a server set by CI may hold other runs' studies
    args = docs_command(
        config="demo",
        space=str(write_space(LR_SPACE)),
        trials="2",
        study=study,
        storage=pg_url,
        out=str(tmp_path),
    )
    assert args[args.index("--storage") + 1] == pg_url
    first = _tune(args)
    killed_run = tmp_path / study / "trials" / "trial_0000"
    deadline = time.monotonic() + 180
    while not (killed_run / "last.pt").is_file():  # mid-trial, after its first checkpoint
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()[0]
        time.sleep(0.05)
    second = _tune(args)
    first.send_signal(signal.SIGKILL)
    first.wait()
    out, _ = second.communicate(timeout=300)
    assert second.returncode == 0, out

    trials = optuna.load_study(study_name=study, storage=pg_url).trials
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    assert trials[0].state == TrialState.FAIL  # the killed worker's trial
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    assert len(done) == 2  # each trial completed exactly once
    assert len({t.user_attrs["run_dir"] for t in done}) == 2
    (retry,) = [t for t in done if retried_from(t) == 0]
    assert retry.params == trials[0].params and retry.user_attrs["run_dir"] == str(killed_run)
    rows = list(csv.DictReader((killed_run / "summary.csv").read_text().splitlines()))
    assert float(rows[-1]["iteration"]) == 8  # the killed trial's run folder, resumed to the end
