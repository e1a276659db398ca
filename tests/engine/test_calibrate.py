"""Budget recipes that fit the machine: the calibration's choice, its pin and its record."""

from __future__ import annotations

import json
import time

import pytest
import yaml

from ffseg.config import ConfigError, load_config
from ffseg.engine.calibrate import CALIBRATION, Candidate, calibrated, choose
from ffseg.engine.distributed import DistInfo
from ffseg.engine.precision import resolve_precision
from ffseg.engine.train import fit

CANDIDATES = (
    "calibrate.candidates=["
    "{name: big, min_iters: 600, set: {data.crop_size: [64, 64]}},"
    "{name: mid, min_iters: 400, set: {data.crop_size: [48, 48], data.batch_size: 2}},"
    "{name: small, min_iters: 100, set: {data.crop_size: [32, 32]}}]"
)


def _times(**seconds: float):
    """A timer of fixed step seconds by candidate name; an untimed candidate fails the test."""

    def step_seconds(cand: Candidate) -> float:
        assert cand.name in seconds, f"{cand.name} should not have been timed"
        return seconds[cand.name]

    return step_seconds


def _candidates(tiny_cfg) -> list[Candidate]:
    return Candidate.of(tiny_cfg(CANDIDATES))


def test_first_candidate_that_reaches_its_need_wins_and_later_ones_are_not_timed(tiny_cfg):
    cands = _candidates(tiny_cfg)
    result = choose(cands, _times(big=2.0, mid=1.5), seconds_left=900.0)  # 450 < 600; 600 >= 400
    assert result.chosen == "mid"
    assert [t["name"] for t in result.timings] == ["big", "mid"]
    assert result.timings[0]["predicted_iters"] == pytest.approx(450.0)
    assert "600 iterations" in result.reason and "big 2.00 s/step" in result.reason
    # deterministic: the same times give the same answer
    assert choose(cands, _times(big=2.0, mid=1.5), 900.0) == result
    # a faster machine keeps the preferred candidate
    assert choose(cands, _times(big=1.0), 900.0).chosen == "big"


def test_when_none_reaches_its_need_the_closest_is_chosen(tiny_cfg):
    result = choose(_candidates(tiny_cfg), _times(big=3.0, mid=4.5, small=12.0), 900.0)
    # predicted / needed: big 300/600 = 0.5, mid 200/400 = 0.5, small 75/100 = 0.75
    assert result.chosen == "small"
    assert result.reason.startswith("no candidate reaches its min_iters")
    assert len(result.timings) == 3


def _calibrate(cfg, timer):
    info = DistInfo()
    precision = resolve_precision(cfg.train.amp, info.device)
    started = time.perf_counter()
    return calibrated(cfg, None, precision, info, started, timer=timer)  # type: ignore[arg-type]


def test_pick_pins_a_candidate_without_timing(tiny_cfg):
    cfg = tiny_cfg(CANDIDATES, "train.max_minutes=15", "calibrate.pick=small")

    def never(_cfg):
        raise AssertionError("a pinned candidate is not timed")

    pinned, calibration = _calibrate(cfg, never)
    assert calibration is not None and calibration.chosen == "small"
    assert calibration.reason == "pinned by calibrate.pick" and calibration.timings == []
    assert pinned.data.crop_size == (32, 32) and pinned.calibrate.pick == "small"


def test_chosen_settings_are_applied(tiny_cfg):
    cfg = tiny_cfg(CANDIDATES, "train.max_minutes=15")  # 900 s left
    seconds = {(64, 64): 2.0, (48, 48): 1.5}
    chosen, calibration = _calibrate(cfg, lambda c: seconds[tuple(c.data.crop_size)])
    assert calibration.chosen == "mid" and calibration.seconds_left == pytest.approx(900.0, abs=5)
    assert chosen.data.crop_size == (48, 48) and chosen.data.batch_size == 2
    assert chosen.calibrate.pick == "mid"


def test_no_candidates_leaves_the_recipe_alone(tiny_cfg):
    cfg = tiny_cfg()
    same, calibration = _calibrate(cfg, lambda c: 1.0)
    assert calibration is None and same is cfg


def test_a_run_records_its_choice_and_a_rerun_of_its_config_trains_the_same(tiny_cfg):
    cfg = tiny_cfg(
        "calibrate.candidates=[{name: huge, min_iters: 1000000, set: {data.crop_size: [64, 64]}},"
        "{name: tiny, min_iters: 1, set: {data.crop_size: [32, 32]}}]",
        "calibrate.steps=1",
        "train.max_minutes=5",
        "train.iters=2",
        "data.val_subset=1",
    )
    result = fit(cfg)
    record = json.loads((result.run_dir / CALIBRATION).read_text())
    assert record["chosen"] == "tiny"
    assert [t["name"] for t in record["timings"]] == ["huge", "tiny"]
    assert all(t["step_s"] > 0 for t in record["timings"])
    saved = yaml.safe_load((result.run_dir / "config.yaml").read_text())
    assert saved["calibrate"]["pick"] == "tiny" and saved["data"]["crop_size"] == [32, 32]
    rerun = load_config(result.run_dir / "config.yaml")
    assert rerun.calibrate.pick == "tiny" and rerun.data.crop_size == (32, 32)


@pytest.mark.parametrize(
    ("candidates", "message"),
    [
        ("[{name: a, set: {data.crop_sise: [8, 8]}}]", "Did you mean 'crop_size'"),
        ("[{name: a, set: {data.batch_size: 0}}]", "data.batch_size=0 is out of range"),
        ("[{name: a, min_iters: 0}]", "min_iters must be an integer >= 1"),
        ("[{name: a}, {name: a}]", "name must be a non-empty, unique string"),
        ("[{name: a, sett: {}}]", "must look like"),
        ("[{name: a, set: {calibrate.pick: a}}]", "a candidate cannot set calibrate.pick"),
    ],
)
def test_bad_candidates_are_refused_when_the_recipe_loads(candidates, message):
    with pytest.raises(ConfigError, match=r"calibrate\.candidates") as info:
        load_config("demo", [f"calibrate.candidates={candidates}"])
    assert message in str(info.value)


def test_an_unknown_pick_lists_the_candidates():
    with pytest.raises(ConfigError, match=r"calibrate.pick='c' is not a candidate.*\(a, b\)"):
        load_config("demo", ["calibrate.candidates=[{name: a}, {name: b}]", "calibrate.pick=c"])


@pytest.mark.parametrize(
    ("full_crop_step_s", "chosen"),
    [(1.2, "crop352x480"), (1.9, "crop224x320")],  # ~bf16 CPU; this 2-core AVX2 CPU (fp32)
)
def test_the_15_minute_recipe_picks_its_crop_by_the_machine(full_crop_step_s, chosen):
    """``camvid_15min_cpu``: the full crop where it trains >= 600 iterations, else 224x320."""
    cfg = load_config("camvid_15min_cpu")
    steps = {"crop352x480": full_crop_step_s, "crop224x320": 0.8}
    result = choose(Candidate.of(cfg), lambda c: steps[c.name], 15 * 60 - 12)
    assert result.chosen == chosen
    pinned = load_config("camvid_15min_cpu", ["calibrate.pick=crop352x480"])
    assert pinned.calibrate.pick == "crop352x480"
