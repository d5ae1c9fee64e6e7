r"""SSNN: train a shrinking SNN with early classifiers (Shrinking SNN, AAAI 2024).

The network (:class:`~snnlab.models.shrinking.ShrinkingSNN`) runs its stages at :math:`T_1 > \dots > T_n` steps.
During training an early classifier (conv, spiking neuron, FC; :func:`~snnlab.models.multi_exit.exit_head`) reads
the output of every stage but the last, and the loss sums the cross entropies of all classifiers on their
time-averaged outputs,

.. math:: \mathcal L = \sum_{i=1}^{n} \lambda_i\, \mathrm{CE}\Big(\frac1{T_i}\sum_{t=1}^{T_i} O_i[t],\ y\Big),

where :math:`O_i[t]` is the output of the classifier after stage :math:`i` at step :math:`t` (:math:`O_n` the
network's own classifier's). The early classifiers are dropped at inference.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..layout import mean_over_time
from ..models.multi_exit import exit_head, stage_channels
from ..models.shrinking import ShrinkingSNN
from .base import SpikingMethod

__all__ = ["SSNN"]


class SSNN(SpikingMethod):
    r"""Train a :class:`~snnlab.models.shrinking.ShrinkingSNN` with early classifiers.

    Loss terms: ``ce`` = :math:`\lambda_n` CE of the final classifier, ``exit<i>`` = :math:`\lambda_i` CE of the early
    classifier after stage :math:`i` (1-based). Predictions use the final classifier only.

    Args:
        network: the shrinking network; static inputs are encoded into its :math:`T_1` steps.
        num_classes: classes of the early classifiers.
        weights: :math:`(\lambda_1, \dots, \lambda_n)`; default all 1. ``early_classifiers=False`` keeps only
            :math:`\lambda_n` (the ablation without early classifiers).
        encoding: encoder for static inputs.
    """

    def __init__(self, network: ShrinkingSNN, num_classes: int, weights: tuple[float, ...] | None = None,
                 early_classifiers: bool = True, encoding: str = "direct"):
        super().__init__(network, network.steps[0], encoding)
        stages = len(network.steps)
        self.weights = tuple(weights) if weights is not None else (1.0,) * stages
        if len(self.weights) != stages:
            raise ValueError(f"give one weight per stage ({stages}), got {len(self.weights)}")
        neuron = getattr(network.model, "neuron", "lif")
        self.heads = nn.ModuleList(
            exit_head(stage_channels(network.model, name), num_classes, neuron) for name in network.cut_names
        ) if early_classifiers else nn.ModuleList()

    def forward(self, inputs, targets):
        final, stage_outputs = self.model.stage_outputs(self.to_time_major(inputs))
        prediction = mean_over_time(final)
        losses = {"ce": self.weights[-1] * F.cross_entropy(prediction, targets)}
        for i, (head, features) in enumerate(zip(self.heads, stage_outputs)):
            losses[f"exit{i + 1}"] = self.weights[i] * F.cross_entropy(mean_over_time(head(features)), targets)
        return prediction, losses

    @torch.no_grad()
    def predict(self, inputs):
        return mean_over_time(self.model(self.to_time_major(inputs)))
