"""The ``ffseg`` command line: ``ffseg VERB ...`` (also ``python -m ffseg``).

Each verb lives in a module of this package exposing ``register(subparsers)``, which adds a
parser whose ``func`` default is called with the parsed arguments and returns the exit code.
Only the module of the verb being run is imported (``ffseg list`` needs no torch); ``ffseg
--help`` imports them all.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import Any

from ffseg._version import __version__
from ffseg.cli._help import HelpFormatter

__all__ = ["VERBS", "build_parser", "main"]

#: Every verb and the module under ffseg.cli that defines it, in ``ffseg --help`` order.
VERBS: dict[str, str] = {
    "list": "listing",
    "info": "models",
    "check-data": "data",
    "val": "evaluate",
    "train": "train",
    "demo": "train",
    "recipes": "recipes",
    "bench": "deploy",
    "export": "deploy",
    "quantize": "deploy",
    "predict": "predict",
}


class _VerbParser(argparse.ArgumentParser):
    """A verb's parser: every option's help shows its default."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The parser with every verb, or only ``verb``'s module when it is a known verb."""
    parser = argparse.ArgumentParser(
        prog="ffseg", description="Fast, simple semantic segmentation in PyTorch."
    )
    parser.add_argument("--version", action="version", version=f"ffseg {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(
        dest="verb", metavar="VERB", required=True, parser_class=_VerbParser
    )
    modules = [VERBS[verb]] if verb in VERBS else list(dict.fromkeys(VERBS.values()))
    for name in modules:
        importlib.import_module(f"ffseg.cli.{name}").register(subparsers)
    return parser


def _verb_of(argv: Sequence[str]) -> str | None:
    """The first argument that is not a global option (the verb), if any."""
    for arg in argv:
        if arg not in ("-v", "--verbose"):
            return arg
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(_verb_of(argv)).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        if args.verbose:
            raise
        print(f"ffseg {args.verb}: error: {exc}", file=sys.stderr)
        return 2
