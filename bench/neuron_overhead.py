"""Cost of the spiking neurons over the same convolutions, and snnlab's neurons against its peers.

For SmallCNN and VGG-9 at each T, one training step (forward, cross-entropy on the time-averaged output, backward,
SGD) of every variant of ``peers.py`` (TET's neuron implemented by snnlab, SpikingJelly, a plain loop as the
official TET code writes it, and snnTorch), of snnlab's default ``lif`` neuron, and of the ANN twin, timed
interleaved on the same batch. Reported:

* ``ratio`` = snnlab step ÷ (T × ANN-twin step). The SNN runs its convolutions on T·N samples plus T sequential
  neuron updates, so 1 means the neurons cost nothing beyond the T-fold convolution work;
* ``vs_peers`` = snnlab step ÷ each peer's step (below 1: snnlab is faster).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from snnlab.encoding import direct
from snnlab.models.registry import build_model
from snnlab.reproducibility import seed_everything

from peers import available_variants, build_variant
from timing import interleaved_median

CASES = {
    "small-cnn": dict(model=dict(in_channels=1, width=16), input=(1, 16, 16), batch=32),
    "vgg9": dict(model=dict(in_channels=3), input=(3, 32, 32), batch=16),
}
PEERS = ("plain-loop", "snntorch")


def train_step(model, optimizer, x, y, reduce):
    optimizer.zero_grad(set_to_none=True)
    F.cross_entropy(reduce(model(x)), y).backward()
    optimizer.step()


def stepper(model, x, y, reduce):
    """A function that runs one SGD training step of ``model`` on ``(x, y)``."""
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    return lambda: train_step(model, optimizer, x, y, reduce)


def measure(name: str, T: int, repeats: int) -> dict:
    """Step times of every variant of model ``name`` at ``T`` steps and the ratios of the module docstring."""
    case = CASES[name]
    x = torch.rand(case["batch"], *case["input"])
    y = torch.randint(0, 10, (case["batch"],))
    x_seq, mean_over_time = direct(x, T), (lambda out: out.mean(0))
    steps = {variant: stepper(build_variant(name, variant, **case["model"]), x_seq, y, mean_over_time)
             for variant in available_variants()}
    seed_everything(0)
    steps["snnlab-lif"] = stepper(build_model(name, num_classes=10, neuron="lif", **case["model"]), x_seq, y,
                                   mean_over_time)
    steps["ann"] = stepper(build_model(name, num_classes=10, neuron=None, **case["model"]), x, y, lambda out: out)
    times = interleaved_median(steps, repeats=repeats, warmup=2)
    snnlab = times["snnlab"]
    return {"model": name, "T": T, "batch": case["batch"], "input": list(case["input"]), "step_s": times,
            "snn_step_s": snnlab, "ann_step_s": times["ann"], "ratio": snnlab / (T * times["ann"]),
            "ratio_lif": times["snnlab-lif"] / (T * times["ann"]),
            "vs_peers": {peer: snnlab / times[peer] for peer in PEERS if peer in times},
            "vs_spikingjelly": snnlab / times["spikingjelly"]}
