"""Suggestions for misspelled names in error messages (data sets, reproductions, models, presets, ...)."""
from __future__ import annotations

import difflib
from typing import Iterable

__all__ = ["did_you_mean"]


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
