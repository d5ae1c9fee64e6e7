r"""DKD: decoupled knowledge distillation from a frozen teacher into a spiking student (Zhao, Cui, Song, Qiu & Liang,
"Decoupled Knowledge Distillation", CVPR 2022).

With :math:`z_s = \frac1T\sum_t O_s[t]` the student's time-aggregated output and :math:`z_t` the teacher's logits,
at epoch :math:`e` (counted from 1):

.. math:: \mathcal L = \mathrm{CE}(z_s, y) + \min\!\big(e / e_{warm},\ 1\big)\,
          \big(\lambda_{TCKD}\,\mathcal T^2\,\mathrm{TCKD} + \lambda_{NCKD}\,\mathcal T^2\,\mathrm{NCKD}\big)

(:func:`snnlab.losses.decoupled_kd`). The linear warm-up of the distillation weight over the first :math:`e_{warm}`
epochs is the official code's (20 of 240 epochs on CIFAR-100); the paper's :math:`\lambda_{TCKD} = 1`, :math:`\lambda_{NCKD} = 8`,
:math:`\mathcal T = 4` are the defaults.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..layout import mean_over_time
from ..losses.dkd import decoupled_kd
from .base import FrozenTeacher, SpikingMethod

__all__ = ["DKD"]


class DKD(FrozenTeacher, SpikingMethod):
    """Decoupled KD into an SNN student (module docstring). Loss terms: ``ce``, ``dkd_tckd``, ``dkd_nckd`` (the last
    two already scaled by the warm-up factor, updated by the trainer at every epoch start)."""

    def __init__(self, model: nn.Module, teacher: nn.Module, T: int, alpha: float = 1.0, beta: float = 8.0,
                 tau: float = 4.0, warmup_epochs: float = 20.0, encoding: str = "direct"):
        super().__init__(model, T, encoding)
        if not tau > 0 or alpha < 0 or beta < 0 or not warmup_epochs > 0:
            raise ValueError(f"need tau > 0, alpha >= 0, beta >= 0 and warmup_epochs > 0, got tau={tau}, "
                             f"alpha={alpha}, beta={beta}, warmup_epochs={warmup_epochs}")
        self.alpha, self.beta, self.tau, self.warmup_epochs = alpha, beta, tau, warmup_epochs
        self.warmup = min(1.0 / warmup_epochs, 1.0)
        self.set_teacher(teacher)

    def on_epoch_start(self, epoch: int) -> None:
        """The warm-up factor :math:`\\min(e / e_{warm}, 1)` of epoch ``epoch`` (from 1)."""
        self.warmup = min(epoch / self.warmup_epochs, 1.0)

    def forward(self, inputs, targets):
        z_s = mean_over_time(self.output_sequence(inputs))
        with torch.no_grad():
            z_t = self.teacher(inputs)
        terms = decoupled_kd(z_s, z_t, targets, self.alpha, self.beta, self.tau)
        return z_s, {"ce": F.cross_entropy(z_s, targets), **{k: self.warmup * v for k, v in terms.items()}}
