"""CIFAR-style spiking ResNets: ResNet-18 and ResNet-19 (tdBN/TET), each as SNN or ANN twin.

Residual blocks are the standard spiking ResNet ("spiking ResNet" of Zheng et al. 2021 and the TET code):
``act(BN(conv(act(BN(conv(x))))) + shortcut(x))`` — the second spiking neuron sits *after* the residual addition,
so every block outputs spikes and the addition sums real-valued BN outputs with the (spiking) shortcut. In the ANN
twin the neuron is a ReLU, which gives the usual post-activation ResNet. The addition is element-wise, so it works
unchanged on ``[T, N, C, H, W]`` (SNN) and ``[N, C, H, W]`` (ANN) tensors.
"""
from __future__ import annotations

from collections import OrderedDict

from torch import nn

from .base import SpikingNet

__all__ = ["ResNet18", "ResNet19"]


class BasicBlock(nn.Module):
    """``conv3x3(stride)-BN-act1-conv3x3-BN (+) shortcut -> act2``; the shortcut is ``conv1x1(stride)-BN`` when the
    shape changes and the identity otherwise. Layers come from the owning network's builders (``net``), so the
    block is spiking or ReLU exactly like the network."""

    def __init__(self, net: SpikingNet, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = net.conv(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = net.bn(out_channels)
        self.act1 = net.act()
        self.conv2 = net.conv(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = net.bn(out_channels)
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(net.conv(in_channels, out_channels, 1, stride=stride, bias=False),
                                          net.bn(out_channels))
        else:
            self.shortcut = nn.Identity()
        self.act2 = net.act()

    def forward(self, x):
        out = self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x)))))
        return self.act2(out + self.shortcut(x))


class _CifarResNet(SpikingNet):
    """``features = stem (conv3x3 stride 1 - BN - act, no max pool) -> layer1..layerK`` of :class:`BasicBlock`
    (the first block of every stage after the first has stride 2), then
    ``classifier = global avg pool -> flatten -> [FC(fc_hidden) - act] -> FC(classes)``.

    Stages end at ``features.layer1`` ... ``features.layerK``. ``width_mult`` scales the stem, every stage and the
    hidden FC.
    """

    def __init__(self, blocks: tuple[int, ...], widths: tuple[int, ...], stem_channels: int,
                 fc_hidden: "int | None", num_classes: int, in_channels: int, neuron, width_mult: float):
        super().__init__(neuron)
        if width_mult <= 0:
            raise ValueError(f"width_mult must be positive, got {width_mult}")

        def scale(c: int) -> int:
            return max(1, round(c * width_mult))

        channels = scale(stem_channels)
        stages = OrderedDict(stem=nn.Sequential(self.conv(in_channels, channels, 3, padding=1, bias=False),
                                                self.bn(channels), self.act()))
        for i, (n_blocks, width) in enumerate(zip(blocks, map(scale, widths)), start=1):
            stride = 1 if i == 1 else 2
            layers = []
            for b in range(n_blocks):
                layers.append(BasicBlock(self, channels, width, stride if b == 0 else 1))
                channels = width
            stages[f"layer{i}"] = nn.Sequential(*layers)
        self.features = nn.Sequential(stages)
        self.stage_names = tuple(f"features.layer{i}" for i in range(1, len(blocks) + 1))

        head = [self.global_pool(), self.flatten()]
        if fc_hidden is not None:
            head += [self.linear(channels, scale(fc_hidden)), self.act()]
            channels = scale(fc_hidden)
        head.append(self.linear(channels, num_classes))
        self.classifier = nn.Sequential(*head)

    def forward_layers(self, x):
        return self.classifier(self.features(x))


class ResNet18(_CifarResNet):
    """CIFAR ResNet-18 (He et al. 2016, CIFAR variant): a 3x3 stride-1 stem with 64 channels and no max pool, four
    stages of two :class:`BasicBlock` each with widths 64-128-256-512 (strides 1, 2, 2, 2), global average
    pooling and one FC.

    This is the CIFAR variant commonly used for the ResNet-18 results of KDSNN, Joint A-SNN and TSSD (their
    official stems were not checked here). The spiking neuron of each block sits after the residual addition
    (module docstring). Full size with 10 classes: 11,173,962 parameters (11,220,132 with 100 classes).

    Args:
        num_classes: output classes.
        in_channels: input channels (3 for CIFAR, 2 for event frames).
        neuron: neuron preset/spec for the SNN, or ``None`` for the ANN twin (ReLU).
        width_mult: multiplies every width (e.g. 0.125 for tiny test models).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 3, neuron="lif", width_mult: float = 1.0):
        super().__init__((2, 2, 2, 2), (64, 128, 256, 512), 64, None, num_classes, in_channels, neuron, width_mult)


class ResNet19(_CifarResNet):
    """ResNet-19 of tdBN (Zheng et al. 2021, "Going deeper with directly-trained larger spiking neural networks",
    AAAI), also used by TET (Deng et al. 2022): a 3x3 stride-1 stem, three stages of :class:`BasicBlock`
    ``[3, 3, 2]`` with widths 128-256-512 (strides 1, 2, 2), global average pooling, ``FC256 - act - FC(classes)``.

    The tdBN paper's table gives a 128-channel stem (the default here). TET's official code
    (``brain-intelligence-lab/temporal_efficient_training``, ``models/resnet_models.py``, ``resnet19``) builds the
    stem with 64 channels, so its first block gets a 1x1 projection shortcut to 128; pass ``stem_channels=64`` to
    reproduce that code. Both have the ``FC256 -> spike -> FC`` head. The spiking neuron of each block sits after
    the residual addition, as in the TET code. Full size with 10 classes: 12,697,994 parameters
    (12,630,858 with ``stem_channels=64``).

    Args:
        num_classes: output classes.
        in_channels: input channels (3 for CIFAR, 2 for event frames).
        neuron: neuron preset/spec for the SNN (TET uses ``"tet"``), or ``None`` for the ANN twin (ReLU).
        width_mult: multiplies every width, the hidden FC included (e.g. 0.125 for tiny test models).
        stem_channels: stem width before ``width_mult`` (128 as in the tdBN paper, 64 as in the TET code).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 3, neuron="lif", width_mult: float = 1.0,
                 stem_channels: int = 128):
        super().__init__((3, 3, 2), (128, 256, 512), stem_channels, 256, num_classes, in_channels, neuron,
                         width_mult)
