r"""LaSNN: layer-wise ANN-to-SNN distillation (Hong, Shen, Qi & Wang).

Three stages: (1) a large teacher ANN (with biases and BN) is trained; (2) a small bias-free, BN-free ANN with
average pooling, the student's architecture, is trained and converted to an SNN by threshold balancing
(:func:`snnlab.conversion.threshold_balance.convert_by_threshold_balancing`) — this initialises the student;
(3) the student SNN, fed a Poisson (rate) code of the image, is trained with surrogate gradients against the
labels, the teacher's soft labels and the teacher's attention at three levels (low, middle, high: the ends of the
first three stages):

.. math:: \mathcal L = \mathrm{CE}(z_s, y) + \lambda_{KD}\,\mathcal T^2\,
          \mathrm{KL}\big(\mathrm{softmax}(z_t/\mathcal T)\,\|\,\mathrm{softmax}(z_s/\mathcal T)\big)
          + \lambda_{AT}\,\mathcal L_{AT} + \lambda_{GAT}\,\mathcal L_{GAT},

with :math:`z_s = \frac1T\sum_t O_s[t]`. :math:`\mathcal L_{AT}` (:func:`snnlab.losses.attention.attention_loss`)
compares the activation attention :math:`\sum_c |F_c|^2` of the teacher's ReLU outputs with that of the student's
firing rates; :math:`\mathcal L_{GAT}` compares the teacher's gradient attention
:math:`\sum_c|\partial\mathcal L_{CE}/\partial F_c|` with the student's spike activation map. The paper leaves the
weights and the exact place of the teacher's gradient open: here it is taken at the same three levels as the
activations (the sensitivity of the teacher's loss to each level's features) and both terms can be switched on or
off (``attention``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..energy import NEURON_TYPES
from ..hooks import FeatureCapture
from ..layout import mean_over_time
from ..losses.attention import (activation_attention, attention_loss, gradient_attention,
                                spike_activation_map)
from ..losses.kd import kd_loss
from .base import FrozenTeacher, SpikingMethod
from .kdsnn import last_in_stage

__all__ = ["LaSNN", "ATTENTIONS", "attention_levels"]

ATTENTIONS = {"none": (False, False), "activation": (True, False), "gradient": (False, True), "both": (True, True)}
"""``attention`` option → (activation-based term on, gradient-based term on)."""


def attention_levels(student: nn.Module, teacher: nn.Module, levels: int = 3) -> tuple[tuple[str, str], ...]:
    """``(student neuron path, teacher ReLU path)`` at the end of each of the first ``levels`` stages of two
    snnlab models (``stage_names``): the spikes and activations the attention maps are made of."""
    s_stages, t_stages = getattr(student, "stage_names", ()), getattr(teacher, "stage_names", ())
    if len(s_stages) < levels or len(t_stages) < levels:
        raise ValueError(f"{levels} attention levels need {levels} stages in both models; the student has "
                         f"{len(s_stages)} and the teacher {len(t_stages)} (stage_names), or pass levels=...")
    return tuple((last_in_stage(student, s, NEURON_TYPES), last_in_stage(teacher, t, (nn.ReLU,)))
                 for s, t in zip(s_stages[:levels], t_stages[:levels]))


class LaSNN(FrozenTeacher, SpikingMethod):
    r"""Train ``student`` with LaSNN's layer-wise attention distillation and logit KD from a frozen ``teacher``.

    Loss terms: ``ce``, ``kd`` = :math:`\lambda_{KD}\mathcal T^2\mathrm{KL}`, ``at`` =
    :math:`\lambda_{AT}\mathcal L_{AT}`, ``gat`` = :math:`\lambda_{GAT}\mathcal L_{GAT}` (module docstring); a term
    with weight 0 (or switched off) is left out. With
    no teacher the method is plain CE training of the student (the conversion-initialised baseline).

    Args:
        student: SNN mapping ``[T, N, ...]`` to ``[T, N, C]`` (initialised by conversion, see the module doc).
        teacher: ANN mapping ``[N, ...]`` to ``[N, C]``.
        T: time steps of the rate code.
        alpha, tau: logit KD weight :math:`\lambda_{KD}` and temperature :math:`\mathcal T`.
        beta, beta_grad: weights :math:`\lambda_{AT}`, :math:`\lambda_{GAT}` of the activation- and gradient-based
            attention terms.
        attention: which attention terms (see :data:`ATTENTIONS`).
        gamma: SAM decay rate: each step multiplies an earlier spike's weight by :math:`\rho` = ``exp(-gamma)``.
        levels: ``(student neuron path, teacher ReLU path)`` pairs (default :func:`attention_levels`).
        encoding: ``"poisson"`` (LaSNN) or another snnlab encoding.
    """

    def __init__(self, student: nn.Module, teacher: nn.Module | None = None, T: int = 8, alpha: float = 1.0,
                 tau: float = 4.0, beta: float = 1.0, beta_grad: float = 1.0, attention: str = "both",
                 gamma: float = 0.5, levels: "tuple[tuple[str, str], ...] | None" = None,
                 encoding: str = "poisson"):
        super().__init__(student, T, encoding)
        if attention not in ATTENTIONS:
            raise ValueError(f"unknown attention {attention!r}; choose one of {sorted(ATTENTIONS)}")
        if min(alpha, beta, beta_grad) < 0 or not tau > 0:
            raise ValueError(f"weights must be >= 0 and tau > 0; got alpha={alpha}, beta={beta}, "
                             f"beta_grad={beta_grad}, tau={tau}")
        use_act, use_grad = ATTENTIONS[attention]
        self.alpha, self.tau, self.gamma = alpha, tau, gamma
        self.beta, self.beta_grad = (beta if use_act else 0.0), (beta_grad if use_grad else 0.0)
        self.set_teacher(teacher)
        self.levels: tuple[tuple[str, str], ...] = ()
        if teacher is not None and (self.beta or self.beta_grad):
            self.levels = tuple(levels) if levels is not None else attention_levels(student, teacher)

    def teacher_signals(self, images: torch.Tensor, targets: torch.Tensor):
        """Teacher logits, activation attention maps and gradient attention maps (detached) at the levels."""
        paths = [t for _, t in self.levels]
        if not paths:                                           # logit KD only
            with torch.no_grad():
                return self.teacher(images), [], []
        x = images.detach().clone().requires_grad_(bool(self.beta_grad))
        with torch.enable_grad() if self.beta_grad else torch.no_grad():
            with FeatureCapture(self.teacher, paths) as cap:
                logits = self.teacher(x)
            features = [cap.features[p] for p in paths]
            grads = (torch.autograd.grad(F.cross_entropy(logits, targets), features) if self.beta_grad
                     else [None] * len(features))
        activation = [activation_attention(f.detach()) for f in features]
        gradient = [gradient_attention(g) if g is not None else None for g in grads]
        return logits.detach(), activation, gradient

    def forward(self, inputs, targets):
        paths = [s for s, _ in self.levels]
        if paths:
            with FeatureCapture(self.model, paths) as cap:
                out_seq = self.output_sequence(inputs)
            spikes = [cap.features[p] for p in paths]
        else:
            out_seq = self.output_sequence(inputs)
        z_s = mean_over_time(out_seq)
        losses = {"ce": F.cross_entropy(z_s, targets)}
        if self.teacher is None:
            return z_s, losses
        z_t, teacher_act, teacher_grad = self.teacher_signals(inputs, targets)
        if self.alpha:
            losses["kd"] = self.alpha * kd_loss(z_s, z_t, self.tau)
        if self.beta:
            losses["at"] = self.beta * attention_loss([activation_attention(s.mean(0)) for s in spikes], teacher_act)
        if self.beta_grad:
            losses["gat"] = self.beta_grad * attention_loss(
                [spike_activation_map(s, self.gamma) for s in spikes], teacher_grad)
        return z_s, losses
