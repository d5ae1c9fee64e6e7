r"""Operation counts, energy estimates, firing rates and Norm#OPS for a forward pass of any model.

Counting is done by SpikingJelly's ``op_counter`` (``DispatchCounterMode`` intercepts every aten op): a matrix
product or convolution whose input is **binary** (every value 0 or 1, checked at run time) costs one
accumulate (AC, a synaptic operation or SOP) per weight a spike actually uses; one on an **analog** input costs
multiply-accumulates (MACs). So under direct encoding the first layer of an SNN counts MACs, the later ones SOPs,
and an ANN counts MACs only.

Only weight layers (convolutions, linear layers, matrix products) are counted, as in the papers: batch norm is
taken as folded into the preceding weights at inference, and neuron updates, pooling and additions are not
counted. Two consequences to know when reading a report:

* a weight layer after an average pool sees non-binary input (the mean of spikes), so it counts MACs, the same as
  a classifier after global average pooling does;
* an analog input that happens to be all 0/1 (e.g. binarised images) counts as spikes.

**The counting convention of the whole kit** (this module, the rate-coded and TTFS counts of
:mod:`snnlab.conversion.rate`, every chapter):

1. *Every time step counts.* A weight layer's operations are counted each time it runs, so the first layer of a
   T-step SNN under direct encoding costs T times its MACs, although its input is the same at every step (a
   deployment that caches that current would need 1/T of them; papers that count it once, e.g. Spikformer, report
   less for the same network).
2. *Padding.* An analog (MAC) layer counts the products with its zero padding, as a dense convolution computes
   them; a spike-driven layer counts one AC per spike delivered through a weight, so padding that never spikes
   costs nothing. (In TTFS coding every neuron, padded positions included, spikes once.)
3. *Not counted:* pooling, batch norm (folded), neuron updates and additions.
4. *The ANN comparison is the ANN's own single pass:* :attr:`EnergyReport.ann_energy_pj` charges the dense work of
   one time step as MACs, not T steps of it.

Energy uses the compute-only 45 nm figures of Horowitz (ISSCC 2014), as the distillation papers do (e.g.
SpikingBERT, Bal & Sengupta, AAAI 2024): a 32-bit float MAC costs :data:`E_MAC_PJ` = 4.6 pJ and an AC
:data:`E_AC_PJ` = 0.9 pJ. Memory traffic is left out (SpikingJelly's ``estimate_simple_energy`` adds it by
default, where it dominates).
"""
from __future__ import annotations

import contextlib
import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from spikingjelly.activation_based import functional, neuron
from spikingjelly.activation_based import op_counter as oc
from torch import nn

__all__ = [
    "E_MAC_PJ", "E_AC_PJ", "MAC_AC_COST_RATIO", "NEURON_TYPES", "LayerOps", "EnergyReport", "energy_pj",
    "energy_report", "firing_rates", "norm_ops", "energy_ratio",
]

E_MAC_PJ = 4.6
"""Energy of one 32-bit float multiply-accumulate in 45 nm CMOS, pJ (Horowitz 2014: 3.7 pJ mult + 0.9 pJ add)."""
E_AC_PJ = 0.9
"""Energy of one 32-bit float accumulate in 45 nm CMOS, pJ (Horowitz 2014)."""
MAC_AC_COST_RATIO = 5.1
"""The MAC/AC energy ratio SpikingBERT uses (4.6 pJ / 0.9 pJ, rounded to 5.1)."""
NEURON_TYPES: tuple[type[nn.Module], ...] = (neuron.BaseNode, neuron.SimpleBaseNode)
"""SpikingJelly spiking neurons whose outputs are firing-rate monitored (IF, LIF, PLIF, ... and the teaching nodes)."""

_aten = torch.ops.aten


def _fan_in_of_output(args, kwargs, out) -> int:  # mm / bmm: x [.., m, k] @ y [.., k, n]
    return out.numel() * args[0].shape[-1]


def _fan_in_of_output_add(args, kwargs, out) -> int:  # addmm / baddbmm: bias + x @ y
    return out.numel() * args[1].shape[-1]


def _dense_convolution(args, kwargs, out) -> int:
    x, w, transposed = args[0], args[1], args[6]
    # each output (input, if transposed) element meets one weight slice of size (C_in / groups) * prod(kernel)
    return (x if transposed else out).numel() * w[0].numel()


_DENSE_RULES = {
    _aten.mm.default: _fan_in_of_output,
    _aten.bmm.default: _fan_in_of_output,
    _aten.addmm.default: _fan_in_of_output_add,
    _aten.baddbmm.default: _fan_in_of_output_add,
    _aten.convolution.default: _dense_convolution,
}
"""Weight-layer ops (the ones ``SynOpCounter`` covers) and their dense operation counts, whatever the input."""


class _DenseOpCounter(oc.BaseCounter):
    """``Layer#OPS``: the MACs a weight layer would need if every input were non-zero (its ANN cost)."""

    def __init__(self):
        super().__init__()
        self.rules = dict(_DENSE_RULES)


def _weight_layer_mac_counter() -> oc.MACCounter:
    """SpikingJelly's ``MACCounter`` restricted to weight layers (its batch-norm rule dropped, see module doc)."""
    counter = oc.MACCounter()
    counter.rules = {op: rule for op, rule in counter.rules.items() if op in _DENSE_RULES}
    return counter


def energy_pj(macs: float, acs: float, e_mac_pj: float = E_MAC_PJ, e_ac_pj: float = E_AC_PJ) -> float:
    r"""Compute-only energy in pJ: :math:`E = E_{MAC}\cdot\#MAC + E_{AC}\cdot\#AC` with, by default,
    :math:`E_{MAC}=4.6` pJ and :math:`E_{AC}=0.9` pJ (45 nm, Horowitz ISSCC 2014, as the distillation papers count it)."""
    return e_mac_pj * macs + e_ac_pj * acs


def norm_ops(input_rates: Sequence[float], layer_ops: Sequence[float]) -> float:
    r"""SpikingBERT's normalised operation count (Bal & Sengupta, AAAI 2024):

    .. math::

        \mathrm{Norm\#OPS} = \frac{\sum_i \mathrm{IFR}_i \cdot \mathrm{Layer\#OPS}_{i+1}}{\sum_i \mathrm{Layer\#OPS}_i}

    where :math:`\mathrm{IFR}_i` is the firing rate of layer :math:`i`, i.e. the rate of the spikes entering weight
    layer :math:`i+1`, and :math:`\mathrm{Layer\#OPS}` is a layer's dense operation count. Here the two lists are
    aligned per weight layer: ``input_rates[j]`` is the rate of the input of layer ``j`` (1 for an analog input)
    and ``layer_ops[j]`` its operation count. An ANN has every rate 1, hence Norm#OPS = 1.

    With rates per time step (spikes per neuron and step, in [0, 1]) this is Norm#OPS **per time step**: one SNN step
    against one ANN pass. SpikingBERT's IFR counts a neuron's spikes over the :math:`T` steps of an inference, which
    gives Norm#OPS **per inference**, :math:`T` times this value when every layer runs at every step
    (:func:`snnlab.methods.spikingbert.spikingbert_energy` reports both).
    """
    if len(input_rates) != len(layer_ops):
        raise ValueError(f"need one input rate per layer, got {len(input_rates)} rates for {len(layer_ops)} layers")
    if any(not 0.0 <= r <= 1.0 for r in input_rates):
        raise ValueError(f"input rates must lie in [0, 1], got {list(input_rates)}")
    total = sum(layer_ops)
    if any(o < 0 for o in layer_ops) or total <= 0:
        raise ValueError(f"layer operation counts must be non-negative with a positive sum, got {list(layer_ops)}")
    return sum(r * o for r, o in zip(input_rates, layer_ops)) / total


def energy_ratio(norm_ops_value: float, cost_ratio: float = MAC_AC_COST_RATIO) -> float:
    r"""ANN/SNN energy ratio of SpikingBERT (Bal & Sengupta, AAAI 2024): :math:`e = (\mathrm{Norm\#OPS} / 5.1)^{-1}`.

    The ANN does :math:`\sum\mathrm{Layer\#OPS}` MACs, the SNN :math:`\mathrm{Norm\#OPS}\cdot\sum\mathrm{Layer\#OPS}`
    ACs, and a MAC costs ``cost_ratio`` = 4.6/0.9 ≈ 5.1 ACs; so :math:`e > 1` means the SNN uses less energy.
    (It treats every SNN operation as an AC; :attr:`EnergyReport.ann_ratio` charges analog-input layers as MACs.)
    """
    if norm_ops_value <= 0:
        raise ValueError(f"Norm#OPS must be positive, got {norm_ops_value}")
    return (norm_ops_value / cost_ratio) ** -1


@dataclass(frozen=True)
class LayerOps:
    """Operation counts of one module (ops in its submodules are listed under those) for one forward pass.

    Attributes:
        path: module path (``""`` for ops in the root model's own ``forward``).
        macs: multiply-accumulates on analog inputs.
        sops: synaptic operations (accumulates, ACs) driven by binary spike inputs.
        ops: ``Layer#OPS``, the dense count (the MACs it would cost in an ANN).
    """

    path: str
    macs: int
    sops: int
    ops: int

    @property
    def input_rate(self) -> float:
        """Fraction of the dense operations performed: the input firing rate for spike inputs, 1 for analog ones."""
        return (self.macs + self.sops) / self.ops


@dataclass(frozen=True)
class EnergyReport:
    """Per-layer operation counts, firing rates and compute energy of one forward pass (see :func:`energy_report`).

    Attributes:
        layers: :class:`LayerOps` of every module that ran weight-layer ops, in module registration order.
        firing_rates: neuron-layer path → mean output over time steps, samples and neurons.
        e_mac_pj, e_ac_pj: the energy per MAC and per AC used.
        steps: time steps of the pass (1 for an ANN); the counts cover all of them.
    """

    layers: tuple[LayerOps, ...]
    firing_rates: dict[str, float]
    e_mac_pj: float = E_MAC_PJ
    e_ac_pj: float = E_AC_PJ
    steps: int = 1

    def __post_init__(self):
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def sops(self) -> int:
        return sum(layer.sops for layer in self.layers)

    @property
    def ops(self) -> int:
        return sum(layer.ops for layer in self.layers)

    @property
    def energy_pj(self) -> float:
        """:func:`energy_pj` of the total MACs and SOPs."""
        return energy_pj(self.macs, self.sops, self.e_mac_pj, self.e_ac_pj)

    @property
    def mean_firing_rate(self) -> float | None:
        """Mean of :attr:`firing_rates` over the neuron layers (``None`` for a network without spiking layers)."""
        return sum(self.firing_rates.values()) / len(self.firing_rates) if self.firing_rates else None

    @property
    def ann_ops(self) -> float:
        r"""Dense operations of one pass of the ANN twin (the same weight layers, one step):
        :math:`\sum \mathrm{Layer\#OPS} / T`."""
        return self.ops / self.steps

    @property
    def ann_energy_pj(self) -> float:
        """Energy of the ANN twin's single pass: each of its :attr:`ann_ops` a MAC."""
        return energy_pj(self.ann_ops, 0, self.e_mac_pj, self.e_ac_pj)

    @property
    def ann_ratio(self) -> float:
        """``ann_energy_pj / energy_pj``: how many times less energy than the ANN twin (1 for an ANN)."""
        return self.ann_energy_pj / self.energy_pj

    @property
    def norm_ops(self) -> float:
        """:func:`norm_ops` over the layers (each layer's input rate is :attr:`LayerOps.input_rate`)."""
        return norm_ops([layer.input_rate for layer in self.layers], [layer.ops for layer in self.layers])

    def to_dict(self) -> dict:
        return {
            "layers": [dataclasses.asdict(layer) | {"input_rate": layer.input_rate} for layer in self.layers],
            "firing_rates": dict(self.firing_rates),
            "macs": self.macs, "sops": self.sops, "ops": self.ops, "steps": self.steps, "ann_ops": self.ann_ops,
            "energy_pj": self.energy_pj, "ann_energy_pj": self.ann_energy_pj, "ann_ratio": self.ann_ratio,
            "norm_ops": self.norm_ops, "e_mac_pj": self.e_mac_pj, "e_ac_pj": self.e_ac_pj,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "EnergyReport":
        """The report whose :meth:`to_dict` is ``data`` (e.g. read back from a saved record)."""
        layers = tuple(LayerOps(layer["path"], layer["macs"], layer["sops"], layer["ops"]) for layer in data["layers"])
        return cls(layers, dict(data["firing_rates"]), data["e_mac_pj"], data["e_ac_pj"], data["steps"])

    def table(self) -> str:
        """Plain-text tables: one row per weight layer and the totals; one per neuron layer; the energy summary."""
        width = max([len("layer"), len("total")] + [len(layer.path or "(root)") for layer in self.layers])
        head = f"{'layer':<{width}} {'MACs':>12} {'SOPs':>12} {'Layer#OPS':>12} {'in rate':>8} {'energy pJ':>12}"
        lines = [head, "-" * len(head)]
        for layer in self.layers + (LayerOps("total", self.macs, self.sops, self.ops),):
            energy = energy_pj(layer.macs, layer.sops, self.e_mac_pj, self.e_ac_pj)
            lines.append(f"{layer.path or '(root)':<{width}} {layer.macs:>12,} {layer.sops:>12,} {layer.ops:>12,} "
                         f"{layer.input_rate:>8.3f} {energy:>12.4g}")
        if self.firing_rates:
            rate_width = max(len("neuron layer"), *map(len, self.firing_rates))
            lines += ["", f"{'neuron layer':<{rate_width}} {'firing rate':>11}"]
            lines += [f"{path:<{rate_width}} {rate:>11.4f}" for path, rate in self.firing_rates.items()]
        lines.append(f"\nenergy {self.energy_pj / 1e6:.4g} uJ ({self.e_mac_pj} pJ/MAC, {self.e_ac_pj} pJ/AC); "
                     f"ANN twin (one pass) {self.ann_energy_pj / 1e6:.4g} uJ ({self.ann_ratio:.2f}x); "
                     f"Norm#OPS {self.norm_ops:.4f}")
        return "\n".join(lines)

    __str__ = table


def _first_tensor(x) -> torch.Tensor:
    """``x`` itself, or the first tensor of a tuple or dict of inputs."""
    if isinstance(x, dict):
        x = next(iter(x.values()))
    return x[0] if isinstance(x, tuple) else x


def _call(model: nn.Module, x):
    return model(*x) if isinstance(x, tuple) else model(x)


@contextlib.contextmanager
def _inference_pass(model: nn.Module):
    """``eval`` mode and no autograd for the duration, then every module's mode restored and the net reset."""
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        functional.reset_net(model)
        for module, training in modes.items():
            module.training = training


@contextlib.contextmanager
def _firing_rate_hooks(model: nn.Module, neuron_types: tuple[type[nn.Module], ...]):
    """Yield a dict filled, on exit, with path → mean output of each neuron layer over every call while inside.

    :math:`r = \\frac{1}{T N M}\\sum_{t,n,m} s_{t,n,m}` for a layer of :math:`M` neurons; a single-step neuron called
    once per step accumulates over its calls, so it gives the same rate as a multi-step one.
    """
    sums, counts = defaultdict(float), defaultdict(int)

    def hook(path):
        def record(_module, _args, out):
            sums[path] += out.detach().sum(dtype=torch.float64).item()
            counts[path] += out.numel()
        return record

    handles = [module.register_forward_hook(hook(path)) for path, module in model.named_modules()
               if isinstance(module, neuron_types)]
    rates: dict[str, float] = {}
    try:
        yield rates
    finally:
        for handle in handles:
            handle.remove()
        rates.update({path: sums[path] / counts[path] for path in counts})


def firing_rates(model: nn.Module, x, neuron_types: tuple[type[nn.Module], ...] = NEURON_TYPES) -> dict[str, float]:
    r"""Run ``model(x)`` once (eval mode, no grad, net reset after) and return each neuron layer's firing rate
    :math:`r = \frac{1}{TNM}\sum_{t,n,m} s_{t,n,m}` (mean spike count per neuron and time step), keyed by module path.

    ``x`` is time-major ``[T, N, ...]`` for an SNN; a tuple is unpacked into positional arguments.
    """
    with _inference_pass(model), _firing_rate_hooks(model, neuron_types) as rates:
        _call(model, x)
    return rates


def _self_counts(model: nn.Module, counter: oc.BaseCounter) -> dict[str, int]:
    """Path → count of ops run by that module itself, excluding its submodules.

    The counter records an op under every module active when it ran. A module that ran holds its submodules' ops
    too; a container that is never called itself (an ``nn.ModuleList`` or ``nn.ModuleDict`` its parent iterates
    over) records nothing, and its total is the sum of its children's, so its parent does not count them twice.
    """
    root = type(model).__name__
    paths = [path for path, _ in model.named_modules()]
    children: dict[str, list[str]] = {path: [] for path in paths}
    for path in paths[1:]:
        children[path.rpartition(".")[0]].append(path)
    totals: dict[str, int] = {}
    for path in reversed(paths):                                   # named_modules lists parents before children
        recorded = counter.records.get(f"{root}.{path}" if path else root)
        totals[path] = sum(recorded.values()) if recorded else sum(totals[child] for child in children[path])
    return {path: totals[path] - sum(totals[child] for child in children[path]) for path in paths}


def energy_report(model: nn.Module, x, *, e_mac_pj: float = E_MAC_PJ, e_ac_pj: float = E_AC_PJ,
                  spiking: "bool | None" = None, steps: "int | None" = None,
                  neuron_types: tuple[type[nn.Module], ...] = NEURON_TYPES) -> EnergyReport:
    """Count the ops of one forward pass ``model(x)`` and estimate its compute energy.

    The pass runs in eval mode under ``torch.no_grad()``; every module's train/eval mode is restored and the net is
    reset (``functional.reset_net``) afterwards.

    Args:
        model: any model: an snnlab SNN or ANN twin, or a plain SpikingJelly/PyTorch model.
        x: its input (``[T, N, ...]`` for an SNN, ``[N, ...]`` for an ANN); a tuple is unpacked into arguments.
        e_mac_pj, e_ac_pj: energy per MAC and per AC (default: 45 nm figures, see :func:`energy_pj`).
        spiking: whether ``model`` is an SNN. By default, whether it contains a neuron of ``neuron_types``. A
            non-spiking model counts every operation as a MAC, whatever its input values.
        steps: time steps the pass runs (for the ANN comparison, :attr:`EnergyReport.ann_ops`). By default the
            leading dimension of a time-major SNN input (of its first tensor if ``x`` is a tuple or a dict of
            modalities), 1 for an ANN.
        neuron_types: module types treated as spiking neurons (firing rates are reported for them).
    """
    if spiking is None:
        spiking = any(isinstance(module, neuron_types) for module in model.modules())
    if steps is None:
        steps = _first_tensor(x).shape[0] if spiking else 1
    counters = [_DenseOpCounter()] + ([_weight_layer_mac_counter(), oc.SynOpCounter()] if spiking else [])
    with _inference_pass(model), _firing_rate_hooks(model, neuron_types) as rates, oc.DispatchCounterMode(counters):
        _call(model, x)
    ops, *spike_counts = (_self_counts(model, counter) for counter in counters)
    macs, sops = spike_counts if spiking else (ops, defaultdict(int))
    layers = tuple(LayerOps(path, macs[path], sops[path], ops[path]) for path in ops if ops[path] > 0)
    if not layers:
        raise ValueError(f"{type(model).__name__} ran no weight-layer operation (convolution, linear, matmul) on this "
                         "input, so there is nothing to count")
    return EnergyReport(layers, rates, e_mac_pj, e_ac_pj, steps)
