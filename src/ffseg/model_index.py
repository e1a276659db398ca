"""The model index: every registered model's name, aliases and metadata as plain data.

Bottom layer, standard library only: ``ffseg list`` answers from ``model_index.json`` (written by
``scripts/gen_model_zoo.py`` from the registry, and checked against it by the tests and CI)
without importing torch or building a model. The name matching rules used by the registry
(natural sort, fnmatch filters) live here too, so both answer alike.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["INDEX_FILE", "filter_names", "load_index", "natural_key"]

INDEX_FILE = Path(__file__).with_name("model_index.json")


def natural_key(name: str) -> list[Any]:
    """Sort key that orders ``ffnet40s`` before ``ffnet150s``."""
    return [int(tok) if tok.isdigit() else tok for tok in re.split(r"(\d+)", name)]


def _as_list(value: str | Iterable[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def filter_names(
    names: Iterable[str], include: str | Iterable[str] = "", exclude: str | Iterable[str] = ()
) -> list[str]:
    """Names matching any fnmatch ``include`` pattern and no ``exclude`` one, naturally sorted."""
    selected = list(names)
    patterns = [p.lower() for p in _as_list(include) if p]
    if patterns:
        selected = [n for n in selected if any(fnmatch.fnmatchcase(n, p) for p in patterns)]
    for pattern in _as_list(exclude):
        selected = [n for n in selected if not fnmatch.fnmatchcase(n, pattern.lower())]
    return sorted(selected, key=natural_key)


@lru_cache(maxsize=1)
def load_index() -> dict[str, dict[str, Any]]:
    """``{name: {"aliases": [...], "cfg": {...}}}`` for every registered model."""
    try:
        return json.loads(INDEX_FILE.read_text())["models"]
    except (OSError, ValueError, KeyError) as exc:
        raise RuntimeError(
            f"the model index {str(INDEX_FILE)!r} is missing or unreadable ({exc}); reinstall "
            "ffseg, or regenerate it with `python scripts/gen_model_zoo.py`"
        ) from exc
