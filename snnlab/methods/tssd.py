r"""TSSD: temporal-spatial self-distillation (Zuo, Ding et al., arXiv:2406.07862).

One network, two lengths: the student is the network run for :math:`T_s` steps (used at inference), the temporal
teacher the *same weights* :math:`\theta` run for :math:`T_t > T_s` steps; a weak classifier after the middle stage
gives a spatial signal. With the output :math:`O[t]` at step :math:`t`, its mean
:math:`\bar O(T) = \frac1T\sum_{t=1}^{T} O[t]` over the first :math:`T` steps and the weak classifier's output
:math:`O_{wc}[t]`,

.. math::

    \mathcal L = \mathrm{CE}\big(\bar O(T_s), y\big) + \mathrm{CE}\big(\bar O(T_t), y\big)
      + \lambda_{TSD}\,\underbrace{\big\|\bar O(T_s) - \bar O(T_t)\big\|^2}_{\mathcal L_{TSD}}
      + \lambda_{SSD}\,\underbrace{\frac1{T_s}\sum_{t=1}^{T_s}\big\|O_{wc}[t] - \bar O(T_s)\big\|^2}_{\mathcal L_{SSD}},

with mean-squared distances and the weights :math:`\lambda_{TSD}`, :math:`\lambda_{SSD}` (``alpha``, ``beta``),
minimised over the shared :math:`\theta` as written: the gradient of each distance
flows through both of its sides by default, so TSD also moves the teacher's steps towards the student's
(``detach_targets=True`` stops it at the targets, :math:`\bar O(T_t)` in TSD and :math:`\bar O(T_s)` in
SSD, as knowledge distillation from a separate teacher would). The paper prints no stop-gradient; with detached
targets a one-step student chases a teacher that the same weights keep moving, and on Poisson-coded images its class
scores grow several-fold while its accuracy falls far below plain training (the ``tssd`` reproduction records both).
The teacher's own cross entropy trains the teacher as well: the paper's teacher is "continuously optimised" with the
student, and with a detached target steps :math:`T_s+1 \dots T_t` would otherwise get no gradient at all
(``teacher_ce=False`` drops it).
A spiking network is causal and direct encoding feeds the same input at every step, so the
first :math:`T_s` steps of one run at :math:`T_t` *are* the run at :math:`T_s`: one forward pass gives both student
and teacher. For event data the same holds when the student's frames are the first :math:`T_s` of the teacher's
(fixed time-window slicing, as the papers' 10 ms / 30 ms slices); the method reads the batch that way. The equality
is exact in evaluation mode; in training, batch normalisation takes its batch statistics over all :math:`T_t` steps
of the pass, so the student's steps are normalised with statistics that include the teacher's. The weak classifier
is used in training only (and optionally for early exit, :meth:`TSSD.early_exit`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..layout import mean_over_time
from ..models.multi_exit import MultiExit, exit_head, stage_channels
from .base import SpikingMethod

__all__ = ["TSSD", "middle_stage"]


def middle_stage(model: nn.Module) -> str:
    """The module path that ends the middle stage of an snnlab model (``model.stage_names``): TSSD's weak classifier
    position (stage 2 of 3 for VGG-9)."""
    stages = getattr(model, "stage_names", ())
    if not stages:
        raise ValueError(f"{type(model).__name__} lists no stage_names; pass weak_stage='<module path>'")
    return stages[(len(stages) - 1) // 2]


class TSSD(SpikingMethod):
    r"""Train ``model`` with temporal-spatial self-distillation (see the module docstring).

    Loss terms: ``ce`` (student cross entropy), ``ce_teacher`` (the teacher's, unless ``teacher_ce=False``),
    ``tsd`` = :math:`\lambda_{TSD}\,\mathcal L_{TSD}`, ``ssd`` =
    :math:`\lambda_{SSD}\,\mathcal L_{SSD}` (absent with ``weak_stage=None``, or ``beta=0``). Predictions use the
    student
    alone: the network at :math:`T_s` steps, without the weak classifier.

    Args:
        model: an SNN mapping ``[T, N, ...]`` to ``[T, N, classes]``.
        T_s, T_t: student and teacher time steps, ``T_t > T_s``. Event batches must carry ``T_t`` frames.
        num_classes: classes (for the weak classifier).
        alpha, beta: weights :math:`\lambda_{TSD}`, :math:`\lambda_{SSD}` of TSD and SSD (paper: 1 and 1).
        weak_stage: module path the weak classifier reads (default: :func:`middle_stage`); ``None`` for no SSD.
        weak_channels: channels at ``weak_stage`` (default: inferred from the last convolution before it).
        detach_targets: stop the gradient at the teacher output (TSD) and at the student output used as SSD's
            target; the default ``False`` backpropagates through both sides, as the loss is written.
        encoding: how static inputs become ``T_t`` steps (``"direct"`` gives the single-pass equality).
        teacher_ce: add the cross entropy of the teacher output :math:`f(x;\theta,T_t)` (default), so the network
            run for :math:`T_t` steps is trained as well as the one run for :math:`T_s`.
    """

    def __init__(self, model: nn.Module, T_s: int, T_t: int, num_classes: int, alpha: float = 1.0, beta: float = 1.0,
                 weak_stage: str | None = "middle", weak_channels: int | None = None, detach_targets: bool = False,
                 encoding: str = "direct", teacher_ce: bool = True):
        if not 1 <= T_s < T_t:
            raise ValueError(f"need 1 <= T_s < T_t, got T_s={T_s}, T_t={T_t}")
        super().__init__(model, T_t, encoding)
        self.T_s, self.T_t = T_s, T_t
        self.alpha, self.beta, self.detach_targets, self.teacher_ce = alpha, beta, detach_targets, teacher_ce
        self.weak: MultiExit | None = None
        if weak_stage is not None and beta:
            path = middle_stage(model) if weak_stage == "middle" else weak_stage
            channels = weak_channels or stage_channels(model, path)
            self.weak = MultiExit(model, {path: exit_head(channels, num_classes, getattr(model, "neuron", "lif"))})

    def _target(self, x: torch.Tensor) -> torch.Tensor:
        return x.detach() if self.detach_targets else x

    def forward(self, inputs, targets):
        x = self.to_time_major(inputs)
        if self.weak is not None:
            result = self.weak(x)
            out_seq, weak_seq = result.output, next(iter(result.exits.values()))
        else:
            out_seq, weak_seq = self.model(x), None
        student = out_seq[:self.T_s].mean(0)                     # f(x; theta, T_s): the first T_s steps
        teacher = out_seq.mean(0)                                # f(x; theta, T_t): all T_t steps
        losses = {"ce": F.cross_entropy(student, targets)}
        if self.teacher_ce:
            losses["ce_teacher"] = F.cross_entropy(teacher, targets)
        if self.alpha:
            losses["tsd"] = self.alpha * F.mse_loss(student, self._target(teacher))
        if weak_seq is not None:
            goal = self._target(student).unsqueeze(0).expand(self.T_s, *student.shape)
            losses["ssd"] = self.beta * F.mse_loss(weak_seq[:self.T_s], goal)
        return student, losses

    def student_sequence(self, inputs) -> torch.Tensor:
        """Per-step outputs of the student alone (``T_s`` steps, no weak classifier): ``[T_s, N, C]``."""
        x = self.to_time_major(inputs)
        return self.model(x[:self.T_s])

    @torch.no_grad()
    def predict(self, inputs):
        return mean_over_time(self.student_sequence(inputs))

    @torch.no_grad()
    def early_exit(self, inputs, threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Predict with the weak classifier where its confidence (max softmax of its mean output over ``T_s`` steps)
        reaches ``threshold``, else with the full student; returns ``(predictions [N], exited [N] bool)``."""
        if self.weak is None:
            raise ValueError("early exit needs the weak classifier (weak_stage)")
        x = self.to_time_major(inputs)[:self.T_s]
        result = self.weak(x)
        weak = next(iter(result.exits.values())).mean(0).softmax(-1)
        exited = weak.max(-1).values >= threshold
        return torch.where(exited, weak.argmax(-1), result.output.mean(0).argmax(-1)), exited
