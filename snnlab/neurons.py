r"""Spiking neurons: one factory over SpikingJelly 2.0 neurons, with the papers' presets.

Every neuron is built in multi-step mode (``step_mode='m'``): it takes ``[T, N, ...]`` and returns spikes of the
same shape. On CUDA, SpikingJelly uses its fused Triton/CUDA kernels automatically, but only for the fusable
surrogates (:data:`FUSABLE_SURROGATES`) with a Python-number ``alpha`` and a float32 membrane state; any other
surrogate (for example ``rect``, used by the TSSD, SEEN and Joint A-SNN presets) silently runs the plain PyTorch
reference loop. On a CPU, snnlab's IF and LIF neurons run :mod:`snnlab.cpu_neurons` instead (the same spikes and
state, a few in-place operations per step). snnlab's neurons take their input as float32
(:func:`snnlab.execution.float32_input`), so their state stays float32 under autocast and mixed-precision training
keeps the fused path; :mod:`snnlab.execution` reports which implementation each neuron runs with.

Charge equations (SpikingJelly's, :math:`V_{reset}=0` for a hard reset):

.. math::

    \text{decay\_input=True:}\quad  H[t] = V[t-1] + \tfrac{1}{\tau}\big(X[t] - (V[t-1]-V_{reset})\big)

    \text{decay\_input=False:}\quad H[t] = V[t-1] - \tfrac{1}{\tau}(V[t-1]-V_{reset}) + X[t]

so the common "``mem = k * mem + x``" form of the official codes is ``decay_input=False`` with
:math:`\tau = 1/(1-k)`. A spike is :math:`S[t] = \Theta(H[t] - V_{th})`; a hard reset sets :math:`V[t]=V_{reset}`
where it spiked, a soft reset (``v_reset=None``) subtracts :math:`V_{th}`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from spikingjelly.activation_based import neuron, surrogate

from .cpu_neurons import CPUIFNode, CPULIFNode
from .execution import NeuronPathProbe, float32_input
from .names import did_you_mean

__all__ = ["NeuronSpec", "PRESETS", "SURROGATES", "FUSABLE_SURROGATES", "make_neuron", "neuron_spec", "make_surrogate",
           "preset_implementations"]

SURROGATES = {
    "sigmoid": surrogate.Sigmoid,
    "atan": surrogate.ATan,
    "piecewise_quadratic": surrogate.PiecewiseQuadratic,
    "triangle": surrogate.PiecewiseQuadratic,  # alpha=1: gradient max(0, 1 - |x|), TET's triangle surrogate
    "piecewise_exp": surrogate.PiecewiseExp,
    "soft_sign": surrogate.SoftSign,
    "super_spike": surrogate.SuperSpike,
    "erf": surrogate.Erf,
    "rect": surrogate.Rect,  # gradient alpha * 1[|x| < 0.5 / alpha]: a rectangle of width 1/alpha
}
"""Surrogate names accepted by :func:`make_surrogate`."""

FUSABLE_SURROGATES = frozenset(
    {"sigmoid", "atan", "piecewise_quadratic", "triangle", "piecewise_exp", "soft_sign", "super_spike", "erf"}
)
"""Surrogates for which SpikingJelly 2.0 has fused CUDA kernels; the others fall back to PyTorch on GPU."""

_KINDS = {"if": neuron.IFNode, "lif": neuron.LIFNode, "plif": neuron.ParametricLIFNode}


def make_surrogate(name: str, alpha: float):
    """Return the SpikingJelly surrogate called ``name`` (see :data:`SURROGATES`) with slope/width ``alpha``."""
    try:
        cls = SURROGATES[name]
    except KeyError:
        raise ValueError(f"unknown surrogate {name!r}; choose one of {sorted(SURROGATES)}") from None
    return cls(alpha=float(alpha))


@dataclass(frozen=True)
class NeuronSpec:
    """Everything needed to build one kind of spiking neuron.

    Attributes:
        kind: ``"if"``, ``"lif"`` or ``"plif"`` (PLIF learns :math:`1/\\tau = \\mathrm{sigmoid}(w)`).
        tau: membrane time constant, > 1 (ignored by IF); the initial value for PLIF.
        decay_input: whether the input is divided by tau (see the module docstring).
        v_threshold: firing threshold :math:`V_{th}`.
        v_reset: reset potential for a hard reset, or ``None`` for a soft (subtractive) reset.
        surrogate: surrogate gradient name, a key of :data:`SURROGATES`.
        alpha: the surrogate's ``alpha``.
        detach_reset: detach the reset path from the graph.
        source: where the preset's values come from.
    """

    kind: str = "lif"
    tau: float = 2.0
    decay_input: bool = True
    v_threshold: float = 1.0
    v_reset: float | None = 0.0
    surrogate: str = "sigmoid"
    alpha: float = 4.0
    detach_reset: bool = False
    source: str = "SpikingJelly defaults"

    def __post_init__(self):
        if self.kind not in _KINDS:
            raise ValueError(f"unknown neuron kind {self.kind!r}; choose one of {sorted(_KINDS)}")
        if self.surrogate not in SURROGATES:
            raise ValueError(f"unknown surrogate {self.surrogate!r}; choose one of {sorted(SURROGATES)}")
        if self.kind != "if" and not self.tau > 1.0:
            raise ValueError(
                f"tau must be > 1 for {self.kind.upper()} neurons (got {self.tau}); a decay factor k in "
                "'mem = k*mem + x' corresponds to tau = 1/(1-k) with decay_input=False"
            )
        if not self.v_threshold > 0:
            raise ValueError(f"v_threshold must be positive (got {self.v_threshold})")

    @property
    def fusable(self) -> bool:
        """Whether SpikingJelly can run this neuron with a fused CUDA/Triton kernel."""
        return self.surrogate in FUSABLE_SURROGATES

    def replace(self, **changes) -> "NeuronSpec":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def build(self, step_mode: str = "m", store_v_seq: bool = False, cpu_path: bool = True):
        """Instantiate the SpikingJelly node (multi-step by default), taking its input as float32
        (:func:`~snnlab.execution.float32_input`). With ``cpu_path`` an IF or LIF node runs its float32 multi-step
        calls on a CPU with :func:`snnlab.cpu_neurons.multi_step_neuron` (SpikingJelly's spikes and state, a few
        in-place operations per step) and SpikingJelly's own path elsewhere (its fused kernels on CUDA); without it
        the node is SpikingJelly's own class."""
        node = self._node(step_mode, store_v_seq, cpu_path)
        node.register_forward_pre_hook(float32_input)
        return node

    def _node(self, step_mode: str, store_v_seq: bool, cpu_path: bool):
        common = dict(
            v_threshold=float(self.v_threshold),
            v_reset=None if self.v_reset is None else float(self.v_reset),
            surrogate_function=make_surrogate(self.surrogate, self.alpha),
            detach_reset=self.detach_reset,
            step_mode=step_mode,
            store_v_seq=store_v_seq,
        )
        if self.kind == "if":
            return (CPUIFNode if cpu_path else neuron.IFNode)(**common)
        if self.kind == "lif":
            return (CPULIFNode if cpu_path else neuron.LIFNode)(tau=float(self.tau), decay_input=self.decay_input,
                                                                **common)
        return neuron.ParametricLIFNode(init_tau=float(self.tau), decay_input=self.decay_input, **common)


PRESETS: dict[str, NeuronSpec] = {
    "if": NeuronSpec(kind="if"),
    "lif": NeuronSpec(kind="lif"),
    "plif": NeuronSpec(kind="plif"),
    # TET official code: mem = 0.5*mem + x, threshold 1, hard reset, triangle surrogate (gamma = 1).
    "tet": NeuronSpec("lif", tau=2.0, decay_input=False, v_threshold=1.0, v_reset=0.0, surrogate="triangle",
                      alpha=1.0, source="Deng et al. 2022 (TET), official code"),
    # TSSD / SSNN: H = (1 - 1/tau) H + I, tau = 2, threshold 1, soft reset, rectangular surrogate of width 1.
    "tssd": NeuronSpec("lif", tau=2.0, decay_input=False, v_threshold=1.0, v_reset=None, surrogate="rect",
                       alpha=1.0, source="TSSD paper"),
    "ssnn": NeuronSpec("lif", tau=2.0, decay_input=False, v_threshold=1.0, v_reset=None, surrogate="rect",
                       alpha=1.0, source="SSNN follows the TSSD neuron (open in the paper)"),
    # Joint A-SNN official code: mem = 0.25*mem + x, threshold 0.5, hard reset, rectangular surrogate.
    "joint-asnn": NeuronSpec("lif", tau=4.0 / 3.0, decay_input=False, v_threshold=0.5, v_reset=0.0,
                             surrogate="rect", alpha=1.0, source="Guo et al. 2023 (Joint A-SNN), official code"),
    # SEEN official code: mem = 0.2*mem*(1-s) + x, threshold 0.3, rectangular surrogate.
    "seen": NeuronSpec("lif", tau=1.25, decay_input=False, v_threshold=0.3, v_reset=0.0, surrogate="rect",
                       alpha=1.0, source="Zhang et al. 2023 (SEEN), official code"),
    # SpikingBERT official code: IF without leak, threshold 1, subtractive reset.
    "spikingbert": NeuronSpec("if", v_threshold=1.0, v_reset=None, source="Bal & Sengupta 2024 (SpikingBERT), official code"),
}
"""Named neuron presets; ``neuron_spec(name)`` returns one, ``make_neuron(name)`` builds one."""


def neuron_spec(spec: "str | NeuronSpec" = "lif", **overrides) -> NeuronSpec:
    """Resolve a preset name (or a spec) and apply field overrides, e.g. ``neuron_spec("tet", surrogate="atan")``."""
    if isinstance(spec, NeuronSpec):
        base = spec
    else:
        try:
            base = PRESETS[spec]
        except KeyError:
            raise ValueError(f"unknown neuron preset {spec!r}; choose one of {sorted(PRESETS)}"
                             f"{did_you_mean(spec, PRESETS)}") from None
    unknown = set(overrides) - {f.name for f in dataclasses.fields(NeuronSpec)}
    if unknown:
        raise ValueError(f"unknown neuron option(s) {sorted(unknown)}; valid: {[f.name for f in dataclasses.fields(NeuronSpec)]}")
    return base.replace(**overrides) if overrides else base


def make_neuron(spec: "str | NeuronSpec" = "lif", *, step_mode: str = "m", store_v_seq: bool = False,
                cpu_path: bool = True, **overrides):
    """Build a SpikingJelly neuron from a preset name or :class:`NeuronSpec`.

    >>> lif = make_neuron("tet")                 # mem = 0.5 mem + x, V_th = 1, hard reset, triangle surrogate
    >>> lif = make_neuron("lif", tau=4.0, surrogate="atan", alpha=2.0)

    The node is multi-step: input ``[T, N, ...]`` → spikes ``[T, N, ...]``.
    """
    return neuron_spec(spec, **overrides).build(step_mode=step_mode, store_v_seq=store_v_seq, cpu_path=cpu_path)


def preset_implementations(device: "str | torch.device" = "cpu", amp: bool = False) -> dict[str, str]:
    """The implementation SpikingJelly runs each neuron preset with on ``device`` (see :mod:`snnlab.execution`),
    measured by calling each preset's neuron once on a small input — in half precision with ``amp`` (as a
    convolution under autocast hands it: float16 on CUDA, bfloat16 on a CPU)."""
    device = torch.device(device)
    dtype = (torch.float16 if device.type == "cuda" else torch.bfloat16) if amp else torch.float32
    paths = {}
    for name in PRESETS:
        node = make_neuron(name).to(device)
        with NeuronPathProbe(node) as probe:
            node(torch.rand(2, 3, 4, device=device).to(dtype))
        paths[name] = probe.paths["<root>"]
    return paths
