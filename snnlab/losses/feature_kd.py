r"""Feature distillation after Heo et al. (ICCV 2019, "A Comprehensive Overhaul of Feature Distillation"), as
KDSNN uses it to distil an ANN's intermediate features into an SNN (Xu et al., CVPR 2023).

The teacher's feature is taken *before* its ReLU and passed through a per-channel **margin ReLU**
:math:`\mathrm{ReLU}_m(x) = \max(x, m_c)`: negative responses are all squashed to one value, the expected negative
response of the channel. With the pre-ReLU response of channel :math:`c` modelled by the BN that produces it as
:math:`x \sim \mathcal N(\beta_c, \gamma_c^2)` (shift :math:`\beta_c`, scale :math:`|\gamma_c|`),

.. math:: m_c = \mathbb E[x \mid x < 0] = \beta_c - |\gamma_c|\,
          \frac{\Phi'(\beta_c / |\gamma_c|)}{\Phi(-\beta_c / |\gamma_c|)},

(:math:`\Phi` the standard normal distribution function, :math:`\Phi'` its density), and
:math:`m_c = -3|\gamma_c|` when :math:`\Phi(-\beta_c/|\gamma_c|) \le 10^{-3}` (almost no negative responses).

The student's feature (for an SNN, its firing rate over :math:`T`) goes through an **adapter** (1×1 convolution +
BN) to the teacher's channels, and the two are compared with the **partial L2** distance, which ignores the
positions where the student is already below a non-positive target (any negative value passes a ReLU as zero):

.. math:: \mathcal D_p(F_s, F_t) = \sum_i \begin{cases} 0 & F_{s,i} \le F_{t,i} \le 0 \\ (F_{s,i} - F_{t,i})^2
          & \text{otherwise,}\end{cases}

with :math:`F_s` the student's adapted feature and :math:`F_t` the teacher's target.
"""
from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["margin_from_bn", "margin_relu", "partial_l2_loss", "feature_adapter"]

_MIN_NEGATIVE_MASS = 1e-3


def margin_from_bn(bn: nn.Module) -> torch.Tensor:
    r"""Per-channel margin :math:`m_c = \mathbb E[x \mid x<0]` of the pre-ReLU response of batch norm ``bn``
    (formula in the module docstring); ``[C]``, on ``bn``'s device, no gradient."""
    if not isinstance(bn, nn.modules.batchnorm._BatchNorm) or bn.weight is None:
        raise TypeError(f"margin_from_bn needs an affine BatchNorm layer, got {type(bn).__name__}")
    with torch.no_grad():
        scale = bn.weight.detach().abs().double().clamp_min(1e-12)
        shift = bn.bias.detach().double()
        normal = torch.distributions.Normal(0.0, 1.0)
        negative_mass = normal.cdf(-shift / scale)
        density = torch.exp(-0.5 * (shift / scale) ** 2) / math.sqrt(2 * math.pi)
        conditional = shift - scale * density / negative_mass.clamp_min(1e-300)
        margin = torch.where(negative_mass > _MIN_NEGATIVE_MASS, conditional, -3.0 * scale)
    return margin.to(bn.weight.dtype)


def margin_relu(x: torch.Tensor, margin: torch.Tensor) -> torch.Tensor:
    r""":math:`\max(x, m_c)` per channel: ``x`` is ``[N, C, ...]``, ``margin`` is ``[C]``."""
    if margin.dim() != 1 or x.dim() < 2 or x.shape[1] != margin.shape[0]:
        raise ValueError(f"margin must be [C] with C = x.shape[1]; got margin {tuple(margin.shape)} for x "
                         f"{tuple(x.shape)}")
    return torch.maximum(x, margin.view(1, -1, *([1] * (x.dim() - 2))).to(x.dtype))


def partial_l2_loss(student: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Partial L2 distance :math:`\mathcal D_p(F_s, F_t)` (module docstring) summed over each sample and averaged
    over the
    batch (dim 0). ``target`` is the margin-ReLU'd teacher feature; both ``[N, ...]`` of the same shape."""
    if student.shape != target.shape:
        raise ValueError(f"student and teacher features must have the same shape after the adapter, got "
                         f"{tuple(student.shape)} and {tuple(target.shape)}")
    counted = ((student > target) | (target > 0)).to(student.dtype)
    return ((student - target) ** 2 * counted).sum() / student.shape[0]


def feature_adapter(student_channels: int, teacher_channels: int) -> nn.Sequential:
    """The 1×1 convolution + BN that maps a student feature map ``[N, C_s, H, W]`` to the teacher's channels."""
    if student_channels < 1 or teacher_channels < 1:
        raise ValueError(f"channel counts must be positive, got {student_channels} and {teacher_channels}")
    return nn.Sequential(nn.Conv2d(student_channels, teacher_channels, 1, bias=False),
                         nn.BatchNorm2d(teacher_channels))
