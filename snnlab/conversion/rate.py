r"""Rate-coded simulation of a converted LC-TTFS network, and synaptic-operation counts for both codings.

The same ReLU1 ANN converts to a rate-coded SNN without any change of weights: integrate-and-fire neurons with
threshold 1 and subtractive reset, driven by the analog input as a constant current,

.. math:: V_i(t) = V_i(t-1) + \sum_j w_{ij}\, s_j(t), \qquad s_i(t) = [V_i(t) \ge 1], \qquad
          V_i(t) \leftarrow V_i(t) - s_i(t),

fire at a rate :math:`\frac1T \sum_t s_i(t) \to \mathrm{ReLU1}(\sum_j w_{ij} r_j)` as :math:`T` grows (a rate cannot
exceed one spike per step, and a negative input never fires). Unlike TTFS coding, the result is only exact in the
limit: the error shrinks like :math:`1/T` while the number of spikes grows like :math:`T`. The readout layer
averages its input current over the :math:`T` steps.

Counting follows the kit's convention (:mod:`snnlab.energy`): per inference, weighted layers only, average
pooling not counted (here every pooling feeds neurons, so the next weighted layer reads spikes); a
multiply-accumulate (MAC) for every product of an analog value and a weight, padding included; the first layer's
input current is the same at every step, so it is computed, and counted, once; an accumulate (AC, synaptic
operation) for every spike delivered through a weight. In TTFS coding every neuron, and every padded position (an
activation 0, i.e. a spike at the end of its window), spikes exactly once.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from .lc_ttfs import TTFSLayer, _input_times

__all__ = ["synaptic_ops", "dense_ops", "RateResult", "simulate_rate", "ttfs_ops"]


def synaptic_ops(layer: TTFSLayer, events: torch.Tensor, padding_events: float = 0.0) -> float:
    """Operations layer ``layer`` performs when its input neurons carry ``events`` (spike counts, or 1 per analog
    value) and each padded position ``padding_events``: the number of (input event, weight) pairs; 0 for average
    pooling."""
    if layer.kind == "avgpool":
        return 0.0
    counter = replace(layer, weight=torch.ones_like(layer.weight))
    return float(counter.apply(events.to(layer.weight.dtype), pad_value=padding_events).sum())


def dense_ops(layer: TTFSLayer, x: torch.Tensor) -> float:
    """``Layer#OPS`` of ``layer`` on input shaped like ``x``: one operation per (input, weight) pair, padding
    included (the MACs of an ANN layer; the ACs of a TTFS layer, whose every input spikes once)."""
    return synaptic_ops(layer, torch.ones_like(x), padding_events=1.0)


def ttfs_ops(layers: list[TTFSLayer], x: torch.Tensor) -> list[float]:
    """Synaptic operations per weighted layer of the TTFS network: every neuron (input pixels and padded positions
    included) spikes exactly once, so each synapse carries one event, :func:`dense_ops`. The ANN does the same
    number of MACs."""
    ops, shape_probe = [], torch.ones_like(x)
    for layer in layers:
        ops.append(dense_ops(layer, shape_probe))
        shape_probe = torch.ones_like(layer.apply(shape_probe))
    return ops


@dataclass
class RateResult:
    """Readout (mean input current of the last layer), spike counts of every spiking layer, and operation counts."""

    output: torch.Tensor
    spike_counts: list[torch.Tensor]
    macs: float
    sops: float


@torch.no_grad()
def simulate_rate(layers: list[TTFSLayer], x: torch.Tensor, T: int) -> RateResult:
    """Simulate the rate-coded conversion for ``T`` steps (see the module docstring); ``x`` in ``[0, 1]``."""
    if T < 1:
        raise ValueError(f"T must be >= 1, got {T}")
    if len(layers) < 2:
        raise ValueError("a rate-coded network needs at least one spiking layer before the readout")
    _input_times(x)                                                    # validates the input range
    first = layers[0].apply(x)                                         # analog input: the same current every step
    potentials = [torch.zeros_like(first)]
    for layer in layers[1:-1]:
        potentials.append(torch.zeros_like(layer.apply(potentials[-1])))
    counts = [torch.zeros_like(p) for p in potentials]
    readout = torch.zeros_like(layers[-1].apply(potentials[-1]))
    sops = 0.0
    for _ in range(T):
        current = first
        for i, following in enumerate(layers[1:]):               # spiking layer i drives layer i + 1
            potentials[i] += current
            spikes = (potentials[i] >= 1.0).to(current.dtype)
            potentials[i] -= spikes
            counts[i] += spikes
            current = following.apply(spikes)
            sops += synaptic_ops(following, spikes)
        readout += current
    macs = dense_ops(layers[0], x)                                   # the analog input current, computed once
    return RateResult(readout / T, counts, macs, sops)
