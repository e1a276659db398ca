"""The ``ffseg`` command line: ``ffseg VERB ...`` (also ``python -m ffseg``).

Each verb lives in a module of this package exposing ``register(subparsers)``, which adds a
parser whose ``func`` default is called with the parsed arguments and returns the exit code.
Only the module of the verb being run is imported (``ffseg list`` needs no torch); ``ffseg
--help`` imports them all.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import pickle
import sys
import zipfile
from collections.abc import Sequence
from typing import Any, NoReturn

from ffseg._logs import configure_logging
from ffseg._version import __version__
from ffseg.cli._help import HelpFormatter

__all__ = ["USER_ERRORS", "VERBS", "build_parser", "main"]

#: Exceptions a user's input can cause (ffseg's own errors derive from these): one line, exit 2.
#: OSError covers ``ffseg._io.FileWriteError``; ImportError a missing optional extra.
USER_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ValueError,
    KeyError,
    RuntimeError,
    ImportError,
    EOFError,
    MemoryError,
    pickle.UnpicklingError,
    zipfile.BadZipFile,
)

#: Every verb and the module under ffseg.cli that defines it, in ``ffseg --help`` order.
VERBS: dict[str, str] = {
    "list": "listing",
    "info": "models",
    "check-data": "data",
    "convert-masks": "data",
    "val": "evaluate",
    "train": "train",
    "demo": "train",
    "recipes": "recipes",
    "bench": "deploy",
    "export": "deploy",
    "quantize": "deploy",
    "predict": "predict",
    "serve": "serve",
    "tune": "tune",
}


class _VerbParser(argparse.ArgumentParser):
    """A verb's parser: every option's help shows its default, and an unknown option is
    reported (with the closest option of this verb) before any other error it caused."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)
        self._argv: list[str] = []

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        self._argv = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def unknown_option(self, argv: Sequence[str]) -> str | None:
        """The message for the first option in ``argv`` this parser does not know, if any."""
        options = [o for a in self._actions for o in a.option_strings if o.startswith("--")]
        for arg in argv:
            name = arg.split("=", 1)[0]
            if not name.startswith("--") or name == "--":
                continue
            if any(o.startswith(name) for o in options):  # exact, or an allowed abbreviation
                continue
            close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else "; see --help for the options"
            return f"unrecognized argument {arg}{hint}"
        return None

    def error(self, message: str) -> NoReturn:
        super().error(self.unknown_option(self._argv) or message)


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


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Parse ``argv``; an unknown option is reported with the verb's usage and the closest
    option of that verb (``--confg`` -> ``--config``), not the top-level usage."""
    args, extras = parser.parse_known_args(argv)
    if extras:
        verb_parser = _subparser(parser, getattr(args, "verb", None))
        if verb_parser is None:
            parser.error(f"unrecognized arguments: {' '.join(extras)}")
        verb_parser.error(
            verb_parser.unknown_option(extras) or f"unrecognized arguments: {' '.join(extras)}"
        )
    return args


def _subparser(parser: argparse.ArgumentParser, verb: str | None) -> _VerbParser | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and verb in action.choices:
            found = action.choices[verb]
            return found if isinstance(found, _VerbParser) else None
    return None


def _verb_of(argv: Sequence[str]) -> str | None:
    """The first argument that is not a global option (the verb), if any."""
    for arg in argv:
        if arg not in ("-v", "--verbose"):
            return arg
    return None


def _message(exc: BaseException) -> str:
    """One line for ``exc`` (a KeyError's message without the repr quotes; a DataLoader
    worker's error as the original error's message, without the worker's traceback)."""
    if "DataLoader worker process" in str(exc):  # every verb that loads data with workers
        from ffseg.engine.data import worker_error_cause

        exc = worker_error_cause(exc) or exc
    if isinstance(exc, KeyError) and len(exc.args) == 1 and isinstance(exc.args[0], str):
        text = exc.args[0]
    else:
        text = str(exc) or type(exc).__name__
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        from ffseg.deploy.extras import extra_for_module

        extra = extra_for_module(exc.name)
        fix = f"pip install 'ffseg[{extra}]'" if extra else f"pip install {exc.name.split('.')[0]}"
        text = f"{text}: {fix}"
    return text.strip()


def _quiet_broken_pipe() -> int:
    """A closed stdout (``ffseg list | head``): stop quietly, like other Unix tools."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 0


#: Libraries whose INFO lines (progress chatter on every export, plot or study) are hidden
#: unless ``-v``; their warnings still show.
def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ffseg VERB ...``; user errors print one line ``ffseg VERB: error: ...`` (exit 2),
    anything unexpected one line and a hint to rerun with ``-v`` (exit 1)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parse(build_parser(_verb_of(argv)), argv)
    configure_logging(args.verbose)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except USER_ERRORS as exc:
        if args.verbose:
            raise
        print(f"ffseg {args.verb}: error: {_message(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:  # the last line of defence against a traceback
        if args.verbose:
            raise
        print(
            f"ffseg {args.verb}: unexpected error: {type(exc).__name__}: {_message(exc)} "
            "(run with -v for the traceback)",
            file=sys.stderr,
        )
        return 1
