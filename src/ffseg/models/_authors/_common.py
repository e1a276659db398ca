"""The converter record and the small tensor steps every family's converter is built from.

A converter turns an authors' state_dict into ffseg's key layout in four declared steps:
strip the authors' wrapper prefix, drop training-only keys, ``prepare`` (exact tensor edits on the
authors' names: folding a conv bias into the next BatchNorm, splitting a BatchNorm over parallel
branches), then rename every remaining key by the first matching rule. A key no rule matches is an
error: nothing is silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

__all__ = [
    "AuthorsConverter",
    "AuthorsLayoutError",
    "Rule",
    "State",
    "fold_bias_into_bn",
    "rename",
    "split_bn",
]

State = dict[str, torch.Tensor]
#: ``(regex matched against the whole key, replacement)``: a ``re`` template or a function of
#: the match.
Rule = tuple[str, str | Callable[["re.Match[str]"], str]]

_BN_STATS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


class AuthorsLayoutError(ValueError):
    """An authors' checkpoint holds keys its converter does not know."""


@dataclass(frozen=True)
class AuthorsConverter:
    """How one family's released checkpoint maps onto ffseg's model (see ``convert``).

    ``signature`` keys (after ``prefix`` is stripped) must all be present for the layout to be
    recognised; ``absent`` lists ffseg key prefixes the release has no weights for (training-only
    auxiliary heads), which keep their initialisation; ``build`` names the ``create_model``
    arguments the release needs, if any.
    """

    family: str
    models: tuple[str, ...]
    source: str
    signature: tuple[str, ...]
    rules: tuple[Rule, ...]
    prefix: str = ""
    drop: tuple[str, ...] = ()
    prepare: Callable[[State], State] | None = None
    absent: tuple[str, ...] = ()
    build: str = ""
    approximate: str = ""

    def detect(self, state: Mapping[str, torch.Tensor]) -> bool:
        """True when ``state`` has every signature key (with or without ``prefix``)."""
        keys = set(state)
        return all(k in keys or self.prefix + k in keys for k in self.signature)

    def convert(self, state: Mapping[str, torch.Tensor]) -> State:
        """The authors' ``state`` in ffseg's layout (a new dict; tensors are not copied)."""
        out = {_strip(k, self.prefix): v for k, v in state.items()}
        out = {k: v for k, v in out.items() if not any(re.fullmatch(p, k) for p in self.drop)}
        if self.prepare is not None:
            out = self.prepare(out)
        return rename(out, self.rules, self.family)


def _strip(key: str, prefix: str) -> str:
    return key[len(prefix) :] if prefix and key.startswith(prefix) else key


def rename(state: Mapping[str, torch.Tensor], rules: tuple[Rule, ...], family: str) -> State:
    """Rename every key by the first rule whose regex matches it whole; unmatched keys raise."""
    compiled = [(re.compile(p), r) for p, r in rules]
    out: State = {}
    unknown = []
    for key, value in state.items():
        new = _first_match(key, compiled)
        if new is None:
            unknown.append(key)
        elif new in out:
            raise AuthorsLayoutError(f"{family}: two authors' keys map to {new!r}")
        else:
            out[new] = value
    if unknown:
        shown = ", ".join(unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        raise AuthorsLayoutError(
            f"{len(unknown)} keys of the {family} authors' checkpoint have no ffseg counterpart "
            f"({shown}); the file is not the released {family} model this converter knows."
        )
    return out


def _first_match(key: str, compiled: list[tuple[re.Pattern[str], object]]) -> str | None:
    for pattern, repl in compiled:
        m = pattern.fullmatch(key)
        if m is None:
            continue
        try:
            return m.expand(repl) if isinstance(repl, str) else repl(m)  # type: ignore[operator]
        except KeyError:  # a lookup table of the rule does not know this part of the key
            continue
    return None


def fold_bias_into_bn(state: State, conv: str, bn: str) -> None:
    """Move ``conv``'s bias into the following BatchNorm ``bn`` (in place; exact).

    ``BN(Wx + b)`` equals ``BN'(Wx)`` with ``running_mean' = running_mean - b``; in training
    the batch mean removes ``b`` anyway, so the bias-free conv of ffseg loses nothing.
    """
    bias = state.pop(f"{conv}.bias")
    state[f"{bn}.running_mean"] = state[f"{bn}.running_mean"] - bias


def split_bn(state: State, bn: str, parts: list[str]) -> None:
    """Split BatchNorm ``bn`` channel-wise into equal ``parts`` (in place; exact per channel)."""
    for stat in _BN_STATS:
        key = f"{bn}.{stat}"
        if key not in state:
            continue
        value = state.pop(key)
        chunks = [value] * len(parts) if value.ndim == 0 else value.chunk(len(parts))
        for part, chunk in zip(parts, chunks):
            state[f"{part}.{stat}"] = chunk.clone()
