"""Type checks of the folder dataset's options (``dataset.yaml``, ``data.*_kwargs``, flags).

Each wrong value is refused in one line naming where it came from, the key, the value and the
form that works, before any file is read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ffseg.data.datasets.base import IGNORE_INDEX, DataError

__all__ = ["check_folder_options"]

_EXAMPLES = {
    "classes": "classes: [background, leaf]",
    "palette": "palette: [[0, 0, 0], [0, 200, 0]]  (one [r, g, b] of 0..255 per class)",
    "label_map": "label_map: {0: 0, 255: 1}  (raw mask value: class index or 255)",
    "reduce_zero_label": "reduce_zero_label: true",
    "ignore_index": "ignore_index: 0  (a raw mask value in 0..255)",
    "img_suffix": "img_suffix: .jpg",
    "ann_suffix": "ann_suffix: .png",
}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _refuse(source: str, key: str, value: Any, problem: str) -> DataError:
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return DataError(f"{source}: {key}: {shown} {problem}; write e.g. {_EXAMPLES[key]}")


def _check_classes(source: str, value: Any) -> None:
    if isinstance(value, str):
        raise _refuse(source, "classes", value, "is one string, not a list of names")
    if not _is_list(value) or not value:
        raise _refuse(source, "classes", value, "is not a non-empty list of class names")
    for name in value:
        if not isinstance(name, str) or not name.strip():
            raise _refuse(
                source,
                "classes",
                name,
                "is not a class name (quote names YAML reads as "
                "numbers or booleans, e.g. 'no', '1')",
            )
    repeated = sorted({n for n in value if list(value).count(n) > 1})
    if repeated:
        raise _refuse(source, "classes", repeated[0], "is listed twice (names must be unique)")


def _check_palette(source: str, value: Any) -> None:
    if not _is_list(value):
        raise _refuse(source, "palette", value, "is not a list of [r, g, b] colours")
    for rgb in value:
        ok = _is_list(rgb) and len(rgb) == 3
        if not ok or not all(_is_int(c) and 0 <= c <= 255 for c in rgb):
            raise _refuse(source, "palette", rgb, "is not an [r, g, b] of integers 0..255")


def _check_label_map(source: str, value: Any) -> None:
    if not isinstance(value, Mapping):
        raise _refuse(source, "label_map", value, "is not a mapping {raw value: class}")
    for raw, target in value.items():
        raw = int(raw) if isinstance(raw, str) and raw.isdigit() else raw  # JSON keys
        if not _is_int(raw) or not 0 <= raw <= 65535:
            raise _refuse(source, "label_map", raw, "is not a raw mask value (integer 0..65535)")
        if not _is_int(target) or not 0 <= target <= IGNORE_INDEX:
            raise _refuse(
                source, "label_map", {raw: target}, "maps to no class index or 255 (ignore)"
            )


def _check_flag(source: str, key: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise _refuse(source, key, value, "is not true or false")


def _check_ignore(source: str, value: Any) -> None:
    if not _is_int(value) or not 0 <= value <= 255:
        raise _refuse(source, "ignore_index", value, "is not an integer 0..255")


def _check_suffix(source: str, key: str, value: Any) -> None:
    if not isinstance(value, str) or not value.strip() or "/" in value:
        raise _refuse(source, key, value, "is not a file-name ending")


def check_folder_options(options: Mapping[str, Any], source: str) -> None:
    """Refuse a wrongly typed folder-dataset option in ``options`` (``None`` = not given);
    ``source`` names where they came from (e.g. ``dataset YAML '/data/dataset.yaml'``)."""
    checks = {
        "classes": _check_classes,
        "palette": _check_palette,
        "label_map": _check_label_map,
        "ignore_index": _check_ignore,
    }
    for key, value in options.items():
        if value is None:
            continue
        if key in checks:
            checks[key](source, value)
        elif key == "reduce_zero_label":
            _check_flag(source, key, value)
        elif key in ("img_suffix", "ann_suffix"):
            _check_suffix(source, key, value)
    classes, palette = options.get("classes"), options.get("palette")
    if classes is not None and palette is not None and len(palette) != len(classes):
        raise _refuse(
            source, "palette", palette, f"has {len(palette)} colour(s) for {len(classes)} classes"
        )
