"""Checks and helpers for the time-major ``[T, N, ...]`` layout used everywhere in snnlab."""
from __future__ import annotations

import torch

__all__ = ["require_time_major", "mean_over_time"]


def require_time_major(x: torch.Tensor, ndim: int, name: str = "input", what: str = "[T, N, ...]") -> torch.Tensor:
    """Raise a clear error unless ``x`` is a tensor with ``ndim`` dimensions, laid out time-major."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != ndim:
        raise ValueError(
            f"{name} must be time-major {what} with {ndim} dimensions, got shape {tuple(x.shape)}; "
            "static inputs are turned into [T, N, ...] by snnlab.encoding (e.g. encoding.direct(x, T)), "
            "and batches of [N, T, ...] need x.transpose(0, 1)"
        )
    return x


def mean_over_time(out_seq: torch.Tensor) -> torch.Tensor:
    """Rate-decoded output: :math:`\\bar O = \\frac1T\\sum_t O[t]`, ``[T, N, C]`` → ``[N, C]``."""
    return require_time_major(out_seq, 3, "out_seq", "[T, N, C]").mean(0)
