r"""Synergistic knowledge distillation for SNNs: hit-consistency (HCKD) and temporal-consistency (TCKD) losses.

Wang et al., *Apprenticeship-Inspired Elegance: Synergistic Knowledge Distillation Empowers Spiking Neural Networks
for Efficient Single-Eye Emotion Recognition*, IJCAI 2024 (MSKD). A student SNN and a teacher SNN each give a
sequence of per-step classifier outputs :math:`O[t] \in \mathbb R^{N \times C}`, :math:`t = 1..T`; the student is
trained with

.. math:: \mathcal L = (1-\lambda_{KD})\,\mathcal L_{Cls} + \lambda_{KD}\,\mathcal L_{HCKD} + \lambda_{KD}\,\mathcal L_{TCKD},

where :math:`\mathcal L_{Cls}` is TET's per-step cross entropy and :math:`\lambda_{KD}` follows a curriculum
(:func:`curriculum_alpha`). Both distillation terms compare *representations* of the outputs: probabilities
:math:`\mathrm{softmax}(O[t])` by default (the uniform fallback of HCKD, :math:`1/N_c`, is a probability vector),
or raw logits with ``space="logits"``. The teacher is a fixed target: its outputs are detached, so no gradient
reaches it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["hit_signal", "mskd_hckd_loss", "mskd_tckd_loss", "curriculum_alpha", "SPACES"]

SPACES = ("probs", "logits")
"""What the distillation terms compare: softmax probabilities (default) or raw per-step logits."""


def _represent(out_seq: torch.Tensor, space: str) -> torch.Tensor:
    if space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {space!r}")
    if out_seq.dim() != 3:
        raise ValueError(f"expected per-step outputs [T, N, C], got shape {tuple(out_seq.shape)}")
    return out_seq.softmax(-1) if space == "probs" else out_seq


def _check_pair(student_seq: torch.Tensor, teacher_seq: torch.Tensor) -> None:
    if student_seq.shape != teacher_seq.shape:
        raise ValueError(f"student and teacher outputs must both be [T, N, C] with the same shape, got "
                         f"{tuple(student_seq.shape)} and {tuple(teacher_seq.shape)}")


def hit_signal(out_seq: torch.Tensor, target: torch.Tensor, space: str = "probs") -> torch.Tensor:
    r"""The "correct prediction signal" of one network: per sample, the mean output over the steps it gets right.

    .. math::

        h_n = \frac{1}{n_{hit}}\sum_{t:\ \arg\max_c O[t]_{n,c} = y_n} \tilde O[t]_n, \qquad
        n_{hit} = \big|\{t: \arg\max_c O[t]_{n,c} = y_n\}\big|,

    for sample :math:`n`, with :math:`\tilde O` the outputs in ``space`` (softmax probabilities or logits) and
    :math:`h_n = 1/N_c` (every entry) when :math:`n_{hit} = 0` (MSKD, eqs. 4–5). Correctness is judged on the arg-max,
    which is the same
    in both spaces.

    Args:
        out_seq: per-step outputs ``[T, N, C]`` (logits).
        target: labels ``[N]``.
        space: ``"probs"`` or ``"logits"``.

    Returns:
        ``[N, C]``.
    """
    values = _represent(out_seq, space)
    if target.shape != out_seq.shape[1:2]:
        raise ValueError(f"target must be [N] = [{out_seq.shape[1]}], got shape {tuple(target.shape)}")
    hits = (out_seq.argmax(-1) == target.unsqueeze(0)).to(values.dtype)           # [T, N]
    count = hits.sum(0)                                                            # C_n
    summed = (hits.unsqueeze(-1) * values).sum(0)                                  # [N, C]
    uniform = torch.full_like(summed, 1.0 / out_seq.shape[-1])
    return torch.where(count.unsqueeze(-1) > 0, summed / count.clamp(min=1).unsqueeze(-1), uniform)


def mskd_hckd_loss(student_seq: torch.Tensor, teacher_seq: torch.Tensor, target: torch.Tensor,
              space: str = "probs") -> torch.Tensor:
    r"""Hit-consistency distillation: :math:`\mathcal L_{HCKD} = \mathrm{MSE}(h_s, h_t)` (MSKD, eq. 3).

    :math:`h` is :func:`hit_signal` of each network (the mean output over the steps where that network predicts
    the label, or :math:`1/N_c` if it never does); the MSE averages over samples and classes. The teacher is
    detached.

    Args:
        student_seq, teacher_seq: per-step outputs ``[T, N, C]`` (logits).
        target: labels ``[N]``.
        space: ``"probs"`` (default) or ``"logits"``.
    """
    _check_pair(student_seq, teacher_seq)
    return F.mse_loss(hit_signal(student_seq, target, space), hit_signal(teacher_seq.detach(), target, space))


def mskd_tckd_loss(student_seq: torch.Tensor, teacher_seq: torch.Tensor, space: str = "probs") -> torch.Tensor:
    r"""Temporal-consistency distillation: :math:`\mathcal L_{TCKD} = \frac1T\sum_t \mathrm{MSE}(O_s[t],
    O_t[t])` (MSKD, eq. 6).

    Every step is matched, whether the teacher is right or not; each per-step MSE averages over samples and classes.
    The teacher is detached.

    Args:
        student_seq, teacher_seq: per-step outputs ``[T, N, C]`` (logits).
        space: ``"probs"`` (default) or ``"logits"``.
    """
    _check_pair(student_seq, teacher_seq)
    return F.mse_loss(_represent(student_seq, space), _represent(teacher_seq.detach(), space))


def curriculum_alpha(epoch: int, start: float = 0.5, step: float = 0.1, period: int = 30, cap: float = 0.9) -> float:
    r"""MSKD's curriculum weight: :math:`\lambda_{KD} = \min(\text{start} + \text{step}\cdot\lfloor (e-1)/P \rfloor,
    \text{cap})` at epoch :math:`e` (1-based).

    The paper starts at 0.5 and adds 0.1 every 30 epochs; it does not say what happens past 1, where the
    classification loss would vanish, so :math:`\lambda_{KD}` is capped (default 0.9). Short runs scale ``period`` to
    their length.
    """
    if epoch < 1:
        raise ValueError(f"epochs are counted from 1, got {epoch}")
    if period < 1:
        raise ValueError(f"period must be >= 1 epoch, got {period}")
    if not 0.0 <= start <= cap <= 1.0:
        raise ValueError(f"need 0 <= start <= cap <= 1, got start={start}, cap={cap}")
    return min(start + step * ((epoch - 1) // period), cap)
