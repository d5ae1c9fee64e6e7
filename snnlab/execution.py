r"""Which implementation runs each spiking neuron: SpikingJelly's fused CUDA/Triton kernels, its PyTorch reference, or
snnlab's CPU path.

SpikingJelly 2.0 decides at every call of a multi-step IF, LIF or PLIF neuron (``lif_multi_step`` and its siblings in
``spikingjelly.activation_based.functional.neuron``). The call is *fused* when

* the surrogate is one of its built-in fusable ones with a Python-number ``alpha`` (its ``_surrogate_spec``),
* the input is float32, float16 or bfloat16 (its ``_DTYPES``), and
* the membrane state ``v`` is **float32**;

a fused call then runs the CUDA provider selected for the device (``functional.neuron_implementation``: ``"cuda"``
when the native kernels are built, else ``"triton"``, else ``"torch-reference"``); on a CPU it runs SpikingJelly's
custom operator with a hand-written backward. Any other call runs the PyTorch reference loop.

SpikingJelly creates the state in the input's dtype. Under autocast the convolutions hand a neuron half-precision
currents, so its state would be half precision and no neuron would be fused. snnlab's neurons
(:func:`snnlab.neurons.make_neuron`) therefore take their input as float32 (the forward pre-hook
:func:`float32_input`): the state stays float32 and the fused path stays open, while the convolutions around them
still run in half precision.

snnlab's IF and LIF neurons take none of SpikingJelly's paths for a float32 multi-step call on a CPU: they run
:func:`snnlab.cpu_neurons.multi_step_neuron`, reported as ``"snnlab-cpu"``.

:func:`implementation` applies SpikingJelly's own predicates to one call; :class:`NeuronPathProbe` records the
implementation of every neuron of a model during a forward pass. The :class:`~snnlab.train.Trainer` probes its first
training step and reports what ran (device, AMP, implementations) to :func:`collect_execution`, through which
:func:`snnlab.repro.run` stores it in every record.
"""
from __future__ import annotations

from contextlib import contextmanager
from functools import partial

import torch
from spikingjelly.activation_based import functional, neuron
from torch import nn

from .cpu_neurons import CPU_IMPLEMENTATION, CPUPath
from .spikingjelly_private import SURROGATE_DTYPES, surrogate_spec

__all__ = ["NEURON_KINDS", "neuron_kind", "float32_input", "fused_profile", "implementation", "NeuronPathProbe",
           "collect_execution", "report_execution", "summarise_execution"]

NEURON_KINDS = {neuron.IFNode: "if", neuron.LIFNode: "lif", neuron.ParametricLIFNode: "plif"}
"""SpikingJelly node classes with fused kernels → the name ``functional.neuron_implementation`` knows them by."""


def neuron_kind(module: nn.Module) -> str | None:
    """``"if"``, ``"lif"`` or ``"plif"`` for a SpikingJelly neuron with fused kernels (or a subclass of one, such as
    snnlab's CPU nodes), else ``None``."""
    return next((NEURON_KINDS[cls] for cls in type(module).__mro__ if cls in NEURON_KINDS), None)


_HALF = (torch.float16, torch.bfloat16)


def float32_input(module: nn.Module, args: tuple):
    """Forward pre-hook of snnlab's neurons: a half-precision input (float16 or bfloat16, as autocast hands it) enters
    as float32, so the membrane state SpikingJelly creates from it is float32 — the condition of its fused kernels.
    Other inputs (float32, float64) pass unchanged."""
    x = args[0]
    if isinstance(x, torch.Tensor) and x.dtype in _HALF:
        return (x.float(), *args[1:])
    return None


def fused_profile(surrogate_function, x_dtype: torch.dtype, v_dtype: torch.dtype) -> bool:
    """SpikingJelly 2.0's condition for a fused neuron call (see the module docstring), evaluated with its own
    ``_surrogate_spec`` and ``_DTYPES`` (:mod:`snnlab.spikingjelly_private`)."""
    return surrogate_spec(surrogate_function) is not None and x_dtype in SURROGATE_DTYPES and v_dtype == torch.float32


def implementation(kind: str, surrogate_function, x_dtype: torch.dtype, v_dtype: torch.dtype,
                   device: "str | torch.device") -> str:
    """The implementation SpikingJelly runs a ``kind`` neuron call with: ``"cuda"`` or ``"triton"`` (fused kernels),
    ``"custom-op"`` (the fused profile on a CPU: SpikingJelly's operator with a hand-written backward) or
    ``"torch-reference"``."""
    device = torch.device(device)
    if not fused_profile(surrogate_function, x_dtype, v_dtype):
        return "torch-reference"
    if device.type != "cuda":
        return "custom-op"
    return str(functional.neuron_implementation(kind, device)["implementation"])


class NeuronPathProbe:
    """Record, during a ``with`` block, the implementation each IF/LIF/PLIF neuron of ``model`` runs with
    (``"snnlab-cpu"`` for a call that runs :mod:`snnlab.cpu_neurons`, else :func:`implementation`).

    >>> with NeuronPathProbe(model) as probe:
    ...     model(x)
    >>> probe.paths            # {"features.2": "triton", "features.6": "torch-reference", ...}

    The state's dtype is read from the neuron after its call (``module.v``), the input's from the call itself.
    """

    def __init__(self, model: nn.Module):
        self.model = model
        self.paths: dict[str, str] = {}
        self._handles = []

    def __enter__(self) -> "NeuronPathProbe":
        for name, module in self.model.named_modules():
            kind = neuron_kind(module)
            if kind is not None:
                self._handles.append(module.register_forward_hook(partial(self._record, name or "<root>", kind)))
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _record(self, name: str, kind: str, module: nn.Module, args: tuple, output) -> None:
        x, v = args[0], module.v
        if isinstance(module, CPUPath) and module.runs_cpu_path(x):
            self.paths[name] = CPU_IMPLEMENTATION
            return
        v_dtype = v.dtype if isinstance(v, torch.Tensor) else x.dtype
        self.paths[name] = implementation(kind, module.surrogate_function, x.dtype, v_dtype, x.device)


_collectors: list[list[dict]] = []


@contextmanager
def collect_execution():
    """Collect, as a list, the execution summaries (:func:`report_execution`) of every training run in the block."""
    seen: list[dict] = []
    _collectors.append(seen)
    try:
        yield seen
    finally:
        _collectors.remove(seen)


def report_execution(summary: dict) -> None:
    """Hand one training run's ``{"device", "amp", "neurons": {path: implementation}}`` to the open collectors."""
    for seen in _collectors:
        seen.append(summary)


def summarise_execution(seen: list[dict]) -> dict:
    """What a set of training runs ran on: the devices, AMP settings and neuron implementations (each sorted, distinct)
    and the number of runs."""
    return {"devices": sorted({s["device"] for s in seen}), "amp": sorted({s["amp"] for s in seen}),
            "neuron_implementations": sorted({path for s in seen for path in s["neurons"].values()}),
            "training_runs": len(seen)}
