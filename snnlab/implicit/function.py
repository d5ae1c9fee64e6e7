r"""Implicit differentiation at a fixed point (Bai, Kolter & Koltun, *Deep Equilibrium Models*, NeurIPS 2019).

At a fixed point :math:`a^\star = f_\theta(a^\star)`, differentiating both sides gives
:math:`\frac{da^\star}{d\theta} = \frac{\partial f}{\partial a^\star}\frac{da^\star}{d\theta}
+ \frac{\partial f}{\partial\theta}`,
so

.. math:: \frac{da^\star}{d\theta} = \Big(I - \frac{\partial f}{\partial a^\star}\Big)^{-1}
          \frac{\partial f}{\partial\theta},
          \qquad
          \frac{d\mathcal L}{d\theta} = \underbrace{\frac{\partial \mathcal L}{\partial a^\star}\Big(I - J_f\Big)^{-1}}_{g}
          \frac{\partial f}{\partial\theta}.

The row vector :math:`g` is never formed through the inverse: it solves the adjoint fixed point

.. math:: g = g\,J_f + \frac{\partial \mathcal L}{\partial a^\star},

with one vector–Jacobian product per solver iteration. So the backward pass needs only :math:`a^\star` and one
evaluation of :math:`f` with autograd, whatever the number of forward iterations (or spiking time steps): memory
is constant in them. SpikingBERT (Bal & Sengupta, AAAI 2024) trains spiking networks this way, with the
average spiking rates at equilibrium as :math:`a^\star`.

:func:`implicit_gradient` attaches this gradient to a given :math:`a^\star` (from any solver, or from a spiking
simulation); :func:`fixed_point` solves and attaches. The backward solve's statistics are written into the
returned :class:`ImplicitStats` when the backward pass runs (and logged on ``snnlab.implicit``; a backward solve
that stops above its tolerance is logged as a ``WARNING`` and flagged ``converged=False``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from .solvers import SOLVERS, SolverStats, solve

__all__ = ["ImplicitStats", "implicit_gradient", "fixed_point"]


@dataclass
class ImplicitStats:
    """Statistics of an implicit layer: its forward solve (``None`` when :math:`a^\\star` came from elsewhere, e.g. a
    spiking simulation) and its backward (adjoint) solve, filled in when the backward pass runs."""

    forward: SolverStats | None = None
    backward: SolverStats | None = None

    @property
    def converged(self) -> bool:
        """Whether every solve that ran met its tolerance."""
        return all(s.converged for s in (self.forward, self.backward) if s is not None)


@dataclass(frozen=True)
class _BackwardOptions:
    solver: str
    tol: float
    max_iter: int
    options: dict


class _AdjointFixedPoint(torch.autograd.Function):
    """Identity in the forward pass; the backward pass turns :math:`\\partial \\mathcal L/\\partial a^\\star` into the
    solution :math:`g` of :math:`g = g J_f(a^\\star) + \\partial \\mathcal L/\\partial a^\\star`."""

    @staticmethod
    def forward(ctx, z, z_star, f, options: _BackwardOptions, stats: ImplicitStats):
        ctx.f, ctx.options, ctx.stats = f, options, stats
        ctx.save_for_backward(z_star)
        return z.clone()

    @staticmethod
    def backward(ctx, grad):
        (z_star,) = ctx.saved_tensors
        z_star = z_star.detach().requires_grad_()
        with torch.enable_grad():
            fz = ctx.f(z_star)

        def adjoint_map(g: torch.Tensor) -> torch.Tensor:
            (vjp,) = torch.autograd.grad(fz, z_star, g, retain_graph=True)
            return vjp + grad

        opts = ctx.options
        g, ctx.stats.backward = SOLVERS[opts.solver](adjoint_map, grad, tol=opts.tol, max_iter=opts.max_iter,
                                                     **opts.options)
        return g, None, None, None, None


def implicit_gradient(f: Callable[[torch.Tensor], torch.Tensor], z_star: torch.Tensor,
                      backward_solver: str = "broyden", backward_tol: float = 1e-6, backward_max_iter: int = 30,
                      backward_options: dict | None = None,
                      stats: ImplicitStats | None = None) -> tuple[torch.Tensor, ImplicitStats]:
    r"""Return :math:`a = f(a^\star)` carrying the implicit gradient of the fixed point :math:`a^\star = f(a^\star)`.

    ``z_star`` is treated as a constant (detached); ``f`` (a closure over the parameters and inputs) is applied once
    with autograd, and the gradient arriving at the result is replaced by the solution of the adjoint fixed point
    ``g = g J_f + dL/da`` before it flows into :math:`\partial f/\partial\theta`. At a fixed point the returned value
    equals :math:`a^\star`; for an approximate one it is one more step of ``f``.

    Args:
        f: the map, batch first (``[N, ...] -> [N, ...]``).
        z_star: the (approximate) fixed point, ``[N, ...]``.
        backward_solver: a key of :data:`~snnlab.implicit.solvers.SOLVERS` for the adjoint solve (SpikingBERT's code
            uses Broyden with 30 iterations).
        backward_tol, backward_max_iter: its stopping rule.
        backward_options: further solver options (e.g. Anderson's ``m``).
        stats: an :class:`ImplicitStats` to fill (default: a new one).
    """
    if backward_solver not in SOLVERS:
        raise ValueError(f"unknown backward_solver {backward_solver!r}; choose one of {sorted(SOLVERS)}")
    if not backward_tol > 0 or backward_max_iter < 1:
        raise ValueError(f"backward_tol must be positive and backward_max_iter >= 1, got {backward_tol} and "
                         f"{backward_max_iter}")
    stats = stats if stats is not None else ImplicitStats()
    z_star = z_star.detach()
    z = f(z_star)
    if not (torch.is_grad_enabled() and z.requires_grad):
        return z, stats
    options = _BackwardOptions(backward_solver, backward_tol, backward_max_iter, dict(backward_options or {}))
    return _AdjointFixedPoint.apply(z, z_star, f, options, stats), stats


def fixed_point(f: Callable[[torch.Tensor], torch.Tensor], z0: torch.Tensor, solver: str = "anderson",
                tol: float = 1e-6, max_iter: int = 50, solver_options: dict | None = None,
                backward_solver: str | None = None, backward_tol: float | None = None,
                backward_max_iter: int | None = None,
                backward_options: dict | None = None) -> tuple[torch.Tensor, ImplicitStats]:
    r"""Solve :math:`a^\star = f(a^\star)` from ``z0`` without autograd, then attach the implicit gradient.

    Memory does not grow with the number of solver iterations: the forward solve keeps no graph, the backward
    solves :math:`g = g J_f + \partial \mathcal L/\partial a^\star` (see :func:`implicit_gradient`). The backward
    options
    default to the forward ones. Returns ``(z, stats)``; ``stats.forward`` is filled now, ``stats.backward`` when
    ``loss.backward()`` runs.

    >>> z, stats = fixed_point(lambda z: torch.tanh(W @ z + x), torch.zeros(1, 4))
    >>> z.sum().backward(); stats.backward.iterations
    """
    z_star, forward_stats = solve(f, z0, solver, tol, max_iter, **(solver_options or {}))
    return implicit_gradient(
        f, z_star, backward_solver or solver, backward_tol or tol, backward_max_iter or max_iter,
        backward_options if backward_options is not None else (solver_options if backward_solver in (None, solver)
                                                               else None),
        ImplicitStats(forward=forward_stats))
