r"""KDSNN: knowledge distillation from a frozen ANN into an SNN (Xu et al., "Constructing Deep Spiking Neural
Networks from Artificial Neural Networks with Knowledge Distillation", CVPR 2023).

A pre-trained ANN teacher is frozen; a student SNN (IF neurons, surrogate gradients; the two architectures may
differ) learns from the labels and from the teacher, in one or both of two ways. With
:math:`z_s = \frac1T\sum_t O_s[t]` the student's time-aggregated output and :math:`z_t` the teacher's logits:

* **response-based** (:func:`snnlab.losses.kd_loss`):

  .. math:: \mathcal L_{resp} = (1-\lambda_{KD})\,\mathrm{CE}(z_s, y)
            + \lambda_{KD}\,\mathcal T^2\,\mathrm{KL}\big(\mathrm{softmax}(z_t/\mathcal T)\,\|\,\mathrm{softmax}(z_s/\mathcal T)\big)

* **feature-based** (:mod:`snnlab.losses.feature_kd`): at the end of each stage, the student's firing rate
  :math:`\bar S = \frac1T\sum_t S[t]` goes through an adapter :math:`\mathrm{Ad}` (1×1 conv + BN) to the teacher's channels
  and is compared with the teacher's pre-ReLU feature :math:`F` through the margin ReLU :math:`\mathrm{ReLU}_m`:

  .. math:: \mathcal L_{feat} = \sum_{l}\frac1N\, \mathcal D_p\big(\mathrm{Ad}_l(\bar S_l), \mathrm{ReLU}_{m_l}(F_l)\big), \qquad
            \mathcal L = \mathcal L_{task} + \lambda_{feat}\,\mathcal L_{feat}.

Both together add the two distillation terms to :math:`(1-\lambda_{KD})\,\mathrm{CE}`. Without a teacher the method is
the plain baseline (CE on :math:`z_s`).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..energy import NEURON_TYPES
from ..hooks import FeatureCapture, get_module
from ..layout import mean_over_time
from ..losses.feature_kd import feature_adapter, margin_from_bn, margin_relu, partial_l2_loss
from ..losses.kd import response_kd_terms
from ..models.multi_exit import stage_channels
from .base import FrozenTeacher, SpikingMethod

__all__ = ["KDSNN", "FeaturePair", "default_feature_pairs", "last_in_stage", "MODES"]

MODES = {"none": (False, False), "response": (True, False), "feature": (False, True), "both": (True, True)}
"""The arms of the chapter: mode → (response-based KD on, feature-based KD on); ``"none"`` is the baseline."""


@dataclass(frozen=True)
class FeaturePair:
    """Where one feature distillation term reads its tensors (module paths).

    Attributes:
        student: a spiking-neuron module of the student; its output spikes ``[T, N, C_s, H, W]`` give the rate.
        teacher: the teacher's ReLU module; its *input* is the pre-ReLU feature ``[N, C_t, H, W]``.
        teacher_bn: the teacher's batch norm producing that input; its statistics give the margin.
    """

    student: str
    teacher: str
    teacher_bn: str


def _stage_span(model: nn.Module, stage: str) -> list[tuple[str, nn.Module]]:
    """``(path, module)`` of every module registered up to the end of stage ``stage`` (its submodules included)."""
    get_module(model, stage)
    span, entered = [], False
    for name, module in model.named_modules():                  # pre-order: a module, then everything inside it
        inside = name == stage or name.startswith(stage + ".")
        if entered and not inside:
            break
        entered = entered or inside
        span.append((name, module))
    return span


def _last_of(span, types) -> tuple[int, str]:
    for index in range(len(span) - 1, -1, -1):
        if isinstance(span[index][1], types):
            return index, span[index][0]
    raise ValueError(f"no {' or '.join(t.__name__ for t in types)} module found")


def last_in_stage(model: nn.Module, stage: str, types: tuple[type[nn.Module], ...]) -> str:
    """Path of the last module of one of ``types`` registered up to the end of stage ``stage`` (e.g. the spiking
    neuron or ReLU whose output a stage's pooling reads)."""
    try:
        return _last_of(_stage_span(model, stage), types)[1]
    except ValueError:
        raise ValueError(f"no {' or '.join(t.__name__ for t in types)} module up to stage {stage!r} of "
                         f"{type(model).__name__}") from None


def default_feature_pairs(student: nn.Module, teacher: nn.Module) -> tuple[FeaturePair, ...]:
    """One :class:`FeaturePair` per stage of two snnlab models (``stage_names``): the last spiking neuron of each
    student stage, the last ReLU of the matching teacher stage and the last batch norm registered beside that
    ReLU (same parent module; for a residual block, its ``bn2``, as Heo et al. take it). Stages are matched from
    the first; a deeper model's extra stages are left out."""
    student_stages, teacher_stages = getattr(student, "stage_names", ()), getattr(teacher, "stage_names", ())
    if not student_stages or not teacher_stages:
        raise ValueError("default feature pairs need snnlab models with stage_names; pass feature_pairs=[FeaturePair("
                         "student=..., teacher=..., teacher_bn=...)] for other models")
    pairs = []
    for s_stage, t_stage in zip(student_stages, teacher_stages):
        s_path = last_in_stage(student, s_stage, NEURON_TYPES)
        t_span = _stage_span(teacher, t_stage)
        index, t_path = _last_of(t_span, (nn.ReLU,))
        parent = t_path.rpartition(".")[0]
        siblings = [(n, m) for n, m in t_span[:index] if n.rpartition(".")[0] == parent]
        _, bn_path = _last_of(siblings, (nn.modules.batchnorm._BatchNorm,))
        pairs.append(FeaturePair(s_path, t_path, bn_path))
    return tuple(pairs)


class KDSNN(FrozenTeacher, SpikingMethod):
    r"""Train ``student`` (an SNN) with response- and/or feature-based distillation from a frozen ANN ``teacher``.

    Loss terms: ``ce`` = :math:`(1-\lambda_{KD})\,\mathrm{CE}(z_s, y)` with response KD (plain CE otherwise), ``kd`` =
    :math:`\lambda_{KD}\mathcal T^2\mathrm{KL}`, ``feat`` = :math:`\lambda_{feat}\mathcal L_{feat}` (see the module docstring). The
    teacher stays in eval mode with ``requires_grad=False`` and runs under ``torch.no_grad``; the adapters are
    trained with the student and are not used at inference.

    Args:
        student: SNN mapping ``[T, N, ...]`` to per-step outputs ``[T, N, C]``.
        teacher: ANN mapping ``[N, ...]`` to logits ``[N, C]`` (required unless ``mode="none"``).
        T: time steps; static inputs are encoded with ``encoding`` (KDSNN: direct).
        mode: ``"response"``, ``"feature"``, ``"both"`` or ``"none"`` (the baseline; see :data:`MODES`).
        alpha, tau: weight and temperature of response KD.
        beta: weight of the feature term.
        feature_pairs: where the feature terms read (default: :func:`default_feature_pairs`).
    """

    def __init__(self, student: nn.Module, teacher: nn.Module | None = None, T: int = 4, mode: str = "response",
                 alpha: float = 0.9, tau: float = 4.0, beta: float = 1e-3,
                 feature_pairs: "tuple[FeaturePair, ...] | None" = None, encoding: str = "direct"):
        super().__init__(student, T, encoding)
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose one of {sorted(MODES)}")
        self.response, self.feature = MODES[mode]
        if (self.response or self.feature) and teacher is None:
            raise ValueError(f"mode {mode!r} distils from a teacher; pass teacher=... or use mode='none'")
        if not 0.0 <= alpha <= 1.0 or not tau > 0 or beta < 0:
            raise ValueError(f"need 0 <= alpha <= 1, tau > 0 and beta >= 0; got alpha={alpha}, tau={tau}, beta={beta}")
        self.mode, self.alpha, self.tau, self.beta = mode, alpha, tau, beta
        self.set_teacher(teacher)
        self.pairs: tuple[FeaturePair, ...] = ()
        self.adapters = nn.ModuleList()
        if self.feature:
            self.pairs = tuple(feature_pairs) if feature_pairs is not None else default_feature_pairs(student, teacher)
            for pair in self.pairs:
                margin = margin_from_bn(get_module(teacher, pair.teacher_bn))
                self.adapters.append(feature_adapter(stage_channels(student, pair.student), margin.numel()))

    def feature_loss(self, student_features: dict, teacher_features: dict) -> torch.Tensor:
        r""":math:`\mathcal L_{feat}`: the partial L2 between each adapted student rate and margin-ReLU'd teacher
        feature, summed over the pairs."""
        total = 0.0
        for pair, adapter in zip(self.pairs, self.adapters):
            margin = margin_from_bn(get_module(self.teacher, pair.teacher_bn))
            rate = student_features[pair.student].mean(0)                      # [T, N, C, H, W] -> [N, C, H, W]
            target = teacher_features[pair.teacher]
            if rate.shape[2:] != target.shape[2:]:
                raise ValueError(f"student feature {pair.student!r} is {tuple(rate.shape[2:])} but teacher feature "
                                 f"{pair.teacher!r} is {tuple(target.shape[2:])}; pair stages of equal spatial size")
            total = total + partial_l2_loss(adapter(rate), margin_relu(target, margin))
        return total

    def forward(self, inputs, targets):
        student_paths = [pair.student for pair in self.pairs]
        if self.feature:
            with FeatureCapture(self.model, student_paths) as cap:
                out_seq = self.output_sequence(inputs)
            student_features = cap.features
        else:
            out_seq = self.output_sequence(inputs)
        z_s = mean_over_time(out_seq)
        if self.teacher is None or self.mode == "none":
            return z_s, {"ce": F.cross_entropy(z_s, targets)}
        with torch.no_grad():
            if self.feature:
                with FeatureCapture(self.teacher, [pair.teacher for pair in self.pairs], kind="input") as cap:
                    z_t = self.teacher(inputs)
                teacher_features = cap.features
            else:
                z_t = self.teacher(inputs)
        losses = (response_kd_terms(z_s, z_t, targets, self.alpha, self.tau) if self.response
                  else {"ce": F.cross_entropy(z_s, targets)})
        if self.feature:
            losses["feat"] = self.beta * self.feature_loss(student_features, teacher_features)
        return z_s, losses
