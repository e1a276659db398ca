"""The recipes shipped inside the package (``ffseg/recipes/*.yaml``), found by name."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from ffseg.config.schema import ConfigError

__all__ = ["RECIPES_DIR", "RECIPE_SUFFIX", "Recipe", "find_recipe", "list_recipes"]

#: The recipes shipped with the package (package data, so a wheel install has them).
RECIPES_DIR = Path(__file__).resolve().parents[1] / "recipes"
RECIPE_SUFFIX = ".yaml"

# --------------------------------------------------------------------------- recipes


@dataclass(frozen=True)
class Recipe:
    """A recipe shipped with ffseg: its name (the file stem), file and one-line summary."""

    name: str
    path: Path
    summary: str


def _summary(path: Path) -> str:
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
    return ""


def list_recipes() -> list[Recipe]:
    """The packaged recipes, sorted by name."""
    paths = sorted(RECIPES_DIR.glob(f"*{RECIPE_SUFFIX}"))
    return [Recipe(p.stem, p, _summary(p)) for p in paths]


def find_recipe(name_or_path: str | Path) -> Path:
    """A recipe file: ``name_or_path`` itself if it is a file, else the packaged recipe of that
    name (with or without ``.yaml``); otherwise a :class:`ConfigError` listing close names."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    packaged = RECIPES_DIR / f"{path.name.removesuffix(RECIPE_SUFFIX)}{RECIPE_SUFFIX}"
    if len(path.parts) == 1 and packaged.is_file():
        return packaged
    names = [r.name for r in list_recipes()]
    close = difflib.get_close_matches(path.name.removesuffix(RECIPE_SUFFIX), names, n=3)
    hint = f" Close names: {', '.join(close)}." if close else ""
    raise ConfigError(
        f"recipe {str(name_or_path)!r} not found: no such file and no packaged recipe of that "
        f"name.{hint} Pass a YAML file or a name from `ffseg recipes`."
    )
