"""Loading and saving weights from local files (never from the network).

Accepted checkpoints: a plain state_dict, ``{"state_dict": ...}``, ``{"model": ..., "ema": ...}``
(ffseg training checkpoints), DDP ``module.`` and ``torch.compile`` ``_orig_mod.`` prefixes,
``.safetensors`` files. ``.pt``/``.pth`` files are read with ``weights_only=True``. A file in a
family's released (authors') key layout is converted by ``ffseg.models._authors`` first
(``docs/PRETRAINED.md``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ffseg.models._authors import AuthorsConverter, AuthorsLayoutError, find_converter

__all__ = [
    "WeightsError",
    "check_fit",
    "check_values",
    "checkpoint_classes",
    "class_layer_prefixes",
    "classifier_prefix",
    "from_authors_layout",
    "load_backbone_weights",
    "load_pretrained_weights",
    "read_state_dict",
]

log = logging.getLogger(__name__)

_PREFIXES = ("module.", "_orig_mod.")
_SHOW = 5  # how many keys an error message lists


class WeightsError(RuntimeError):
    """A weights file is missing, unreadable, or does not fit the model."""


def read_state_dict(path: str | Path, use_ema: bool = False) -> dict[str, torch.Tensor]:
    """Read a checkpoint file into a flat ``{name: tensor}`` dict (prefixes stripped)."""
    path = Path(path)
    if not path.is_file():
        hint = " (it is a directory: use ffseg.load_pretrained for a saved model folder)"
        raise WeightsError(
            f"Weights file {str(path)!r} not found{hint if path.is_dir() else ''}. "
            "Pass the path of a local .pth/.pt/.safetensors file; ffseg never downloads weights."
        )
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj: Any = load_file(str(path))
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt, truncated, pickled objects, ...
        raise WeightsError(
            f"Cannot read weights file {str(path)!r}: {type(exc).__name__}: {exc}. "
            "The file may be truncated or corrupt (download it again), or it pickles Python "
            "objects (re-save only the state_dict with torch.save(model.state_dict(), path))."
        ) from exc
    return _unwrap(obj, path, use_ema)


_EMA_KEYS = ("ema", "model_ema")


def _unwrap(obj: Any, path: Path, use_ema: bool) -> dict[str, torch.Tensor]:
    if use_ema and not (
        isinstance(obj, Mapping)
        and any(isinstance(obj.get(k), Mapping) and obj[k] for k in _EMA_KEYS)
    ):
        raise WeightsError(
            f"--ema: weights file {str(path)!r} holds no EMA weights (only runs trained with "
            "train.ema=true keep them, in last.pt); drop --ema"
        )
    if isinstance(obj, Mapping):
        keys = _EMA_KEYS if use_ema else ("state_dict", "model", "model_state_dict", "net")
        for key in keys:
            inner = obj.get(key)
            if isinstance(inner, Mapping) and inner:
                obj = inner
                break
    if not isinstance(obj, Mapping) or not obj:
        raise WeightsError(f"Weights file {str(path)!r} holds no state_dict (got {type(obj)}).")
    if isinstance(obj.get("state_dict"), Mapping):  # one more level ({"ema": {"state_dict":..}})
        obj = obj["state_dict"]
    out: dict[str, torch.Tensor] = {}
    for key, value in obj.items():
        if not isinstance(value, torch.Tensor):
            continue
        for prefix in _PREFIXES:
            while key.startswith(prefix):
                key = key[len(prefix) :]
        out[key] = value
    if not out:
        raise WeightsError(f"Weights file {str(path)!r} contains no tensors.")
    check_values(out, path)
    return out


def check_values(state: Mapping[str, torch.Tensor], path: str | Path) -> None:
    """Refuse weights a trained model never has: integer parameters where floats belong, and
    NaN or infinite values (a diverged or corrupted run)."""
    for key, value in state.items():
        counter = key.endswith("num_batches_tracked")
        if not counter and not (value.is_floating_point() or value.is_complex()):
            raise WeightsError(
                f"Weights file {str(path)!r}: {key} holds {value.dtype} values where a model "
                "has floating-point weights; the file is not a model's weights (re-save it with "
                "torch.save(model.state_dict(), path))"
            )
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise WeightsError(
                f"Weights file {str(path)!r}: {key} holds NaN or infinite values (a diverged or "
                "corrupted run); use an earlier checkpoint"
            )


def _model_label(model: nn.Module) -> str:
    cfg = getattr(model, "pretrained_cfg", None)
    return getattr(cfg, "architecture", type(model).__name__)


def classifier_prefix(model: nn.Module) -> str | None:
    """State-dict prefix of the model's final classifier (``"head.cls."``), if it names one.

    A :class:`~ffseg.models.SegModel` names it with ``classifier_path``; other modules may too.
    """
    path = getattr(model, "classifier_path", "")
    return f"{path}." if path else None


def class_layer_prefixes(model: nn.Module) -> list[str]:
    """State-dict prefixes of every class-scoring layer (classifier and auxiliary heads)."""
    paths = model.class_layer_paths() if hasattr(model, "class_layer_paths") else []
    if not paths:
        head = classifier_prefix(model)
        return [head] if head else []
    return [f"{p}." for p in paths]


def checkpoint_classes(model: nn.Module, state: Mapping[str, torch.Tensor]) -> int | None:
    """The class count of ``state``'s classifier weight for ``model``'s layout (None if absent)."""
    prefix = classifier_prefix(model)
    weight = state.get(f"{prefix}weight") if prefix else None
    if weight is None or weight.ndim == 0:
        return None
    try:
        transposed = isinstance(model.get_submodule(prefix.rstrip(".")), nn.ConvTranspose2d)
    except AttributeError:
        transposed = False
    return int(weight.shape[1] if transposed and weight.ndim > 1 else weight.shape[0])


def load_pretrained_weights(
    model: nn.Module, path: str | Path, *, use_ema: bool = False
) -> nn.Module:
    """Load a local checkpoint into ``model`` strictly, with three documented adaptations.

    * A file in the key layout of the model's authors' release is converted first
      (:func:`from_authors_layout`); training-only heads the release lacks stay initialised.
    * A final classifier whose class count differs from the checkpoint's is left freshly
      initialised (one log line), so ``num_classes=5`` fine-tunes from a 19-class checkpoint.
    * The model class may fit a checkpoint to itself first: a ``checkpoint_filter(state,
      model)`` static method, if it has one (timm's ``pretrained_filter_fn``).

    Anything else that does not fit raises :class:`WeightsError` naming the keys.
    """
    state = read_state_dict(path, use_ema=use_ema)
    own = model.state_dict()
    state, converter = from_authors_layout(model, own, state, path)
    checkpoint_filter = getattr(type(model), "checkpoint_filter", None)
    if checkpoint_filter is not None:
        state = dict(checkpoint_filter(state, model))
    head = classifier_prefix(model)
    class_layers = tuple(class_layer_prefixes(model))
    skipped_head = [
        k
        for k, v in state.items()
        if class_layers
        and k.startswith(class_layers)
        and k in own
        and tuple(v.shape) != tuple(own[k].shape)
    ]
    ckpt_classes = checkpoint_classes(model, state)
    for key in skipped_head:
        del state[key]
    absent = converter.absent if converter else ()
    fresh = [k for k in own if absent and k not in state and k.startswith(absent)]
    try:
        check_fit(model, own, state, path, allow_missing=skipped_head + fresh)
    except WeightsError as exc:
        if converter and converter.build:
            raise WeightsError(
                f"{exc} The {converter.family} authors' release needs "
                f"create_model(..., {converter.build})."
            ) from None
        raise
    model.load_state_dict(state, strict=not (skipped_head or fresh))
    if fresh:
        log.info(
            "%d training-only tensors (%s) are not in the authors' file %s: left initialised",
            len(fresh),
            ", ".join(absent),
            path,
        )
    if skipped_head:
        log.info(
            "re-initialised %s of %s for %s classes (checkpoint %s has %s)",
            (head or "").rstrip("."),
            _model_label(model),
            getattr(model, "num_classes", "?"),
            path,
            ckpt_classes if ckpt_classes is not None else "?",
        )
    return model


def from_authors_layout(
    model: nn.Module,
    own: Mapping[str, torch.Tensor],
    state: dict[str, torch.Tensor],
    path: str | Path,
) -> tuple[dict[str, torch.Tensor], AuthorsConverter | None]:
    """``state`` converted from its family's authors' layout, when it is in one (else as is).

    Only a checkpoint with keys the model lacks is tried, and only a converter of the model's
    family whose signature keys the file has converts it. BatchNorm ``num_batches_tracked``
    counters older files lack are set to 0 (they only matter for momentum-free BN).
    """
    if all(k in own for k in state):
        return state, None
    cfg = getattr(model, "pretrained_cfg", None)
    converter = find_converter(
        state,
        family=getattr(cfg, "family", ""),
        architecture=getattr(cfg, "architecture", ""),
    )
    if converter is None:
        return state, None
    try:
        converted = converter.convert(state)
    except AuthorsLayoutError as exc:
        raise WeightsError(f"Weights file {str(path)!r}: {exc}") from exc
    counter = "num_batches_tracked"
    for key in own:
        stats = key[: -len(counter)] + "running_mean"
        if key.endswith(counter) and key not in converted and stats in converted:
            converted[key] = torch.zeros((), dtype=torch.long)
    log.info(
        "converted %d tensors of %s from the %s authors' layout (%s)",
        len(state),
        path,
        converter.family,
        converter.source,
    )
    if converter.approximate:
        log.warning("%s: %s (approximate; see docs/PRETRAINED.md)", path, converter.approximate)
    return converted, converter


def check_fit(
    model: nn.Module,
    own: Mapping[str, torch.Tensor],
    state: Mapping[str, torch.Tensor],
    path: str | Path,
    allow_missing: list[str] = (),  # type: ignore[assignment]
    what: str = "model",
) -> None:
    missing = [k for k in own if k not in state and k not in allow_missing]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k}: checkpoint {list(state[k].shape)} vs {what} {list(own[k].shape)}"
        for k in state
        if k in own and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    if not (missing or unexpected or shapes):
        return
    parts = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("shape", shapes)):
        if items:
            shown = ", ".join(items[:_SHOW]) + (", ..." if len(items) > _SHOW else "")
            noun = "mismatches" if label == "shape" else "keys"
            parts.append(f"{len(items)} {label} {noun} ({shown})")
    raise WeightsError(
        f"Weights file {str(path)!r} does not fit {what} {_model_label(model)!r}: "
        f"{'; '.join(parts)}. Check that the file belongs to this architecture (official FFNet "
        "names map to ffseg names, see `ffseg info NAME`), or use pretrained_backbone= to load "
        "only the encoder."
    )


def load_backbone_weights(
    model: nn.Module, path: str | Path, *, use_ema: bool = False
) -> nn.Module:
    """Initialise only the encoder of ``model`` from a checkpoint (all encoder keys required).

    Works with a full model checkpoint of any head (e.g. an FFNet ImageNet ``X`` model for a
    segmentation FFNet, as the FFNet authors train; an authors' release, converted first), or an
    encoder-only file. Heads keep their fresh initialisation.
    """
    prefix = getattr(model, "encoder_prefix", None)
    if not prefix:
        raise WeightsError(
            f"{_model_label(model)!r} declares no encoder_prefix, so pretrained_backbone= cannot "
            "tell its encoder weights apart; subclass ffseg.models.SegModel (encoder_attr)."
        )
    state = read_state_dict(path, use_ema=use_ema)
    state, _ = from_authors_layout(model, model.state_dict(), state, path)
    own = {k: v for k, v in model.state_dict().items() if k.startswith(prefix)}
    picked = {k: v for k, v in state.items() if k.startswith(prefix)}
    if not picked:  # an encoder saved on its own: keys lack the prefix
        picked = {prefix + k: v for k, v in state.items() if prefix + k in own}
    if not picked:
        raise WeightsError(
            f"Weights file {str(path)!r} has no encoder weights for {_model_label(model)!r} "
            f"(expected keys starting with {prefix!r}, e.g. {next(iter(own), '?')})."
        )
    check_fit(model, own, picked, path, what="encoder of")
    model.load_state_dict(picked, strict=False)
    log.info("initialised %d encoder tensors of %s from %s", len(picked), _model_label(model), path)
    return model
