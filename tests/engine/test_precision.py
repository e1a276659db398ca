"""Precision names resolved for the CPU this runs on: bf16 only where the CPU computes it."""

from __future__ import annotations

import logging

import pytest
import torch

from ffseg.engine import precision
from ffseg.engine.precision import resolve_precision


@pytest.mark.parametrize("native", [True, False])
def test_auto_on_cpu_is_bf16_only_with_bf16_instructions(monkeypatch, native: bool) -> None:
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: native)
    resolved = resolve_precision("auto", "cpu")
    assert resolved.name == ("bf16" if native else "fp32")
    assert resolved.autocast_dtype == (torch.bfloat16 if native else None)
    assert not resolved.use_grad_scaler


def test_explicit_bf16_on_a_cpu_without_it_is_kept_with_a_warning(monkeypatch, caplog) -> None:
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: False)
    precision._warn_emulated_bf16.cache_clear()
    with caplog.at_level(logging.WARNING, logger="ffseg.engine.precision"):
        resolved = resolve_precision("bf16", "cpu", what="train.amp")
    assert resolved.autocast_dtype == torch.bfloat16  # what the recipe asked for
    (record,) = caplog.records
    assert "train.amp=bf16" in record.message and "prefer fp32 here" in record.message
    precision._warn_emulated_bf16.cache_clear()


def test_bf16_on_a_cpu_with_it_is_silent(monkeypatch, caplog) -> None:
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    precision._warn_emulated_bf16.cache_clear()
    with caplog.at_level(logging.WARNING, logger="ffseg.engine.precision"):
        assert resolve_precision("bf16", "cpu").name == "bf16"
    assert not caplog.records


def test_fp16_on_cpu_and_unknown_names_are_refused() -> None:
    with pytest.raises(ValueError, match="fp16 needs a CUDA GPU"):
        resolve_precision("fp16", "cpu", what="train.amp")
    with pytest.raises(ValueError, match="must be one of fp32, bf16, fp16, auto; got 'int4'"):
        resolve_precision("int4", "cpu")
