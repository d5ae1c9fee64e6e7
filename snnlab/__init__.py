"""snnlab: spiking neural networks trained with distillation, self-distillation and conversion.

Built on SpikingJelly 2.0. Every SNN tensor is time-major ``[T, N, ...]``.
"""
import logging as _logging
from importlib import metadata as _metadata

# torch prints "Triton not available" on the first call of each fused neuron type on machines without triton.
_logging.getLogger("torch._library.triton").setLevel(_logging.ERROR)

DISTRIBUTION = "snnlab-kd"
"""The name snnlab is installed under (``pip install snnlab-kd``); ``snnlab`` on PyPI is an unrelated simulator."""

try:
    __version__ = _metadata.version(DISTRIBUTION)   # written once, in pyproject.toml
except _metadata.PackageNotFoundError:               # imported from a source tree that was never installed
    __version__ = "0+unknown"
