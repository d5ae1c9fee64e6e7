"""A conversion-friendly CNN: no bias, no batch norm, average pooling (LaSNN's small ANN and student SNN)."""
from __future__ import annotations

from torch import nn

from .base import SpikingNet

__all__ = ["ConversionCNN"]

POOL = "P"


class ConversionCNN(SpikingNet):
    """``[conv3x3-act | P]* -> flatten -> [dropout] -> FC``, every weight layer without bias, no batch norm.

    LaSNN (Hong et al.) builds its small ANN this way so that threshold balancing converts it to an
    SNN with little loss: without biases and BN, a layer's output scales exactly with its input, and average
    pooling (``"P"``, 2x2) of spike rates is the rate of the pooled activations, which max pooling is not. Stages
    end at the poolings.

    Args:
        num_classes: output classes.
        in_channels: input channels.
        input_size: input height = width, fixing the FC's input size.
        cfg: conv widths and ``"P"`` for a 2x2 average pooling, e.g. ``(16, "P", 32, "P", 64, "P")``.
        neuron: neuron preset/spec for the SNN, or ``None`` for the ANN twin (ReLU).
        dropout: dropout probability before the FC (LaSNN's optional regulariser); 0 leaves it out.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, input_size: int = 16,
                 cfg: tuple = (16, POOL, 32, POOL, 64, POOL), neuron="if", dropout: float = 0.0):
        super().__init__(neuron)
        layers, stages, channels, size = [], [], in_channels, input_size
        for item in cfg:
            if item == POOL:
                layers.append(self.avg_pool(2))
                stages.append(f"features.{len(layers) - 1}")
                size //= 2
            elif isinstance(item, int) and item > 0:
                layers += [self.conv(channels, item, 3, padding=1, bias=False), self.act()]
                channels = item
            else:
                raise ValueError(f"cfg items are positive conv widths or {POOL!r}, got {item!r}")
        if size < 1 or not stages:
            raise ValueError(f"cfg {cfg} needs at least one pooling and must leave a spatial size >= 1 "
                             f"from input_size {input_size}")
        self.features = nn.Sequential(*layers)
        self.stage_names = tuple(stages)
        head = [self.flatten()] + ([self.dropout(dropout)] if dropout else [])
        self.classifier = nn.Sequential(*head, self.linear(channels * size * size, num_classes, bias=False))

    def forward_layers(self, x):
        return self.classifier(self.features(x))
