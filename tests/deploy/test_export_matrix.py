"""The export matrix script (scripts/export_matrix.py) on a fixed sample of the zoo."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "export_matrix.py"
#: A fixed CI sample: a two-branch net with resizes (DDRNet), max-unpooling (ENet) and the
#: smallest FFNet; one model per failure-prone construct rather than the whole zoo.
SAMPLE = ["ddrnet23_slim", "enet", "ffnet40s_bbb_mobile"]


@pytest.fixture(scope="module")
def matrix():
    spec = importlib.util.spec_from_file_location("export_matrix", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def test_model_selection_keeps_one_ffnet_per_family(matrix) -> None:
    names = ["enet", "ffnet18_aax", "ffnet34_aaa", "ffnet40s_bbb_mobile", "ffnet54s_bbb_mobile"]
    names += ["ffnet40s_bbb_mobile_pre_down", "ffnet86s_bbb", "ffnet46ns_cbb_mobile"]
    chosen = matrix.matrix_models(names)
    expected = ["enet", "ffnet18_aax", "ffnet40s_bbb_mobile", "ffnet86s_bbb"]
    assert chosen == [*expected, "ffnet46ns_cbb_mobile"]
    with pytest.raises(ValueError, match="unknown format"):
        matrix.run_matrix(["enet"], formats=["tflite"])


@pytest.mark.slow
def test_sample_matrix_runs_and_writes_the_table(matrix, tmp_path: Path) -> None:
    cells = matrix.run_matrix(
        SAMPLE, (64, 96), ["onnx", "onnx dynamic", "torch.export", "ort int8"]
    )
    assert len(cells) == 12
    by = {(c.model, c.format): c for c in cells}
    for name in SAMPLE:  # the acceptance target: every zoo model exports to static ONNX
        cell = by[name, "onnx"]
        assert cell.ok, cell.reason  # ok = passed ffseg's own verification (relative tolerance)
        assert cell.argmax_agreement >= 0.999
    for cell in cells:
        assert cell.ok or cell.reason  # a failure always names its reason
        if cell.ok:
            assert 0.0 <= cell.argmax_agreement <= 1.0 and cell.max_abs_diff >= 0.0
    out = tmp_path / "EXPORT_MATRIX.md"
    text = matrix.markdown(cells, "python scripts/export_matrix.py --models ...", (64, 96))
    out.write_text(text)
    assert "| ddrnet23_slim |" in text and "onnxruntime" in text and "## Failures" in text
    assert text.count("\n| ") == 1 + len(SAMPLE)  # header + one row per model


def test_a_failure_is_recorded_with_its_reason(matrix, monkeypatch) -> None:
    def broken(*args, **kwargs):
        try:
            raise ValueError("\x1b[96mdata-dependent shape\x1b[0m\nmore")
        except ValueError as exc:
            raise RuntimeError("unsupported operator aten::foo\nsecond line") from exc

    monkeypatch.setattr(matrix, "export_model", broken)
    (cell,) = matrix.run_matrix(["fastscnn"], (64, 96), ["torch.export"])
    assert not cell.ok
    assert cell.reason == (
        "RuntimeError: unsupported operator aten::foo <- ValueError: data-dependent shape"
    )
    assert "fastscnn, torch.export: RuntimeError" in matrix.markdown([cell], "cmd", (64, 96))
