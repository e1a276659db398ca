"""``ffseg tune`` when things go wrong: one line per failed trial (traceback in the study's log
file), a non-zero exit when no trial completed, one line on Ctrl-C, a journal with a torn last
record recovers, and every storage error names the storage and the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ffseg.cli import main
from ffseg.tune import objective as objective_mod
from ffseg.tune.study import StorageError, open_storage, repair_journal
from tests.tune.conftest import LR_SPACE, TINY

optuna = pytest.importorskip("optuna")


def _args(tmp_path: Path, space: Path, trials: int = 2, *extra: str) -> list[str]:
    args = ["tune", "--config", "demo", "--space", str(space), "--trials", str(trials)]
    args += ["--out", str(tmp_path / "studies"), "--study", "s", "--no-plots", *extra]
    for item in TINY:
        args += ["--set", item]
    return args


def test_every_trial_failing_prints_one_line_each_and_exits_1(
    tmp_path: Path, write_space, capsys
) -> None:
    space = write_space(LR_SPACE)
    code = main([*_args(tmp_path, space), "--set", "model.kwargs={width: -3}"])
    out, err = capsys.readouterr()
    assert code == 1
    fails = [line for line in out.splitlines() if " fail " in line]
    assert len(fails) == 2 and all("traceback in" in line for line in fails), out
    assert "Traceback" not in out + err
    log_file = tmp_path / "studies" / "s" / "tune.log"
    assert err.strip().splitlines() == [
        f"ffseg tune: error: no trial of study s completed; the failures are listed above, "
        f"their tracebacks in {log_file}"
    ]
    assert "Traceback" in log_file.read_text()


def test_ctrl_c_is_one_line(tmp_path: Path, write_space, capsys, monkeypatch) -> None:
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(objective_mod, "fit", interrupted)
    assert main(_args(tmp_path, write_space(LR_SPACE))) == 130
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert err.strip().splitlines() == [
        "ffseg tune: interrupted; the stopped trial is queued again: run the same command to "
        "continue the study"
    ]


def _journal_with_a_trial(path: Path) -> bytes:
    study = optuna.create_study(study_name="j", storage=open_storage(f"journal:{path}", path))
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    return path.read_bytes()


def test_a_torn_last_journal_record_is_dropped_with_a_warning(tmp_path: Path, caplog) -> None:
    path = tmp_path / "study.log"
    good = _journal_with_a_trial(path)
    path.write_bytes(good + b'{"op_code": 4, "worker_id": "ab')  # the disk filled mid-write
    with caplog.at_level("WARNING"):
        storage = open_storage(str(path), tmp_path)
    assert path.read_bytes() == good
    assert str(path) in caplog.text and "torn last record" in caplog.text
    study = optuna.load_study(study_name="j", storage=storage)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)  # and it goes on
    assert len(study.trials) == 2


def test_a_torn_record_followed_by_a_newline_is_dropped_too(tmp_path: Path) -> None:
    path = tmp_path / "study.log"
    good = _journal_with_a_trial(path)
    path.write_bytes(good + b'{"op_code": 4, "wor\n')
    assert repair_journal(path) == len(b'{"op_code": 4, "wor\n')
    assert path.read_bytes() == good


def test_a_bad_record_before_the_last_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "study.log"
    good = _journal_with_a_trial(path)
    lines = good.split(b"\n")
    broken = b"\n".join([lines[0], b"{torn", *lines[1:]])
    path.write_bytes(broken)
    with pytest.raises(StorageError, match=rf"{path}.*line 2 is not a journal record; restore"):
        open_storage(f"journal:{path}", tmp_path)
    assert path.read_bytes() == broken
    json.loads(lines[0])


@pytest.mark.parametrize(
    ("storage", "expected"),
    [
        ("file.txt", "'file.txt' is neither a database URL nor a journal file; use journal:file"),
        ("nosuch://x/y", "cannot open the study storage 'nosuch://x/y'"),
        ("sqlite:////nonexistent-dir/sub/s.db", "cannot open the study storage 'sqlite:////"),
    ],
)
def test_storage_errors_name_the_storage_and_the_fix(
    tmp_path: Path, write_space, capsys, storage: str, expected: str
) -> None:
    before = sorted(tmp_path.rglob("*"))
    assert main(_args(tmp_path, write_space(LR_SPACE), 1, "--storage", storage)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert expected in err and ("journal:" in err or "sqlite:///" in err), err
    assert sorted(tmp_path.rglob("*"))[: len(before)] == before


def test_a_folder_as_journal_storage_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "x.log"
    folder.mkdir()
    with pytest.raises(StorageError, match=r"x\.log' is a folder; give a database URL"):
        open_storage(str(folder), tmp_path)


def test_a_linked_study_log_is_refused(tmp_path: Path, write_space, capsys) -> None:
    victim = tmp_path / "notes.txt"
    victim.write_text("mine\n")
    study_dir = tmp_path / "studies" / "s"
    study_dir.mkdir(parents=True)
    (study_dir / "tune.log").symlink_to(victim)
    assert main(_args(tmp_path, write_space(LR_SPACE), 1)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "symbolic link" in err and "tune.log" in err, err
    assert victim.read_text() == "mine\n"
