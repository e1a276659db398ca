"""Every option of every verb has a help line."""

from __future__ import annotations

import argparse

from ffseg.cli import VERBS, build_parser


def test_every_option_of_every_verb_has_help() -> None:
    parser = build_parser()
    verbs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(VERBS) <= set(verbs)
    missing = [
        f"{verb} {action.option_strings or action.dest}"
        for verb, sub in verbs.items()
        for action in sub._actions
        if action.help is not argparse.SUPPRESS and not (action.help or "").strip()
    ]
    assert not missing, missing
