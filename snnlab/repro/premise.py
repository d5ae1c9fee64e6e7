"""The premise of a reproduced claim: the condition the claim depends on, measured from a record's arms."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

__all__ = ["Premise", "arm_value", "arm_gap"]


@dataclass(frozen=True)
class Premise:
    """The condition a paper's claim depends on, measured in the same run as the claim.

    ``measure(arms)`` computes the measured quantity from the record's arms (``{arm: {"mean", "per_seed",
    "metrics", ...}}``, in the metric's units); the premise holds when it is ``>= threshold`` (``<=`` with
    ``at_most``). Example: "the teacher beats the student trained alone by at least 3 points" is
    ``Premise(statement, lambda arms: arms["teacher"]["mean"] - arms["student"]["mean"], 3.0)``. When a premise
    does not hold, the run cannot test the claim and its verdict is ``"premise not met"``.
    """

    statement: str
    measure: Callable[[dict], float]
    threshold: float
    at_most: bool = False

    def assess(self, arms: dict) -> dict:
        """``{"statement", "measured", "threshold", "holds"}``; ``measured`` and ``holds`` are ``None`` when the
        record lacks an arm or metric the premise needs."""
        try:
            measured = float(self.measure(arms))
        except KeyError:
            measured = None
        holds = None if measured is None else (measured <= self.threshold if self.at_most
                                               else measured >= self.threshold)
        return {"statement": self.statement, "measured": measured, "threshold": self.threshold,
                "comparison": "<=" if self.at_most else ">=", "holds": holds}


def arm_value(arms: dict, quantity: str) -> float:
    """The mean of ``quantity`` in a record's arms: ``"arm"`` (its metric) or ``"arm:metric"`` (a further metric)."""
    arm, _, metric = quantity.partition(":")
    return (arms[arm]["metrics"][metric] if metric else arms[arm])["mean"]


def arm_gap(better: str, worse: str) -> Callable[[dict], float]:
    """A premise's ``measure``: :func:`arm_value` of ``better`` minus that of ``worse``."""
    return lambda arms: arm_value(arms, better) - arm_value(arms, worse)
