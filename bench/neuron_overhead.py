"""Cost of neuron dynamics over the same convolutions.

ratio = SNN training-step time ÷ (T × ANN-twin training-step time), on the same batch and optimiser. The SNN runs
its convolutions on T·N samples (T folded into the batch) plus T sequential neuron updates, so a ratio of 1 means
the spiking neurons cost nothing beyond the T-fold convolution work.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from snnlab.encoding import direct
from snnlab.models.registry import build_model
from snnlab.reproducibility import seed_everything

from timing import interleaved_median

CASES = {
    "small-cnn": dict(model=dict(in_channels=1, width=16), input=(1, 16, 16), batch=32),
    "vgg9": dict(model=dict(in_channels=3), input=(3, 32, 32), batch=16),
}


def _train_step(model, optimizer, x, y, reduce):
    optimizer.zero_grad(set_to_none=True)
    F.cross_entropy(reduce(model(x)), y).backward()
    optimizer.step()


def measure(name: str, T: int, repeats: int) -> dict:
    case = CASES[name]
    seed_everything(0)
    snn = build_model(name, num_classes=10, neuron="lif", **case["model"])
    ann = build_model(name, num_classes=10, neuron=None, **case["model"])
    x = torch.rand(case["batch"], *case["input"])
    y = torch.randint(0, 10, (case["batch"],))
    x_seq = direct(x, T)
    opt_snn = torch.optim.SGD(snn.parameters(), lr=1e-3)
    opt_ann = torch.optim.SGD(ann.parameters(), lr=1e-3)
    times = interleaved_median({
        "snn": lambda: _train_step(snn, opt_snn, x_seq, y, lambda out: out.mean(0)),
        "ann": lambda: _train_step(ann, opt_ann, x, y, lambda out: out),
    }, repeats=repeats)
    return {"model": name, "T": T, "batch": case["batch"], "input": list(case["input"]),
            "snn_step_s": times["snn"], "ann_step_s": times["ann"], "ratio": times["snn"] / (T * times["ann"])}
