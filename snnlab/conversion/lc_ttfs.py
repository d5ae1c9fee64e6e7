r"""LC-TTFS: lossless ANN→SNN conversion with time-to-first-spike coding.

Every neuron of layer :math:`l` fires at most once, inside its window :math:`[l, l+1]`, and codes its activation
:math:`a \in [0, 1]` by its firing time :math:`t = l + 1 - a` (the input layer, :math:`l = 0`, fires at
:math:`t^0 = 1 - x`). A non-leaky neuron of layer :math:`l` driven by step currents from the previous layer has
membrane potential :math:`V_i(t) = \sum_j w_{ij}\,(t - t_j^{l-1})` once all its inputs have arrived, and reaches its
threshold :math:`V_{th}` at

.. math:: t_i^l = \frac{V_{th} + \sum_j w_{ij}\, t_j^{l-1}}{\sum_j w_{ij}}.

The denominator warps time: two neurons with the same weighted input :math:`\sum_j w_{ij} a_j` but different weight
sums fire at different times. Three constraints remove every source of error:

1. :math:`\sum_j w_{ij} = 1` for every neuron (:class:`SumToOneLinear`, :class:`SumToOneConv2d`; average pooling
   already satisfies it), so :math:`t_i^l = V_{th} + l - \sum_j w_{ij} a_j^{l-1}`;
2. :math:`V_{th} = 1`, so :math:`t_i^l = l + 1 - z_i` with :math:`z_i = \sum_j w_{ij} a_j^{l-1}` the ANN
   pre-activation;
3. a dynamic threshold that lets the neuron fire only inside :math:`[l, l+1]` — at :math:`l` if it is already
   above threshold then, at :math:`l + 1` if it has not fired by then — i.e. the firing time is clamped,
   :math:`\mathrm{clamp}_l(x) = \min(\max(x, l), l + 1) = l + 1 - \mathrm{ReLU1}(l + 1 - x)` with
   :math:`\mathrm{ReLU1}(u) = \min(\max(u, 0), 1)`.

Hence :math:`t_i^l = l + 1 - \mathrm{ReLU1}(z_i) = l + 1 - a_i^l` exactly, and by induction over layers the SNN
computes the ANN (trained with ReLU1, without batch normalisation, whose affine :math:`\gamma, \beta` break the weight
sums). The last weighted layer is read out without spiking: its membrane potential at the end of its window,
:math:`V_i(L+1) = \sum_j w_{ij} + \sum_j w_{ij} a_j`, minus :math:`\sum_j w_{ij}`, is the ANN's output.

:func:`simulate_exact` computes the spike times layer by layer in closed form (event-driven);
:func:`simulate_stepped` integrates the membranes on a time grid of step ``dt`` and converges to the exact times as
``dt → 0``. The exact simulator takes the threshold and the dynamic threshold as switches, and :func:`convert`
accepts an unconstrained ANN with ``check=False``, so what breaks when a constraint is dropped can be measured.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ReLU1", "SumToOneLinear", "SumToOneConv2d", "constrained_mlp", "constrained_cnn", "check_constraints",
           "ann_activations", "TTFSLayer", "convert", "simulate_exact", "simulate_stepped", "TTFSResult",
           "max_time_error"]


class ReLU1(nn.Module):
    """:math:`\\mathrm{ReLU1}(x) = \\min(\\max(x, 0), 1)`: the activation whose value is a firing time in a window."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clamp(0.0, 1.0)


def _sum_to_one(raw: torch.Tensor) -> torch.Tensor:
    r""":math:`w = v - \bar v + 1/n` per output neuron (row), over its :math:`n` inputs: :math:`\sum_j w_{ij} = 1`
    exactly for any :math:`v`, and gradients flow to :math:`v` (the projection onto the constraint)."""
    flat = raw.flatten(1)
    return (flat - flat.mean(1, keepdim=True) + 1.0 / flat.shape[1]).view_as(raw)


class SumToOneLinear(nn.Module):
    r"""A bias-free linear layer whose weights sum to one per output neuron, :math:`\sum_j w_{ij} = 1`, after every
    optimiser step (the weight is a function of a free parameter: :math:`w = v - \bar v + 1/n` per neuron)."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.raw = nn.Parameter(torch.randn(out_features, in_features) * (1.0 / in_features) ** 0.5)

    @property
    def weight(self) -> torch.Tensor:
        return _sum_to_one(self.raw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight)

    def extra_repr(self) -> str:
        return f"in_features={self.raw.shape[1]}, out_features={self.raw.shape[0]}, sum of weights = 1"


class SumToOneConv2d(nn.Module):
    r"""A bias-free convolution whose kernel sums to one per output channel (over input channels and positions),
    :math:`\sum_{c,u,v} w_{o,c,u,v} = 1`. Zero padding is allowed: a padded input is an activation 0, i.e. a spike
    at the end of the previous window."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0):
        super().__init__()
        fan_in = in_channels * kernel_size * kernel_size
        self.raw = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size) * (1.0 / fan_in) ** 0.5)
        self.stride, self.padding = stride, padding

    @property
    def weight(self) -> torch.Tensor:
        return _sum_to_one(self.raw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight, stride=self.stride, padding=self.padding)

    def extra_repr(self) -> str:
        o, c, k, _ = self.raw.shape
        return f"{c}, {o}, kernel_size={k}, stride={self.stride}, padding={self.padding}, sum of weights = 1"


def constrained_mlp(in_features: int, hidden: tuple[int, ...], num_classes: int) -> nn.Sequential:
    """``Flatten -> [SumToOneLinear -> ReLU1]* -> SumToOneLinear(classes)``: an MLP that converts losslessly."""
    layers, width = [nn.Flatten()], in_features
    for h in hidden:
        layers += [SumToOneLinear(width, h), ReLU1()]
        width = h
    return nn.Sequential(*layers, SumToOneLinear(width, num_classes))


def constrained_cnn(cfg: tuple, in_channels: int, input_size: int, num_classes: int,
                    hidden: tuple[int, ...] = ()) -> nn.Sequential:
    """A VGG-style CNN that converts losslessly: each int in ``cfg`` is a ``3x3 SumToOneConv2d -> ReLU1`` with that
    many channels, ``"P"`` a 2x2 average pooling; then ``Flatten -> [SumToOneLinear -> ReLU1]* (hidden) ->
    SumToOneLinear(classes)``. E.g. ``(16, "P", 32, "P")`` for 16x16 digits, ``(64, 64, "P", 128, 128, "P", 256,
    256, "P")`` for CIFAR-10."""
    layers, channels, size = [], in_channels, input_size
    for item in cfg:
        if item == "P":
            layers.append(nn.AvgPool2d(2))
            size //= 2
        else:
            layers += [SumToOneConv2d(channels, int(item), 3, padding=1), ReLU1()]
            channels = int(item)
    if size < 1:
        raise ValueError(f"input_size {input_size} is too small for the poolings of {cfg}")
    return nn.Sequential(*layers, *constrained_mlp(channels * size * size, hidden, num_classes))


_WEIGHTED = (nn.Linear, nn.Conv2d, SumToOneLinear, SumToOneConv2d, nn.AvgPool2d)
_PASS_THROUGH = (nn.Flatten, nn.Identity, nn.Dropout)


def _unsupported_geometry(module: nn.Module) -> str | None:
    """Why a convolution or pooling setting cannot be converted (the TTFS layers apply plain 2-D operations)."""
    if isinstance(module, nn.Conv2d):
        if isinstance(module.padding, str) or module.dilation != (1, 1) or module.groups != 1:
            return "dilated, grouped or string-padded convolutions are not supported"
        if len(set(module.padding)) != 1 or len(set(module.stride)) != 1:
            return "use equal padding and stride along both axes"
    if isinstance(module, nn.AvgPool2d) and (module.padding not in (0, (0, 0)) or module.ceil_mode):
        return "average pooling with padding or ceil_mode is not supported"
    return None


def check_constraints(model: nn.Sequential, atol: float = 1e-5) -> None:
    """Raise ``ValueError`` naming the first module that breaks LC-TTFS's conditions for a lossless conversion.

    Ignoring flattening/dropout, the model must read ``([weighted layer, ReLU1] | AvgPool2d)* weighted layer``:
    linear and convolution layers without bias whose weights sum to one per neuron, each hidden one followed by
    exactly one :class:`ReLU1`, average pooling anywhere between them, no batch normalisation, and nothing after the
    readout (the last weighted layer).
    """
    if not isinstance(model, nn.Sequential):
        raise ValueError("LC-TTFS converts an nn.Sequential of weighted layers and ReLU1 activations")
    previous = None                       # the last non-pass-through module seen
    for i, module in enumerate(model):
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            raise ValueError(f"layer {i} is batch normalisation: its affine gamma, beta break the weight sums; train "
                             "without BN")
        if not isinstance(module, _WEIGHTED + _PASS_THROUGH + (ReLU1,)):
            raise ValueError(f"layer {i} ({type(module).__name__}) is not allowed: use SumToOneLinear/SumToOneConv2d, "
                             "AvgPool2d, ReLU1, Flatten")
        if isinstance(module, _PASS_THROUGH):
            continue
        problem = _unsupported_geometry(module)
        if problem:
            raise ValueError(f"layer {i}: {problem}")
        if isinstance(module, (nn.Linear, nn.Conv2d)) and module.bias is not None:
            raise ValueError(f"layer {i} has a bias; LC-TTFS layers are bias-free")
        synaptic = isinstance(module, _WEIGHTED) and not isinstance(module, nn.AvgPool2d)
        if synaptic:
            sums = module.weight.detach().flatten(1).sum(1)
            if not torch.allclose(sums, torch.ones_like(sums), atol=atol):
                raise ValueError(f"layer {i}: weight sums per neuron range over [{sums.min():.4f}, {sums.max():.4f}], "
                                 "not 1 (use SumToOneLinear / SumToOneConv2d)")
        previous_synaptic = isinstance(previous, _WEIGHTED) and not isinstance(previous, nn.AvgPool2d)
        if isinstance(module, ReLU1) and not previous_synaptic:
            raise ValueError(f"layer {i}: ReLU1 must directly follow a linear or convolution layer (one per layer)")
        if isinstance(module, _WEIGHTED) and previous_synaptic:
            raise ValueError(f"hidden layer before layer {i} must be followed by ReLU1 (its activation is a firing "
                             "time)")
        previous = module
    if previous is None or not isinstance(previous, _WEIGHTED) or isinstance(previous, nn.AvgPool2d):
        raise ValueError("the model must end with its readout, a linear or convolution layer (nothing after it)")


@torch.no_grad()
def ann_activations(model: nn.Sequential, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
    """The activations the TTFS layers code, flattened per sample: the input, then the output of every hidden
    weighted layer's ReLU1 and of every average pooling, in order; and the model's output."""
    activations, h = [x.flatten(1)], x
    for module in model:
        h = module(h)
        if isinstance(module, (ReLU1, nn.AvgPool2d)):
            activations.append(h.flatten(1))
    return activations, h


def max_time_error(result: "TTFSResult", activations: list[torch.Tensor]) -> float:
    r""":math:`\max |t - (l + 1 - a)|` over every neuron of every spiking layer (``activations`` from
    :func:`ann_activations`)."""
    return max(float((t.flatten(1) - (l + 1 - a)).abs().max()) for l, (t, a) in enumerate(zip(result.times,
                                                                                                activations)))


@dataclass(frozen=True)
class TTFSLayer:
    """One spiking layer of the converted network: the weighted operation applied to spike *times*."""

    kind: str                       # "linear", "conv" or "avgpool"
    weight: torch.Tensor | None     # None for average pooling
    stride: int = 1
    padding: int = 0
    kernel: int = 0
    flatten_before: bool = False

    def apply(self, values: torch.Tensor, pad_value: float = 0.0) -> torch.Tensor:
        """The layer's linear map :math:`\\sum_j w_{ij} v_j` of per-neuron values (activations or times); padded
        inputs take ``pad_value``."""
        if self.flatten_before:
            values = values.flatten(1)
        if self.kind == "linear":
            return F.linear(values, self.weight)
        if self.kind == "conv":
            if self.padding:
                values = F.pad(values, (self.padding,) * 4, value=pad_value)
            return F.conv2d(values, self.weight, stride=self.stride)
        return F.avg_pool2d(values, self.kernel, stride=self.stride)

    def weight_sums(self, like: torch.Tensor) -> torch.Tensor:
        """:math:`\\sum_j w_{ij}` for every neuron of the output (padded inputs included), shaped like the output."""
        return self.apply(torch.ones_like(like), pad_value=1.0)


def convert(model: nn.Sequential, check: bool = True) -> list[TTFSLayer]:
    """The TTFS layers of a trained LC-TTFS ANN (weights copied, detached); ``check`` enforces the constraints first
    (pass ``check=False`` to convert an unconstrained ANN and measure what goes wrong)."""
    if check:
        check_constraints(model)
    layers, flatten = [], False
    for module in model:
        if isinstance(module, nn.Flatten):
            flatten = True
        elif isinstance(module, (nn.Linear, SumToOneLinear)):
            layers.append(TTFSLayer("linear", module.weight.detach().clone(), flatten_before=flatten))
            flatten = False
        elif isinstance(module, (nn.Conv2d, SumToOneConv2d)):
            stride = module.stride if isinstance(module.stride, int) else module.stride[0]
            padding = module.padding if isinstance(module.padding, int) else module.padding[0]
            layers.append(TTFSLayer("conv", module.weight.detach().clone(), stride=stride, padding=padding,
                                    flatten_before=flatten))
            flatten = False
        elif isinstance(module, nn.AvgPool2d):
            kernel = module.kernel_size if isinstance(module.kernel_size, int) else module.kernel_size[0]
            stride = module.stride if isinstance(module.stride, int) else module.stride[0]
            layers.append(TTFSLayer("avgpool", None, stride=stride, kernel=kernel, flatten_before=flatten))
            flatten = False
    return layers


@dataclass
class TTFSResult:
    """Spike times of every spiking layer (``times[0]`` is the input layer) and the readout of the last layer."""

    times: list[torch.Tensor]
    output: torch.Tensor

    def activations(self) -> list[torch.Tensor]:
        """Decoded activations :math:`a^l = l + 1 - t^l` of every spiking layer."""
        return [l + 1 - t for l, t in enumerate(self.times)]


def _input_times(x: torch.Tensor) -> torch.Tensor:
    if x.min() < 0 or x.max() > 1:
        raise ValueError(f"TTFS inputs must lie in [0, 1] (they are coded as t = 1 - x), got [{x.min()}, {x.max()}]")
    return 1.0 - x


def _readout(layer: TTFSLayer, times: torch.Tensor, end: float) -> torch.Tensor:
    """Membrane potential of the non-spiking readout at ``end`` minus its weight sum: :math:`\\sum_j w_{ij}(end - 1 -
    t_j)`, which is :math:`\\sum_j w_{ij} a_j` when :math:`t_j = end - 1 - a_j`."""
    return layer.apply(end - 1.0 - times, pad_value=0.0)


@torch.no_grad()
def simulate_exact(layers: list[TTFSLayer], x: torch.Tensor, threshold: float = 1.0,
                   dynamic_threshold: bool = True) -> TTFSResult:
    r"""Event-driven TTFS simulation: closed-form firing times layer by layer.

    With the dynamic threshold, a neuron of layer :math:`l` fires inside :math:`[l, l+1]`: where
    :math:`\sum_j w_{ij} > 0` its potential rises through the window and it fires at
    :math:`t_i^l = (V_{th} + \sum_j w_{ij} t_j^{l-1}) / \sum_j w_{ij}` clamped into the window; where
    :math:`\sum_j w_{ij} \le 0` the potential does not rise, so it fires at :math:`l` if
    :math:`V_i(l) \ge V_{th}` and at :math:`l + 1` otherwise. Without the dynamic threshold
    (``dynamic_threshold=False``) the formula's time is returned as it is: it may fall outside the layer's window,
    and means nothing where :math:`\sum_j w_{ij} \le 0`. Padded inputs spike at the end of the previous window
    (activation 0)."""
    times = [_input_times(x)]
    for l, layer in enumerate(layers[:-1], start=1):
        previous = times[-1]
        sums = layer.weight_sums(previous)
        weighted_times = layer.apply(previous, pad_value=float(l))
        rising = sums > 0
        t = (threshold + weighted_times) / torch.where(rising, sums, torch.ones_like(sums))
        if dynamic_threshold:
            at_start = l * sums - weighted_times                           # V_i(l) = sum_j w_ij (l - t_j)
            flat = torch.where(at_start >= threshold, torch.full_like(t, float(l)), torch.full_like(t, float(l + 1)))
            t = torch.where(rising, t.clamp(float(l), float(l + 1)), flat)
        else:
            t = torch.where(rising, t, torch.full_like(t, float("inf")))
        times.append(t)
    return TTFSResult(times, _readout(layers[-1], times[-1], float(len(layers) + 1)))


@torch.no_grad()
def simulate_stepped(layers: list[TTFSLayer], x: torch.Tensor, dt: float = 1e-2, threshold: float = 1.0) -> TTFSResult:
    r"""Time-stepped simulation with step ``dt``: each neuron integrates the step currents of the spikes it has
    received, :math:`V(t_k) = \sum_{m < k} \Delta t \sum_j w_{ij}\,[t_j \le t_m]` (:math:`\Delta t` = ``dt``), and
    fires at the first grid time
    :math:`t_k \in [l, l+1)` with :math:`V(t_k) \ge V_{th}`, or at :math:`l + 1` if it has not fired (the dynamic
    threshold). Input spikes are placed on the grid (rounded up). Firing times converge to :func:`simulate_exact`'s as
    ``dt → 0`` (errors of order ``dt``); the readout integrates over the last window the same way."""
    if not 0 < dt <= 0.5:
        raise ValueError(f"dt must be in (0, 0.5], got {dt}")
    steps = round(1.0 / dt)
    if abs(steps * dt - 1.0) > 1e-9:
        raise ValueError(f"1/dt must be an integer number of steps, got dt={dt}")
    grid = lambda t: torch.ceil(t / dt - 1e-9) * dt                       # noqa: E731  spikes land on the grid
    times = [grid(_input_times(x))]
    for l, layer in enumerate(layers, start=1):
        previous = times[-1]
        potential = torch.zeros_like(layer.apply(previous))
        fired = torch.full_like(potential, float(l + 1))
        done = torch.zeros_like(potential, dtype=torch.bool)
        for k in range(2 * steps):                                          # t_k from l - 1 to l + 1
            t = (l - 1) + k * dt
            if l < len(layers) and t >= l - 1e-9:
                crossing = (potential >= threshold) & ~done
                fired = torch.where(crossing, torch.full_like(fired, t), fired)
                done |= crossing
            arrived = (previous <= t + 1e-9).to(potential.dtype)
            padded_arrived = float(t >= l - 1e-9)                          # padding: activation 0, spike at l
            potential = potential + dt * layer.apply(arrived, pad_value=padded_arrived)
        if l == len(layers):
            return TTFSResult(times, potential - layer.weight_sums(previous))
        times.append(grid(fired))
    raise AssertionError("unreachable")
