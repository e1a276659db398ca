"""Converting YAML values and ``--set`` strings to a field's type, by a dispatch on the hint."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal, Union

import yaml

from ffseg.config.schema import ConfigError

__all__ = ["convert", "parse_scalar"]

# ``convert(value, hint, where)`` dispatches on the type hint's origin to one small converter.

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_NULL = {"none", "null", "~"}


def parse_scalar(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"cannot parse {text!r}: {exc}") from exc


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _to_union(value: Any, hint: Any, where: str) -> Any:
    args = typing.get_args(hint)
    is_null = value is None or (isinstance(value, str) and value.lower() in _NULL)
    if is_null and type(None) in args:
        return None
    errors = []
    for arg in (a for a in args if a is not type(None)):
        try:
            return convert(value, arg, where)
        except ConfigError as exc:
            errors.append(str(exc))
    if not errors:
        raise ConfigError(f"{where}: cannot convert {value!r}")
    # every alternative's reason, e.g. "expected an integer ...; or: 'x' is not one of auto"
    prefix = f"{where}: "
    rest = [e.removeprefix(prefix) for e in errors[1:]]
    raise ConfigError("; or: ".join([errors[0], *rest]))


def _to_literal(value: Any, hint: Any, where: str) -> Any:
    choices = typing.get_args(hint)
    for choice in choices:
        if str(value).lower() == str(choice).lower():
            return choice
    close = difflib.get_close_matches(str(value).lower(), [str(c) for c in choices], n=1)
    suggestion = f" Did you mean {close[0]!r}?" if close else ""
    raise ConfigError(f"{where}: {value!r} is not one of {', '.join(choices)}.{suggestion}")


def _as_list(value: Any, where: str) -> list[Any]:
    if isinstance(value, str):
        value = parse_scalar(value)
    if _is_number(value):
        value = [value]
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{where}: expected a list, got {value!r}")
    return list(value)


def _to_list(value: Any, hint: Any, where: str) -> list[Any]:
    item = (typing.get_args(hint) or (Any,))[0]
    return [convert(v, item, f"{where}[{i}]") for i, v in enumerate(_as_list(value, where))]


def _to_tuple(value: Any, hint: Any, where: str) -> tuple[Any, ...]:
    args, items = typing.get_args(hint), _as_list(value, where)
    if not args or args[-1] is Ellipsis:
        return tuple(_to_list(items, list[args[0] if args else Any], where))
    if len(items) != len(args):
        raise ConfigError(f"{where}: expected {len(args)} values, got {items!r}")
    return tuple(convert(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(items, args)))


def _to_dict(value: Any, hint: Any, where: str) -> dict[str, Any]:
    if isinstance(value, str):
        value = parse_scalar(value)
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {value!r}")
    return dict(value)


def _to_bool(value: Any, hint: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ConfigError(f"{where}: expected true/false, got {value!r}")


def _number(text: str) -> Any:
    """``text`` as an int or float when it reads as one (``1_000``, ``1e3``), else unchanged."""
    for parse in (int, float):
        try:
            return parse(text.replace("_", ""))
        except ValueError:
            continue
    return text


def _to_int(value: Any, hint: Any, where: str) -> int:
    if isinstance(value, str):
        value = _number(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ConfigError(f"{where}: expected an integer, got {value!r}")


def _to_float(value: Any, hint: Any, where: str) -> float:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    if _is_number(value):
        return float(value)
    raise ConfigError(f"{where}: expected a number, got {value!r}")


def _to_str(value: Any, hint: Any, where: str) -> str:
    if isinstance(value, str) or _is_number(value):
        return str(value)
    raise ConfigError(f"{where}: expected a string, got {value!r}")


def _to_any(value: Any, hint: Any, where: str) -> Any:
    return parse_scalar(value) if isinstance(value, str) else value


_CONVERTERS: dict[Any, Callable[[Any, Any, str], Any]] = {
    Union: _to_union,
    types.UnionType: _to_union,
    Literal: _to_literal,
    list: _to_list,
    tuple: _to_tuple,
    dict: _to_dict,
    bool: _to_bool,
    int: _to_int,
    float: _to_float,
    str: _to_str,
    Any: _to_any,
}


def convert(value: Any, hint: Any, where: str) -> Any:
    """Convert ``value`` (from YAML or a ``--set`` string) to the type ``hint``."""
    converter = _CONVERTERS.get(typing.get_origin(hint) or hint)
    if converter is None:
        raise ConfigError(f"{where}: unsupported type {hint!r}")
    return converter(value, hint, where)
