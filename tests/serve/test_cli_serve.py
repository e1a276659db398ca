"""``ffseg serve``: bad arguments fail in the first second with one line, before a port is taken."""

from __future__ import annotations

from pathlib import Path

import pytest

from ffseg.cli import main

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")


def test_missing_model_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ffseg serve: error: model") and "does not exist" in err
    assert "\n" not in err


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--workers", "0", "argument --workers: 0 is out of range"),
        ("--max-batch", "0", "argument --max-batch: 0 is out of range"),
        ("--timeout", "-1", "argument --timeout: -1 is not above 0"),
    ],
)
def test_bad_settings_are_refused(
    model_dir: Path, flag: str, value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["serve", str(model_dir), flag, value])
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_inference_flags_reach_the_segmenter(model_dir: Path) -> None:
    from ffseg.cli import build_parser
    from ffseg.cli._args import segmenter_options
    from ffseg.inference.results import load

    args = build_parser("serve").parse_args(
        ["serve", str(model_dir), "--mode", "slide", "--input-size", "32", "32", "--scales",
         "0.75,1.0", "--flip", "--resize", "48", "64"]
    )  # fmt: skip
    options = segmenter_options(args)
    assert options["size"] == (48, 64) and options["crop_size"] == (32, 32)
    segmenter = load(model_dir, **options).segmenter
    assert segmenter.spec.scales == (0.75, 1.0) and segmenter.spec.flip
    assert segmenter.size == (48, 64) and segmenter.spec.mode == "slide"
