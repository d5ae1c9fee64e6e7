"""Memory that autograd keeps for the backward pass: the tensors saved by every operation of a forward pass.

On a CPU this is a robust, deterministic measure of training memory (peak allocator statistics exist on CUDA only),
and it is what separates backpropagation through time — whose saved tensors grow with the number of steps — from
implicit differentiation, which saves one evaluation of the fixed-point map.
"""
from __future__ import annotations

from typing import Callable, TypeVar

import torch

__all__ = ["saved_for_backward"]

Result = TypeVar("Result")


def saved_for_backward(forward: Callable[[], Result]) -> tuple[Result, int]:
    """Run ``forward()`` and return its result with the bytes of every tensor autograd saved for backward during
    it (counted once per save, as ``torch.autograd.graph.saved_tensors_hooks`` sees them)."""
    saved = 0

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        nonlocal saved
        saved += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        result = forward()
    return result, saved
