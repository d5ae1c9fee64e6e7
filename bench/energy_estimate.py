"""Estimate the energies of the common-ground comparison record under the kit's spike-driven energy convention.

Usage: ``python bench/energy_estimate.py [RECORD]`` (default ``results/comparisons/common-ground-book.json``); a few
seconds on a CPU. Prints, per arm, the energy per image the record holds and the estimate under the convention of
:mod:`snnlab.energy` (an average pooling of spikes folded into the next weight layer, a direct-coded first layer
counted once).

The record keeps each arm's totals per image (energy, MACs, SOPs) and its mean firing rate over the neuron layers,
not the networks, so the new counts are an **estimate**: a weight layer fed by spikes at rate :math:`r` does
:math:`r` times the ACs it would do if every neuron fired at every step, which is counted exactly on the arm's
architecture with always-firing neurons (spikes assumed spread evenly over the positions of a map). What the record
pins down is used as measured:

* layers fed by spikes directly (the second convolution of ``SmallCNN``; every layer before the first pooling of the
  LaSNN arm's Poisson-fed network) keep the SOPs the record holds; in ``SmallCNN`` they also give the first neuron
  layer's rate, so the two other layers' rates are the rest of the recorded mean;
* layers whose input is real-valued under both conventions (SSNN's convolutions after a temporal transformer) keep
  their MACs, and a direct-coded first layer's MACs are one step's;
* the ANN references and the TTFS arm (one spike per synapse) are counted alike under both.

``--check`` applies the same estimate to the SNN at the largest ``T`` of the ``energy-twins`` demonstration record,
which stores per-layer firing rates and the exact count, and prints the estimate's error.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from snnlab.encoding import direct
from snnlab.energy import NEURON_TYPES, EnergyReport, energy_pj, energy_report
from snnlab.models import ShrinkingSNN, SmallCNN
from snnlab.models.plain import ConversionCNN

ROOT = Path(__file__).resolve().parents[1]
SMALL_CNN_ARMS = ("plain", "tet", "kdsnn", "joint-asnn", "tssd")
"""Arms deployed as the backbone ``SmallCNN`` with direct coding (Joint A-SNN's factorised weights multiplied out)."""
UNCHANGED_ARMS = ("lc-ttfs", "ann", "teacher")


def always_firing(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` with every spiking neuron firing at every step (threshold −∞)."""
    for module in model.modules():
        if isinstance(module, NEURON_TYPES):
            module.v_threshold = float("-inf")
    return model


def full_rate_counts(model: torch.nn.Module, x: torch.Tensor) -> dict[str, tuple[int, int]]:
    """Per weight layer, ``(MACs, ACs)`` of one input ``x`` when every neuron fires at every step, every step counted
    (spikes that repeat at every step would otherwise be counted once)."""
    report = energy_report(always_firing(model).eval(), x, steps=1)
    return {layer.path: (layer.macs, layer.sops) for layer in report.layers}


def small_cnn_counts(setting: dict, T: int) -> dict[str, tuple[int, int]]:
    size, options = setting["data_options"]["size"], setting["model_options"]
    model = SmallCNN(10, options["in_channels"], options["width"], neuron="lif")
    return full_rate_counts(model, direct(torch.full((1, options["in_channels"], size, size), 0.5), T))


def estimate(record: dict) -> dict[str, tuple[float, float]]:
    """``{arm: (recorded pJ, estimated pJ)}`` per image."""
    setting, T = record["setting"], record["setting"]["T"]
    size, channels = setting["data_options"]["size"], setting["model_options"]["in_channels"]
    mean = {arm: {k: v["mean"] for k, v in summary["metrics"].items()} for arm, summary in record["arms"].items()}
    out = {arm: (mean[arm]["energy_pj"], mean[arm]["energy_pj"]) for arm in UNCHANGED_ARMS}

    full = small_cnn_counts(setting, T)
    for arm in SMALL_CNN_ARMS:
        m, sops = mean[arm]["firing_rate"], mean[arm]["sops"]
        first_rate = sops / full["features.3"][1]                      # conv2 reads the first neuron layer
        later_rate = (3 * m - first_rate) / 2                          # the other two layers' mean rate
        folded = later_rate * (full["features.7"][1] + full["classifier.3"][1])
        out[arm] = (mean[arm]["energy_pj"], energy_pj(full["features.0"][0] / T, sops + folded))

    lasnn = ConversionCNN(10, channels, size, cfg=tuple(setting["conversion_cfg"]), neuron="lif")
    counts = list(full_rate_counts(lasnn, torch.ones(T, 1, channels, size, size)).values())
    m = mean["lasnn"]["firing_rate"]                                   # Poisson input: conv1, conv2 read spikes
    out["lasnn"] = (mean["lasnn"]["energy_pj"], energy_pj(0, mean["lasnn"]["sops"] + m * sum(c[1] for c in counts[2:])))

    steps = tuple(setting["ssnn_steps"])
    ssnn = ShrinkingSNN(SmallCNN(10, channels, setting["model_options"]["width"], neuron="lif"), steps)
    for transition in ssnn.transitions:                    # trained weights are real-valued, not all zero
        torch.nn.init.normal_(transition.weights)
    counts = full_rate_counts(ssnn, direct(torch.full((1, channels, size, size), 0.5), steps[0]))
    macs = sum(c[0] for c in counts.values()) - counts["stages.0"][0] * (1 - 1 / steps[0])   # conv1 once
    m = mean["ssnn"]["firing_rate"]
    out["ssnn"] = (mean["ssnn"]["energy_pj"], energy_pj(macs, m * sum(c[1] for c in counts.values())))
    return out


def check(demo: dict) -> tuple[float, float]:
    """``(estimated, exact)`` ACs per image of the folded layers of the energy-twins SNN at its largest ``T``."""
    setting, T = demo["setting"], demo["setting"]["steps"][-1]
    report = EnergyReport.from_dict(demo["measured"]["models"][f"SNN T={T}"]["report"])
    n, full = demo["measured"]["eval_images"], small_cnn_counts(setting, T)
    layers, rates = {layer.path: layer for layer in report.layers}, report.firing_rates
    estimated = rates["features.5"] * full["features.7"][1] + rates["features.9"] * full["classifier.3"][1]
    return estimated, (layers["features.7"].sops + layers["classifier.3"].sops) / n


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("record", nargs="?", default=ROOT / "results" / "comparisons" / "common-ground-book.json")
    parser.add_argument("--check", action="store_true", help="the estimate's error on the energy-twins record")
    args = parser.parse_args(argv)
    if args.check:
        demo = json.loads((ROOT / "results" / "demos" / "energy-twins-book.json").read_text())
        estimated, exact = check(demo)
        print(f"folded layers of the energy-twins SNN: estimated {estimated:,.0f} ACs per image, counted {exact:,.0f} "
              f"({estimated / exact - 1:+.1%})")
    print("| arm | recorded energy / image (µJ) | estimate under the spike-driven convention (µJ) |\n|---|---|---|")
    for arm, (recorded, estimated) in estimate(json.loads(Path(args.record).read_text())).items():
        print(f"| {arm} | {recorded / 1e6:.2f} | {estimated / 1e6:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
