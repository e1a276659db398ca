"""Building models: ``create_model``, ``save_pretrained`` / ``load_pretrained`` (timm's _factory).

Imports the registry (names, cfgs), the builder and the weights I/O; none of them imports this
module back, so the package has no import cycle.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ffseg._io import atomic_write, atomic_write_json
from ffseg.models import _smp, _weights
from ffseg.models._base import PretrainedCfg
from ffseg.models._offline import check_stored_smp_name, hubs_offline
from ffseg.models._registry import get_model_entry, is_model, name_of_build, resolve_name
from ffseg.models._weights import WeightsError, check_fit, checkpoint_classes, read_state_dict

__all__ = [
    "CONFIG_NAME",
    "WEIGHTS_NAME",
    "UnsafeModelSpecError",
    "create_model",
    "import_model_class",
    "is_library_model_spec",
    "load_model",
    "load_pretrained",
    "model_folder",
    "save_pretrained",
]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
LIBRARY_PACKAGE = "ffseg.models"


class UnsafeModelSpecError(ValueError):
    """A file from disk names a ``module:callable`` outside ffseg's model classes."""


def _library_class(spec: str) -> type[nn.Module] | None:
    """The class named by ``"ffseg.models.<module>:<Class>"`` if it is an ``nn.Module``
    subclass defined in ffseg.models; ``None`` otherwise. Nothing is called."""
    module_name, sep, attr = spec.partition(":")
    inside = module_name == LIBRARY_PACKAGE or module_name.startswith(LIBRARY_PACKAGE + ".")
    if not (sep and attr and inside) or not all(p.isidentifier() for p in module_name.split(".")):
        return None
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return None
    defined_in = getattr(obj, "__module__", "") or ""
    if not (isinstance(obj, type) and issubclass(obj, nn.Module)):
        return None
    return obj if defined_in.startswith(LIBRARY_PACKAGE + ".") else None


def is_library_model_spec(spec: str) -> bool:
    """Whether ``spec`` is ``"ffseg.models.<module>:<Class>"`` naming one of ffseg's model
    classes (safe to build from a file on disk: no arbitrary callable)."""
    return _library_class(spec) is not None


def import_model_class(spec: str, where: str = "the model name") -> type[nn.Module]:
    """The ffseg model class named by ``"ffseg.models.<module>:<Class>"``; any other
    ``module:callable`` raises :class:`UnsafeModelSpecError` (files from disk are data)."""
    cls = _library_class(spec)
    if cls is None:
        raise UnsafeModelSpecError(
            f"{where} is {spec!r}: a file may only name a registered model (ffseg list) or an "
            "ffseg model class ('ffseg.models.<module>:<Class>'); other 'module:callable' "
            "names run code and are accepted only from your own command line or recipe file."
        )
    return cls


def create_model(
    name: str,
    pretrained: str | Path | None = None,
    num_classes: int | None = None,
    *,
    features_only: bool = False,
    pretrained_backbone: str | Path | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Build a registered model.

    Args:
        name: canonical name or alias (case-insensitive), e.g. ``"ffnet40s_bbb_mobile"`` or
            ``"segmentation_ffnet40S_BBB_mobile"``; or ``"smp:<Arch>:<encoder>"`` for a
            segmentation-models-pytorch network (the ``smp`` extra; see ``ffseg.models._smp``).
        pretrained: path to a local checkpoint (``.pth``/``.pt``/``.safetensors``); official files
            load as they are. If ``num_classes`` differs from the checkpoint, only the final
            classifier is re-initialised.
        num_classes: number of output classes (default: the variant's own, e.g. 19).
        features_only: return the encoder only, with ``feature_info`` (channels, reduction).
        pretrained_backbone: path to a checkpoint whose encoder weights initialise this model's
            encoder (e.g. an ImageNet classification checkpoint); the rest stays freshly initialised.
        **kwargs: passed to the variant's constructor.
    """
    build_kwargs = dict(kwargs)
    if num_classes is not None:
        build_kwargs["num_classes"] = num_classes
    if _smp.is_smp_name(name):
        model: nn.Module = _smp.create_smp_model(name, **build_kwargs)
        canonical = model.pretrained_cfg.architecture
    else:
        entry = get_model_entry(name)
        model, canonical = entry.fn(**build_kwargs), name_of_build(entry.name, build_kwargs)
    cfg = getattr(model, "pretrained_cfg", None)
    if cfg is not None:
        model.pretrained_cfg = cfg.replace(architecture=canonical, model_args=dict(build_kwargs))
    if pretrained is not None:
        _weights.load_pretrained_weights(model, pretrained)
    if pretrained_backbone is not None:
        _weights.load_backbone_weights(model, pretrained_backbone)
    if features_only:
        if not hasattr(model, "feature_encoder"):
            raise ValueError(f"model {entry.name!r} does not provide features_only")
        return model.feature_encoder()
    return model


def save_pretrained(model: nn.Module, directory: str | Path) -> Path:
    """Write ``config.json`` + ``model.safetensors`` (atomically) so :func:`load_pretrained` works.

    ``config.json`` holds the model's ``pretrained_cfg``, whose ``architecture`` and
    ``model_args`` rebuild it; the model must therefore come from :func:`create_model`.
    """
    cfg = getattr(model, "pretrained_cfg", None)
    known = isinstance(cfg, PretrainedCfg) and (
        is_model(cfg.architecture)
        or _smp.is_smp_name(cfg.architecture)
        or is_library_model_spec(cfg.architecture)
    )
    if not known:
        raise ValueError(
            "save_pretrained needs a model built with ffseg.create_model (its name and arguments "
            "are stored in config.json); save a custom module with torch.save(state_dict) instead."
        )
    from safetensors.torch import save_file

    directory = Path(directory)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    config = {"ffseg_format": 2, "pretrained_cfg": cfg.to_dict()}
    atomic_write(directory / WEIGHTS_NAME, lambda tmp: save_file(state, tmp))
    atomic_write_json(directory / CONFIG_NAME, config)
    return directory


def _read_config(directory: Path) -> tuple[str, dict[str, Any], PretrainedCfg | None]:
    """``(name, build kwargs, saved cfg)`` from a save_pretrained folder's (or a training run
    folder's) config.json."""
    config_path = directory / CONFIG_NAME
    if not config_path.is_file():
        raise WeightsError(
            f"{str(config_path)!r} not found: {str(directory)!r} is not a folder written by "
            "ffseg.save_pretrained (it needs config.json and model.safetensors)."
        )
    try:
        config = json.loads(config_path.read_text())
        if "model_args" in config:  # format 1: {"model_args": {"name": ..., **kwargs}, ...}
            args = dict(config["model_args"])
            return args.pop("name"), args, None
        cfg = PretrainedCfg.from_dict(config["pretrained_cfg"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise WeightsError(f"{str(config_path)!r} is not a valid ffseg config: {exc}") from exc
    args = {**cfg.model_args, "num_classes": cfg.num_classes}  # a reset_classifier counts too
    return cfg.architecture, args, cfg


def _weights_file(directory: Path) -> Path:
    """The weights of a folder: ``config.json``'s ``"weights"`` (a plain file name, e.g. a run's
    ``best.safetensors``), else ``model.safetensors``."""
    try:
        name = json.loads((directory / CONFIG_NAME).read_text()).get("weights", WEIGHTS_NAME)
    except (OSError, ValueError, AttributeError):
        name = WEIGHTS_NAME
    if not isinstance(name, str) or Path(name).name != name or name.startswith("."):
        raise WeightsError(
            f"{str(directory / CONFIG_NAME)!r}: 'weights' must be a file name inside the folder, "
            f"got {name!r}"
        )
    return directory / name


def _build(name: str, args: dict[str, Any], where: str) -> nn.Module:
    """A name read from ``where`` (a file): a registered or smp name through
    :func:`create_model` with the hubs offline (an smp encoder from a hub is refused); an
    ffseg model class spec directly; any other ``module:callable`` is refused."""
    if _smp.is_smp_name(name):
        check_stored_smp_name(name, where)
    if ":" not in name or _smp.is_smp_name(name):
        with hubs_offline():
            return create_model(name, **args)
    model = import_model_class(name, where)(**args)
    cfg = getattr(model, "pretrained_cfg", None)
    if isinstance(cfg, PretrainedCfg):
        derived = name_of_build(name, args)
        if derived != name:  # the class built a registry / design-space point: name it so
            return create_model(derived, **args)
        model.pretrained_cfg = cfg.replace(architecture=name, model_args=dict(args))
    return model


def model_folder(weights: str | Path) -> Path | None:
    """The folder that describes ``weights``: the folder itself (a :func:`save_pretrained` or
    training run folder) or the folder of a weights file with ``config.json`` beside it."""
    path = Path(weights)
    if path.is_dir():
        return path
    return path.parent if (path.parent / CONFIG_NAME).is_file() else None


def _canonical(name: str) -> str:
    try:
        return name_of_build(resolve_name(name), {})
    except (KeyError, ValueError):
        return name


def _check_name(recorded: str, asked: str | None, where: Path) -> None:
    """Refuse weights recorded for another model, even when the layouts match."""
    if asked is None or _canonical(asked) == _canonical(recorded):
        return
    raise WeightsError(
        f"{str(where)!r} records model {recorded!r} but --model {asked} was asked for; drop "
        f"--model (the folder names its model) or pass --model {recorded}"
    )


def _ema_file(folder: Path) -> Path:
    """A run folder's ``last.pt`` (the only file with EMA weights)."""
    last = folder / "last.pt"
    if not last.is_file():
        raise WeightsError(
            f"--ema: {str(folder)!r} has no last.pt, so no EMA weights; drop --ema "
            "(best.safetensors already holds the best of the model and its EMA)"
        )
    return last


def load_pretrained(directory: str | Path, **overrides: Any) -> nn.Module:
    """Re-create a model saved by :func:`save_pretrained`, or the best weights of a training
    run folder (strict, bit-exact, same cfg). ``directory`` may also be a weights file with
    the folder's ``config.json`` beside it (e.g. ``runs/<run>/best.safetensors``)."""
    path = Path(directory)
    folder = model_folder(path) or path
    return _load_recorded(folder, None if path.is_dir() else path, overrides=overrides)


def _load_recorded(
    folder: Path,
    weights: Path | None,
    *,
    name: str | None = None,
    use_ema: bool = False,
    overrides: dict[str, Any] | None = None,
) -> nn.Module:
    """The model ``folder/config.json`` records, with ``weights`` (default: the folder's)."""
    overrides = dict(overrides or {})
    recorded, args, saved_cfg = _read_config(folder)
    _check_name(name_of_build(recorded, args), name, folder / CONFIG_NAME)
    where = f"{str(folder / CONFIG_NAME)!r} architecture"
    model = _build(recorded, {**args, **overrides}, where)
    if weights is None:
        weights = _ema_file(folder) if use_ema else _weights_file(folder)
    state = read_state_dict(weights, use_ema=use_ema)
    check_fit(model, model.state_dict(), state, weights)
    model.load_state_dict(state, strict=True)
    rebuilt = {k: v for k, v in overrides.items() if k != "pretrained_backbone"}
    if saved_cfg is not None and not rebuilt:
        # keeps what was saved (a dataset's class names, the run's input size), named by what
        # was built
        model.pretrained_cfg = saved_cfg.replace(architecture=model.pretrained_cfg.architecture)
    return model


def load_model(
    weights: str | Path | None = None,
    *,
    name: str | None = None,
    num_classes: int | None = None,
    use_ema: bool = False,
    **kwargs: Any,
) -> nn.Module:
    """The one model loader behind every verb and the distillation teacher.

    ``weights`` may be a :func:`save_pretrained` or training run folder, or a weights file with
    such a folder's ``config.json`` beside it (``name`` optional; another name is refused), or
    a bare checkpoint file (``name`` required). A checkpoint's class count is read from its
    classifier weight when ``num_classes`` is not given; a different explicit ``num_classes``
    is an error (to fine-tune with a new head, use ``create_model(name, pretrained=...,
    num_classes=N)``). Without ``weights``: a freshly initialised ``name``. ``use_ema`` picks a
    training checkpoint's EMA weights (an error when it has none).
    """
    folder = model_folder(weights) if weights is not None else None
    if folder is not None:
        path = Path(weights)  # type: ignore[arg-type]
        model = _load_recorded(
            folder,
            None if path.is_dir() else path,
            name=name,
            use_ema=use_ema,
            overrides=kwargs,
        )
        _check_classes(model.num_classes, num_classes, weights)  # type: ignore[arg-type]
        return model
    if name is None:
        raise ValueError(
            "a model name is needed to load a checkpoint file without a config.json beside it "
            "(pass --model NAME, or pass the run / save_pretrained folder)"
        )
    if weights is not None:
        with torch.device("meta"):  # only to learn where the classifier lives
            layout = create_model(name, num_classes=num_classes, **kwargs)
        found = checkpoint_classes(layout, read_state_dict(weights, use_ema=use_ema))
        if found is not None:
            _check_classes(found, num_classes, weights)
            num_classes = found
    model = create_model(name, num_classes=num_classes, **kwargs)
    if weights is not None:
        _weights.load_pretrained_weights(model, weights, use_ema=use_ema)
    return model


def _check_classes(found: int, asked: int | None, weights: str | Path) -> None:
    if asked is not None and asked != found:
        raise WeightsError(
            f"{str(weights)!r} holds a {found}-class model but {asked} classes were asked for; "
            f"pass --num-classes {found} (or drop --num-classes), or pass matching weights"
        )
