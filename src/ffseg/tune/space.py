"""The search space: a YAML file mapping recipe keys to the values a study may try.

Each top-level key is a dotted recipe key (``optim.lr``, ``model.name``, ``model.kwargs.up_head``)
and its value says how to sample it::

    optim.lr: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
    data.batch_size: {type: int, low: 4, high: 16, step: 4}
    loss.name: {type: categorical, choices: [ce, ohem]}
    model.name: {type: categorical, choices: "ffnet*s_*_mobile"}  # a pattern over model names

A string ``choices`` is an ``fnmatch`` pattern over every registered model name and every name
of the FFNet design space. Everything is checked when the file is loaded, against the recipe the
study trains: unknown keys, bad types, empty or reversed ranges and invalid choices fail with the
file, the key, the value and the fix. When ``model.name`` is searched, the recipe's
``model.kwargs`` are dropped (they belong to the recipe's model) unless the space sets
``model.kwargs.*`` keys itself.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import fnmatch
import math
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ffseg.config import Config, ConfigError, config_from_dict, config_to_dict
from ffseg.models import is_model, list_models

__all__ = ["Param", "SearchSpace", "SpaceError", "design_space_names", "load_space"]

KINDS = ("float", "int", "categorical")
_CLASSIFIER = re.compile(r"ffnet\w*_d?[a-c]{2}x(_\w+)?")
FIELDS = frozenset({"type", "low", "high", "log", "step", "choices"})


class SpaceError(ConfigError):
    """A search-space file is invalid; the message names the file, the key and the fix."""


@dataclass(frozen=True)
class Param:
    """One searched recipe key."""

    key: str
    kind: str  # "float" | "int" | "categorical"
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: Any) -> Any:
        """The value of this key for an Optuna trial."""
        if self.kind == "categorical":
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind == "int":
            step = int(self.step or 1)
            return trial.suggest_int(
                self.key, int(self.low), int(self.high), step=step, log=self.log
            )  # type: ignore[arg-type]
        return trial.suggest_float(self.key, self.low, self.high, step=self.step, log=self.log)  # type: ignore[arg-type]


def design_space_names() -> list[str]:
    """Every registered model name and every FFNet design-space name, less the FFNet
    classifiers (head X): what a ``model.name`` pattern ranges over."""
    from ffseg.models import ffnet

    names = [n for n in list_models() if not _CLASSIFIER.fullmatch(n)]
    points = getattr(ffnet, "design_space", None)
    if points is not None:
        names += [p.name for p in points("segmentation")]
    return list(dict.fromkeys(names))


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_dict(hint: Any) -> bool:
    if hint is dict or typing.get_origin(hint) is dict:
        return True
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_is_dict(h) for h in typing.get_args(hint))
    return False


def _numeric_kinds(hint: Any) -> set[str]:
    """The numeric param kinds a field of type ``hint`` accepts (any for untyped dict values)."""
    args = set(typing.get_args(hint)) if typing.get_origin(hint) else {hint}
    kinds = set()
    if float in args:
        kinds |= {"float", "int"}
    if int in args:
        kinds.add("int")
    return kinds


def _key_hint(key: str, where: str) -> Any:
    """The type of recipe ``key`` (``Any`` below a dict field); unknown keys raise."""
    node: Any = Config
    parts = key.split(".")
    for i, part in enumerate(parts):
        hints = _hints(node)
        if part not in hints:
            prefix = ".".join(parts[:i])
            valid = [f"{prefix}.{k}" if prefix else k for k in hints]
            close = difflib.get_close_matches(key, valid, n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise SpaceError(
                f"{where}: {key!r} is not a recipe key; {hint}use a key the recipe has "
                "(see `ffseg train --config RECIPE --print-config`)"
            )
        hint = hints[part]
        if _is_dict(hint):
            if i == len(parts) - 1:
                raise SpaceError(
                    f"{where}: {key!r} is a mapping; search one of its entries instead, "
                    f"e.g. {key}.NAME"
                )
            return Any
        if not dataclasses.is_dataclass(hint):
            if i != len(parts) - 1:
                raise SpaceError(
                    f"{where}: {'.'.join(parts[: i + 1])!r} is a value, not a section; "
                    f"remove the extra part from {key!r}"
                )
            return hint
        node = hint
    raise SpaceError(f"{where}: {key!r} is a section; search one of its keys, e.g. {key}.NAME")


def _number(value: Any, what: str, where: str) -> float:
    if isinstance(value, str):  # YAML reads 1e-4 (without a dot) as a string
        with contextlib.suppress(ValueError):
            value = float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SpaceError(f"{where}: {what} is {value!r}; write a finite number, e.g. {what}: 0.01")
    return float(value)


def _parse_choices(value: Any, where: str) -> tuple[Any, ...]:
    if isinstance(value, str):
        found = fnmatch.filter(design_space_names(), value.lower())
        if not found:
            raise SpaceError(
                f"{where}: choices pattern {value!r} matches no model (empty range); fix the "
                "pattern (see `ffseg list`) or list the names"
            )
        return tuple(found)
    if not isinstance(value, list) or not value:
        raise SpaceError(
            f"{where}: choices is {value!r} (empty range); list at least one value, e.g. "
            "choices: [a, b], or write a model-name pattern"
        )
    for item in value:
        if item is not None and not isinstance(item, (bool, int, float, str)):
            raise SpaceError(
                f"{where}: choice {item!r} is not a number, string, boolean or null; "
                "categorical values must be plain scalars"
            )
    return tuple(value)


def _parse_range(key: str, kind: str, spec: Mapping[str, Any], where: str) -> Param:
    if "low" not in spec or "high" not in spec:
        raise SpaceError(f"{where}: a {kind} range needs low and high, e.g. {{low: 1, high: 8}}")
    low = _number(spec["low"], "low", where)
    high = _number(spec["high"], "high", where)
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise SpaceError(f"{where}: log is {log!r}; write log: true or log: false")
    step = _number(spec["step"], "step", where) if spec.get("step") is not None else None
    if kind == "int":
        for what, v in (("low", low), ("high", high), ("step", step)):
            if v is not None and v != int(v):
                raise SpaceError(
                    f"{where}: {what} is {v!r}, not an integer; use whole numbers or type: float"
                )
    if low > high:
        raise SpaceError(f"{where}: low {low:g} > high {high:g}; swap them")
    if low == high:
        raise SpaceError(
            f"{where}: low = high = {low:g} leaves nothing to search (empty range); widen the "
            "range, or set the key in the recipe and drop it from the space"
        )
    if log and low <= 0:
        raise SpaceError(f"{where}: log scale needs low > 0 (got {low:g}); raise low or log: false")
    if step is not None and (step <= 0 or log):
        raise SpaceError(f"{where}: step {step:g} needs a positive step and log: false")
    return Param(key, kind, low, high, log, step)


def _parse_param(key: str, spec: Any, where: str) -> Param:
    if not isinstance(spec, Mapping):
        raise SpaceError(
            f"{where}: {spec!r} is not a mapping; write e.g. "
            f"{key}: {{type: float, low: 0.001, high: 0.1, log: true}}"
        )
    unknown = sorted(set(spec) - FIELDS)
    if unknown:
        raise SpaceError(f"{where}: unknown field(s) {unknown}; use {sorted(FIELDS)}")
    kind = spec.get("type", "categorical" if "choices" in spec else None)
    if kind not in KINDS:
        raise SpaceError(f"{where}: type is {kind!r}; use one of {list(KINDS)}")
    if kind == "categorical":
        return Param(key, kind, choices=_parse_choices(spec.get("choices"), where))
    return _parse_range(key, kind, spec, where)


def _set(values: dict[str, Any], key: str, value: Any) -> None:
    *sections, last = key.split(".")
    node = values
    for part in sections:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[last] = value


@dataclass(frozen=True)
class SearchSpace:
    """The searched keys of a study (see the module docstring for the file format)."""

    params: tuple[Param, ...]
    source: str = "space"

    @property
    def keys(self) -> list[str]:
        return [p.key for p in self.params]

    def suggest(self, trial: Any) -> dict[str, Any]:
        """Sample every key for an Optuna trial (or read the fixed values of an enqueued one)."""
        return {p.key: p.suggest(trial) for p in self.params}

    def apply(self, cfg: Config, values: Mapping[str, Any], source: str = "trial") -> Config:
        """``cfg`` with ``values`` set (``model.kwargs`` reset when ``model.name`` is searched)."""
        data = config_to_dict(cfg)
        if "model.name" in values and values["model.name"] != cfg.model.name:
            data["model"]["kwargs"] = {}
        for key, value in values.items():
            _set(data, key, value)
        return config_from_dict(data, source)

    def check(self, cfg: Config) -> None:
        """Check every key and value against the recipe ``cfg``; raises :class:`SpaceError`."""
        for p in self.params:
            where = f"{self.source}: {p.key}"
            hint = _key_hint(p.key, where)
            if p.kind != "categorical":
                if hint is not Any and p.kind not in _numeric_kinds(hint):
                    raise SpaceError(
                        f"{where}: type {p.kind} does not fit the key's type {_show(hint)}; "
                        "use type: categorical with choices, or the matching numeric type"
                    )
                samples: tuple[Any, ...] = (p.low, p.high)
                if p.kind == "int":
                    samples = tuple(int(v) for v in samples)  # type: ignore[arg-type]
            else:
                samples = p.choices
            for value in samples:
                self._check_value(cfg, p.key, value, where)

    def _check_value(self, cfg: Config, key: str, value: Any, where: str) -> None:
        custom = ":" in str(value)  # "package.module:callable", checked when a trial builds it
        if key == "model.name" and not custom and not is_model(str(value)):
            raise SpaceError(
                f"{where}: model {value!r} is not a registered or design-space name; "
                "see `ffseg list` (FFNet names follow ffnet<depth><S|N|NS?>_<d?><stem><up><head>)"
            )
        try:
            self.apply(cfg, {key: value}, where)
        except ConfigError as exc:
            raise SpaceError(
                f"{where}: value {value!r} is not valid for the recipe ({exc}); fix the range "
                "or the choices"
            ) from None


def _show(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def load_space(path: str | Path, cfg: Config | None = None) -> SearchSpace:
    """Read a search-space YAML file (checked against the recipe ``cfg`` when given)."""
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise SpaceError(f"cannot read the search space {source!r}: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpaceError(f"{source}: not valid YAML ({exc}); fix the syntax") from None
    if not isinstance(data, Mapping) or not data:
        raise SpaceError(
            f"{source}: a search space maps recipe keys to ranges, e.g. "
            "'optim.lr: {type: float, low: 0.001, high: 0.1, log: true}'; the file has none"
        )
    params = tuple(_parse_param(str(k), v, f"{source}: {k}") for k, v in data.items())
    space = SearchSpace(params, source)
    if cfg is not None:
        space.check(cfg)
    return space
