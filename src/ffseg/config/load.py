"""Building a checked :class:`Config` from YAML (with one level of ``base:``) and overrides."""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Union

import yaml

from ffseg._io import atomic_write_text
from ffseg.config.convert import convert, parse_scalar
from ffseg.config.ranges import check_ranges
from ffseg.config.recipes import find_recipe
from ffseg.config.schema import Config, ConfigError

__all__ = [
    "apply_overrides",
    "apply_settings",
    "config_from_dict",
    "config_to_dict",
    "load_config",
    "save_config",
    "validate_config",
]


def _unknown(key: str, valid: Iterable[str], where: str) -> ConfigError:
    valid = list(valid)
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.0)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ConfigError(f"unknown key {key!r} in {where}.{hint} Valid keys: {', '.join(valid)}.")


def _build(cls: type, values: Mapping[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in values.items():
        if key not in hints:
            raise _unknown(key, hints, where or "the recipe")
        hint = hints[key]
        path = f"{where}.{key}" if where else key
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, Mapping | None):
                raise ConfigError(f"{path}: expected a mapping of its keys, got {value!r}")
            kwargs[key] = _build(hint, value or {}, path)
        else:
            kwargs[key] = convert(value, hint, path)
    return cls(**kwargs)


def _check(cfg: Config) -> None:
    """Rules that span keys or that a type cannot express."""
    if not cfg.model.name:
        raise ConfigError(
            "model.name is required: a registered model name (see `ffseg list`) or "
            "'package.module:callable'; set it in the recipe or with --set model.name=NAME."
        )
    for i, extra in enumerate(cfg.data.extra_train):
        if set(extra) - {"split", "kwargs"} or "split" not in extra:
            raise ConfigError(
                f"data.extra_train[{i}] must look like {{split: ..., kwargs: {{...}}}}; "
                f"got {extra!r}"
            )
    check_ranges(cfg)
    _check_candidates(cfg)
    for key in ("weight", "feature_weight"):
        weight = getattr(cfg.kd, key)
        if weight > 0 and not (cfg.kd.teacher or cfg.kd.smp):
            raise ConfigError(
                f"kd.{key}={weight} needs a teacher: set kd.teacher (a registered model "
                f"name or 'package.module:callable') or kd.smp, or set kd.{key}=0."
            )


_CANDIDATE = "{name: NAME, min_iters: N, set: {section.key: value, ...}}"


def _check_candidates(cfg: Config) -> None:
    """Each ``calibrate.candidates`` entry is well formed and its settings are valid keys and
    values; ``calibrate.pick`` names one of them."""
    names: list[str] = []
    for i, cand in enumerate(cfg.calibrate.candidates):
        where = f"calibrate.candidates[{i}]"
        well_formed = isinstance(cand, Mapping) and not set(cand) - {"name", "min_iters", "set"}
        if not well_formed or not isinstance(cand.get("set", {}), Mapping):
            raise ConfigError(f"{where} must look like {_CANDIDATE}; got {cand!r}")
        settings, name, min_iters = cand.get("set", {}), cand.get("name"), cand.get("min_iters", 1)
        if not isinstance(name, str) or not name or name in names:
            raise ConfigError(f"{where}: name must be a non-empty, unique string; got {name!r}")
        if isinstance(min_iters, bool) or not isinstance(min_iters, int) or min_iters < 1:
            raise ConfigError(f"{where} ({name}): min_iters must be an integer >= 1")
        values = config_to_dict(cfg)
        values["calibrate"] = {}
        for dotted, value in settings.items():
            if str(dotted).split(".")[0] == "calibrate":
                raise ConfigError(f"{where} ({name}): a candidate cannot set {dotted}")
            _assign(values, str(dotted), value, f"{where} ({name}): {dotted}")
        try:
            check_ranges(_build(Config, values, ""))
        except ConfigError as exc:
            raise ConfigError(f"{where} ({name}): {exc}") from None
        names.append(name)
    pick = cfg.calibrate.pick
    if pick is not None and pick not in names:
        known = ", ".join(names) or "none: the recipe has no calibrate.candidates"
        raise ConfigError(f"calibrate.pick={pick!r} is not a candidate of the recipe ({known})")


def config_from_dict(values: Mapping[str, Any], source: str = "config") -> Config:
    """Build and check a :class:`Config` from nested dicts (missing keys take their defaults)."""
    try:
        cfg = _build(Config, {k: v for k, v in values.items() if k != "base"}, "")
        _check(cfg)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    return cfg


def validate_config(cfg: Config, source: str = "config") -> Config:
    """Check a :class:`Config` however it was made (types, choices, rules); returns a copy."""
    return config_from_dict(config_to_dict(cfg), source)


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """Plain nested dicts/lists (YAML- and torch.load(weights_only)-friendly)."""
    if dataclasses.is_dataclass(cfg):
        return {f.name: config_to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, list | tuple):
        return [config_to_dict(x) for x in cfg]  # type: ignore[return-value]
    if isinstance(cfg, Mapping):
        return {str(k): config_to_dict(x) for k, x in cfg.items()}
    return cfg


def _read_yaml(path: Path) -> dict[str, Any]:
    if path.is_dir():
        raise ConfigError(f"recipe {str(path)!r} is a folder; give a recipe YAML file")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"recipe {str(path)!r} not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"recipe {str(path)!r} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"recipe {str(path)!r} must be a mapping of sections, got {type(data)}")
    return data


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _read_recipe(path: Path) -> dict[str, Any]:
    """The recipe's values merged over its ``base:`` (one level)."""
    data = _read_yaml(path)
    base = data.pop("base", None)
    if base is None:
        return data
    base_path = (path.parent / str(base)).resolve()
    if base_path.is_dir():
        raise ConfigError(
            f"{path}: base: {base!r} is a folder ({str(base_path)!r}); give a recipe YAML file "
            "(relative to the recipe's folder), e.g. base: camvid.yaml"
        )
    base_data = _read_yaml(base_path)
    if "base" in base_data:
        raise ConfigError(
            f"{path}: base recipe {str(base_path)!r} has its own 'base:'; only one level "
            "is allowed (copy the values you need into one base file)."
        )
    return _merge(base_data, data)


def load_config(recipe: str | Path, overrides: Iterable[str] = ()) -> Config:
    """Load a recipe (a YAML file or a packaged recipe name), resolve ``base:``, apply
    ``section.key=value`` overrides and check the result."""
    path = find_recipe(recipe)
    try:
        cfg = _build(Config, _read_recipe(path), "")
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return apply_overrides(cfg, overrides, source=str(path))


# --------------------------------------------------------------------------- overrides


def _is_dict_hint(hint: Any) -> bool:
    args = typing.get_args(hint) if typing.get_origin(hint) in (Union, types.UnionType) else ()
    return typing.get_origin(hint) is dict or any(typing.get_origin(a) is dict for a in args)


def _set_nested(node: dict[str, Any], parts: list[str], value: Any) -> None:
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _apply_one(values: dict[str, Any], item: str) -> None:
    if "=" not in item:
        raise ConfigError(f"override {item!r} must look like section.key=value")
    dotted, raw = item.split("=", 1)
    _assign(values, dotted, raw, f"--set {item!r}")


def _assign(values: dict[str, Any], dotted: str, raw: Any, shown: str) -> None:
    """Set ``dotted`` (``section.key``) to ``raw`` (a ``--set`` string or a YAML value)."""
    parts = dotted.strip().split(".")
    cls: Any = Config
    node = values
    for depth, part in enumerate(parts):
        hints = typing.get_type_hints(cls)
        if part not in hints:
            where = ".".join(parts[:depth]) or "the recipe"
            raise ConfigError(f"{shown}: {_unknown(part, hints, where)}")
        hint, last = hints[part], depth == len(parts) - 1
        if dataclasses.is_dataclass(hint):
            if last:
                raise ConfigError(f"{shown}: {dotted} is a section; set one of its keys")
            cls, node = hint, node[part]
        elif last:
            try:
                node[part] = convert(raw, hint, dotted)
            except ConfigError as exc:
                raise ConfigError(f"{shown}: {exc}") from None
        elif _is_dict_hint(hint):  # model.kwargs.init=official: a key inside a mapping
            node[part] = dict(node.get(part) or {})
            value = parse_scalar(raw) if isinstance(raw, str) else raw
            _set_nested(node[part], parts[depth + 1 :], value)
            return
        else:
            raise ConfigError(f"{shown}: {'.'.join(parts[: depth + 1])} has no keys")


def apply_overrides(cfg: Config, overrides: Iterable[str], source: str = "overrides") -> Config:
    """Apply ``section.key=value`` strings, converting values to the field types; returns a
    checked copy (``source`` names the recipe in errors)."""
    values = config_to_dict(cfg)
    for item in overrides:
        _apply_one(values, item)
    return config_from_dict(values, source)


def apply_settings(cfg: Config, settings: Mapping[str, Any], source: str = "settings") -> Config:
    """Apply ``{section.key: value}`` (YAML values, e.g. a recipe's calibration candidate);
    returns a checked copy."""
    values = config_to_dict(cfg)
    for dotted, value in settings.items():
        _assign(values, str(dotted), value, f"{source}: {dotted}")
    return config_from_dict(values, source)


def save_config(cfg: Config, path: str | Path) -> Path:
    """Write the resolved config as YAML (atomically)."""
    return atomic_write_text(path, yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
