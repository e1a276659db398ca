"""``ffseg recipes``: the training recipes shipped with ffseg, one line each."""

from __future__ import annotations

import argparse

from ffseg.config import list_recipes

__all__ = ["register", "run_recipes"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "recipes",
        help="list the packaged training recipes (use a name with ffseg train --config NAME)",
    )
    p.add_argument("--paths", action="store_true", help="also print each recipe's file")
    p.set_defaults(func=run_recipes)


def run_recipes(args: argparse.Namespace) -> int:
    recipes = list_recipes()
    width = max((len(r.name) for r in recipes), default=0)
    for recipe in recipes:
        print(f"{recipe.name:{width}s}  {recipe.summary}")
        if args.paths:
            print(f"{'':{width}s}  {recipe.path}")
    return 0
