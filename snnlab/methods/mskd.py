r"""MSKD: a multimodal teacher distils into an intensity-only student with HCKD + TCKD (Wang et al., IJCAI 2024).

The student SNN sees only the intensity frames of a clip; a frozen teacher sees intensity and event frames. The
student minimises

.. math:: \mathcal L = (1-\alpha)\,\underbrace{\tfrac1T\textstyle\sum_t \mathrm{CE}(O_{stu}(t), y)}_{\mathcal L_{Cls}}
          + \alpha\,\mathcal L_{HCKD} + \alpha\,\mathcal L_{TCKD}

(:func:`snnlab.losses.hckd_loss`, :func:`snnlab.losses.tckd_loss`), with :math:`\alpha` rising over training
(:func:`snnlab.losses.curriculum_alpha`). Switching terms off gives the paper's ablations: CE only (the baseline
student), +TCKD, +HCKD, both.
"""
from __future__ import annotations

import torch
from torch import nn

from ..layout import mean_over_time
from ..losses import curriculum_alpha, hckd_loss, tckd_loss
from ..losses.tet import per_step_ce
from .base import FrozenTeacher, SpikingMethod

__all__ = ["MSKD", "ABLATIONS"]

ABLATIONS = {"ce": (False, False), "tckd": (False, True), "hckd": (True, False), "both": (True, True)}
"""The paper's ablation arms: name → (use HCKD, use TCKD)."""


class MSKD(FrozenTeacher, SpikingMethod):
    r"""Train an intensity-only ``student`` SNN, optionally distilled from a frozen multimodal ``teacher``.

    Inputs are dicts of time-major clips (``{"frames": [T, N, 1, H, W], "events": [T, N, C, H, W]}``, as the
    ``eye`` and ``see`` data sets give them with ``modality="both"``); the student reads ``inputs[student_input]``,
    the teacher the whole dict. Loss terms: ``cls`` = :math:`(1-\alpha)\mathcal L_{Cls}` (just
    :math:`\mathcal L_{Cls}` when no distillation term is on), ``hckd`` = :math:`\alpha\mathcal L_{HCKD}`,
    ``tckd`` = :math:`\alpha\mathcal L_{TCKD}`. :math:`\alpha` is updated at the start of every epoch by the trainer
    (:meth:`on_epoch_start`) from ``alpha_schedule``. The teacher is kept in eval mode with ``requires_grad=False``
    and runs under ``torch.no_grad``; it receives no gradient and is not updated.

    Args:
        student: SNN mapping ``[T, N, 1, H, W]`` to per-step outputs ``[T, N, C]``.
        teacher: multimodal SNN mapping the input dict to ``[T, N, C]`` (required when a distillation term is on).
        T: time steps (the clip length).
        hckd, tckd: which distillation terms to use (see :data:`ABLATIONS`).
        space: ``"probs"`` (default) or ``"logits"``: what HCKD/TCKD compare.
        alpha_schedule: ``epoch -> alpha``; default :func:`~snnlab.losses.curriculum_alpha` (0.5, +0.1 every 30
            epochs, capped at 0.9).
        student_input: key of the student's modality in the input dict.
    """

    def __init__(self, student: nn.Module, teacher: nn.Module | None = None, T: int = 4, hckd: bool = True,
                 tckd: bool = True, space: str = "probs", alpha_schedule=None, student_input: str = "frames"):
        super().__init__(student, T)
        if (hckd or tckd) and teacher is None:
            raise ValueError("HCKD and TCKD need a teacher; pass teacher=... or hckd=tckd=False for the baseline")
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

    def forward(self, inputs, targets):
        out_seq = self.student_sequence(inputs)
        distilling = self.use_hckd or self.use_tckd
        cls = per_step_ce(out_seq, targets)
        losses = {"cls": (1.0 - self.alpha) * cls if distilling else cls}
        if distilling:
            with torch.no_grad():
                teacher_seq = self.teacher(inputs)
            if self.use_hckd:
                losses["hckd"] = self.alpha * hckd_loss(out_seq, teacher_seq, targets, self.space)
            if self.use_tckd:
                losses["tckd"] = self.alpha * tckd_loss(out_seq, teacher_seq, self.space)
        return mean_over_time(out_seq), losses

    @torch.no_grad()
    def predict(self, inputs):
        return mean_over_time(self.student_sequence(inputs))
