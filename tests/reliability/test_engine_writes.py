"""Training writes: no lock, checkpoint, log or overlay write follows a symbolic link ffseg did
not create, finished runs leave no ``.lock``, failed starts leave no run folder, and killed
writes' temp files are removed at the next start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ffseg._io import FileWriteError, atomic_write_text, remove_stale_temp_files, sigterm_raises
from ffseg.cli import main
from ffseg.engine import train as train_mod
from ffseg.engine.runfolder import LOCK

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX links and signals")

TINY = [
    "data.train_kwargs={n: 4, size: [32, 48], seed: 0}",
    "data.val_kwargs={n: 1, size: [32, 48], seed: 1}",
    "data.crop_size=[32, 48]",
    "data.scale_range=[1.0, 1.0]",
    "data.batch_size=2",
    "model.kwargs.backbone=resnet22s",
    "train.iters=1",
    "train.eval_every=100",
    "sched.warmup_iters=1",
    "log.progress=false",
    "log.tensorboard=false",
    "log.overlays=0",
]


def _train(out: Path, name: str = "run", *extra: str) -> list[str]:
    args = ["train", "--config", "demo", "--output-dir", str(out), "--name", name]
    for item in [*TINY, *extra]:
        args += ["--set", item]
    return args


def _victim(folder: Path) -> tuple[Path, bytes]:
    folder.mkdir(exist_ok=True)
    victim = folder / "precious.txt"
    data = b"the user's thesis\n" * 10
    victim.write_bytes(data)
    return victim, data


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    assert main(_train(out)) == 0
    return out / "run"


def test_finished_run_leaves_no_lock(finished: Path) -> None:
    assert (finished / "last.pt").is_file()
    assert not (finished / LOCK).exists() and not (finished / LOCK).is_symlink()


@pytest.mark.slow
def test_symlinked_lock_on_resume_never_truncates_its_target(
    finished: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim, data = _victim(tmp_path)
    (finished / LOCK).symlink_to(victim)
    assert main(["train", "--resume", str(finished), "--set", "train.iters=2"]) == 0
    assert victim.read_bytes() == data
    assert not (finished / LOCK).exists() and not (finished / LOCK).is_symlink()


@pytest.mark.slow
def test_symlinked_run_files_are_replaced_not_followed(finished: Path, tmp_path: Path) -> None:
    victims = {}
    for name in ("summary.csv", "config.yaml", "best.safetensors"):
        victims[name] = _victim(tmp_path / name)
        (finished / name).unlink(missing_ok=True)
        (finished / name).symlink_to(victims[name][0])
    assert main(["train", "--resume", str(finished), "--set", "train.iters=4"]) == 0
    for victim, data in victims.values():
        assert victim.read_bytes() == data
    for name in ("summary.csv", "config.yaml"):  # rewritten (best only when it improves)
        assert not (finished / name).is_symlink()
    assert (finished / "summary.csv").is_file() and (finished / "config.yaml").is_file()


@pytest.mark.parametrize("folder", ["overlays", "tb"])
def test_symlinked_run_subfolder_is_refused_before_training(
    finished: Path, tmp_path: Path, folder: str, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "val_000.png").write_bytes(b"user image")
    link = finished / folder
    link.symlink_to(elsewhere, target_is_directory=True)
    try:
        code = main(["train", "--resume", str(finished), "--set", "train.iters=3"])
    finally:
        link.unlink()
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert f"{link}" in err and "symbolic link" in err and "remove the link" in err
    assert [p.name for p in elsewhere.iterdir()] == ["val_000.png"]
    assert (elsewhere / "val_000.png").read_bytes() == b"user image"
    assert not (finished / LOCK).exists()


def test_error_after_the_folder_exists_leaves_no_run_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args, **kwargs):
        raise ValueError("cannot read image 'bad.png' (truncated file); remove or replace it")

    monkeypatch.setattr(train_mod, "train_one_epoch", broken)
    out = tmp_path / "runs"
    assert main(_train(out)) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "ffseg train: error: cannot read image 'bad.png' (truncated file); remove or replace it"
    )
    assert list(out.iterdir()) == []


@pytest.mark.slow
def test_stale_temp_files_are_removed_at_the_next_start(finished: Path) -> None:
    stale = [finished / ".last.pt.abc.tmp", finished / "overlays" / ".val_000.png.x.tmp"]
    for path in stale:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"half")
        os.utime(path, (time.time() - 3600, time.time() - 3600))
    fresh = finished / ".summary.csv.live.tmp"
    fresh.write_bytes(b"a write in progress")
    assert main(["train", "--resume", str(finished), "--set", "train.iters=3"]) == 0
    assert not any(p.exists() for p in stale)
    assert fresh.exists()  # too young to be a dead write's
    fresh.unlink()


def test_stale_temp_removal_never_follows_links(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    keep = outside / ".mine.tmp"
    keep.write_bytes(b"not ffseg's")
    os.utime(keep, (0, 0))
    run = tmp_path / "run"
    run.mkdir()
    (run / "sub").symlink_to(outside, target_is_directory=True)
    assert remove_stale_temp_files(run, recursive=True) == 0
    assert keep.read_bytes() == b"not ffseg's"


def test_sigterm_during_a_write_leaves_no_temp_file(tmp_path: Path) -> None:
    script = (
        "import os, signal, time\n"
        "from ffseg._io import atomic_write, sigterm_raises\n"
        "def slow(tmp):\n"
        "    open(tmp, 'wb').write(b'x')\n"
        "    print('writing', flush=True)\n"
        "    time.sleep(60)\n"
        "with sigterm_raises():\n"
        f"    atomic_write({str(tmp_path / 'out.bin')!r}, slow)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert proc.stdout is not None and proc.stdout.readline() == b"writing\n"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert list(tmp_path.iterdir()) == []


def test_sigterm_raises_is_a_no_op_outside(tmp_path: Path) -> None:
    before = signal.getsignal(signal.SIGTERM)
    with sigterm_raises():
        atomic_write_text(tmp_path / "a.txt", "x")
    assert signal.getsignal(signal.SIGTERM) == before


def test_write_into_a_file_path_names_the_path(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileWriteError, match=r"file.*choose another output path"):
        atomic_write_text(tmp_path / "file" / "a.txt", "y")
