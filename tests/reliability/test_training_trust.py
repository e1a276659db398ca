"""Training trust: files from disk never run code, bad recipes fail at load naming the key,
value and range, evaluation problems fail before training, a run folder is a model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

import ffseg
from ffseg._io import FileWriteError
from ffseg.config import ConfigError, load_config
from ffseg.engine import train as train_mod
from ffseg.engine.checkpoint import load_checkpoint
from ffseg.engine.task import SegmentationTask
from ffseg.engine.train import fit
from ffseg.models import WeightsError

TINY = [
    "data.train_kwargs={n: 8, size: [64, 64], seed: 0}",
    "data.val_kwargs={n: 2, size: [64, 64], seed: 1}",
    "data.crop_size=[64, 64]",
    "data.scale_range=[1.0, 1.0]",
    "data.batch_size=4",
    "model.kwargs.backbone=resnet22s",
    "train.iters=2",
    "train.eval_every=100",
    "sched.warmup_iters=1",
    "log.progress=false",
    "log.tensorboard=false",
    "log.overlays=0",
]


def _cfg(tmp_path: Path, *overrides: str):
    return load_config("demo", [*TINY, f"train.output_dir={tmp_path / 'runs'}", *overrides])


@pytest.fixture
def evil_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An importable ``evilmod:make`` that creates a marker file when called."""
    marker = tmp_path / "EXECUTED"
    (tmp_path / "evilmod.py").write_text(
        f"def make(*args, **kwargs):\n    open({str(marker)!r}, 'w').close()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return marker


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("trained")
    return fit(_cfg(tmp, "train.eval_every=1", "train.name=base")).run_dir


@pytest.mark.parametrize(
    ("key", "value"),
    [("model.name", "evilmod:make"), ("kd.teacher", "evilmod:make"), ("model.name", "os:system")],
)
def test_resume_refuses_stored_recipe_naming_a_callable(
    trained_run: Path, tmp_path: Path, evil_module: Path, key: str, value: str
) -> None:
    ckpt = load_checkpoint(trained_run / "last.pt")
    section, name = key.split(".")
    ckpt["config"][section][name] = value
    if key == "kd.teacher":
        ckpt["config"]["kd"]["weight"] = 0.5
    run = tmp_path / "crafted"
    run.mkdir()
    torch.save(ckpt, run / "last.pt")  # loads with weights_only=True
    with pytest.raises(ValueError, match="run code") as info:
        fit(resume=run)
    message = str(info.value)
    assert f"{key}={value!r}" in message and "--config" in message
    assert not evil_module.exists()


def test_resume_cli_says_how_to_proceed(trained_run: Path, tmp_path: Path, evil_module: Path):
    ckpt = load_checkpoint(trained_run / "last.pt")
    ckpt["config"]["model"]["name"] = "evilmod:make"
    run = tmp_path / "crafted"
    run.mkdir()
    torch.save(ckpt, run / "last.pt")
    from ffseg.cli import main

    assert main(["train", "--resume", str(run)]) == 2
    assert not evil_module.exists()


@pytest.mark.parametrize(
    "key", ["model.pretrained", "model.pretrained_backbone", "kd.teacher_checkpoint"]
)
def test_pickled_payload_in_weights_files_is_refused(tmp_path: Path, key: str) -> None:
    marker = tmp_path / "PAYLOAD_RAN"
    evil = tmp_path / "evil.pt"
    torch.save({"model": _Payload(marker)}, evil)
    extra = ["kd.teacher=ffseg.models.ffnet:FFNet", "kd.weight=0.5"] if key.startswith("kd") else []
    with pytest.raises(WeightsError, match=r"evil\.pt"):
        fit(_cfg(tmp_path, f"{key}={evil}", *extra))
    assert not marker.exists()
    assert not (tmp_path / "runs" / "demo").exists()


def test_pickled_payload_as_resume_checkpoint_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "PAYLOAD_RAN"
    run = tmp_path / "run"
    run.mkdir()
    torch.save({"config": _Payload(marker)}, run / "last.pt")
    with pytest.raises(RuntimeError, match="cannot read checkpoint"):
        fit(resume=run)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("override", "allowed"),
    [
        ("optim.grad_clip=-1", "> 0, or null"),
        ("optim.grad_clip=0", "> 0, or null"),
        ("train.iters=0", ">= 1"),
        ("train.epochs=-1", ">= 1"),
        ("data.batch_size=0", ">= 1"),
        ("data.batch_size=-4", ">= 1"),
        ("train.ckpt_every=-1", ">= 0"),
        ("sched.warmup_iters=-5", ">= 0"),
        ("optim.lr=0", "> 0"),
        ("train.eval_every=0", ">= 1"),
        ("eval.scales=[]", "non-empty"),
        ("eval.scales=[0.5, -1]", "non-empty"),
        ("eval.crop_size=[0, 0]", "two integers >= 1"),
        ("train.ema_decay=1.5", "0 < value < 1"),
        ("train.max_minutes=0", "> 0 minutes"),
        ("data.workers=-1", ">= 0"),
        ("train.dist_timeout_s=0", "> 0 seconds"),
        ("optim.lr=nan", "> 0"),
    ],
)
def test_out_of_range_values_fail_at_load(override: str, allowed: str) -> None:
    key = override.split("=")[0]
    with pytest.raises(ConfigError) as info:
        load_config("demo", [override])
    message = str(info.value)
    assert f"{key}=" in message and "out of range" in message and allowed in message


def test_slide_without_crop_size_fails_at_load() -> None:
    with pytest.raises(ConfigError, match=r"eval\.crop_size"):
        load_config("demo", ["eval.mode=slide"])


def test_unreadable_validation_fails_before_training(tmp_path: Path, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise OSError("cannot identify image file 'val/0001.png'")

    monkeypatch.setattr(SegmentationTask, "evaluate", broken)
    with pytest.raises(ValueError, match=r"validation fails on its first sample.*0001.png"):
        fit(_cfg(tmp_path))
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_checkpoint_is_written_before_evaluation(tmp_path: Path, monkeypatch) -> None:
    calls = {"n": 0}
    real = SegmentationTask.evaluate

    def fails_after_check(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 1:  # the first call is the pre-training check
            raise RuntimeError("evaluation crashed")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(SegmentationTask, "evaluate", fails_after_check)
    with pytest.raises(RuntimeError, match="evaluation crashed"):
        fit(_cfg(tmp_path, "train.eval_every=1", "train.name=ev"))
    assert load_checkpoint(tmp_path / "runs" / "ev" / "last.pt")["state"]["iteration"] == 2


def test_non_finite_weights_never_overwrite_last_pt(tmp_path: Path) -> None:
    def poison(state) -> None:
        if state.iteration == 2:
            with torch.no_grad():
                next(iter(state_model[0].parameters())).fill_(float("nan"))

    state_model: list[torch.nn.Module] = []
    real = train_mod.build_student

    def capture(cfg, n):
        model = real(cfg, n)
        state_model.append(model)
        return model

    train_mod.build_student, saved = capture, train_mod.build_student
    try:
        with pytest.raises(RuntimeError, match="NaN/inf") as info:
            fit(
                _cfg(tmp_path, "train.iters=4", "train.ckpt_every=1", "train.name=nan"),
                on_step=poison,
            )
    finally:
        train_mod.build_student = saved
    assert "--resume" in str(info.value)
    ckpt = load_checkpoint(tmp_path / "runs" / "nan" / "last.pt")
    assert ckpt["state"]["iteration"] == 1
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())


def test_run_folder_is_a_model(trained_run: Path) -> None:
    model = ffseg.load_model(trained_run).eval()
    same = ffseg.load_pretrained(trained_run).eval()
    from safetensors.torch import load_file

    best = load_file(str(trained_run / "best.safetensors"))
    assert all(torch.equal(model.state_dict()[k], v) for k, v in best.items())
    x = torch.randn(1, 3, 64, 64)
    assert torch.equal(model(x), same(x))
    cfg = model.pretrained_cfg
    assert cfg.num_classes == 4 or cfg.num_classes == len(cfg.classes)
    assert cfg.input_size == (3, 64, 64) and cfg.dataset == "synthetic"


def test_run_folder_config_json_naming_a_callable_is_refused(
    trained_run: Path, tmp_path: Path, evil_module: Path
) -> None:
    import json
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(trained_run, run)
    config = json.loads((run / "config.json").read_text())
    config["pretrained_cfg"]["architecture"] = "evilmod:make"
    (run / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="evilmod:make"):
        ffseg.load_model(run)
    assert not evil_module.exists()


def test_output_dir_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "runs"
    blocker.write_text("not a folder")
    with pytest.raises(FileWriteError, match=str(blocker)):
        fit(_cfg(tmp_path))


def test_resume_set_changes_allowed_keys_and_refuses_others(trained_run: Path, tmp_path) -> None:
    import shutil

    run = tmp_path / "ext"
    shutil.copytree(trained_run, run)
    result = fit(resume=run, overrides=["train.iters=3", "optim.lr=0.001"])
    assert result.iterations == 3
    assert load_checkpoint(run / "last.pt")["config"]["optim"]["lr"] == 0.001
    with pytest.raises(ConfigError, match=r"optim.name='sgd'.*keys it may change: .*optim.lr"):
        fit(resume=run, overrides=["optim.name=sgd"])


def test_disk_full_during_last_pt_names_the_path_and_keeps_the_old_file(tmp_path, monkeypatch):
    import errno

    from ffseg.engine.checkpoint import save_checkpoint

    path = tmp_path / "last.pt"
    save_checkpoint({"a": torch.zeros(2)}, path)

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(FileWriteError, match=r"last\.pt.*no space left.*free disk space"):
        save_checkpoint({"a": torch.ones(2)}, path)
    monkeypatch.undo()
    assert torch.equal(load_checkpoint(path)["a"], torch.zeros(2))
    assert not list(tmp_path.glob(".*.tmp"))


def test_cli_write_error_is_one_line_exit_2(tmp_path: Path, capsys) -> None:
    from ffseg.cli import main

    blocker = tmp_path / "file"
    blocker.write_text("x")
    sets = [a for s in TINY for a in ("--set", s)]
    assert main(["train", *sets, "--output-dir", str(blocker)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(blocker) in err and "Traceback" not in err
