r"""Logit distillation losses (Hinton et al., 2015), as used by KDSNN, LaSNN, Joint A-SNN and SpikingBERT."""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["kd_loss", "response_kd_terms", "soft_cross_entropy"]


def _check_pair(student: torch.Tensor, teacher: torch.Tensor, tau: float) -> None:
    if student.shape != teacher.shape:
        raise ValueError(
            f"student and teacher outputs must have the same shape, got {tuple(student.shape)} and "
            f"{tuple(teacher.shape)}; aggregate SNN outputs over time first (e.g. out_seq.mean(0))"
        )
    if not tau > 0:
        raise ValueError(f"temperature tau must be positive, got {tau}")


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, tau: float = 4.0) -> torch.Tensor:
    r"""Temperature-scaled KL divergence from the teacher's to the student's softened distribution.

    .. math::

        \mathcal L_{KD} = \mathcal T^2\,\mathrm{KL}\big(\mathrm{softmax}(z_t/\mathcal T)\,\|\,
                          \mathrm{softmax}(z_s/\mathcal T)\big)
                        = \mathcal T^2 \frac1N\sum_n\sum_c p^t_{nc}\,\big(\log p^t_{nc} - \log p^s_{nc}\big)

    The :math:`\mathcal T^2` factor keeps gradient magnitudes comparable across temperatures (Hinton et al., 2015).
    The teacher is not detached here: pass ``teacher_logits.detach()`` for a frozen teacher.

    Args:
        student_logits, teacher_logits: ``[N, C]`` (or any ``[..., C]``; all leading dims are averaged).
        tau: temperature :math:`\mathcal T > 0`.
    """
    _check_pair(student_logits, teacher_logits, tau)
    log_p_s = F.log_softmax(student_logits / tau, dim=-1).flatten(0, -2)
    log_p_t = F.log_softmax(teacher_logits / tau, dim=-1).flatten(0, -2)
    return tau**2 * F.kl_div(log_p_s, log_p_t, reduction="batchmean", log_target=True)


def response_kd_terms(student_logits: torch.Tensor, teacher_logits: torch.Tensor, targets: torch.Tensor,
                      alpha: float, tau: float) -> dict[str, torch.Tensor]:
    r"""The two terms of response-based distillation (Hinton et al., 2015), as loss terms ``ce`` and ``kd``:

    .. math:: (1-\lambda_{KD})\,\mathrm{CE}(z_s, y) \;+\; \lambda_{KD}\,\mathcal T^2\,
              \mathrm{KL}\big(\mathrm{softmax}(z_t/\mathcal T)\,\|\,\mathrm{softmax}(z_s/\mathcal T)\big)

    with the weight :math:`\lambda_{KD}` (``alpha``) and the temperature :math:`\mathcal T` (``tau``).

    ``teacher_logits`` are used as given (detach them, or compute them under ``torch.no_grad``, for a frozen
    teacher).
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    return {"ce": (1.0 - alpha) * F.cross_entropy(student_logits, targets),
            "kd": alpha * kd_loss(student_logits, teacher_logits, tau)}


def soft_cross_entropy(student_logits: torch.Tensor, teacher_logits: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    r"""Cross entropy against the teacher's soft labels (TinyBERT / SpikingBERT prediction-layer distillation).

    .. math:: \mathcal L_{SCE} = -\frac1N\sum_n\sum_c \mathrm{softmax}(z_t/\mathcal T)_{nc}\,
              \log\mathrm{softmax}(z_s/\mathcal T)_{nc}

    It differs from :func:`kd_loss` by the teacher's entropy (constant in the student) and the :math:`\mathcal T^2`
    factor.
    """
    _check_pair(student_logits, teacher_logits, tau)
    p_t = F.softmax(teacher_logits / tau, dim=-1)
    return -(p_t * F.log_softmax(student_logits / tau, dim=-1)).sum(-1).mean()
