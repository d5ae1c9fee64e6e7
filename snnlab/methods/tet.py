"""TET (Deng et al., ICLR 2022) and the standard direct-training baseline it is compared with."""
from __future__ import annotations

from torch import nn

from ..layout import mean_over_time
from ..losses import mean_output_ce
from ..losses.tet import output_regulariser, per_step_ce
from .base import SpikingMethod

__all__ = ["TET", "MeanOutputCE"]


class TET(SpikingMethod):
    r"""Temporal Efficient Training: supervise every time step (see :func:`snnlab.losses.tet_loss`).

    Loss terms: ``ce`` = :math:`(1-\lambda_{TET})\,\frac1T\sum_t \mathrm{CE}(O[t], y)` and ``mse`` =
    :math:`\lambda_{TET}\,\mathrm{MSE}(O, \phi)`.
    """

    def __init__(self, model: nn.Module, T: int, lam: float = 1e-3, phi: float = 1.0, encoding: str = "direct"):
        super().__init__(model, T, encoding)
        if not 0.0 <= lam <= 1.0:
            raise ValueError(f"lam must lie in [0, 1], got {lam}")
        self.lam, self.phi = lam, phi

    def forward(self, inputs, targets):
        out_seq = self.output_sequence(inputs)
        losses = {"ce": (1.0 - self.lam) * per_step_ce(out_seq, targets)}
        if self.lam:
            losses["mse"] = self.lam * output_regulariser(out_seq, self.phi)
        return mean_over_time(out_seq), losses


class MeanOutputCE(SpikingMethod):
    r"""Standard direct training (SDT): cross entropy on the time-averaged output (:func:`snnlab.losses.mean_output_ce`)."""

    def forward(self, inputs, targets):
        out_seq = self.output_sequence(inputs)
        return mean_over_time(out_seq), {"ce": mean_output_ce(out_seq, targets)}
