r"""Input encodings: static tensors ``[N, ...]`` → time-major spike/current trains ``[T, N, ...]``.

* :func:`direct` — the analog input repeated at every step (the first layer acts as the encoder); used by most
  distillation papers (TET, TSSD, Joint A-SNN, KDSNN).
* :func:`poisson` — rate coding: :math:`S[t] \sim \mathrm{Bernoulli}(x)`, so :math:`E[\frac1T\sum_t S[t]] = x`
  (LaSNN).
* :func:`ttfs` — time-to-first-spike (latency) coding: one spike at :math:`t_f = \mathrm{round}((T-1)(1-x))`, so
  brighter inputs fire earlier; inputs :math:`\le 0` never fire.
"""
from __future__ import annotations

import torch

from .names import did_you_mean

__all__ = ["direct", "poisson", "ttfs", "encode", "ENCODINGS"]


def _check_steps(T: int) -> int:
    if not isinstance(T, int) or T < 1:
        raise ValueError(f"T (number of time steps) must be a positive int, got {T!r}")
    return T


def _check_finite(x: torch.Tensor, name: str) -> None:
    if not torch.isfinite(x).all():
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name} encoding got {bad} NaN or infinite input value(s) of {x.numel()}; clean or drop "
                         "those samples first (a NaN input would silently become 'no spike')")


def _check_unit_range(x: torch.Tensor, name: str) -> None:
    _check_finite(x, name)
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise ValueError(
            f"{name} encoding needs intensities in [0, 1], got range [{x.min().item():.3g}, {x.max().item():.3g}]; "
            "rescale the input (e.g. divide 8-bit images by 255) before encoding"
        )


def direct(x: torch.Tensor, T: int) -> torch.Tensor:
    """Repeat the analog input at every step: ``[N, ...]`` → ``[T, N, ...]``."""
    _check_finite(x, "direct")
    return x.unsqueeze(0).repeat(_check_steps(T), *([1] * x.dim()))


def poisson(x: torch.Tensor, T: int, generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Rate coding: ``S[t] = 1[u_t < x]`` with ``u_t ~ U(0, 1)`` independent per step and element.

    ``x`` must lie in [0, 1]; the spike count over ``T`` steps is Binomial(T, x).
    """
    _check_unit_range(x, "Poisson")
    u = torch.rand((_check_steps(T), *x.shape), generator=generator, device=x.device, dtype=x.dtype)
    return (u < x.unsqueeze(0)).to(x.dtype)


def ttfs(x: torch.Tensor, T: int) -> torch.Tensor:
    r"""Time-to-first-spike coding: a single spike at :math:`t_f = \mathrm{round}((T-1)(1-x))` for :math:`x > 0`.

    ``x`` must lie in [0, 1]; ``x = 1`` fires at ``t = 0``, small positive ``x`` fires at ``t = T - 1``, and
    ``x = 0`` does not fire at all (unlike SpikingJelly's ``LatencyEncoder``, which fires at ``T - 1``).
    """
    _check_unit_range(x, "TTFS")
    T = _check_steps(T)
    t_fire = torch.round((T - 1) * (1 - x)).long()
    steps = torch.arange(T, device=x.device).view(T, *([1] * x.dim()))
    return ((steps == t_fire.unsqueeze(0)) & (x.unsqueeze(0) > 0)).to(x.dtype)


ENCODINGS = {"direct": direct, "poisson": poisson, "ttfs": ttfs}


def encode(name: str, x: torch.Tensor, T: int) -> torch.Tensor:
    """Encode with the encoding called ``name`` (``direct``, ``poisson`` or ``ttfs``)."""
    try:
        fn = ENCODINGS[name]
    except KeyError:
        raise ValueError(f"unknown encoding {name!r}; choose one of {sorted(ENCODINGS)}"
                         f"{did_you_mean(name, ENCODINGS)}") from None
    return fn(x, T)
