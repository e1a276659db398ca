"""How a run is shaped and reported: a budget capped by train.iters stops at whichever comes
first, progress lines under a budget show the time used and left, summary.csv keeps one column
order, a missing relative data.root names the folder it was resolved against, a long run
without budget says so, and third-party INFO lines stay quiet unless -v."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import pytest

from ffseg._logs import QUIET_LOGGERS, configure_logging
from ffseg.cli import main
from ffseg.engine.logger import SUMMARY_FIRST
from ffseg.engine.setup import long_run_warning
from ffseg.engine.train import fit


def test_a_budget_with_iters_stops_at_whichever_comes_first(tiny_cfg, tmp_path, caplog) -> None:
    cfg = tiny_cfg("train.max_minutes=10", "train.iters=3", "train.name=capped")
    with caplog.at_level(logging.INFO, logger="ffseg"):
        result = fit(cfg)
    assert result.iterations == 3 and result.seconds < 600
    assert "a budget of 10 min or 3 iterations (1 epochs x 4), whichever comes first" in caplog.text
    epoch_lines = [r.getMessage() for r in caplog.records if "img/s" in r.getMessage()]
    assert epoch_lines and all("min left)" in line for line in epoch_lines), epoch_lines
    assert all("budget 0." in line and "/10 min" in line for line in epoch_lines)
    assert not any("iter 3/3" in line or "epoch 0/" in line for line in epoch_lines)
    rows = list(csv.DictReader((tmp_path / "capped" / "summary.csv").open()))
    assert float(rows[-1]["lr"]) < 0.05 * cfg.optim.lr  # the decay ended at the cap
    assert "miou" in rows[-1]


def test_summary_columns_keep_one_order(tiny_cfg, tmp_path) -> None:
    fit(tiny_cfg("train.iters=8", "train.eval_every=2", "train.name=cols", "train.ema=true"))
    header = (tmp_path / "cols" / "summary.csv").read_text().splitlines()[0].split(",")
    assert header[: len(SUMMARY_FIRST)] == list(SUMMARY_FIRST)
    rest = header[len(SUMMARY_FIRST) :]
    assert rest == sorted(rest) and "miou" in rest and "miou_ema" in rest


def test_a_missing_relative_data_root_names_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["train", "-c", "demo", "--set", "data.name=folder", "--set", "data.root=data/mine"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"ffseg train: error: data.root 'data/mine' does not exist: looked for "
        f"'{tmp_path / 'data' / 'mine'}' (relative to the current folder '{tmp_path}'); give the "
        "dataset folder with --set data.root=PATH (an absolute path works from anywhere)"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_long_run_without_budget_says_so(tiny_cfg) -> None:
    cfg = tiny_cfg()
    warning = long_run_warning(cfg, step_s=2.0, done=3, total=3003)
    assert warning is not None and "about 1.7 h" in warning and "3000 more iterations" in warning
    assert "train.max_minutes=N" in warning
    assert long_run_warning(cfg, step_s=1.0, done=3, total=3003) is None  # under an hour
    budget = tiny_cfg("train.max_minutes=90")
    assert long_run_warning(budget, step_s=2.0, done=3, total=3003) is None


def test_a_long_run_warns_at_its_start(tiny_cfg, monkeypatch, caplog) -> None:
    monkeypatch.setattr("ffseg.engine.setup.LONG_RUN_S", 1e-6)
    with caplog.at_level(logging.WARNING, logger="ffseg"):
        fit(tiny_cfg("train.name=long"))
    assert [r.getMessage() for r in caplog.records].count(
        next(m for m in (r.getMessage() for r in caplog.records) if "this run will take" in m)
    ) == 1


def test_third_party_info_is_quiet_unless_verbose(capsys) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers = []
    try:
        configure_logging(verbose=False)
        logging.getLogger("optuna.study").info("A new study created")
        logging.getLogger("onnxscript.version_converter").info("converting")
        logging.getLogger("matplotlib.font_manager").warning("a real warning")
        logging.getLogger("ffseg.engine").info("ffseg's line")
        err = capsys.readouterr().err
        assert "A new study" not in err and "converting" not in err
        assert "a real warning" in err and "ffseg's line" in err
        root.handlers = []
        configure_logging(verbose=True)
        # (optuna's logger, once optuna is imported, writes through a handler of its own)
        logging.getLogger("onnxscript.version_converter").info("converting")
        assert "converting" in capsys.readouterr().err
    finally:
        root.handlers, root.level = saved
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.NOTSET)
