"""The interface every training method implements, and the plain supervised methods built on it."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from spikingjelly.activation_based import functional
from spikingjelly.activation_based.base import MemoryModule
from torch import nn

from ..encoding import encode
from ..layout import mean_over_time
from ..losses.kd import response_kd_terms

__all__ = ["Method", "SpikingMethod", "ANNClassification", "FrozenTeacher", "DistilledANN", "reset_around_forward"]


def _reset_state(module: nn.Module, *_) -> None:
    """Forward pre-hook and forward hook: ``functional.reset_net(module)``."""
    functional.reset_net(module)


def reset_around_forward(module: nn.Module) -> nn.Module:
    """Make every forward of ``module`` start and end with ``functional.reset_net(module)`` when it holds stateful
    SpikingJelly modules (neurons, any ``MemoryModule``); returns ``module``.

    Any SpikingJelly network then trains batch after batch without its membrane state (and the graph it holds)
    leaking from one forward into the next, which would otherwise fail the second backward with "Trying to
    backward through the graph a second time". Registering twice is harmless (the hooks are added once). A callable
    that is not a module (a function of the input) holds no state and is returned as it is.
    """
    if not isinstance(module, nn.Module) or getattr(module, "_snnlab_resets_state", False) \
            or not any(isinstance(m, MemoryModule) for m in module.modules()):
        return module
    module.register_forward_pre_hook(_reset_state)
    module.register_forward_hook(_reset_state)
    module._snnlab_resets_state = True
    return module


class Method(nn.Module):
    """A training method: turns a batch into ``(outputs, {loss_name: loss})`` and knows how to predict.

    A method is an ``nn.Module`` that owns every trainable part (student, adapters, heads) and any frozen teacher
    (with ``requires_grad=False``), so one optimizer and one ``DistributedDataParallel`` wrapper cover it.
    The trainer minimises the sum of the returned loss terms and logs each term separately.

    Subclasses implement :meth:`forward` (training: ``outputs`` are class scores ``[N, C]`` used for training
    accuracy) and :meth:`predict` (evaluation: class scores ``[N, C]``); a method whose loss changes with the
    epoch (a curriculum) overrides :meth:`on_epoch_start`, which the trainer calls before every epoch.
    """

    ignore_index: int | None = None
    """A label the method's loss ignores (e.g. ``-100`` for padding); the trainer refuses every other label outside
    ``[0, num_classes)``."""

    def on_epoch_start(self, epoch: int) -> None:
        """Called by the trainer before training epoch ``epoch`` (1-based); the default does nothing."""

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        raise NotImplementedError

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class SpikingMethod(Method):
    """Base for methods training an SNN ``model`` that maps ``[T, N, ...]`` to per-step outputs ``[T, N, C]``.

    Static inputs ``[N, ...]`` are encoded into ``T`` steps with ``encoding``; inputs that already carry a time
    axis (event frames ``[T', N, ...]``, as batched by snnlab's event collate) are cut to their first ``T`` frames
    (fewer than ``T`` is an error), and a dict of such tensors (a multimodal model's input) is used as it is.
    Predictions are rate-decoded: the mean of the per-step outputs.

    ``model`` may be any SpikingJelly network, snnlab's or your own: its neuron state is reset before and after
    every forward (:func:`reset_around_forward`), so you never call ``functional.reset_net`` yourself.
    """

    def __init__(self, model: nn.Module, T: int, encoding: str = "direct"):
        super().__init__()
        if isinstance(T, bool) or not isinstance(T, int) or T < 1:
            raise ValueError(f"T (time steps) must be a positive int, got {T!r}")
        self.model, self.T, self.encoding = reset_around_forward(model), T, encoding

    def to_time_major(self, inputs: torch.Tensor) -> torch.Tensor:
        if isinstance(inputs, dict):
            return inputs  # multimodal clips, collated time-major
        sample_ndim = getattr(self.model, "input_ndim", None)
        if sample_ndim is not None and inputs.dim() == sample_ndim + 2:
            if inputs.shape[0] < self.T:
                raise ValueError(f"{type(self).__name__} runs T = {self.T} steps but the input has only "
                                 f"{inputs.shape[0]} frames")
            return inputs[:self.T]  # already [T', N, ...]: the first T frames
        return encode(self.encoding, inputs, self.T)

    def output_sequence(self, inputs: torch.Tensor) -> torch.Tensor:
        """Per-step outputs ``[T, N, C]`` for a batch."""
        return self.model(self.to_time_major(inputs))

    @torch.no_grad()
    def predict(self, inputs):
        return mean_over_time(self.output_sequence(inputs))


class ANNClassification(Method):
    """Plain cross-entropy training of an ANN (e.g. a teacher, or the ANN twin of an SNN)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, inputs, targets):
        logits = self.model(inputs)
        return logits, {"ce": F.cross_entropy(logits, targets)}

    @torch.no_grad()
    def predict(self, inputs):
        return self.model(inputs)


class FrozenTeacher(nn.Module):
    """Mixin for distillation methods (``class KD(FrozenTeacher, SpikingMethod)``): the teacher set with
    :meth:`set_teacher` gets no gradient and stays in evaluation mode when the method trains, so its batch-norm
    statistics stay fixed and its targets do not depend on the batch."""

    def set_teacher(self, teacher: nn.Module | None) -> None:
        self.teacher = teacher
        if teacher is not None:
            reset_around_forward(teacher)   # a spiking teacher starts every forward from rest
            teacher.requires_grad_(False)
            teacher.eval()

    def train(self, mode: bool = True):
        super().train(mode)
        teacher = getattr(self, "teacher", None)
        if teacher is not None:
            teacher.eval()
        return self


class DistilledANN(FrozenTeacher, ANNClassification):
    r"""Logit distillation into an ANN student, the teacher frozen: ``loss_terms(z_s, z_t, y)`` gives the loss terms;
    by default response-based KD (Hinton, Vinyals & Dean, 2015),
    :math:`(1-\lambda_{KD})\,\mathrm{CE}(z_s, y) + \lambda_{KD}\,\mathcal T^2\,\mathrm{KL}(\mathrm{softmax}(z_t/\mathcal T)\,\|\,\mathrm{softmax}(z_s/\mathcal T))`
    (:func:`snnlab.losses.response_kd_terms`).

    The control of the ANN-to-SNN distillation chapters: the same distillation into a non-spiking student of the
    student's architecture tells whether distillation helps at all in a setting. Another paper's logit loss is a
    ``loss_terms`` function, e.g. decoupled KD with its cross entropy:
    ``lambda z_s, z_t, y: {"ce": F.cross_entropy(z_s, y), **decoupled_kd(z_s, z_t, y)}``.
    """

    def __init__(self, model: nn.Module, teacher: nn.Module, alpha: float = 0.9, tau: float = 4.0,
                 loss_terms: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], dict] | None = None):
        super().__init__(model)
        if not tau > 0 or not 0.0 <= alpha <= 1.0:
            raise ValueError(f"need tau > 0 and 0 <= alpha <= 1, got tau={tau}, alpha={alpha}")
        self.alpha, self.tau = alpha, tau
        self.loss_terms = loss_terms or (lambda z_s, z_t, y: response_kd_terms(z_s, z_t, y, self.alpha, self.tau))
        self.set_teacher(teacher)

    def forward(self, inputs, targets):
        logits = self.model(inputs)
        with torch.no_grad():
            teacher_logits = self.teacher(inputs)
        return logits, self.loss_terms(logits, teacher_logits, targets)
