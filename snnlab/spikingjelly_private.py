"""The two private helpers of SpikingJelly 2.0 that snnlab relies on, imported in this one place.

SpikingJelly decides whether a neuron call may run its fused kernels with ``spikingjelly._ops.surrogate``'s
``_surrogate_spec`` (a fusable surrogate's ``(id, alpha)``, else ``None``) and ``_DTYPES`` (the input dtypes the
kernels take). :mod:`snnlab.execution` reports the same decision and :mod:`snnlab.cpu_neurons` evaluates the same
closed-form derivatives, so both must read SpikingJelly's own definitions. Private names may change in any release:
``pyproject.toml`` bounds SpikingJelly to 2.0.x, and an import that fails here names the version found and the fix.
"""
from __future__ import annotations

from importlib import metadata

__all__ = ["SURROGATE_DTYPES", "surrogate_spec", "SUPPORTED"]

SUPPORTED = "spikingjelly>=2.0.0,<2.1"
"""The SpikingJelly releases whose private helpers snnlab was tested against."""

try:
    from spikingjelly._ops.surrogate import _DTYPES as SURROGATE_DTYPES
    from spikingjelly._ops.surrogate import _surrogate_spec as surrogate_spec
except ImportError as err:  # pragma: no cover - only on an unsupported SpikingJelly
    raise ImportError(
        f"snnlab needs SpikingJelly 2.0's private helpers spikingjelly._ops.surrogate._surrogate_spec and _DTYPES, "
        f"which SpikingJelly {metadata.version('spikingjelly')} does not have ({err}). Install a supported release: "
        f"python -m pip install '{SUPPORTED}'") from err
