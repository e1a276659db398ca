"""results.png: a run's loss, LR and validation curves, written as the run goes."""

from __future__ import annotations

import logging
import sys

import pytest
from PIL import Image

from ffseg.engine.curves import RESULTS
from ffseg.engine.train import fit

pytest.importorskip("matplotlib")


def test_results_png_is_written_as_the_run_goes(tiny_cfg, tmp_path) -> None:
    seen = []

    def on_evaluate(state, row) -> None:  # after the epoch's files are written
        path = tmp_path / "curves" / RESULTS
        seen.append(path.is_file() and Image.open(path).format == "PNG")

    cfg = tiny_cfg("train.iters=8", "train.eval_every=1", "train.name=curves", "log.log_every=1")
    fit(cfg, on_evaluate=on_evaluate)
    assert seen == [True, True]  # already there after the first evaluation
    image = Image.open(tmp_path / "curves" / RESULTS)
    assert image.format == "PNG" and image.size[0] > 600 and image.size[1] > 300
    assert not list((tmp_path / "curves").glob(".*.tmp"))


def test_without_matplotlib_the_run_says_so_once(tiny_cfg, tmp_path, monkeypatch, caplog) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails
    with caplog.at_level(logging.INFO, logger="ffseg"):
        fit(tiny_cfg("train.name=noplot"))
    assert not (tmp_path / "noplot" / RESULTS).exists()
    lines = [r.getMessage() for r in caplog.records if "results.png" in r.getMessage()]
    assert lines == ["matplotlib is not installed (pip install 'ffseg[plot]'): no results.png"]
