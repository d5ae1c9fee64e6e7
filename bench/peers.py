"""The same SNN with its neurons implemented by snnlab, by SpikingJelly, and by the peers it is timed against.

Every variant is built from the same initial weights (``build_model(..., neuron="tet")``) and differs only in its
spiking neurons; the convolutions, batch norms and poolings run on ``T·N`` samples (time folded into the batch) in
all of them. The neuron is TET's (``mem = 0.5 mem + x``, threshold 1, hard reset to 0):

* ``snnlab`` — :func:`snnlab.neurons.make_neuron` (on a CPU, :mod:`snnlab.cpu_neurons`; on CUDA SpikingJelly's
  fused kernels), triangle surrogate;
* ``spikingjelly`` — SpikingJelly 2.0's own node (its CPU operator, or its fused kernels on CUDA);
* ``plain-loop`` — a multi-step LIF written as the official TET code writes it (:class:`PlainLIF`);
* ``snntorch`` — snnTorch's ``Leaky(beta=0.5, threshold=1, reset_mechanism="zero")`` called once per step, with
  snnTorch's default surrogate (arctangent) and reset timing (a spike resets the membrane at the next step).
  snnTorch is a benchmark extra (``pip install "snnlab-kd[bench]"``); without it this variant is left out.
"""
from __future__ import annotations

import importlib.util

import torch
from torch import nn

from snnlab.execution import neuron_kind
from snnlab.models.registry import build_model
from snnlab.neurons import make_neuron, neuron_spec
from snnlab.reproducibility import seed_everything

NEURON = "tet"
VARIANTS = ("snnlab", "spikingjelly", "plain-loop", "snntorch")


class TriangleSpike(torch.autograd.Function):
    """Heaviside forward, triangle surrogate backward ``max(0, 1 - |u|)`` (TET's ``ZIF`` with gamma = 1)."""

    @staticmethod
    def forward(ctx, u):
        ctx.save_for_backward(u)
        return (u >= 0).to(u.dtype)

    @staticmethod
    def backward(ctx, grad):
        (u,) = ctx.saved_tensors
        return grad * (1 - u.abs()).clamp_min(0)


class PlainLIF(nn.Module):
    """A multi-step LIF written as the official TET code writes it: ``mem = decay * mem + x``, spike at
    ``mem >= threshold``, hard reset to 0; a Python loop over the time steps of ``[T, N, ...]``."""

    def __init__(self, decay: float = 0.5, threshold: float = 1.0):
        super().__init__()
        self.decay, self.threshold = decay, threshold

    def forward(self, x):
        mem, spikes = torch.zeros_like(x[0], dtype=torch.float32), []
        for current in x:
            mem = mem * self.decay + current.float()
            spike = TriangleSpike.apply(mem - self.threshold)
            mem = (1 - spike) * mem
            spikes.append(spike)
        return torch.stack(spikes)


class SnnTorchLeaky(nn.Module):
    """snnTorch's ``Leaky`` over the time steps of ``[T, N, ...]``, one single-step call per step (as snnTorch's
    tutorials run it)."""

    def __init__(self, beta: float = 0.5, threshold: float = 1.0):
        super().__init__()
        import snntorch

        self.leaky = snntorch.Leaky(beta=beta, threshold=threshold, reset_mechanism="zero")

    def forward(self, x):
        mem, spikes = self.leaky.init_leaky(), []
        for current in x:
            spike, mem = self.leaky(current, mem)
            spikes.append(spike)
        return torch.stack(spikes)


def snntorch_available() -> bool:
    return importlib.util.find_spec("snntorch") is not None


def available_variants() -> tuple[str, ...]:
    """:data:`VARIANTS`, without ``snntorch`` when it is not installed."""
    return tuple(v for v in VARIANTS if v != "snntorch" or snntorch_available())


def replace_neurons(model: nn.Module, make) -> nn.Module:
    """``model`` with every SpikingJelly IF/LIF/PLIF neuron replaced by ``make(neuron)`` (in place)."""
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if neuron_kind(child) is not None:
                setattr(parent, name, make(child))
    return model


def peer_neuron(variant: str) -> nn.Module:
    """One ``tet``-preset neuron as a peer of snnlab's implements it (``variant``: any of :data:`VARIANTS` but
    ``snnlab``, whose neurons the model already has)."""
    spec = neuron_spec(NEURON)
    if variant == "spikingjelly":
        return make_neuron(spec, cpu_path=False)
    if variant == "plain-loop":
        return PlainLIF(1 - 1 / spec.tau, spec.v_threshold)
    if variant == "snntorch":
        return SnnTorchLeaky(1 - 1 / spec.tau, spec.v_threshold)
    raise ValueError(f"unknown peer {variant!r}; choose one of {VARIANTS[1:]}")


def build_variant(name: str, variant: str, seed: int = 0, **model_options) -> nn.Module:
    """Model ``name`` (registry name) with its neurons implemented by ``variant``, from the weights of ``seed``."""
    seed_everything(seed)
    model = build_model(name, num_classes=10, neuron=NEURON, **model_options)
    return model if variant == "snnlab" else replace_neurons(model, lambda _node: peer_neuron(variant))
