"""train.max_minutes as a schedule: the LR follows the elapsed share of a wall-clock budget."""

from __future__ import annotations

import pytest

import ffseg.engine.setup as engine_setup
import ffseg.engine.train as engine_train
from ffseg.config import SchedConfig
from ffseg.engine.budget import SAVE_SECONDS, Budget, estimate_final_seconds
from ffseg.engine.checkpoint import load_checkpoint
from ffseg.engine.distributed import DistInfo
from ffseg.engine.optim import budget_lr_factor, decay_factor, lr_factor
from ffseg.engine.train import fit


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.mark.parametrize("name", ["poly", "cosine", "linear"])
def test_simulated_budget_run_decays_to_zero_at_the_deadline(name: str) -> None:
    clock = FakeClock()
    budget = Budget(1.0, start=0.0, clock=clock)  # 60 s
    budget.reserve = 6.0  # the final evaluation
    clock.t = 2.0  # building the run
    budget.mark()
    cfg = SchedConfig(name=name, warmup_fraction=0.05)
    lrs, steps = [], 0
    while True:
        lrs.append(budget_lr_factor(budget.fraction(), cfg))  # the LR of the coming step
        clock.t += 0.25  # one iteration
        steps += 1
        if budget.tick():
            break
    assert budget.train_end == pytest.approx(54.0)
    assert abs(clock.t - 54.0) <= 0.02 * 60  # training ends within 2 % of its deadline
    assert lrs[0] < lrs[len(lrs) // 10]  # warm-up
    assert lrs[-1] < 0.01  # the decay is finished at the last step
    assert steps == pytest.approx(52 / 0.25, abs=2)


def test_budget_resume_keeps_the_remaining_budget() -> None:
    clock = FakeClock()
    budget = Budget(1.0, start=0.0, clock=clock)
    budget.resume(30.0)  # the checkpoint had used half of it
    budget.mark()
    assert budget.fraction() == pytest.approx(0.5)
    steps = 0
    while not budget.tick():
        clock.t += 1.0
        steps += 1
    assert steps == 30  # the 30 s left, in 1 s iterations


def test_no_budget_never_stops_and_keeps_the_iteration_schedule() -> None:
    budget = Budget(None, start=0.0, clock=FakeClock())
    assert not budget.tick() and budget.fraction() == 0.0
    cfg = SchedConfig(name="linear", warmup_iters=0)
    assert lr_factor(5, 10, cfg) == pytest.approx(0.5)
    assert decay_factor(1.0, SchedConfig(name="cosine")) == pytest.approx(0.0)


def test_budget_run_ends_its_decay_and_reports_training_share(
    tiny_cfg, tmp_path, monkeypatch
) -> None:
    """A 12 s budget on a simulated clock (1 s per reading, so the test does not depend on the
    machine's speed) with 2 s reserved for the final evaluation."""
    clock = FakeClock()

    def tick() -> float:
        clock.t += 1.0
        return clock.t

    class Simulated(Budget):
        # checkpoint writes take no simulated time (their real duration varies with the load)
        write_s = property(lambda self: 0.0, lambda self, value: None)

    def simulated(minutes: float | None, start: float) -> Budget:
        return Simulated(minutes, 0.0, clock=tick)

    monkeypatch.setattr(engine_train, "Budget", simulated)
    monkeypatch.setattr(engine_setup, "estimate_final_seconds", lambda *a, **k: 2.0)
    cfg = tiny_cfg(
        "train.max_minutes=0.2", "train.iters=none", "train.name=budget", "sched.warmup_fraction=0"
    )
    result = fit(cfg)
    assert 4 <= result.iterations <= 10
    assert "miou" in result.metrics  # evaluated once, at the end
    ckpt = load_checkpoint(tmp_path / "budget" / "last.pt")
    rows = ckpt["state"]["history"]
    assert sum("miou" in row for row in rows) == 1 and "miou" in rows[-1]
    assert rows[-1]["lr"] < 0.2 * cfg.optim.lr  # the decay finished
    assert ckpt["state"]["train_s"] > 0 and ckpt["state"]["elapsed_s"] >= 10.0
    assert result.budget_seconds == pytest.approx(12.0)
    assert result.train_share is not None and result.train_share > 0


def test_final_evaluation_estimate_scales_to_the_validation_set() -> None:
    calls = []
    val = list(range(10))
    seconds = estimate_final_seconds(
        lambda loader: calls.append(len(loader)), val, lambda x: x, DistInfo(), models=2
    )
    assert calls == [1, 2]  # one warm-up image, then two timed
    assert seconds >= SAVE_SECONDS  # the weights write is kept
    calls.clear()
    estimate_final_seconds(lambda loader: calls.append(len(loader)), [0], lambda x: x, DistInfo())
    assert calls == [1]  # a one-image validation set: timed without a warm-up


def test_a_reserve_over_half_the_budget_is_warned_with_the_fix() -> None:
    budget = Budget(2.0, start=0.0, clock=lambda: 0.0)
    budget.reserve = 50.0
    assert budget.reserve_warning() is None  # 50 s of 120 s: fine
    budget.reserve = 100.0
    warning = budget.reserve_warning()
    assert warning is not None
    assert "100 s of the 120 s budget (train.max_minutes=2)" in warning
    assert "at most 20 s" in warning and "data.val_subset" in warning
    assert Budget(None, start=0.0).reserve_warning() is None
