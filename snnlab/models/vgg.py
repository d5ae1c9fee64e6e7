"""Plain VGG-style networks: VGG-9 (TSSD / SSNN experiments) and VGGSNN (TET on CIFAR10-DVS).

Both are ``[conv-BN-act]*k -> avg pool`` stages followed by a flattening classifier, built by one private base
class from a layer list (``"P"`` marks a 2x2 average pooling that ends a stage).
"""
from __future__ import annotations

from torch import nn

from .base import SpikingNet

__all__ = ["VGG9", "VGGSNN"]

POOL = "P"


def _pair(size: "int | tuple[int, int]") -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def _conv_bn_act(net: SpikingNet, in_channels: int, out_channels: int) -> list[nn.Module]:
    """``3x3 conv (stride 1, padding 1, no bias) -> BN -> act`` built with ``net``'s builders."""
    return [net.conv(in_channels, out_channels, 3, padding=1, bias=False), net.bn(out_channels), net.act()]


class _PlainVGG(SpikingNet):
    """``features`` from a layer list, then ``classifier = flatten -> [FC-act]* -> dropout -> FC(classes)``.

    The FC input size is fixed by ``input_size`` (no adaptive pooling, as in the papers' codes): each
    ``AvgPool2d(2)`` floors the spatial size, e.g. 42 -> 21 -> 10 -> 5. Stages end at the pooling layers.
    """

    def __init__(self, layers: tuple, hidden: tuple[int, ...], num_classes: int, in_channels: int,
                 input_size: "int | tuple[int, int]", neuron, width_mult: float, dropout: float):
        super().__init__(neuron)
        if width_mult <= 0:
            raise ValueError(f"width_mult must be positive, got {width_mult}")

        def scale(c: int) -> int:
            return max(1, round(c * width_mult))

        height, width = _pair(input_size)
        modules, stage_names, channels = [], [], in_channels
        for item in layers:
            if item == POOL:
                modules.append(self.avg_pool(2))
                stage_names.append(f"features.{len(modules) - 1}")
                height, width = height // 2, width // 2
            else:
                modules += _conv_bn_act(self, channels, scale(item))
                channels = scale(item)
        if height < 1 or width < 1:
            raise ValueError(f"input_size {input_size} is too small for {len(stage_names)} 2x2 poolings")
        self.features = nn.Sequential(*modules)
        self.stage_names = tuple(stage_names)

        head, features = [self.flatten()], channels * height * width
        for h in map(scale, hidden):
            head += [self.linear(features, h), self.act()]
            features = h
        head += [self.dropout(dropout), self.linear(features, num_classes)]
        self.classifier = nn.Sequential(*head)

    def forward_layers(self, x):
        return self.classifier(self.features(x))


class VGG9(_PlainVGG):
    """VGG-9: 7 convolutions and 2 fully connected layers, the "VGG-9" of the TSSD and SSNN experiments.

    ``64c-64c-P | 128c-128c-P | 256c-256c-256c-P | FC1024-act-[dropout]-FC(classes)``, where ``Nc`` is a 3x3 conv
    (no bias) -> BN -> act and ``P`` a 2x2 average pooling. The definition is the VGG-9 of Lee et al. 2020,
    "Enabling spike-based backpropagation for training deep neural network architectures" (Front. Neurosci.),
    read in its official code (``chan8972/Enabling_Spikebased_Backpropagation``, ``src/cifar10_VGG9.py``: convs
    64,64 / 128,128 / 256,256,256 with average pooling, then ``fc0`` 256·4·4→1024 and ``fc1`` 1024→10); the same
    layer list with BN after every conv is what the SpikingJelly-based VGG-9 implementations use. Lee et al. have
    no BN (they are conversion-friendly); BN is added here as TSSD does. Other "VGG9" lists exist (e.g. Rathi et
    al.'s hybrid-conversion ``64-A-128-256-A-256-512-A-512-A-512``); the TSSD/SSNN papers do not print theirs, so
    this one, the most common in the direct-training SNN literature, is used.

    The FC input size follows ``input_size``: 256·⌊H/8⌋·⌊W/8⌋, i.e. 4x4 for CIFAR 32x32, 5x5 for CIFAR10-DVS at
    42x42 (TSSD's preprocessing), 6x6 at 48x48. Stages end at the three poolings (``features.6``,
    ``features.13``, ``features.23``); full size with 10 classes at 32x32: 5,942,218 parameters.

    Args:
        num_classes: output classes.
        in_channels: input channels (3 for CIFAR, 2 for event frames).
        input_size: input height and width (int or ``(H, W)``), fixing the first FC's input size.
        neuron: neuron preset/spec for the SNN, or ``None`` for the ANN twin (ReLU).
        width_mult: multiplies every conv and hidden FC width (e.g. 0.125 for tiny test models).
        dropout: dropout probability before the last FC (SpikingJelly's multi-step dropout shares the mask
            over time steps).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 3, input_size: "int | tuple[int, int]" = 32,
                 neuron="lif", width_mult: float = 1.0, dropout: float = 0.0):
        super().__init__((64, 64, POOL, 128, 128, POOL, 256, 256, 256, POOL), (1024,), num_classes, in_channels,
                         input_size, neuron, width_mult, dropout)


class VGGSNN(_PlainVGG):
    """VGGSNN of TET (Deng et al. 2022, "Temporal efficient training of spiking neural network via gradient
    re-weighting", ICLR) for 48x48 CIFAR10-DVS frames.

    ``64c-128c-P | 256c-256c-P | 512c-512c-P | 512c-512c-P | [dropout]-FC(classes)``, where ``Nc`` is a 3x3 conv
    -> BN -> act and ``P`` a 2x2 average pooling: 8 convolutions and a single FC on the flattened
    512·⌊H/16⌋·⌊W/16⌋ features (3x3 at 48x48). Checked against the official code
    (``brain-intelligence-lab/temporal_efficient_training``, ``models/VGG_models.py``: ``Layer(2,64)``,
    ``Layer(64,128)``, pool, ``Layer(128,256)``, ``Layer(256,256)``, pool, ``Layer(256,512)``, ``Layer(512,512)``,
    pool, ``Layer(512,512)``, ``Layer(512,512)``, pool, ``Linear(512*3*3, 10)``, with ``Layer`` = conv-BN-LIF).
    One deliberate difference: the official convs keep a bias, which the following BN cancels; here they have
    none (2,752 fewer parameters). Stages end at the four poolings (``features.6``, ``features.13``,
    ``features.20``, ``features.27``); full size with 10 classes at 48x48: 9,268,746 parameters.

    Args:
        num_classes: output classes.
        in_channels: input channels (2 polarities for CIFAR10-DVS).
        input_size: input height and width (int or ``(H, W)``), fixing the FC's input size.
        neuron: neuron preset/spec for the SNN (TET uses ``"tet"``), or ``None`` for the ANN twin (ReLU).
        width_mult: multiplies every conv width (e.g. 0.125 for tiny test models).
        dropout: dropout probability before the FC.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 2, input_size: "int | tuple[int, int]" = 48,
                 neuron="lif", width_mult: float = 1.0, dropout: float = 0.0):
        super().__init__((64, 128, POOL, 256, 256, POOL, 512, 512, POOL, 512, 512, POOL), (), num_classes,
                         in_channels, input_size, neuron, width_mult, dropout)
