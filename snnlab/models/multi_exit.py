"""Multi-exit networks: classifier heads on intermediate stages of any model.

Early classifiers are how TSSD attaches its weak classifier after the middle stage (spatial self-distillation) and
how SSNN trains its shrinking stages (one early classifier per stage except the last). :class:`MultiExit` adds such
heads to any model, by module path, without changing the model: the stage outputs are captured with
:mod:`snnlab.hooks` during the model's own forward pass.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import torch
from spikingjelly.activation_based import functional
from torch import nn

from ..hooks import FeatureCapture, get_module
from .base import SpikingNet

__all__ = ["MultiExit", "ExitOutput", "ExitHead", "exit_head", "stage_channels"]


class ExitOutput(NamedTuple):
    """What :class:`MultiExit` returns: the model's own output and each head's output, keyed by module path."""

    output: torch.Tensor
    exits: dict[str, torch.Tensor]


class ExitHead(SpikingNet):
    """``conv3x3 → BN → act → global average pool → FC``; see :func:`exit_head`."""

    def __init__(self, in_channels: int, num_classes: int, neuron):
        super().__init__(neuron)
        self.features = nn.Sequential(self.conv(in_channels, in_channels, 3, padding=1, bias=False),
                                      self.bn(in_channels), self.act())
        self.classifier = nn.Sequential(self.global_pool(), self.flatten(), self.linear(in_channels, num_classes))

    def forward_layers(self, x):
        return self.classifier(self.features(x))


def exit_head(in_channels: int, num_classes: int, neuron) -> ExitHead:
    """The standard early-exit head: ``conv3x3-BN-neuron-global avg pool-FC``.

    It is TSSD's weak classifier C ("conv, BN, LIF, FC"; Zuo/Ding et al.) and SSNN's early classifier
    ("conv, spiking neuron, FC"; AAAI 2024). The convolution keeps ``in_channels`` channels.

    Args:
        in_channels: channels of the stage output it reads.
        num_classes: number of classes.
        neuron: a neuron preset name or :class:`~snnlab.neurons.NeuronSpec` for an SNN head, mapping
            ``[T, N, C, H, W]`` to per-step logits ``[T, N, classes]``; ``None`` for the ANN-twin head, ``[N, C, H, W]``
            to ``[N, classes]`` with ReLU. Pass the backbone's ``model.neuron`` to match an snnlab model.
    """
    return ExitHead(in_channels, num_classes, neuron)


def stage_channels(model: nn.Module, path: str) -> int:
    """Channels of the feature map at module ``path``: the output channels of the last convolution up to it (what an
    early-exit head reading that stage must accept)."""
    channels, reached = None, False
    for name, module in model.named_modules():                  # pre-order: a module, then everything inside it
        inside = name == path or name.startswith(path + ".")
        if reached and not inside:
            break
        reached = reached or inside
        weight = getattr(module, "weight", None)
        if isinstance(module, nn.Conv2d) or (weight is not None and weight.dim() == 4):
            channels = weight.shape[0]
    if channels is None:
        raise ValueError(f"no convolution before {path!r}; give the channels explicitly")
    return channels


class MultiExit(nn.Module):
    """Wrap ``model`` so that its forward also runs a head on the output of each given module.

    >>> net = SmallCNN(num_classes=10, width=16)
    >>> me = MultiExit(net, {"features.2": exit_head(16, 10, net.neuron), "features.6": exit_head(32, 10, net.neuron)})
    >>> out = me(x_seq)                     # ExitOutput(output=[T, N, 10], exits={"features.2": [T, N, 10], ...})

    The captured stage outputs keep their autograd graph (unless ``detach=True``), so a head's loss trains the
    backbone too. The model runs exactly as it would unwrapped (hooks are installed only during the wrapper's
    forward), and the neuron state of the model and of every head is reset after each forward.

    Args:
        model: any model; its stage outputs are taken by module path (e.g. an snnlab model's ``stage_names``).
        heads: module path → head; each head takes that module's output.
        detach: feed the heads detached stage outputs (the head losses then train only the heads).
    """

    def __init__(self, model: nn.Module, heads: Mapping[str, nn.Module], detach: bool = False):
        super().__init__()
        if not heads:
            raise ValueError("give at least one head: {module path: head}, e.g. "
                             "{model.stage_names[0]: exit_head(channels, classes, model.neuron)}")
        for path in heads:
            get_module(model, path)  # unknown paths fail here, listing the valid ones
        self.model = model
        self.exit_paths: tuple[str, ...] = tuple(heads)
        self.heads = nn.ModuleList(heads.values())  # ModuleDict keys cannot contain the dots of module paths
        self.detach = detach

    def forward(self, *args) -> ExitOutput:
        try:
            with FeatureCapture(self.model, self.exit_paths, detach=self.detach) as cap:
                output = self.model(*args)
            features = cap.features
            missing = [path for path in self.exit_paths if path not in features]
            if missing:
                raise RuntimeError(f"module(s) {missing} did not run in the forward pass of "
                                   f"{type(self.model).__name__}, so their heads have no input")
            return ExitOutput(output, {path: head(features[path]) for path, head in zip(self.exit_paths, self.heads)})
        finally:
            functional.reset_net(self)

    def extra_repr(self) -> str:
        return f"exit_paths={self.exit_paths}, detach={self.detach}"
