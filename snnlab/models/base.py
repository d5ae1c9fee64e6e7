"""The base class shared by every snnlab model: one layout, built either as an SNN or as its ANN twin."""
from __future__ import annotations

import torch
from spikingjelly.activation_based import functional, layer
from torch import nn

from ..layout import require_time_major
from ..neurons import NeuronSpec, neuron_spec

__all__ = ["SpikingNet"]


class SpikingNet(nn.Module):
    """A network that is a spiking network (``neuron`` given) or its ANN twin (``neuron=None``).

    Both twins have the same modules at the same paths (``features.3`` is the same convolution in both), so
    hooks, feature distillation and weight transfer line up. The SNN takes time-major input ``[T, N, *input]``
    and returns per-step outputs ``[T, N, classes]``; the ANN twin takes ``[N, *input]`` and returns
    ``[N, classes]``, with ReLU where the SNN has spiking neurons.

    Neuron state is reset after every forward pass, so consecutive batches never leak membrane potential.

    Subclasses build their layers with :meth:`conv`, :meth:`bn`, :meth:`linear`, :meth:`act`, ... and implement
    :meth:`forward_layers`; they list the module path that ends each stage in ``stage_names``.
    """

    input_ndim: int = 3  # dimensions of one sample (C, H, W)
    stage_names: tuple[str, ...] = ()

    def __init__(self, neuron: "str | NeuronSpec | None" = "lif"):
        super().__init__()
        self.neuron: NeuronSpec | None = None if neuron is None else neuron_spec(neuron)

    @property
    def spiking(self) -> bool:
        return self.neuron is not None

    @property
    def step_mode(self) -> str:
        return "m" if self.spiking else "s"

    # -- layer builders: SpikingJelly layers, multi-step for the SNN, single-step (plain) for the ANN twin --------
    def conv(self, *args, **kwargs) -> nn.Module:
        return layer.Conv2d(*args, step_mode=self.step_mode, **kwargs)

    def bn(self, channels: int) -> nn.Module:
        return layer.BatchNorm2d(channels, step_mode=self.step_mode)

    def linear(self, *args, **kwargs) -> nn.Module:
        return layer.Linear(*args, step_mode=self.step_mode, **kwargs)

    def avg_pool(self, kernel: int) -> nn.Module:
        return layer.AvgPool2d(kernel, step_mode=self.step_mode)

    def max_pool(self, kernel: int) -> nn.Module:
        return layer.MaxPool2d(kernel, step_mode=self.step_mode)

    def global_pool(self) -> nn.Module:
        return layer.AdaptiveAvgPool2d((1, 1), step_mode=self.step_mode)

    def flatten(self) -> nn.Module:
        return layer.Flatten(step_mode=self.step_mode)

    def dropout(self, p: float) -> nn.Module:
        """SpikingJelly's Dropout (one mask shared by all time steps) for the SNN, ``nn.Dropout`` for the ANN twin."""
        return layer.Dropout(p, step_mode=self.step_mode) if self.spiking else nn.Dropout(p)

    def act(self) -> nn.Module:
        """A spiking neuron for the SNN, ``nn.ReLU`` for the ANN twin."""
        return self.neuron.build(step_mode="m") if self.spiking else nn.ReLU()

    # -- forward ------------------------------------------------------------------------------------------------
    def forward_layers(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.spiking:
            require_time_major(x, self.input_ndim + 1, "ANN input", "[N, ...] (the ANN twin takes no time axis)")
            return self.forward_layers(x)
        require_time_major(x, self.input_ndim + 2, "SNN input", "[T, N, ...]")
        try:
            return self.forward_layers(x)
        finally:
            functional.reset_net(self)

    def extra_repr(self) -> str:
        return f"spiking={self.spiking}" + (f", neuron={self.neuron.kind}" if self.spiking else "")
