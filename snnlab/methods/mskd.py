r"""MSKD: a multimodal teacher distils into an intensity-only student with HCKD + TCKD (Wang et al., IJCAI 2024).

The student SNN sees only the intensity frames of a clip; a frozen teacher sees intensity and event frames. The
student minimises

.. math:: \mathcal L = (1-\lambda_{KD})\,\underbrace{\tfrac1T\textstyle\sum_t \mathrm{CE}(O_s[t], y)}_{\mathcal L_{Cls}}
          + \lambda_{KD}\,\kappa\,\mathcal L_{HCKD} + \lambda_{KD}\,\kappa\,\mathcal L_{TCKD}

(:func:`snnlab.losses.mskd_hckd_loss`, :func:`snnlab.losses.mskd_tckd_loss`), with :math:`\lambda_{KD}` rising over
training
(:func:`snnlab.losses.curriculum_alpha`). Switching terms off gives the paper's ablations: CE only (the baseline
student), +TCKD, +HCKD, both.

The paper's equation has :math:`\kappa = 1`. Compared in probability space with an MSE averaged over classes, the
distillation terms then pull on the student's outputs far more weakly than the cross entropy does (a probability
difference is at most 1 and is divided by the number of classes), so the teacher barely acts;
:func:`output_gradient_norms` measures each term's pull, and ``kd_weight`` (:math:`\kappa`) rescales the two terms.
"""
from __future__ import annotations

import torch
from torch import nn

from ..layout import mean_over_time
from ..losses import curriculum_alpha, mskd_hckd_loss, mskd_tckd_loss
from ..losses.tet import per_step_ce
from .base import FrozenTeacher, SpikingMethod

__all__ = ["MSKD", "ABLATIONS", "output_gradient_norms"]

ABLATIONS = {"ce": (False, False), "tckd": (False, True), "hckd": (True, False), "both": (True, True)}
"""The paper's ablation arms: name → (use HCKD, use TCKD)."""


class MSKD(FrozenTeacher, SpikingMethod):
    r"""Train an intensity-only ``student`` SNN, optionally distilled from a frozen multimodal ``teacher``.

    Inputs are dicts of time-major clips (``{"frames": [T, N, 1, H, W], "events": [T, N, C, H, W]}``, as the
    ``eye`` and ``see`` data sets give them with ``modality="both"``); the student reads ``inputs[student_input]``,
    the teacher the whole dict. Loss terms: ``cls`` = :math:`(1-\lambda_{KD})\mathcal L_{Cls}` (just
    :math:`\mathcal L_{Cls}` when no distillation term is on), ``hckd`` = :math:`\lambda_{KD}\mathcal L_{HCKD}`,
    ``tckd`` = :math:`\lambda_{KD}\mathcal L_{TCKD}`. :math:`\lambda_{KD}` is updated at the start of every epoch by
    the trainer
    (:meth:`on_epoch_start`) from ``alpha_schedule``. The teacher is kept in eval mode with ``requires_grad=False``
    and runs under ``torch.no_grad``; it receives no gradient and is not updated.

    Args:
        student: SNN mapping ``[T, N, 1, H, W]`` to per-step outputs ``[T, N, C]``.
        teacher: multimodal SNN mapping the input dict to ``[T, N, C]`` (required when a distillation term is on).
        T: time steps (the clip length).
        hckd, tckd: which distillation terms to use (see :data:`ABLATIONS`).
        space: ``"probs"`` (default) or ``"logits"``: what HCKD/TCKD compare.
        kd_weight: :math:`\kappa`, the factor on both distillation terms (1 in the paper's equation).
        alpha_schedule: ``epoch -> alpha``; default :func:`~snnlab.losses.curriculum_alpha` (0.5, +0.1 every 30
            epochs, capped at 0.9).
        student_input: key of the student's modality in the input dict.
    """

    def __init__(self, student: nn.Module, teacher: nn.Module | None = None, T: int = 4, hckd: bool = True,
                 tckd: bool = True, space: str = "probs", alpha_schedule=None, student_input: str = "frames",
                 kd_weight: float = 1.0):
        super().__init__(student, T)
        if (hckd or tckd) and teacher is None:
            raise ValueError("HCKD and TCKD need a teacher; pass teacher=... or hckd=tckd=False for the baseline")
        if not kd_weight > 0:
            raise ValueError(f"kd_weight must be positive, got {kd_weight}")
        self.kd_weight = float(kd_weight)
        self.set_teacher(teacher)
        self.use_hckd, self.use_tckd, self.space = hckd, tckd, space
        self.alpha_schedule = alpha_schedule or curriculum_alpha
        self.student_input = student_input
        self.alpha = self.alpha_schedule(1)

    def on_epoch_start(self, epoch: int) -> None:
        self.alpha = float(self.alpha_schedule(epoch))

    def student_sequence(self, inputs: dict) -> torch.Tensor:
        if not isinstance(inputs, dict) or self.student_input not in inputs:
            raise ValueError(f"MSKD takes a dict of modalities with key {self.student_input!r} (use the eye/see data "
                             f"sets with modality='both'), got {type(inputs).__name__}")
        return self.model(inputs[self.student_input])

    def loss_terms(self, out_seq: torch.Tensor, inputs: dict, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        """The weighted loss terms (``cls``, ``hckd``, ``tckd``) of the student's per-step outputs ``out_seq``."""
        distilling = self.use_hckd or self.use_tckd
        cls = per_step_ce(out_seq, targets)
        losses = {"cls": (1.0 - self.alpha) * cls if distilling else cls}
        if distilling:
            with torch.no_grad():
                teacher_seq = self.teacher(inputs)
            weight = self.alpha * self.kd_weight
            if self.use_hckd:
                losses["hckd"] = weight * mskd_hckd_loss(out_seq, teacher_seq, targets, self.space)
            if self.use_tckd:
                losses["tckd"] = weight * mskd_tckd_loss(out_seq, teacher_seq, self.space)
        return losses

    def forward(self, inputs, targets):
        out_seq = self.student_sequence(inputs)
        return mean_over_time(out_seq), self.loss_terms(out_seq, inputs, targets)

    def extra_repr(self) -> str:
        return f"hckd={self.use_hckd}, tckd={self.use_tckd}, space={self.space!r}, kd_weight={self.kd_weight:g}"

    @torch.no_grad()
    def predict(self, inputs):
        return mean_over_time(self.student_sequence(inputs))


def output_gradient_norms(method: MSKD, inputs: dict, targets: torch.Tensor) -> dict[str, float]:
    r"""How hard each weighted loss term pulls on the student's outputs: :math:`\lVert \partial \ell /
    \partial O_s \rVert_2` over all steps, samples and classes, for each term :math:`\ell` of
    :meth:`MSKD.loss_terms` on one batch (the method's current :math:`\lambda_{KD}` and mode; no parameter is touched).

    Every term reaches the weights only through :math:`O_s`, so the ratio of two norms is the ratio of the
    terms' shares of the training signal.
    """
    out_seq = method.student_sequence(inputs).detach().requires_grad_(True)
    losses = method.loss_terms(out_seq, inputs, targets)
    return {name: torch.autograd.grad(loss, out_seq, retain_graph=True)[0].norm().item()
            for name, loss in losses.items()}
