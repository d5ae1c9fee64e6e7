r"""Attention transfer between an ANN and an SNN: LaSNN's layer-wise distillation (Hong et al.), after
Zagoruyko & Komodakis (ICLR 2017, "Paying More Attention to Attention").

An attention map summarises, for each spatial position of a layer, how much the network attends to it.

* **Activation-based** (:func:`activation_attention`): for a feature map :math:`F`,
  :math:`A(F) = \sum_c |F_c|^2`. The teacher's :math:`F` is its ReLU output, the student's its firing rate
  :math:`\frac1T\sum_t S[t]`.
* **Gradient-based**: the teacher's is its input sensitivity :math:`\sum_c |\partial\mathcal L/\partial F_c|`
  (:func:`gradient_attention`); the student's is the spike activation map (SAM, Kim & Panda 2021,
  :func:`spike_activation_map`): each spike is weighted by the neuron's recent activity,

  .. math:: \mathrm{NCS}_c[t] = \sum_{t_k < t} \rho^{\,t - t_k}, \qquad
            \mathrm{SAM} = \sum_t \sum_c \mathrm{NCS}_c[t]\, S_c[t],

  over the earlier spike times :math:`t_k` of the neuron.

Maps are compared after flattening and L2 normalisation, summed over the distilled layers :math:`l`
(:func:`attention_loss`):

.. math:: \mathcal L_{AT} = \sum_l \Big\| \frac{A_t^l}{\|A_t^l\|_2} - \frac{A_s^l}{\|A_s^l\|_2} \Big\|_2,

averaged over the batch; a student map of a different spatial size is resized to the teacher's (bilinear).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["activation_attention", "gradient_attention", "spike_activation_map", "normalized_attention",
           "attention_distance", "attention_loss"]

_EPS = 1e-12


def _require(x: torch.Tensor, ndim: int, name: str, layout: str) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != ndim:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must be {layout}, got {shape}")


def activation_attention(features: torch.Tensor) -> torch.Tensor:
    r""":math:`A(F) = \sum_c |F_c|^2`: ``[N, C, H, W]`` → ``[N, H, W]`` (pass an SNN's firing rate, ``s.mean(0)``)."""
    _require(features, 4, "features", "[N, C, H, W]")
    return features.pow(2).sum(1)


def gradient_attention(gradient: torch.Tensor) -> torch.Tensor:
    r""":math:`\sum_c |\partial\mathcal L/\partial F_c|`: ``[N, C, H, W]`` → ``[N, H, W]``."""
    _require(gradient, 4, "gradient", "[N, C, H, W]")
    return gradient.abs().sum(1)


def spike_activation_map(spikes: torch.Tensor, gamma: float = 0.5) -> torch.Tensor:
    r"""The spike activation map :math:`\mathrm{SAM} = \sum_t\sum_c \mathrm{NCS}_c[t]\,S_c[t]` of spikes
    ``[T, N, C, H, W]`` → ``[N, H, W]``.

    :math:`\mathrm{NCS}[t]` follows the recursion :math:`\mathrm{NCS}[0] = 0`,
    :math:`\mathrm{NCS}[t] = \rho\,(\mathrm{NCS}[t-1] + S[t-1])` with the decay factor :math:`\rho` =
    ``exp(-gamma)``; the map is differentiable in the spikes (surrogate gradients pass through).
    """
    _require(spikes, 5, "spikes", "time-major [T, N, C, H, W]")
    if not gamma >= 0:
        raise ValueError(f"gamma must be >= 0, got {gamma}")
    decay = torch.exp(torch.tensor(-float(gamma), dtype=spikes.dtype, device=spikes.device))
    ncs = torch.zeros_like(spikes[0])
    total = torch.zeros_like(spikes[0])
    for t in range(spikes.shape[0]):
        if t:
            ncs = decay * (ncs + spikes[t - 1])
        total = total + ncs * spikes[t]
    return total.sum(1)


def normalized_attention(attention: torch.Tensor, size: "tuple[int, int] | None" = None) -> torch.Tensor:
    """``[N, H, W]`` map → ``[N, H·W]``, each row of unit L2 norm (an all-zero row stays zero, without gradient);
    resized (bilinear) to ``size`` first if given."""
    _require(attention, 3, "attention", "[N, H, W]")
    if size is not None and tuple(attention.shape[1:]) != tuple(size):
        attention = F.interpolate(attention.unsqueeze(1), size=tuple(size), mode="bilinear",
                                  align_corners=False).squeeze(1)
    flat = attention.flatten(1)
    norm = flat.norm(dim=1, keepdim=True)
    # An all-zero map (e.g. the SAM of a layer in which no neuron fired twice) has no direction: it stays zero and
    # passes no gradient, where dividing by a clamped norm would scale its (surrogate) gradient by 1 / eps.
    scale = torch.where(norm > _EPS, 1.0 / norm.clamp_min(_EPS), torch.zeros_like(norm))
    return flat * scale


def attention_distance(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    r""":math:`\frac1N\sum_n \| \hat A_t - \hat A_s \|_2` between two ``[N, H, W]`` maps (student resized to the
    teacher's size)."""
    _require(teacher, 3, "teacher attention", "[N, H, W]")
    if student.shape[0] != teacher.shape[0]:
        raise ValueError(f"student and teacher maps must have the same batch size, got {student.shape[0]} and "
                         f"{teacher.shape[0]}")
    diff = normalized_attention(teacher) - normalized_attention(student, teacher.shape[1:])
    return diff.norm(dim=1).mean()


def attention_loss(student: Sequence[torch.Tensor], teacher: Sequence[torch.Tensor]) -> torch.Tensor:
    r""":math:`\mathcal L_{AT}`: :func:`attention_distance` summed over paired layers (lists of ``[N, H, W]``)."""
    if len(student) != len(teacher) or not student:
        raise ValueError(f"need the same non-zero number of student and teacher maps, got {len(student)} and "
                         f"{len(teacher)}")
    return sum(attention_distance(s, t) for s, t in zip(student, teacher))
