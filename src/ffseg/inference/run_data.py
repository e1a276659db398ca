"""A training run folder carries its data: the recipe it was trained with (``config.yaml``).

``ffseg val --weights runs/<run>`` with no data flags evaluates on the run's own validation
data (dataset, root, split and the dataset arguments: classes, label map, ...), exactly the
data training evaluated on; any ``--data`` flag overrides it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ffseg.config import DataConfig, load_config
from ffseg.data import build_dataset

__all__ = ["RUN_RECIPE", "RunData", "run_data"]

RUN_RECIPE = "config.yaml"  # the recipe a training run folder was started with


@dataclass(frozen=True)
class RunData:
    """The data section of a run folder's recipe."""

    recipe: Path
    data: DataConfig

    def split(self, split: str | None) -> str:
        """``split``, or the run's validation split."""
        return split or self.data.val_split or "val"

    def dataset(self, split: str | None = None, transforms: Any = None) -> Any:
        """The run's dataset for ``split`` (default: its validation split) with the run's
        dataset arguments (``val_kwargs``; ``train_kwargs`` for its training split)."""
        d = self.data
        name = self.split(split)
        kwargs = d.train_kwargs if name == d.train_split else d.val_kwargs
        return build_dataset(d.name, d.root, name, transforms=transforms, **kwargs)

    def describe(self, split: str | None = None) -> str:
        """One line saying which data is used and how to change it."""
        d = self.data
        root = f", root {d.root}" if d.root else ""
        return (
            f"data: the run's own {d.name} data (split {self.split(split)}{root}) from "
            f"{self.recipe}; pass --data ... to evaluate on other data"
        )


def run_data(weights: str | Path | None) -> RunData | None:
    """The data of the training run that ``weights`` (a run folder or a file in one) comes
    from; ``None`` when there is no run recipe beside it."""
    if weights is None:
        return None
    path = Path(weights)
    folder = path if path.is_dir() else path.parent
    recipe = folder / RUN_RECIPE
    if not recipe.is_file():
        return None
    return RunData(recipe, load_config(recipe).data)
