"""LC-TTFS: is the conversion of a constrained ANN to a TTFS SNN lossless, and what does it cost?

Per seed, a constrained MLP and a constrained CNN (:func:`snnlab.conversion.constrained_mlp`,
:func:`~snnlab.conversion.constrained_cnn`: weights summing to one, ReLU1, no bias, no BN) are trained as ANNs,
converted, and simulated with the exact event-driven simulator on the whole test set. Recorded per network: ANN
and SNN test accuracy, prediction agreement, the largest spike-time error :math:`|t - (l + 1 - a)|`, spikes per
neuron, operations and energy per image for the ANN (MACs), the TTFS SNN (one spike per neuron, so one AC per
synapse) and the rate-coded conversion of the same weights at the smallest ``T`` of a sweep that reaches the ANN's
accuracy within ``tolerance_pp`` points (its first layer's MACs once, since its input current is the same at every
step, and every later spike an AC: the convention of :mod:`snnlab.energy`).
"""
from __future__ import annotations

import torch

from ...conversion import (ann_activations, constrained_cnn, constrained_mlp, convert, max_time_error, simulate_exact,
                          simulate_rate, ttfs_ops)
from ...energy import energy_pj
from ...methods import ANNClassification
from ...reproducibility import seed_everything
from ...train import TrainConfig, Trainer, test_curve
from ..common import data_info, load_data
from ..networks import with_network
from ..registry import BOOK_SEEDS, Contrast, Measure, Premise, Reproduction, register

__all__ = ["PRESETS", "ARMS", "run_seed", "build_network", "convert_and_measure"]

ARMS = ("cnn-ttfs", "cnn-ann", "cnn-rate", "mlp-ttfs", "mlp-ann", "mlp-rate")
"""The converted CNN first and its ANN second (the compared pair: equal accuracy is the claim), then the rate-coded
conversion and the same three for the MLP. A ``-rate`` arm's accuracy is the one at the largest ``T`` swept."""

_ADAM = dict(optimizer="adam", lr=3e-3, scheduler="cosine", batch_size=32)
_SWEEP = (1, 2, 4, 8, 16, 32, 64, 128, 256)

PRESETS = {
    "smoke": dict(dataset="digits", data_options=dict(size=16, train_limit=200), model="lc-ttfs mlp + cnn",
                  networks=dict(mlp=dict(hidden=(32,)), cnn=dict(cfg=(4, "P", 8, "P"))),
                  train=dict(_ADAM, epochs=2), rate_T=(1, 4, 16), tolerance_pp=1.0, seeds=1),
    "book": dict(dataset="digits", data_options=dict(size=16), model="lc-ttfs mlp + cnn",
                 networks=dict(mlp=dict(hidden=(128, 64)), cnn=dict(cfg=(16, "P", 32, "P"))),
                 train=dict(_ADAM, epochs=30), rate_T=_SWEEP, tolerance_pp=1.0, seeds=BOOK_SEEDS),
    # CIFAR-10 with a VGG-style constrained network (augmented, pixels in [0, 1]), for a GPU.
    "paper": dict(dataset="cifar10", data_options=dict(normalize=False, augment=True), model="lc-ttfs mlp + vgg",
                  networks=dict(mlp=dict(hidden=(1024, 512)),
                                cnn=dict(cfg=(64, 64, "P", 128, 128, "P", 256, 256, "P"), hidden=(512,))),
                  train=dict(optimizer="adam", lr=1e-3, scheduler="cosine", batch_size=128, epochs=100),
                  rate_T=_SWEEP + (512, 1024), tolerance_pp=1.0, seeds=1),
}


def build_network(kind: str, options: dict, sample_shape: tuple[int, ...], num_classes: int) -> torch.nn.Sequential:
    """The constrained ``"mlp"`` or ``"cnn"`` of a setting, for samples of ``sample_shape`` ``(C, H, W)``."""
    channels, height = sample_shape[0], sample_shape[-1]
    if kind == "mlp":
        return constrained_mlp(int(torch.tensor(sample_shape).prod()), tuple(options["hidden"]), num_classes)
    return constrained_cnn(tuple(options["cfg"]), channels, height, num_classes, tuple(options.get("hidden", ())))


def network(settings: dict, arm: str) -> torch.nn.Sequential:
    """The network a record keeps for ``arm`` (``cnn-ttfs``, ``mlp-ann``, ...): its kind's constrained network, in
    double precision as it was converted and simulated."""
    info, kind = data_info(settings), arm.partition("-")[0]
    return build_network(kind, settings["networks"][kind], info.sample_shape, info.num_classes).double()


def _test_batches(dataset, batch_size: int = 500):
    """The test set in batches (augmentation off): whole-test-set activations of a large network do not fit in
    memory at once."""
    if hasattr(dataset, "augment"):
        dataset.augment = False
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)


def _correct(scores: torch.Tensor, labels: torch.Tensor) -> int:
    return int((scores.argmax(1) == labels).sum())


@torch.no_grad()
def convert_and_measure(model, test_set, settings, device) -> dict:
    """Accuracy, exactness and cost of the trained constrained ANN ``model`` (float64), its TTFS conversion and its
    rate-coded conversion at each ``T`` of ``settings["rate_T"]`` (per image), accumulated over test batches:
    ``{"ttfs" | "ann" | "rate": (accuracy, curve or None, metrics)}``; the rate arm's metrics are those at the
    smallest ``T`` within ``settings["tolerance_pp"]`` points of the ANN."""
    layers = convert(model)
    sweep = list(settings["rate_T"])
    n = ann_hits = snn_hits = agreeing = forced = hidden_neurons = 0
    time_error = output_error = 0.0
    rate_hits, rate_sops = [0] * len(sweep), [0.0] * len(sweep)
    for x, y in _test_batches(test_set):
        x, y = x.to(device, torch.float64), y.to(device)
        activations, ann_out = ann_activations(model, x)
        ttfs = simulate_exact(layers, x)
        n += len(y)
        ann_hits, snn_hits = ann_hits + _correct(ann_out, y), snn_hits + _correct(ttfs.output, y)
        agreeing += int((ttfs.output.argmax(1) == ann_out.argmax(1)).sum())
        time_error = max(time_error, max_time_error(ttfs, activations))
        output_error = max(output_error, float((ttfs.output - ann_out).abs().max()))
        forced += sum(int((a == 0).sum()) for a in activations[1:])
        hidden_neurons += sum(a.numel() for a in activations[1:])
        del activations, ttfs
        for k, T in enumerate(sweep):
            rate = simulate_rate(layers, x, T)
            rate_hits[k] += _correct(rate.output, y)
            rate_sops[k] += rate.sops
    ann_acc, snn_acc = 100.0 * ann_hits / n, 100.0 * snn_hits / n
    per_layer = ttfs_ops(layers, x[:1])
    synapses, first_layer = sum(per_layer), per_layer[0]
    rate_curve = [100.0 * h / n for h in rate_hits]
    reaching = [k for k, acc in enumerate(rate_curve) if acc >= ann_acc - settings["tolerance_pp"]]
    rate = {"T_needed": float("nan"), "macs": float("nan"), "sops": float("nan"), "energy_pj": float("nan"),
            "acc_at_T_needed": float("nan")}
    if reaching:
        k = reaching[0]
        macs = first_layer  # the analog first layer's current, the same at every step: computed once (snnlab.energy)
        rate = {"T_needed": float(sweep[k]), "macs": macs, "sops": rate_sops[k] / n,
                "energy_pj": energy_pj(macs, rate_sops[k] / n), "acc_at_T_needed": rate_curve[k]}
    ttfs_metrics = {
        "ann_acc": ann_acc, "agreement": 100.0 * agreeing / n, "max_time_error": time_error,
        "max_output_error": output_error, "spikes_per_neuron": 1.0, "forced_spike_fraction": 100.0 * forced /
        hidden_neurons, "sops": synapses, "first_layer_sops": first_layer, "energy_pj": energy_pj(0, synapses)}
    return {"ttfs": (snn_acc, [snn_acc], ttfs_metrics),
            "ann": (ann_acc, None, {"macs": synapses, "energy_pj": energy_pj(synapses, 0)}),
            "rate": (rate_curve[-1], rate_curve, rate)}


def run_seed(settings: dict, seed: int, progress: bool) -> dict:
    """Train, convert and measure the MLP and the CNN for one seed; see the module docstring. The ``-ann`` arm's
    curve is its test accuracy per training epoch, the ``-rate`` arm's its accuracy at each ``T`` of the sweep."""
    train_set, test_set = load_data(settings)
    info = train_set.info
    results = {}
    for kind in ("cnn", "mlp"):
        seed_everything(seed)
        model = build_network(kind, settings["networks"][kind], info.sample_shape, info.num_classes)
        config = TrainConfig(seed=seed, progress=progress, **settings["train"])
        history = Trainer(ANNClassification(model), train_set, test_set, config).fit()
        model = model.eval().double()
        device = next(model.parameters()).device
        for arm, (final, curve, metrics) in convert_and_measure(model, test_set, settings, device).items():
            results[f"{kind}-{arm}"] = with_network({"final": final, "metrics": metrics,
                                                     "curve": curve if curve is not None else test_curve(history)},
                                                    model)
    return results


register(Reproduction(
    name="lc-ttfs",
    paper="Yang, Zhang, Wu, Tan & Li. LC-TTFS: Towards Lossless Network Conversion for Spiking Neural Networks with "
          "TTFS Coding. IEEE Transactions on Cognitive and Developmental Systems, 2023",
    claim="Under the three constraints (weights summing to one, threshold 1, dynamic threshold = ReLU1) the TTFS SNN "
          "reproduces the ANN exactly: the same test accuracy, 100 % prediction agreement, one spike per neuron",
    metric="test accuracy (%)",
    arms=ARMS,
    premise=Premise("the converted networks are trained, not trivial: each ANN is at least 50 points above chance "
                    "(10 %)", (Contrast("cnn-ann", 10.0), Contrast("mlp-ann", 10.0)), 50.0),
    against="the constrained ANN it is converted from (the paper reports the SNN's accuracy beside its ANN's)",
    further_claims=(Measure("mlp", "the fully connected network converts losslessly too",
                            Contrast("mlp-ttfs", "mlp-ann")),),
    presets=PRESETS,
    run_seed=run_seed,
    network=network,
    equivalence=0.0,
    paper_result={"claim": "lossless: the TTFS SNN's accuracy equals its ANN's (near-zero conversion loss on every "
                           "task)", "dataset": "image classification, image reconstruction and speech enhancement"},
))
