"""Capture what modules output (or receive) by module path, on any model, without touching its ``forward``.

A module path is the name PyTorch gives a submodule in ``model.named_modules()``: ``"features.3"`` is the fourth
layer of ``model.features``. Paths work the same on snnlab models, on their ANN twins (same modules at the same
paths) and on a plain SpikingJelly model a reader wrote, e.g. ``nn.Sequential(layer.Conv2d(..., step_mode='m'),
layer.BatchNorm2d(..., step_mode='m'), neuron.LIFNode(step_mode='m'), ...)``.

Captured tensors keep their autograd graph (unless ``detach=True``), so a loss on a captured feature — feature
distillation, an early-exit head — back-propagates into the model.

>>> with FeatureCapture(net, ["features.2", "features.6"]) as cap:
...     out = net(x_seq)
>>> cap.features["features.2"].shape          # [T, N, C, H, W] for a multi-step SNN

>>> out, feats = capture(net, x_seq, "features.1", kind="input")   # what features.1 received
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable

import torch
from torch import nn

__all__ = ["FeatureCapture", "capture", "get_module", "module_paths"]

_KINDS = ("output", "input")
_MAX_LISTED = 60  # paths listed in full in an error message before it is shortened


def module_paths(model: nn.Module) -> list[str]:
    """Every submodule path of ``model`` (``""``, the root itself, excluded), in registration order."""
    return [name for name, _ in model.named_modules() if name]


def get_module(model: nn.Module, path: str) -> nn.Module:
    """The submodule of ``model`` at ``path`` (``""`` is ``model`` itself).

    Raises:
        ValueError: ``path`` names no submodule; the message lists the closest valid paths and the valid ones.
    """
    modules = dict(model.named_modules())
    if path in modules:
        return modules[path]
    valid = module_paths(model)
    close = difflib.get_close_matches(path, valid, n=5, cutoff=0.5)
    listed = ", ".join(valid[:_MAX_LISTED])
    if len(valid) > _MAX_LISTED:
        listed += f", ... ({len(valid) - _MAX_LISTED} more; see snnlab.hooks.module_paths(model))"
    hint = f"closest: {', '.join(close)}; " if close else ""
    raise ValueError(f"no module at path {path!r} in {type(model).__name__}; {hint}valid paths: {listed}")


class FeatureCapture:
    """Record the output (``kind="output"``) or the first positional input (``kind="input"``) of modules.

    Hooks are installed on construction and removed by :meth:`remove` (or on leaving a ``with`` block). By
    default the records are cleared at the start of every forward pass of ``model``, so :attr:`features` always
    describes the latest one.

    A module that runs several times in one forward pass — a single-step (``step_mode='s'``) SpikingJelly layer
    called once per time step, or a shared module — leaves one record per call; :attr:`features` stacks them along
    a new leading dimension, which makes a single-step loop over ``T`` come out time-major ``[T, N, ...]``, the
    same as the multi-step layer would give. The raw per-call list is in :attr:`records`. When the loop over time
    steps calls ``model`` itself (``for t in range(T): net(x[t])``), pass ``clear_on_forward=False`` and call
    :meth:`clear` before each sequence.

    The presynaptic input of a spiking neuron layer is its ``kind="input"`` (for ``conv → BN → neuron`` it is the
    BN output). Captured tensors are the very tensors the model uses: a later in-place operation on them (e.g.
    ``nn.ReLU(inplace=True)``) changes the record too.

    Args:
        model: any ``nn.Module``.
        paths: one module path or several (see :func:`module_paths`).
        kind: ``"output"`` or ``"input"`` (the first positional argument of the module's ``forward``).
        detach: store ``tensor.detach()`` instead of the tensor with its autograd graph.
        clear_on_forward: forget the previous records whenever ``model`` starts a forward pass.
    """

    def __init__(self, model: nn.Module, paths: "str | Iterable[str]", kind: str = "output", detach: bool = False,
                 clear_on_forward: bool = True):
        if kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")
        self.paths: tuple[str, ...] = (paths,) if isinstance(paths, str) else tuple(dict.fromkeys(paths))
        if not self.paths:
            raise ValueError("give at least one module path to capture")
        modules = {path: get_module(model, path) for path in self.paths}  # validate every path before hooking any
        self.kind, self.detach = kind, detach
        self.records: dict[str, list[torch.Tensor]] = {}
        self._handles = []
        if clear_on_forward:
            self._handles.append(model.register_forward_pre_hook(lambda *_: self.clear(), prepend=True))
        for path, module in modules.items():
            if kind == "output":
                hook = module.register_forward_hook(lambda _m, _args, out, p=path: self._record(p, out))
            else:
                hook = module.register_forward_pre_hook(lambda _m, args, p=path: self._record_input(p, args))
            self._handles.append(hook)

    def _record_input(self, path: str, args: tuple) -> None:
        if not args:
            raise TypeError(
                f"module {path!r} was called without positional arguments, so kind='input' has nothing to capture; "
                "capture the output of the module that produces its input instead"
            )
        self._record(path, args[0])

    def _record(self, path: str, value) -> None:
        if not isinstance(value, torch.Tensor):
            raise TypeError(
                f"the {self.kind} of module {path!r} is a {type(value).__name__}, not a tensor; capture a submodule "
                f"whose {self.kind} is a tensor (see snnlab.hooks.module_paths(model))"
            )
        self.records.setdefault(path, []).append(value.detach() if self.detach else value)

    @property
    def features(self) -> dict[str, torch.Tensor]:
        """Path → captured tensor of the latest forward pass (several calls stacked along a new dim 0).

        Paths whose module did not run in that pass are absent.
        """
        features = {}
        for path, values in self.records.items():
            if len(values) == 1:
                features[path] = values[0]
                continue
            shapes = {tuple(v.shape) for v in values}
            if len(shapes) > 1:
                raise ValueError(
                    f"module {path!r} ran {len(values)} times with different {self.kind} shapes {sorted(shapes)}, "
                    f"so they cannot be stacked; read the per-call list in .records[{path!r}]"
                )
            features[path] = torch.stack(values)
        return features

    def clear(self) -> None:
        """Forget every record (done automatically at the start of each forward pass of the model)."""
        self.records = {}

    def remove(self) -> None:
        """Remove the hooks; the records stay readable. Safe to call twice."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self) -> "FeatureCapture":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def capture(model: nn.Module, x, paths: "str | Iterable[str]", kind: str = "output",
            detach: bool = False) -> tuple[object, dict[str, torch.Tensor]]:
    """Run ``model(x)`` once and return ``(output, {path: captured tensor})``; see :class:`FeatureCapture`.

    ``x`` is passed as the single argument; a tuple is unpacked into positional arguments.
    """
    with FeatureCapture(model, paths, kind=kind, detach=detach) as cap:
        out = model(*x) if isinstance(x, tuple) else model(x)
    return out, cap.features
