r"""Operation counts, energy estimates, firing rates and Norm#OPS for a forward pass of any model.

**The counting convention of the whole kit** (this module, the rate-coded and TTFS counts of
:mod:`snnlab.conversion.rate`, every chapter). An SNN is charged as a *spike-driven* network, the way the spiking
transformer papers count it (Spikformer, Zhou et al., ICLR 2023; Spike-driven Transformer, Yao et al., NeurIPS
2023: the first, encoding layer's MACs once, every later layer's synaptic operations at every step), with the
compute-only 45 nm energies of Horowitz (ISSCC 2014) that the distillation papers use (e.g. SpikingBERT, Bal &
Sengupta, AAAI 2024):

1. *Weight layers only.* Convolutions, linear layers and matrix products are counted. Batch norm is folded into the
   preceding weights at inference; neuron updates, pooling and additions are not counted.
2. *A spike costs one accumulate per synapse it reaches.* A weight layer whose input is binary (every value 0 or 1,
   checked at run time) performs one accumulate (AC, a synaptic operation or SOP; :data:`E_AC_PJ` = 0.9 pJ) per
   spike and weight it is delivered through, at every step. Padding, which never spikes, costs nothing.
3. *A linear pooling of spikes is folded into the next weight layer.* Average pooling (adaptive or global average
   pooling included) between spikes and a weight layer :math:`W` is linear, so :math:`W \circ \mathrm{pool}` is
   again a weight layer, fed by the spikes themselves. It costs one AC per spike entering the pooling and per
   synapse of the folded layer,

   .. math:: \#\mathrm{AC} = \sum_c n_c F_c,

   with :math:`n_c` the spikes in pooling window :math:`c` and :math:`F_c` the outputs of :math:`W` that window
   reaches (windows must not overlap; poolings in a row fold alike).
4. *A real-valued input costs multiply-accumulates.* Anything else (an analog image, a membrane potential, an
   attention output, a pooling of real values) costs one MAC (:data:`E_MAC_PJ` = 4.6 pJ) per weight and output,
   padding included, as a dense layer computes them, at every step it is computed.
5. *An input that is the same at every time step is counted once.* A weight layer whose time-major input (``[T, N,
   ...]``, or ``[T·N, ...]`` with time folded into the batch) has :math:`T` identical slices computes the same
   output at every step, so it is charged for one step: the first layer under direct coding of a static image. A
   Poisson-coded first layer sees new spikes at every step and costs ACs at every step.
6. *The ANN comparison is the ANN's own single pass:* :attr:`EnergyReport.ann_energy_pj` charges the dense work of
   one time step as MACs, not :math:`T` steps of it.

An SNN is **spike-driven** when rules 2, 3 and 5 cover every weight layer: each one receives spikes or a linear
pooling of spikes, except a first layer whose current is computed once. A pooling placed before the neurons
(``conv → pool → neuron``) pools currents, so the next layer still receives spikes; one placed after them is
folded.

Counting runs SpikingJelly's ``op_counter`` (``DispatchCounterMode`` intercepts every aten op): weight-layer ops are
counted by the rules above, and the outputs of average poolings of spikes are followed, through views and copies,
to the weight layer that reads them. Memory traffic is left out (SpikingJelly's ``estimate_simple_energy`` adds it
by default, where it dominates).
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
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


def _avg_pool_window(args, out) -> "int | None":
    """Inputs per window of ``avg_pool{2,3}d``, if every window has that many and none overlaps (else ``None``)."""
    kernel = list(args[1])
    stride, padding, ceil_mode, count_include_pad, divisor_override = (
        *args[2:], *([], 0, False, True, None)[len(args) - 2:])
    stride = list(stride) or kernel
    if any(s < k for s, k in zip(stride, kernel)) or ceil_mode:
        return None
    if divisor_override:
        return divisor_override
    padded = any(p != 0 for p in (padding if isinstance(padding, (list, tuple)) else [padding]))
    return None if padded and not count_include_pad else math.prod(kernel)


def _adaptive_pool_window(args, out) -> "int | None":
    """Inputs per window of ``_adaptive_avg_pool{2,3}d``: equal, disjoint windows when each size divides evenly."""
    sizes = args[0].shape[-len(args[1]):]
    return None if any(i % o for i, o in zip(sizes, args[1])) else math.prod(i // o for i, o in zip(sizes, args[1]))


def _mean_window(args, out) -> int:
    """Values averaged by ``mean.dim`` (a global average pooling when the dimensions are spatial)."""
    x, dims = args[0], args[1] if len(args) > 1 and args[1] else range(args[0].dim())
    return math.prod(x.shape[d] for d in dims)


_POOLING_WINDOWS = {
    _aten.avg_pool2d.default: _avg_pool_window,
    _aten.avg_pool3d.default: _avg_pool_window,
    _aten._adaptive_avg_pool2d.default: _adaptive_pool_window,
    _aten._adaptive_avg_pool3d.default: _adaptive_pool_window,
    _aten.mean.dim: _mean_window,
}
"""Linear poolings that fold into the next weight layer (rule 3), and their window size (``None``: unequal or
overlapping windows, which do not fold into one synapse per spike)."""
_COPIES = (_aten.clone.default, _aten._to_copy.default)
"""Ops that copy a tensor's values (views share its memory and need no rule)."""


class _SpikeDrivenPass:
    """The state of one counted pass: its time steps and the tensors that hold average poolings of spikes.

    A pooling of spikes is remembered by the memory it writes (views of it share that memory), with its window
    size :math:`d`: a value :math:`v` of it is :math:`n / d`, :math:`n` the spikes in the window, so a weight layer
    reading it recovers the spike counts :math:`n = v d` (rule 3 of the module docstring).
    """

    def __init__(self, steps: int):
        self.steps = steps
        self._pooled: dict[int, tuple[torch.Tensor, "int | None"]] = {}   # memory -> (tensor kept alive, window)
        self._latest: tuple[torch.Tensor, tuple[int, int]] | None = None  # last weight op's output and counts

    def _window(self, x: torch.Tensor) -> "int | None":
        return self._pooled[x.untyped_storage().data_ptr()][1]

    def _is_pooled(self, x: torch.Tensor) -> bool:
        return x.untyped_storage().data_ptr() in self._pooled

    def record_pooling(self, window_of, args, kwargs, out) -> int:
        """Remember ``out`` if it pools spikes or an earlier pooling of spikes (counts nothing itself);
        ``window_of`` is the pooling's entry of :data:`_POOLING_WINDOWS`."""
        x = args[0]
        if self._is_pooled(x):
            inner = self._window(x)
        elif oc.is_binary_tensor(x):
            inner = 1
        else:
            return 0
        window = window_of(args, out)
        self._pooled[out.untyped_storage().data_ptr()] = (out, None if inner is None or window is None
                                                               else inner * window)
        return 0

    def record_copy(self, args, kwargs, out) -> int:
        """A copy of a pooling of spikes is one too."""
        if self._is_pooled(args[0]):
            self._pooled[out.untyped_storage().data_ptr()] = (out, self._window(args[0]))
        return 0

    def spike_counts(self, x: torch.Tensor) -> torch.Tensor | None:
        """The spikes each value of ``x`` stands for: ``x`` itself if binary, :math:`v d` if it is a pooling of
        spikes, ``None`` for a real-valued input."""
        if self._is_pooled(x):
            window = self._window(x)
            if window is None:
                raise ValueError("a weight layer reads an average pooling of spikes whose windows overlap or differ "
                                 "in size, which does not fold into it (see snnlab.energy); use disjoint windows")
            counts = x.double() * window
            if not torch.allclose(counts, counts.round(), atol=1e-3):
                raise ValueError("a weight layer reads the memory of a pooling of spikes whose values are no longer "
                                 "spike counts divided by the window (was it changed in place?)")
            return counts.round()
        return x if oc.is_binary_tensor(x) else None

    def _same_at_every_step(self, *inputs: torch.Tensor) -> bool:
        """Rule 5: each input, time folded into its leading dimension, has ``steps`` identical slices."""
        def repeated(x):
            if x.shape[0] % self.steps:
                return False
            slices = x.reshape(self.steps, -1)
            return bool((slices == slices[:1]).all())
        return self.steps > 1 and all(repeated(x) for x in inputs)

    def count(self, func, kind: int, args, kwargs, out) -> int:
        """The MACs (``kind`` 0) or ACs (``kind`` 1) of one weight-layer op ``func``, see :meth:`counts`."""
        return self.counts(func, args, kwargs, out)[kind]

    def counts(self, func, args, kwargs, out) -> tuple[int, int]:
        """``(MACs, ACs)`` of one weight-layer op under the convention (computed once per op)."""
        if self._latest is not None and self._latest[0] is out:
            return self._latest[1]
        if func is _aten.convolution.default:
            inputs = (args[0],)
            spikes = self.spike_counts(args[0])
            acs = None if spikes is None else _convolution_synapses(args, spikes)
        else:
            a, b = args[1:3] if func in (_aten.addmm.default, _aten.baddbmm.default) else args[:2]
            inputs = (a, b) if a.dim() == 3 else (a,)                  # bmm: both operands carry time
            acs = _matmul_synapses(self.spike_counts(a), self.spike_counts(b), a, b)
        macs, acs = (_DENSE_RULES[func](args, kwargs, out), 0) if acs is None else (0, acs)
        if self._same_at_every_step(*inputs):
            macs, acs = macs // self.steps, acs // self.steps
        self._latest = (out, (macs, acs))
        return macs, acs


def _convolution_synapses(args, spikes: torch.Tensor) -> int:
    r"""ACs of a convolution fed by ``spikes`` (spike counts per input position): :math:`\sum_i n_i F_i`, the spikes
    at each input position times the outputs it reaches, i.e. the spike map convolved with an all-ones kernel."""
    w, _, stride, padding, dilation, transposed, output_padding, groups = args[1:9]
    reach = _aten.convolution.default(spikes.float(), torch.ones_like(w, dtype=torch.float32), None, stride, padding,
                                      dilation, transposed, output_padding, groups)
    return round(reach.sum(dtype=torch.float64).item())


def _matmul_synapses(spikes_a, spikes_b, a: torch.Tensor, b: torch.Tensor) -> "int | None":
    r"""ACs of ``a @ b`` (batched or not) from the spike counts of its operands (``None`` where real-valued): one
    per spike and output it reaches (:math:`n` columns of ``b`` per spike of ``a``, :math:`m` rows of ``a`` per
    spike of ``b``), one per pair of spikes when both spike; ``None`` (MACs) when neither does."""
    if spikes_a is not None and spikes_b is not None:
        return round(torch.matmul(spikes_a.double(), spikes_b.double()).sum().item())
    if spikes_a is not None:
        return round(spikes_a.sum(dtype=torch.float64).item()) * b.shape[-1]
    if spikes_b is not None:
        return round(spikes_b.sum(dtype=torch.float64).item()) * a.shape[-2]
    return None


class _DenseOpCounter(oc.BaseCounter):
    """``Layer#OPS``: the MACs a weight layer would need if every input were non-zero (its ANN cost)."""

    def __init__(self):
        super().__init__()
        self.rules = dict(_DENSE_RULES)


class _PoolingTracker(oc.BaseCounter):
    """Follows the poolings of spikes of a pass (:meth:`_SpikeDrivenPass.record_pooling`); counts nothing."""

    def __init__(self, counted: _SpikeDrivenPass):
        super().__init__()
        self.rules = {op: functools.partial(counted.record_pooling, window) for op, window in _POOLING_WINDOWS.items()}
        self.rules.update(dict.fromkeys(_COPIES, counted.record_copy))


class _SpikeDrivenCounter(oc.BaseCounter):
    """The MACs (``kind`` 0) or ACs (``kind`` 1) of each weight-layer op under the convention of the module doc."""

    def __init__(self, counted: _SpikeDrivenPass, kind: int):
        super().__init__()
        self.rules = {op: functools.partial(counted.count, op, kind) for op in _DENSE_RULES}


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
    r"""ANN/SNN energy ratio of SpikingBERT (Bal & Sengupta, AAAI 2024): :math:`\eta = (\mathrm{Norm\#OPS} / 5.1)^{-1}`.

    The ANN does :math:`\sum\mathrm{Layer\#OPS}` MACs, the SNN :math:`\mathrm{Norm\#OPS}\cdot\sum\mathrm{Layer\#OPS}`
    ACs, and a MAC costs ``cost_ratio`` = 4.6/0.9 ≈ 5.1 ACs; so :math:`\eta > 1` means the SNN uses less energy.
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
        macs: multiply-accumulates on real-valued inputs (once for an input repeated at every step).
        sops: synaptic operations (accumulates, ACs) driven by spikes, directly or through a folded pooling.
        ops: ``Layer#OPS``, the dense count over every step it ran (the MACs it would cost in an ANN per step,
            times the steps).
    """

    path: str
    macs: int
    sops: int
    ops: int

    @property
    def input_rate(self) -> float:
        r"""Operations performed per dense operation, :math:`(\#MAC + \#AC) / \mathrm{Layer\#OPS}`: the input firing
        rate for a layer fed by spikes directly, 1 for a real-valued input at every step, :math:`1/T` for one counted
        once; a layer folded with a pooling of :math:`d` inputs per window reaches :math:`d` times its input rate
        (every spike of the window reaches the window's synapses), so this can exceed 1."""
        return (self.macs + self.sops) / self.ops


@dataclass(frozen=True)
class EnergyReport:
    """Per-layer operation counts, firing rates and compute energy of one forward pass (see :func:`energy_report`).

    Attributes:
        layers: :class:`LayerOps` of every module that ran weight-layer ops, in module registration order.
        firing_rates: neuron-layer path → mean output over time steps, samples and neurons.
        e_mac_pj, e_ac_pj: the energy per MAC and per AC used.
        steps: time steps of the pass (1 for an ANN); the counts cover all of them, a layer whose input is the same
            at every step once (rule 5 of the module docstring).
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
        r"""Operations performed per dense operation over all layers, :math:`\sum(\#MAC + \#AC) / \sum
        \mathrm{Layer\#OPS}`: SpikingBERT's Norm#OPS (:func:`norm_ops`) with each layer's
        :attr:`LayerOps.input_rate` as its input rate (per time step, since ``ops`` covers every step)."""
        return (self.macs + self.sops) / self.ops

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
        head = f"{'layer':<{width}} {'MACs':>12} {'SOPs':>12} {'Layer#OPS':>12} {'ops/dense':>9} {'energy pJ':>12}"
        lines = [head, "-" * len(head)]
        for layer in self.layers + (LayerOps("total", self.macs, self.sops, self.ops),):
            energy = energy_pj(layer.macs, layer.sops, self.e_mac_pj, self.e_ac_pj)
            lines.append(f"{layer.path or '(root)':<{width}} {layer.macs:>12,} {layer.sops:>12,} {layer.ops:>12,} "
                         f"{layer.input_rate:>9.3f} {energy:>12.4g}")
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
    """Count the ops of one forward pass ``model(x)`` by the kit's convention (module docstring: ACs per spike and
    synapse reached, average poolings of spikes folded into the next weight layer, an input repeated at every step
    counted once, MACs for real-valued inputs) and estimate its compute energy.

    The pass runs in eval mode under ``torch.no_grad()``; every module's train/eval mode is restored and the net is
    reset (``functional.reset_net``) afterwards.

    Args:
        model: any model: an snnlab SNN or ANN twin, or a plain SpikingJelly/PyTorch model.
        x: its input (``[T, N, ...]`` for an SNN, ``[N, ...]`` for an ANN); a tuple is unpacked into arguments.
        e_mac_pj, e_ac_pj: energy per MAC and per AC (default: 45 nm figures, see :func:`energy_pj`).
        spiking: whether ``model`` is an SNN. By default, whether it contains a neuron of ``neuron_types``. A
            non-spiking model counts every operation as a MAC, whatever its input values.
        steps: time steps the pass runs: the ANN comparison (:attr:`EnergyReport.ann_ops`) is one step of it, and a
            weight layer whose input has ``steps`` identical slices along its leading (time) dimension is counted
            once (rule 5 of the module docstring). By default the leading dimension of a time-major SNN input (of
            its first tensor if ``x`` is a tuple or a dict of modalities), 1 for an ANN.
        neuron_types: module types treated as spiking neurons (firing rates are reported for them).
    """
    if spiking is None:
        spiking = any(isinstance(module, neuron_types) for module in model.modules())
    if steps is None:
        steps = _first_tensor(x).shape[0] if spiking else 1
    counted = _SpikeDrivenPass(steps)
    weight_counters = [_SpikeDrivenCounter(counted, 0), _SpikeDrivenCounter(counted, 1)] if spiking else []
    counters = [_DenseOpCounter(), *weight_counters]
    tracker = [_PoolingTracker(counted)] if spiking else []
    with (_inference_pass(model), _firing_rate_hooks(model, neuron_types) as rates,
          oc.DispatchCounterMode(tracker + counters)):
        _call(model, x)
    ops, *spike_counts = (_self_counts(model, counter) for counter in counters)
    macs, sops = spike_counts if spiking else (ops, defaultdict(int))
    layers = tuple(LayerOps(path, macs[path], sops[path], ops[path]) for path in ops if ops[path] > 0)
    if not layers:
        raise ValueError(f"{type(model).__name__} ran no weight-layer operation (convolution, linear, matmul) on this "
                         "input, so there is nothing to count")
    return EnergyReport(layers, rates, e_mac_pj, e_ac_pj, steps)
