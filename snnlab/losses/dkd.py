r"""Decoupled knowledge distillation (DKD; Zhao, Cui, Song, Qiu & Liang, "Decoupled Knowledge Distillation",
CVPR 2022).

With :math:`p = \mathrm{softmax}(z/\mathcal T)` the softened class distribution of the logits :math:`z` and :math:`y`
the target
class, DKD splits the classical KD loss into two parts:

* **target-class KD** (TCKD): the KL divergence between the binary distributions
  :math:`b = (p_y,\ 1 - p_y)` of teacher and student — how confident each is in the target class;
* **non-target-class KD** (NCKD): the KL divergence between the distributions
  :math:`\hat p_c = p_c / (1 - p_y)` over the non-target classes :math:`c \ne y` — how each ranks the wrong classes.

They add up to the classical KL, with NCKD weighted by the teacher's non-target mass:

.. math:: \mathrm{KL}(p^t \| p^s) = \mathrm{TCKD} + (1 - p^t_y)\,\mathrm{NCKD},

so a confident teacher (:math:`p^t_y \to 1`) suppresses NCKD in classical KD. DKD weights the two freely,

.. math:: \mathcal L_{DKD} = \lambda_{TCKD}\,\mathcal T^2\,\mathrm{TCKD} + \lambda_{NCKD}\,\mathcal T^2\,\mathrm{NCKD},

with :math:`\lambda_{TCKD} = 1`, :math:`\lambda_{NCKD} = 8`, :math:`\mathcal T = 4` on CIFAR-100, added to the
student's cross entropy.
The names are qualified by the paper (``dkd_tckd``, ``dkd_nckd``): MSKD's TCKD (:func:`snnlab.losses.mskd_tckd_loss`) is
another loss.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["decoupled_kd", "dkd_parts"]


def _check(student_logits: torch.Tensor, teacher_logits: torch.Tensor, targets: torch.Tensor, tau: float) -> None:
    if student_logits.dim() != 2 or student_logits.shape != teacher_logits.shape:
        raise ValueError(f"DKD needs student and teacher logits of the same shape [N, C], got "
                         f"{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}; aggregate SNN outputs "
                         "over time first (e.g. out_seq.mean(0))")
    if student_logits.shape[1] < 3:
        raise ValueError(f"DKD needs at least 3 classes (NCKD compares the non-target classes), got "
                         f"{student_logits.shape[1]}")
    if targets.shape != student_logits.shape[:1]:
        raise ValueError(f"targets must be class indices of shape [{student_logits.shape[0]}], got "
                         f"{tuple(targets.shape)}")
    if not tau > 0:
        raise ValueError(f"temperature tau must be positive, got {tau}")


def _binary_and_rest(logits: torch.Tensor, target_mask: torch.Tensor, tau: float):
    r"""Log-probabilities of :math:`b = (p_y, 1 - p_y)` ``[N, 2]`` and of :math:`\hat p` over the non-target classes
    ``[N, C]`` (:math:`-\infty` at the target), all from ``log_softmax`` (no log of a difference)."""
    log_p = F.log_softmax(logits / tau, dim=1)
    log_target = log_p.masked_select(target_mask)                                   # log p_t
    log_rest_mass = torch.logsumexp(log_p.masked_fill(target_mask, float("-inf")), dim=1)   # log (1 - p_t)
    log_rest = F.log_softmax((logits / tau).masked_fill(target_mask, float("-inf")), dim=1)  # log p_hat
    return torch.stack([log_target, log_rest_mass], dim=1), log_rest


def _kl_rows(log_p_teacher: torch.Tensor, log_p_student: torch.Tensor) -> torch.Tensor:
    """Per row, :math:`\\sum_c p^t_c (\\log p^t_c - \\log p^s_c)`; entries where the teacher's probability is 0 (a
    masked target class) contribute 0."""
    terms = log_p_teacher.exp() * (log_p_teacher - log_p_student)
    return torch.where(torch.isneginf(log_p_teacher), torch.zeros_like(terms), terms).sum(dim=1)


def dkd_parts(student_logits: torch.Tensor, teacher_logits: torch.Tensor, targets: torch.Tensor,
              tau: float = 4.0) -> dict[str, torch.Tensor]:
    r"""Per sample ``[N]``: ``"tckd"`` = :math:`\mathrm{KL}(b^t\|b^s)`, ``"nckd"`` =
    :math:`\mathrm{KL}(\hat p^t\|\hat p^s)` and ``"teacher_rest"`` = :math:`1 - p^t_y`, at temperature ``tau`` (no
    :math:`\mathcal T^2`), so that
    :math:`\mathrm{KL}(p^t\|p^s) = \mathrm{tckd} + \mathrm{teacher\_rest}\cdot\mathrm{nckd}`
    (module docstring)."""
    _check(student_logits, teacher_logits, targets, tau)
    mask = F.one_hot(targets, student_logits.shape[1]).bool()
    binary_s, rest_s = _binary_and_rest(student_logits, mask, tau)
    binary_t, rest_t = _binary_and_rest(teacher_logits, mask, tau)
    return {"tckd": _kl_rows(binary_t, binary_s), "nckd": _kl_rows(rest_t, rest_s),
            "teacher_rest": binary_t[:, 1].exp()}


def decoupled_kd(student_logits: torch.Tensor, teacher_logits: torch.Tensor, targets: torch.Tensor,
                 alpha: float = 1.0, beta: float = 8.0, tau: float = 4.0) -> dict[str, torch.Tensor]:
    r"""The DKD loss terms ``{"dkd_tckd": alpha tau² TCKD, "dkd_nckd": beta tau² NCKD}``, each averaged over the batch
    (module docstring; Zhao et al., CVPR 2022). ``teacher_logits`` are used as given: detach them, or compute them
    under ``torch.no_grad``, for a frozen teacher.

    Args:
        student_logits, teacher_logits: ``[N, C]`` with :math:`N_c \ge 3` classes.
        targets: class indices ``[N]``.
        alpha, beta: the weights :math:`\lambda_{TCKD}`, :math:`\lambda_{NCKD}` of TCKD and NCKD (1 and 8 in the
            paper's CIFAR-100 setting).
        tau: temperature :math:`\mathcal T > 0` (4 in the paper).
    """
    parts = dkd_parts(student_logits, teacher_logits, targets, tau)
    return {"dkd_tckd": alpha * tau**2 * parts["tckd"].mean(), "dkd_nckd": beta * tau**2 * parts["nckd"].mean()}
