"""Argument groups shared by the verbs: one flag, one meaning, in every verb.

Old spellings stay accepted as hidden aliases (``--size``, ``--root``, ``--batch``, ``--amp``,
``--bf16``, ``--limit``, ...). Every option's help shows its default.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ffseg.cli._help import HelpFormatter
from ffseg.data import DATASETS, build_dataset, eval_transforms
from ffseg.data.datasets.folder import DATASET_YAML
from ffseg.deploy.bench import ImageSource
from ffseg.deploy.samples import first_images
from ffseg.engine.distributed import resolve_device
from ffseg.models import PretrainedCfg, load_model

__all__ = [
    "NAME_MAX",
    "HelpFormatter",
    "add_alias",
    "add_batch_size_arg",
    "add_data_args",
    "add_device_args",
    "add_inference_args",
    "add_input_size_arg",
    "add_model_args",
    "add_num_images_arg",
    "add_precision_arg",
    "add_set_arg",
    "check_name_lengths",
    "check_out_file",
    "dataset_from_args",
    "device_from_args",
    "finite_float",
    "image_source",
    "int_in",
    "model_from_args",
    "nonneg_float",
    "nonneg_int",
    "positive_float",
    "positive_int",
    "refuse_ignored",
    "refuse_inside",
    "scale_list",
    "scales_from_args",
    "segmenter_options",
]


def int_in(low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: a whole number in ``[low, high]`` (either bound optional); a value
    outside is refused before any work with the allowed range and an example."""
    span = (
        f"from {low} to {high}"
        if low is not None and high is not None
        else f">= {low}"
        if low is not None
        else f"<= {high}"
    )
    example = low if low is not None else high

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a whole number; pass one {span}, e.g. {example}"
            ) from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{value} is out of range; pass a number {span}")
        return value

    parse.__name__ = f"int {span}"
    return parse


#: Whole numbers >= 1 (counts, sizes, batch sizes, threads) and >= 0 (warm-up runs, workers).
positive_int = int_in(1)
nonneg_int = int_in(0)


def finite_float(text: str) -> float:
    """An argparse ``type``: a finite number (``nan`` and ``inf`` are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number, e.g. 0.5") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text} is not a finite number; pass e.g. 0.5")
    return value


def positive_float(text: str) -> float:
    """An argparse ``type``: a finite number > 0."""
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not above 0; pass a positive number, e.g. 1.0")
    return value


def nonneg_float(text: str) -> float:
    """An argparse ``type``: a finite number >= 0."""
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is below 0; pass 0 or a positive number, e.g. 0")
    return value


def scale_list(text: str) -> tuple[float, ...]:
    """An argparse ``type``: one or more comma-separated positive finite scales (``0.75,1.0``)."""
    items = [v for v in text.split(",") if v.strip()]
    if not items:
        raise argparse.ArgumentTypeError(f"{text!r} holds no scale; pass e.g. 0.75 1.0 1.25")
    try:
        values = tuple(float(v) for v in items)
    except ValueError:
        values = ()
    if not values or not all(math.isfinite(v) and v > 0 for v in values):
        raise argparse.ArgumentTypeError(
            f"{text} is not a list of positive finite scales; pass e.g. 0.75 1.0 1.25"
        )
    return values


#: The longest file or folder name most file systems accept, in bytes.
NAME_MAX = 255


def check_name_lengths(flag: str, path: str | Path) -> Path:
    """Refuse a path with a file or folder name longer than the file system allows, naming
    ``flag``, the name's length and the fix (before any work, instead of a raw OS error)."""
    path = Path(path)
    for part in path.parts:
        size = len(os.fsencode(part))
        if size > NAME_MAX:
            short = part[:24] + "..."
            raise ValueError(
                f"{flag} {short}: a name of {size} bytes is longer than the {NAME_MAX} bytes "
                "file systems allow; choose a shorter name"
            )
    return path


def check_out_file(flag: str, path: str | Path, suffixes: Sequence[str]) -> Path:
    """Check an output file path before any work: name lengths, the suffix (one of
    ``suffixes``), and that it is not an existing folder."""
    path = check_name_lengths(flag, path)
    if path.suffix.lower() not in suffixes:
        raise ValueError(
            f"{flag} {path}: the suffix {path.suffix or '(none)'!r} is not supported; "
            f"name the file ending in {' or '.join(suffixes)}"
        )
    if path.is_dir():
        raise ValueError(f"{flag} {path} is a folder; give a file name ending in {suffixes[0]}")
    return path


def refuse_inside(
    out_flag: str, out: str | Path, in_flag: str, source: str | Path, *, inside: bool = True
) -> None:
    """Refuse an output folder equal to (or, with ``inside``, inside) an input folder (its
    files would be overwritten or mixed with the outputs), before any work."""
    out_path, src = Path(out).resolve(), Path(source).resolve()
    if src.is_dir() and (out_path == src or (inside and src in out_path.parents)):
        where = "is" if out_path == src else "is inside"
        raise ValueError(
            f"{out_flag} {out} {where} {in_flag} {source}: writing there would overwrite or "
            f"mix with the input files; choose an {out_flag} outside it, e.g. {src.name}_out"
        )


def refuse_ignored(reason: str, **given: Any) -> None:
    """Refuse flags that would be ignored: ``given`` maps a flag (``no_weights`` style, written
    ``--no-weights``) to whether it was given; ``reason`` says why they do not apply."""
    flags = [f"--{name.replace('_', '-')}" for name, on in given.items() if on]
    if flags:
        raise ValueError(f"{' '.join(flags)} would be ignored: {reason}; drop {' '.join(flags)}")


def add_alias(p: argparse.ArgumentParser, *flags: str, dest: str, **kwargs: Any) -> None:
    """An old spelling of an option: same destination, hidden from ``--help``."""
    p.add_argument(*flags, dest=dest, help=argparse.SUPPRESS, **kwargs)


def add_model_args(
    p: argparse.ArgumentParser, *, required: bool = False, multiple: bool = False
) -> None:
    """``--model``, ``--weights`` (a checkpoint file or a ``save_pretrained`` folder),
    ``--num-classes``."""
    if multiple:
        p.add_argument(
            "--model", action="append", default=[], help="model name or fnmatch pattern (repeat)"
        )
    else:
        p.add_argument(
            "--model",
            required=required,
            help="registered model name or official alias (optional with a --weights folder)",
        )
    p.add_argument(
        "--weights",
        help="a checkpoint file (.pth/.pt/.safetensors) or a save_pretrained folder "
        "(default: random initialisation)",
    )
    p.add_argument(
        "--num-classes",
        type=int_in(2),
        help="output classes (default: the model's, or the data's)",
    )


def add_data_args(p: argparse.ArgumentParser, *, required: bool = False, purpose: str = "") -> None:
    """``--data``, ``--data-root`` (old ``--root``) and the options of particular datasets."""
    what = f" for {purpose}" if purpose else ""
    p.add_argument(
        "--data", required=required, choices=sorted(DATASETS), help=f"dataset type{what}"
    )
    p.add_argument("--data-root", help="dataset folder (not needed for synthetic)")
    add_alias(p, "--root", dest="data_root")
    p.add_argument(
        "--cityscapes-mode", default="fine", choices=("fine", "coarse"), help="gtFine or gtCoarse"
    )
    p.add_argument(
        "--classes",
        help="folder data: comma-separated class names (default: the root's dataset.yaml)",
    )
    p.add_argument(
        "--img-suffix", help="folder data: image file suffix (default: .jpg or dataset.yaml's)"
    )
    p.add_argument(
        "--ann-suffix", help="folder data: mask file suffix (default: .png or dataset.yaml's)"
    )
    p.add_argument(
        "--reduce-zero-label", action="store_true", help="folder data: 0 -> ignore, v -> v-1"
    )
    p.add_argument(
        "--label-map",
        type=_label_map,
        metavar="RAW:CLASS,...",
        help="folder data: map raw mask values to classes, e.g. 0:0,255:1 for 0/255 masks "
        "(default: values are class indices, 255 = ignore)",
    )


def _label_map(text: str) -> dict[int, int]:
    """``"0:0,255:1"`` -> ``{0: 0, 255: 1}``."""
    try:
        pairs = [item.split(":") for item in text.split(",") if item.strip()]
        return {int(raw): int(cls) for raw, cls in pairs}
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not RAW:CLASS pairs, e.g. 0:0,255:1"
        ) from None


def add_input_size_arg(
    p: argparse.ArgumentParser, help: str, *, multiple: bool = False, size_alias: bool = True
) -> None:
    """``--input-size H W`` (old ``--size`` where it meant the same)."""
    kwargs: dict[str, Any] = dict(nargs=2, type=positive_int, metavar=("H", "W"))
    if multiple:
        kwargs["action"] = "append"
    p.add_argument("--input-size", help=help, **kwargs)
    if size_alias:
        add_alias(p, "--size", dest="input_size", **kwargs)


def add_inference_args(p: argparse.ArgumentParser, input_size_help: str) -> None:
    """``--mode``, ``--input-size``, ``--stride``, ``--scales``, ``--flip``: the same in every
    verb that predicts (val, predict)."""
    p.add_argument(
        "--mode",
        default="whole",
        choices=("whole", "slide"),
        help="the whole image at once, or a sliding window of --input-size",
    )
    add_input_size_arg(p, input_size_help, size_alias=False)
    p.add_argument(
        "--stride",
        nargs=2,
        type=positive_int,
        metavar=("H", "W"),
        help="slide stride (default: windows overlap by a third)",
    )
    p.add_argument(
        "--scales",
        nargs="+",
        type=scale_list,
        default="1.0",
        metavar="S",
        help="image scales whose predictions are averaged: 0.75 1.0 1.25 (or 0.75,1.0,1.25)",
    )
    p.add_argument("--flip", action="store_true", help="also average the mirrored prediction")


def scales_from_args(args: argparse.Namespace) -> tuple[float, ...]:
    """``--scales`` as floats (space- or comma-separated; checked by :func:`scale_list`)."""
    return tuple(float(v) for item in args.scales for v in _as_tuple(item))


def _as_tuple(item: Any) -> tuple[Any, ...]:
    if isinstance(item, (tuple, list)):
        return tuple(item)
    try:
        return scale_list(str(item))
    except argparse.ArgumentTypeError as exc:
        raise ValueError(f"--scales {item}: {exc}") from None


def segmenter_options(args: argparse.Namespace) -> dict[str, Any]:
    """``Segmenter`` keyword arguments from :func:`add_inference_args` flags and ``--resize``:
    ``--input-size`` is the window with ``--mode slide``, else the resize (unless ``--resize``)."""
    slide = args.mode == "slide"
    resize = getattr(args, "resize", None) or (None if slide else args.input_size)
    return {
        "mode": args.mode,
        "scales": scales_from_args(args),
        "flip": args.flip,
        "stride": tuple(args.stride) if slide and args.stride else None,
        "crop_size": tuple(args.input_size) if slide and args.input_size else None,
        "size": tuple(resize) if resize else None,
    }


def add_set_arg(p: argparse.ArgumentParser, what: str = "") -> None:
    """``--set KEY=VALUE`` (repeatable) into ``args.overrides``: recipe overrides."""
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override a recipe value{what}, e.g. --set optim.lr=0.01 (repeatable)",
    )


def add_batch_size_arg(p: argparse.ArgumentParser, default: int = 1, help: str = "") -> None:
    """``--batch-size`` (old ``--batch``)."""
    p.add_argument(
        "--batch-size", type=positive_int, default=default, help=help or "images per batch"
    )
    add_alias(p, "--batch", dest="batch_size", type=positive_int)


def add_precision_arg(
    p: argparse.ArgumentParser,
    choices: Sequence[str] = ("fp32", "bf16", "fp16"),
    default: str | list[str] = "fp32",
    *,
    multiple: bool = False,
    note: str = "",
) -> None:
    """``--precision`` (repeatable with ``multiple``); fp16 needs CUDA. ``note`` qualifies the
    default in the help."""
    if multiple:
        p.add_argument(
            "--precision",
            action="append",
            choices=choices,
            help=f"repeat for several (default: {' '.join(default)}{note})",
        )
    else:
        p.add_argument(
            "--precision", choices=choices, default=default, help="compute precision (fp16: CUDA)"
        )


def add_device_args(p: argparse.ArgumentParser) -> None:
    """``--device`` (default ``auto``: CUDA when available) and ``--threads``."""
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 or auto (CUDA if present)")
    p.add_argument("--threads", type=positive_int, help="CPU threads (default: torch's choice)")


def add_num_images_arg(
    p: argparse.ArgumentParser, default: int | None, help: str, *aliases: str
) -> None:
    """``--num-images`` (old spellings in ``aliases``)."""
    p.add_argument("--num-images", type=positive_int, default=default, help=help)
    if aliases:
        add_alias(p, *aliases, dest="num_images", type=positive_int)


def device_from_args(args: argparse.Namespace) -> torch.device:
    """The ``--device`` as a ``torch.device`` (``auto`` resolved)."""
    return resolve_device(args.device)


def model_from_args(args: argparse.Namespace, num_classes: int | None = None) -> nn.Module:
    """The model of ``--model`` / ``--weights`` / ``--num-classes`` in eval mode."""
    if args.model is None and args.weights is None:
        raise ValueError("pass --model NAME (and optionally --weights) or --weights FOLDER")
    n = num_classes if num_classes is not None else args.num_classes
    return load_model(args.weights, name=args.model, num_classes=n).eval()


def dataset_from_args(args: argparse.Namespace, split: str, transforms: Any = None) -> Any:
    """The dataset selected by :func:`add_data_args` options, for ``split`` (a run folder's own
    data when the verb adopted it: ``args.run_data``)."""
    run = getattr(args, "run_data", None)
    if run is not None:
        return run.dataset(split, transforms)
    kw: dict[str, Any] = {}
    if args.data == "cityscapes":
        kw["mode"] = args.cityscapes_mode
    elif args.data == "folder":
        described = args.data_root and (Path(args.data_root) / DATASET_YAML).is_file()
        if not args.classes and not described:
            raise ValueError(
                "--data folder needs --classes name0,name1,... (one per index) or a "
                f"{DATASET_YAML} in --data-root (see docs/CUSTOM_DATA.md)"
            )
        given = dict(img_suffix=args.img_suffix, ann_suffix=args.ann_suffix)
        given.update(label_map=args.label_map, reduce_zero_label=args.reduce_zero_label or None)
        if args.classes:
            given["classes"] = [c.strip() for c in args.classes.split(",")]
        kw.update({k: v for k, v in given.items() if v is not None})
    elif args.data == "synthetic":
        kw["seed"] = {"train": 0, "val": 1}.get(split, 2)
        if getattr(args, "num_classes", None):
            kw["num_classes"] = args.num_classes
    return build_dataset(args.data, args.data_root, split, transforms=transforms, **kw)


def image_source(args: argparse.Namespace, num: int) -> ImageSource | None:
    """Real images from ``--data`` (``None`` without it), normalised for a model's cfg."""
    if not args.data:
        return None

    def images(split: str, size: tuple[int, int], cfg: PretrainedCfg) -> list[torch.Tensor]:
        dataset = dataset_from_args(args, split, eval_transforms(cfg.mean, cfg.std, size))
        return first_images(dataset, num)

    return images
