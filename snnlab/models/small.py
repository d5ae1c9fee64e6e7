"""Small networks for the embedded data sets: a 3-block CNN and an MLP."""
from __future__ import annotations

from torch import nn

from .base import SpikingNet

__all__ = ["SmallCNN", "MLP"]


class SmallCNN(SpikingNet):
    """``C1-BN-act-[pool] -> C2-BN-act-pool -> C3-BN-act-pool -> global avg -> FC`` with widths ``(w, 2w, 4w)``.

    Sized for 16x16 to 48x48 inputs (embedded sets); stages end at ``features.2``, ``features.6``, ``features.10``.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, width: int = 16, neuron="lif",
                 dropout: float = 0.0):
        super().__init__(neuron)
        w = width
        self.features = nn.Sequential(
            self.conv(in_channels, w, 3, padding=1, bias=False), self.bn(w), self.act(),
            self.conv(w, 2 * w, 3, padding=1, bias=False), self.bn(2 * w), self.act(), self.avg_pool(2),
            self.conv(2 * w, 4 * w, 3, padding=1, bias=False), self.bn(4 * w), self.act(), self.avg_pool(2),
        )
        self.stage_names = ("features.2", "features.6", "features.10")
        self.classifier = nn.Sequential(self.global_pool(), self.flatten(), self.dropout(dropout),
                                        self.linear(4 * w, num_classes))

    def forward_layers(self, x):
        return self.classifier(self.features(x))


class MLP(SpikingNet):
    """A fully connected network ``in -> hidden... -> classes`` with an act after every hidden layer.

    Input is a flat feature vector per sample (``[T, N, F]`` for the SNN, ``[N, F]`` for the ANN twin).
    """

    input_ndim = 1

    def __init__(self, in_features: int, num_classes: int, hidden: tuple[int, ...] = (256, 128), neuron="lif"):
        super().__init__(neuron)
        layers, width = [], in_features
        for h in hidden:
            layers += [self.linear(width, h), self.act()]
            width = h
        self.features = nn.Sequential(*layers)
        self.stage_names = tuple(f"features.{2 * i + 1}" for i in range(len(hidden)))
        self.classifier = self.linear(width, num_classes)

    def forward_layers(self, x):
        return self.classifier(self.features(x))
