"""Implicit differentiation against BPTT on a spiking equilibrium network.

For :class:`~snnlab.models.equilibrium.SpikingEquilibriumMLP` at several numbers of simulated steps ``t_conv``:
the bytes autograd saves for the backward pass (counted with ``saved_tensors_hooks``) and the time of one forward
plus backward pass, for BPTT through every step (``model.unrolled``) and for the implicit gradient at the average
spiking rates (``model(x)``). Reported as ratios BPTT ÷ implicit, timed side by side.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from snnlab.memory import saved_for_backward
from snnlab.models.equilibrium import SpikingEquilibriumMLP
from snnlab.reproducibility import seed_everything

from timing import interleaved_median

BATCH, FEATURES, HIDDEN, LAYERS = 32, 256, 64, 2


def _saved_mib(step) -> float:
    loss, saved = saved_for_backward(step)
    loss.backward()
    return saved / 2 ** 20


def measure(steps: tuple[int, ...], repeats: int) -> list[dict]:
    seed_everything(0)
    model = SpikingEquilibriumMLP(10, FEATURES, hidden=HIDDEN, layers=LAYERS)
    x, y = torch.rand(BATCH, FEATURES), torch.randint(0, 10, (BATCH,))
    losses = {"bptt": lambda: F.cross_entropy(model.unrolled(x), y), "implicit": lambda: F.cross_entropy(model(x), y)}
    rows = []
    for t_conv in steps:
        model.t_conv = t_conv
        memory = {name: _saved_mib(loss) for name, loss in losses.items()}
        times = interleaved_median({name: lambda loss=loss: loss().backward() for name, loss in losses.items()},
                                   repeats=repeats)
        model.zero_grad(set_to_none=True)
        rows.append({"t_conv": t_conv, "bptt_saved_mib": memory["bptt"], "implicit_saved_mib": memory["implicit"],
                     "memory_ratio": memory["bptt"] / memory["implicit"], "bptt_s": times["bptt"],
                     "implicit_s": times["implicit"], "time_ratio": times["bptt"] / times["implicit"]})
    return rows
