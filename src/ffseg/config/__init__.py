"""Typed training configuration: dataclass sections, YAML recipes, dotted overrides.

A recipe is a YAML file whose top-level keys are the sections of :class:`Config` (``data``,
``model``, ``loss``, ``optim``, ``sched``, ``train``, ``kd``, ``eval``, ``log``, ``calibrate``) plus an optional
``base: other.yaml`` (one level only, relative to the recipe) that the recipe overrides key by
key. ``--set a.b=value`` overrides convert ``value`` to the field's type. Unknown keys and
unknown choices (``loss.name=cee``) fail when the recipe is loaded, with the closest valid
value. The defaults are neutral: ``model.name`` has none and must be given.

Recipes ship inside the package (``ffseg/recipes/*.yaml``): :func:`load_config` takes a file
path or a packaged recipe's name (``"demo"``, ``"ffnet22s_dbbb_mobile_camvid-180x240_cpu"``);
:func:`list_recipes` lists them.
"""

from ffseg.config.load import (
    apply_overrides,
    apply_settings,
    config_from_dict,
    config_to_dict,
    load_config,
    save_config,
    validate_config,
)
from ffseg.config.ranges import RANGES, check_ranges
from ffseg.config.recipes import RECIPES_DIR, Recipe, find_recipe, list_recipes
from ffseg.config.resume import RESUMABLE_KEYS, resume_changes
from ffseg.config.schema import (
    AmpName,
    CalibrateConfig,
    Config,
    ConfigError,
    DataConfig,
    DatasetName,
    EvalConfig,
    EvalMode,
    KDConfig,
    LogConfig,
    LossConfig,
    LossName,
    ModelConfig,
    OptimConfig,
    OptimName,
    SchedConfig,
    SchedName,
    TaskName,
    TrainConfig,
)

__all__ = [
    "RANGES",
    "RECIPES_DIR",
    "RESUMABLE_KEYS",
    "AmpName",
    "CalibrateConfig",
    "Config",
    "ConfigError",
    "DataConfig",
    "DatasetName",
    "EvalConfig",
    "EvalMode",
    "KDConfig",
    "LogConfig",
    "LossConfig",
    "LossName",
    "ModelConfig",
    "OptimConfig",
    "OptimName",
    "Recipe",
    "SchedConfig",
    "SchedName",
    "TaskName",
    "TrainConfig",
    "apply_overrides",
    "apply_settings",
    "check_ranges",
    "config_from_dict",
    "config_to_dict",
    "find_recipe",
    "list_recipes",
    "load_config",
    "resume_changes",
    "save_config",
    "validate_config",
]
