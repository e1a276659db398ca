"""Model registry: names, aliases and default cfgs only (timm style); it builds nothing.

Every variant is a function decorated with :func:`register_model` whose body only states its
hyper-parameters. Its metadata is data: the family module's ``default_cfgs`` dict (defined
before the variants) maps each variant name to a :class:`PretrainedCfg`, recorded here at
registration, so :func:`get_pretrained_cfg` answers without building a model. Names are
lowercase; aliases (such as the official FFNet names) resolve to a canonical name, and lookups
are case-insensitive. A family whose names follow a grammar (FFNet's design space) registers a
*name resolver* so that every grammatical name works, registered or not, while
:func:`list_models` keeps listing the registered ones. Building lives in
:mod:`ffseg.models._factory`.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from torch import nn

from ffseg.model_index import filter_names, natural_key
from ffseg.models._base import PretrainedCfg

__all__ = [
    "ModelEntry",
    "UnknownModelError",
    "get_model_entry",
    "get_pretrained_cfg",
    "is_model",
    "list_aliases",
    "list_models",
    "model_index",
    "name_of_build",
    "register_model",
    "register_model_namer",
    "register_name_resolver",
    "resolve_name",
]

ModelFn = Callable[..., nn.Module]


@dataclass(frozen=True)
class ModelEntry:
    """One registered model: its canonical name, constructor and the module that defines it."""

    name: str
    fn: ModelFn
    module: str
    aliases: tuple[str, ...] = ()
    pretrained_cfg: PretrainedCfg | None = None


class UnknownModelError(KeyError):
    """Raised for a model name that is neither registered nor an alias."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


_MODELS: dict[str, ModelEntry] = {}
_ALIASES: dict[str, str] = {}  # lowercase alias -> canonical name
_ALIAS_SPELLING: dict[str, str] = {}  # lowercase alias -> alias as registered
#: name -> entry or None; raises ValueError for a name in its namespace with an invalid part
NameResolver = Callable[[str], "ModelEntry | None"]
_RESOLVERS: list[NameResolver] = []
_RESOLVED: dict[str, ModelEntry] = {}  # lowercase name -> entry built by a resolver


def register_name_resolver(resolver: NameResolver) -> NameResolver:
    """Let a family answer for names that follow its grammar but are not registered.

    ``resolver(name)`` returns a :class:`ModelEntry` (with its default cfg) for a name of the
    family, ``None`` for a name outside it, and raises ``ValueError`` naming the invalid part
    for a name of the family that breaks its grammar.
    """
    _RESOLVERS.append(resolver)
    return resolver


#: (name or ``module:Class``, build kwargs) -> the registry / design-space name of what they
#: build, or None when the namer's family does not cover them
ModelNamer = Callable[[str, Mapping[str, Any]], "str | None"]
_NAMERS: list[ModelNamer] = []


def register_model_namer(namer: ModelNamer) -> ModelNamer:
    """Let a family name what a name plus build arguments really build (a tuned FFNet with
    ``up_head="C"`` built as ``ffnet40s_dbbb_mobile`` is ``ffnet40s_dbcb_mobile``)."""
    _NAMERS.append(namer)
    return namer


def name_of_build(name: str, kwargs: Mapping[str, Any]) -> str:
    """The registry or design-space name of ``name`` built with ``kwargs`` (``name`` itself
    when no family names it otherwise)."""
    for namer in _NAMERS:
        derived = namer(name, kwargs)
        if derived:
            return derived
    return name


def _resolved_entry(key: str) -> ModelEntry | None:
    """The entry a resolver builds for an unregistered name (cached), else None."""
    if key in _RESOLVED:
        return _RESOLVED[key]
    for resolver in _RESOLVERS:
        entry = resolver(key)
        if entry is not None:
            canonical = _MODELS.get(entry.name) or _RESOLVED.setdefault(entry.name, entry)
            _RESOLVED[key] = canonical
            return canonical
    return None


def register_model(
    fn: ModelFn | None = None, *, aliases: Iterable[str] = ()
) -> ModelFn | Callable[[ModelFn], ModelFn]:
    """Register a model constructor under its (lowercase) function name.

    Use as ``@register_model`` or ``@register_model(aliases=("OfficialName",))``.
    """

    def decorate(f: ModelFn) -> ModelFn:
        name = f.__name__
        if name != name.lower():
            raise ValueError(f"model names are lowercase; got {name!r}")
        if name in _MODELS or name in _ALIASES:
            raise ValueError(f"model {name!r} is registered twice")
        alias_tuple = tuple(aliases)
        module = f.__module__.rsplit(".", 1)[-1]
        cfgs = getattr(sys.modules.get(f.__module__), "default_cfgs", None) or {}
        cfg = cfgs.get(name)
        if cfg is not None and cfg.architecture != name:
            cfg = cfg.replace(architecture=name)
        _MODELS[name] = ModelEntry(name, f, module, alias_tuple, cfg)
        for alias in alias_tuple:
            key = alias.lower()
            if key in _MODELS or _ALIASES.get(key, name) != name:
                raise ValueError(f"alias {alias!r} of {name!r} is already taken")
            _ALIASES[key] = name
            _ALIAS_SPELLING[key] = alias
        return f

    if fn is not None:
        return decorate(fn)
    return decorate


def list_models(
    filter: str | Iterable[str] = "",
    exclude_filters: str | Iterable[str] = (),
    module: str | None = None,
) -> list[str]:
    """Canonical model names matching fnmatch ``filter`` (any of them), naturally sorted."""
    names: Iterable[str] = _MODELS
    if module is not None:
        names = [n for n in names if _MODELS[n].module == module]
    return filter_names(names, filter, exclude_filters)


def list_aliases(name: str | None = None) -> list[str]:
    """Registered aliases (as spelled at registration), optionally only those of one model."""
    if name is None:
        return sorted(_ALIAS_SPELLING.values(), key=natural_key)
    canonical = resolve_name(name)
    return list(_MODELS[canonical].aliases)


def is_model(name: str) -> bool:
    """Whether ``name`` is a registered model, an alias or a grammatical name of a family with
    a name resolver (case-insensitive)."""
    key = name.lower()
    if key in _MODELS or key in _ALIASES:
        return True
    try:
        return _resolved_entry(key) is not None
    except ValueError:
        return False


def resolve_name(name: str) -> str:
    """The canonical name for ``name``; unknown names raise with the closest matches."""
    key = name.lower()
    if key in _MODELS:
        return key
    if key in _ALIASES:
        return _ALIASES[key]
    problem = f"Unknown model {name!r}."
    try:
        entry = _resolved_entry(key)
    except ValueError as exc:  # the family's grammar names the invalid part
        entry, problem = None, str(exc)
    if entry is not None:
        return entry.name
    candidates = list(_MODELS) + list(_ALIASES)
    close = difflib.get_close_matches(key, candidates, n=5, cutoff=0.6)
    close = [_ALIAS_SPELLING.get(c, c) for c in close]
    hint = f" Closest names: {', '.join(close)}." if close else ""
    raise UnknownModelError(
        f"{problem}{hint} Run `ffseg list` (or ffseg.list_models()) to see all "
        f"{len(_MODELS)} registered models."
    )


def get_model_entry(name: str) -> ModelEntry:
    """The registry entry for a model name, alias or grammatical name of a resolver family."""
    canonical = resolve_name(name)
    return _MODELS.get(canonical) or _RESOLVED[canonical]


def get_pretrained_cfg(name: str) -> PretrainedCfg:
    """The registered default cfg of a model name or alias, without building the model."""
    entry = get_model_entry(name)
    if entry.pretrained_cfg is None:
        raise KeyError(
            f"model {entry.name!r} has no default cfg: add it to default_cfgs in "
            f"ffseg/models/{entry.module}.py (see docs/CONTRIBUTING.md)"
        )
    return entry.pretrained_cfg


#: The cfg fields ``ffseg list`` shows, as stored in the model index.
INDEX_FIELDS = (
    "family", "task", "dataset", "input_size", "output_stride", "num_classes", "published",
    "published_context",
    "weight_file",
)  # fmt: skip


def model_index() -> dict[str, dict[str, Any]]:
    """Every registered model's aliases and listed cfg fields, as JSON-ready data.

    ``scripts/gen_model_zoo.py`` writes it to ``ffseg/model_index.json``, which ``ffseg list``
    reads without importing torch; the tests check that file against this function.
    """
    out: dict[str, dict[str, Any]] = {}
    for name in list_models():
        entry = _MODELS[name]
        cfg = entry.pretrained_cfg.to_dict() if entry.pretrained_cfg is not None else {}
        out[name] = {
            "aliases": list(entry.aliases),
            "cfg": {
                k: list(v) if isinstance(v, tuple) else v
                for k, v in cfg.items()
                if k in INDEX_FIELDS
            },
        }
    return out
