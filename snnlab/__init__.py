"""snnlab: spiking neural networks trained with distillation, self-distillation and conversion.

Built on SpikingJelly 2.0. Every SNN tensor is time-major ``[T, N, ...]``.
"""
import logging as _logging

# torch prints "Triton not available" on the first call of each fused neuron type on machines without triton.
_logging.getLogger("torch._library.triton").setLevel(_logging.ERROR)

__version__ = "0.1.0"
