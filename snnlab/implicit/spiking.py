r"""Spiking networks at equilibrium: IF simulation, weighted average spiking rates and their fixed-point map.

SpikingBERT (Bal & Sengupta, AAAI 2024) runs a network of IF neurons (no leak, threshold :math:`V_{th}`,
subtractive reset) for :math:`T_{conv}` steps with a constant drive, and reads each neuron's weighted average
spiking rate (ASR)

.. math:: a[t] = \frac{\sum_{t'=1}^{t}\rho^{t-t'} S[t']}{\sum_{t'=1}^{t}\rho^{t-t'}},

with the weighting factor :math:`\rho \in (0, 1]` (``gamma``; 1 gives the plain mean).

A network is described here by its **drive**: a function mapping the state of every neuron group (packed into one
tensor ``[N, ...]``) to the input currents of the same neurons — e.g. :math:`W a + W_{in} x + b` for a recurrent layer,
a stack of layers, or a spiking attention block. During the simulation the drive is fed the spikes of the previous
step; if the drive is affine in them, averaging the IF dynamics over time gives (the charge that does not leave as
spikes stays bounded) the equilibrium

.. math:: a^\star = \mathrm{clamp}\big(\mathrm{drive}(a^\star)/V_{th}, 0, 1\big),

which is a fixed point :math:`a^\star = f(a^\star)` of :func:`asr_map`. Training differentiates it implicitly
(:func:`~snnlab.implicit.function.implicit_gradient`): no surrogate gradient, and memory independent of
:math:`T_{conv}` (the simulation keeps no graph).
"""
from __future__ import annotations

from typing import Callable

import torch
from spikingjelly.activation_based import functional

from ..neurons import make_neuron
from .function import ImplicitStats, implicit_gradient

__all__ = ["weighted_average_rate", "asr_map", "simulate_if", "spiking_equilibrium"]

Drive = Callable[[torch.Tensor], torch.Tensor]


def weighted_average_rate(spikes: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    r"""Weighted average spiking rate of time-major spikes ``[T, ...]`` at every step, ``[T, ...]``:
    :math:`a[t] = \sum_{t'\le t}\rho^{t-t'}S[t'] / \sum_{t'\le t}\rho^{t-t'}`
    (γ = 1: the running mean)."""
    if not 0.0 < gamma <= 1.0:
        raise ValueError(f"gamma must lie in (0, 1], got {gamma}")
    if spikes.dim() < 1 or spikes.shape[0] < 1:
        raise ValueError("spikes must be time-major [T, ...] with T >= 1")
    rates, numerator, denominator = [], torch.zeros_like(spikes[0]), 0.0
    for s in spikes:
        numerator = gamma * numerator + s
        denominator = gamma * denominator + 1.0
        rates.append(numerator / denominator)
    return torch.stack(rates)


def asr_map(drive: Drive, v_threshold: float = 1.0) -> Drive:
    r"""The equilibrium map of an IF network: :math:`f(a) = \mathrm{clamp}(\mathrm{drive}(a)/V_{th}, 0, 1)`."""
    return lambda a: torch.clamp(drive(a) / v_threshold, 0.0, 1.0)


def simulate_if(drive: Drive, like: torch.Tensor, t_conv: int, v_threshold: float = 1.0, gamma: float = 1.0,
                record: bool = False, track_grad: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    r"""Run IF neurons (SpikingJelly's ``IFNode``, subtractive reset) for ``t_conv`` steps: at step :math:`t` they
    receive ``drive(s[t-1])`` (:math:`S[0] = 0`) and spike; returns the weighted ASR after the last step (shape of
    ``like``) and, if ``record``, the ASR after every step ``[t_conv, ...]``. Runs without autograd unless
    ``track_grad``: then the graph of every step is kept and the gradient flows back through all of them via the
    neuron's surrogate (BPTT, memory growing with ``t_conv``) — the baseline the implicit gradient replaces."""
    if t_conv < 1:
        raise ValueError(f"t_conv must be >= 1, got {t_conv}")
    if not 0.0 < gamma <= 1.0:
        raise ValueError(f"gamma must lie in (0, 1], got {gamma}")
    node = make_neuron("spikingbert", step_mode="s", v_threshold=float(v_threshold))
    spikes = torch.zeros_like(like)
    numerator, denominator, history = torch.zeros_like(like), 0.0, []
    try:
        with torch.set_grad_enabled(track_grad):
            for _ in range(t_conv):
                spikes = node(drive(spikes))
                numerator = gamma * numerator + spikes
                denominator = gamma * denominator + 1.0
                if record:
                    history.append(numerator / denominator)
    finally:
        functional.reset_net(node)
    return numerator / denominator, (torch.stack(history) if record else None)


def spiking_equilibrium(drive: Drive, like: torch.Tensor, t_conv: int, v_threshold: float = 1.0, gamma: float = 1.0,
                        **backward) -> tuple[torch.Tensor, torch.Tensor, ImplicitStats]:
    r"""Simulate the IF network for ``t_conv`` steps (no graph), then attach the implicit gradient of
    :math:`a^\star = \mathrm{clamp}(\mathrm{drive}(a^\star)/V_{th}, 0, 1)` at the simulated ASR.

    Returns ``(a, rates, stats)``: ``a`` has the value of the simulated ASR :math:`a_{sim}` and the implicit
    gradient of :math:`f(a_{sim})` (``a_sim + (f(a_sim) - f(a_sim).detach())``: what the rest of the network reads,
    so the spiking network's own rates, not the non-spiking map :math:`f`, produce its outputs, as in SpikingBERT's
    official code); ``rates`` = :math:`a_{sim}` without gradient (e.g. for firing-rate statistics); ``stats`` the
    :class:`~snnlab.implicit.function.ImplicitStats` (backward filled by ``loss.backward()``). ``backward`` takes
    :func:`~snnlab.implicit.function.implicit_gradient`'s ``backward_*`` options.
    """
    rates, _ = simulate_if(drive, like, t_conv, v_threshold, gamma)
    mapped, stats = implicit_gradient(asr_map(drive, v_threshold), rates, **backward)
    return rates + (mapped - mapped.detach()), rates, stats
