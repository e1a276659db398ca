"""The ``ffseg`` command line: ``ffseg VERB ...`` (also ``python -m ffseg``).

Each verb lives in its own module exposing ``register(subparsers)``, which adds a parser whose
``func`` default is called with the parsed arguments and returns the exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main"]

#: Modules under ffseg.cli that contribute verbs, in the order ``ffseg --help`` lists them.
VERB_MODULES = (
    "models",  # list, info
    "data",  # check-data
    "evaluate",  # val
    "train",  # train, demo
    "deploy",  # bench, export, quantize
    "predict",  # predict
)


def build_parser() -> argparse.ArgumentParser:
    from ffseg import __version__

    parser = argparse.ArgumentParser(
        prog="ffseg", description="Fast, simple semantic segmentation in PyTorch."
    )
    parser.add_argument("--version", action="version", version=f"ffseg {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for name in VERB_MODULES:
        importlib.import_module(f"ffseg.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (FileNotFoundError, ValueError, KeyError, RuntimeError) as exc:
        if args.verbose:
            raise
        print(f"ffseg {args.verb}: error: {exc}", file=sys.stderr)
        return 2
