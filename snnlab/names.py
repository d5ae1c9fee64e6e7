"""Suggestions for misspelled names in error messages (data sets, reproductions, models, presets, ...), and the
registry of named things that gives them."""
from __future__ import annotations

import difflib
from typing import Iterable

__all__ = ["did_you_mean", "Registry"]


def did_you_mean(name: object, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` (or ``'x' or 'y'``) for the closest valid names to ``name``, else ``""``.

    Closeness is difflib's ratio (at least 0.6) on the lower-cased names, so ``tett`` suggests ``tet``, ``digit``
    ``digits`` and ``cifar-10`` ``cifar10``.
    """
    choices = list(choices)
    lowered = {choice.lower(): choice for choice in choices}
    close = difflib.get_close_matches(str(name).lower(), list(lowered), n=2, cutoff=0.6)
    if not close:
        return ""
    return "; did you mean " + " or ".join(repr(lowered[c]) for c in close) + "?"


class Registry(dict):
    """Named things of one ``kind`` (reproductions, sweeps, comparisons), each registered under its ``.name``; a
    lookup of an unknown name is a ``ValueError`` listing the available ones and the closest."""

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind

    def add(self, item):
        """Register ``item`` under ``item.name`` (replacing one of the same name) and return it."""
        self[item.name] = item
        return item

    def names(self) -> list[str]:
        return sorted(self)

    def lookup(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise ValueError(f"unknown {self.kind} {name!r}; available: {', '.join(self.names())}"
                             f"{did_you_mean(name, self.names())}") from None
