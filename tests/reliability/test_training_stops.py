"""Stops and concurrency, end to end in subprocesses: SIGINT/SIGTERM save a checkpoint and say
how to resume, ``kill -9`` at random moments loses only the work since the last checkpoint and
resumes bit-exactly, run folders are exclusive and a running run cannot be resumed."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ffseg.engine.checkpoint import load_checkpoint
from ffseg.engine.runfolder import RunLockedError
from ffseg.engine.train import fit

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

TINY = [
    "data.train_kwargs={n: 8, size: [48, 48], seed: 0}",
    "data.val_kwargs={n: 2, size: [48, 48], seed: 1}",
    "data.crop_size=[48, 48]",
    "data.scale_range=[1.0, 1.0]",
    "data.batch_size=4",
    "model.kwargs.backbone=resnet22s",
    "train.eval_every=100",
    "train.ckpt_every=1",
    "sched.warmup_iters=1",
    "log.progress=false",
    "log.tensorboard=false",
    "log.overlays=0",
]


def _train(out: Path, name: str, iters: int, *extra: str) -> list[str]:
    sets = [*TINY, f"train.iters={iters}", *extra]
    args = [sys.executable, "-m", "ffseg", "train", "--config", "demo"]
    for item in sets:
        args += ["--set", item]
    return [*args, "--output-dir", str(out), "--name", name]


def _resume(run: Path, *sets: str) -> list[str]:
    args = [sys.executable, "-m", "ffseg", "train", "--resume", str(run)]
    for item in sets:
        args += ["--set", item]
    return args


def _start(cmd: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"process ended early: {proc.communicate()}")
        if time.monotonic() > end:
            proc.kill()
            raise AssertionError(f"{path} never appeared")
        time.sleep(0.05)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_saves_checkpoint_and_resume_continues(tmp_path: Path, sig, code) -> None:
    run = tmp_path / "sig"
    proc = _start(_train(tmp_path, "sig", 100_000))
    _wait_for(run / "last.pt", proc)
    # a second process may not resume (or share) a run that is training
    with pytest.raises(RunLockedError, match=rf"in use .*PID {proc.pid}"):
        fit(resume=run)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert f"ffseg train --resume {run}" in err and signal.Signals(sig).name in err
    stopped_at = load_checkpoint(run / "last.pt")["state"]["iteration"]
    assert stopped_at >= 1
    done = subprocess.run(
        _resume(run, f"train.iters={stopped_at + 1}"), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert load_checkpoint(run / "last.pt")["state"]["iteration"] == stopped_at + 1


def test_ctrl_c_with_loader_workers_saves_and_says_how_to_resume(tmp_path: Path) -> None:
    """A terminal's Ctrl-C reaches the whole process group, data-loader workers included."""
    run = tmp_path / "workers"
    cmd = _train(tmp_path, "workers", 100_000, "data.workers=2")
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    _wait_for(run / "last.pt", proc)
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal sends: every process of the group
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert f"ffseg train --resume {run}" in err and "Traceback" not in err, err
    assert load_checkpoint(run / "last.pt")["state"]["iteration"] >= 1


def test_second_ctrl_c_exits_at_once(tmp_path: Path) -> None:
    proc = _start(_train(tmp_path, "twice", 100_000))
    _wait_for(tmp_path / "twice" / "last.pt", proc)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 130


def test_two_runs_with_the_same_name_get_their_own_folders(tmp_path: Path) -> None:
    procs = [_start(_train(tmp_path, "same", 2)) for _ in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    folders = sorted(p.name for p in tmp_path.iterdir())
    assert folders == ["same", "same-2"]
    for name in folders:
        ckpt = load_checkpoint(tmp_path / name / "last.pt")
        assert ckpt["config"]["train"]["name"] == "same" and ckpt["state"]["iteration"] == 2


def test_kill_9_at_random_moments_then_bit_exact_resume(tmp_path: Path) -> None:
    iters = 12
    straight = subprocess.run(
        _train(tmp_path, "straight", iters), capture_output=True, text=True, timeout=300
    )
    assert straight.returncode == 0, straight.stderr
    run = tmp_path / "killed"
    rng = random.Random(os.getpid())
    proc = _start(_train(tmp_path, "killed", iters))
    for _ in range(2):  # kill, resume, kill again: some kills land inside a checkpoint write
        _wait_for(run / "last.pt", proc)
        time.sleep(rng.uniform(0.0, 1.5))
        proc.kill()
        proc.communicate()
        if load_checkpoint(run / "last.pt")["state"]["iteration"] >= iters:
            break
        proc = _start(_resume(run))
    else:
        proc.communicate(timeout=300)
    final = subprocess.run(_resume(run), capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    a = load_checkpoint(tmp_path / "straight" / "last.pt")
    b = load_checkpoint(run / "last.pt")
    assert a["state"]["iteration"] == b["state"]["iteration"] == iters
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert not list(run.glob(".*.tmp")) or all(
        time.time() - p.stat().st_mtime < 60 for p in run.glob(".*.tmp")
    )
