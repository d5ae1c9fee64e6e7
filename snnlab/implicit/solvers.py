r"""Fixed-point solvers for :math:`z^\star = f(z^\star)`: plain iteration, Anderson acceleration and Broyden's method.

Every solver takes a map ``f`` and a start ``z0`` whose first dimension is the batch (each sample is its own
problem; the solvers run them side by side), stops when the relative residual

.. math:: r_k = \frac{\lVert f(z_k) - z_k\rVert}{\lVert f(z_k)\rVert + \epsilon}

(norms over the whole batch) falls to ``tol`` or after ``max_iter`` evaluations of ``f``, and returns the iterate
with the lowest residual together with :class:`SolverStats`. The solvers never print: every solve is logged on the
``snnlab.implicit`` logger (``DEBUG``), and a solve that stops above ``tol`` is logged as a ``WARNING`` and flagged
``converged=False`` in its statistics.

* :func:`fixed_point_iteration`: :math:`z_{k+1} = f(z_k)` (converges linearly when :math:`f` is a contraction).
* :func:`anderson`: Anderson acceleration (Walker & Ni, 2011), as in the DEQ tutorial (Bai, Kolter & Koltun,
  NeurIPS 2019): the next iterate mixes the last ``m`` values of :math:`f` with the weights that minimise the
  norm of the combined residual, subject to summing to 1.
* :func:`broyden`: Broyden's "good" method (Broyden, 1965) on :math:`g(z) = f(z) - z = 0`, with the inverse
  Jacobian kept as :math:`-I` plus low-rank updates (the solver of the DEQ and SpikingBERT codes).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

import torch

__all__ = ["SolverStats", "SOLVERS", "fixed_point_iteration", "anderson", "broyden", "solve", "relative_residual"]

logger = logging.getLogger("snnlab.implicit")

_EPS = 1e-9


@dataclass
class SolverStats:
    """What a fixed-point solve did.

    Attributes:
        solver: the solver's name (a key of :data:`SOLVERS`).
        iterations: evaluations of the map (``f``) made.
        residual: relative residual of the returned iterate (the lowest seen).
        residuals: relative residual after every evaluation, in order.
        converged: whether ``residual <= tol``.
        tol: the tolerance asked for.
    """

    solver: str
    iterations: int
    residual: float
    residuals: list[float] = field(default_factory=list)
    converged: bool = False
    tol: float = 0.0

    def summary(self) -> str:
        state = "converged" if self.converged else "NOT converged"
        return (f"{self.solver}: {state} after {self.iterations} evaluations, relative residual "
                f"{self.residual:.3g} (tol {self.tol:.3g})")


def relative_residual(fz: torch.Tensor, z: torch.Tensor) -> float:
    r""":math:`\lVert f(z) - z\rVert / (\lVert f(z)\rVert + \epsilon)` over the whole batch."""
    return ((fz - z).norm() / (fz.norm() + _EPS)).item()


def _check(z0: torch.Tensor, tol: float, max_iter: int) -> None:
    if not isinstance(z0, torch.Tensor) or z0.dim() < 1:
        raise ValueError("z0 must be a tensor whose first dimension is the batch (use z0[None] for one problem)")
    if not tol > 0:
        raise ValueError(f"tol must be positive, got {tol}")
    if max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")


class _Tracker:
    """Keeps the residual history and the best iterate of a solve, and builds its statistics."""

    def __init__(self, name: str, tol: float):
        self.name, self.tol = name, tol
        self.residuals: list[float] = []
        self.best, self.best_residual = None, float("inf")

    def record(self, z: torch.Tensor, fz: torch.Tensor) -> bool:
        """Record the evaluation ``fz = f(z)``; True when the tolerance is met."""
        r = relative_residual(fz, z)
        self.residuals.append(r)
        if r < self.best_residual:
            self.best, self.best_residual = fz.clone(), r   # f(z) is at least as close to z* as z for a contraction
        return r <= self.tol

    def finish(self) -> tuple[torch.Tensor, SolverStats]:
        stats = SolverStats(self.name, len(self.residuals), self.best_residual, self.residuals,
                            self.best_residual <= self.tol, self.tol)
        logger.debug(stats.summary())
        if not stats.converged:
            logger.warning("fixed-point solve did not converge: %s", stats.summary())
        return self.best, stats


def fixed_point_iteration(f: Callable[[torch.Tensor], torch.Tensor], z0: torch.Tensor, tol: float = 1e-6,
                          max_iter: int = 100) -> tuple[torch.Tensor, SolverStats]:
    r"""Plain iteration :math:`z_{k+1} = f(z_k)` from ``z0`` (batch first); returns the best iterate and stats."""
    _check(z0, tol, max_iter)
    tracker = _Tracker("iteration", tol)
    z = z0
    for _ in range(max_iter):
        fz = f(z)
        if tracker.record(z, fz):
            break
        z = fz
    return tracker.finish()


def anderson(f: Callable[[torch.Tensor], torch.Tensor], z0: torch.Tensor, tol: float = 1e-6, max_iter: int = 50,
             m: int = 5, lam: float = 1e-4, beta: float = 1.0) -> tuple[torch.Tensor, SolverStats]:
    r"""Anderson acceleration of :math:`z = f(z)` (type II, Walker & Ni 2011; the DEQ tutorial's form).

    With :math:`G_k = [f(z_{k-n+1}) - z_{k-n+1}, \dots, f(z_k) - z_k]` the last :math:`n \le m` residuals, the
    weights
    :math:`\alpha = \arg\min_{\mathbf 1^\top\alpha = 1} \lVert G_k\alpha\rVert^2 + \lambda\bar g\lVert\alpha\rVert^2`
    (a small bordered linear system per sample; :math:`\bar g` is the mean squared residual norm in the history, so
    the regularisation is relative) give
    :math:`z_{k+1} = \beta\sum_i \alpha_i f(z_i) + (1-\beta)\sum_i \alpha_i z_i`.

    Args:
        f: the map, batch first.
        z0: start, ``[N, ...]``.
        tol, max_iter: stopping rule (relative residual; evaluations of ``f``).
        m: history size; lam: Tikhonov regularisation of the least squares; beta: mixing (damping) factor.
    """
    _check(z0, tol, max_iter)
    if m < 1:
        raise ValueError(f"Anderson's history size m must be >= 1, got {m}")
    tracker = _Tracker("anderson", tol)
    n_batch, shape = z0.shape[0], z0.shape
    flat = lambda z: z.reshape(n_batch, -1)  # noqa: E731
    X = z0.new_zeros(n_batch, m, flat(z0).shape[1])
    F = torch.zeros_like(X)
    X[:, 0] = flat(z0)
    F[:, 0] = flat(f(z0))
    if tracker.record(X[:, 0], F[:, 0]) or max_iter == 1:
        return _finish_shaped(tracker, shape)
    H = z0.new_zeros(n_batch, m + 1, m + 1)
    H[:, 0, 1:] = H[:, 1:, 0] = 1.0
    y = z0.new_zeros(n_batch, m + 1, 1)
    y[:, 0] = 1.0
    for k in range(1, max_iter):
        n = min(k, m)
        G = F[:, :n] - X[:, :n]
        gram = G @ G.transpose(1, 2)
        scale = gram.diagonal(dim1=1, dim2=2).mean(1).clamp_min(_EPS)[:, None, None]
        H[:, 1:n + 1, 1:n + 1] = gram + lam * scale * torch.eye(n, dtype=z0.dtype, device=z0.device)
        alpha = torch.linalg.solve(H[:, :n + 1, :n + 1], y[:, :n + 1])[:, 1:n + 1, 0]
        z_next = beta * (alpha[:, None] @ F[:, :n])[:, 0] + (1 - beta) * (alpha[:, None] @ X[:, :n])[:, 0]
        X[:, k % m] = z_next
        F[:, k % m] = flat(f(z_next.reshape(shape)))
        if tracker.record(X[:, k % m], F[:, k % m]):
            break
    return _finish_shaped(tracker, shape)


def _finish_shaped(tracker: _Tracker, shape: torch.Size) -> tuple[torch.Tensor, SolverStats]:
    z, stats = tracker.finish()
    return z.reshape(shape), stats


def broyden(f: Callable[[torch.Tensor], torch.Tensor], z0: torch.Tensor, tol: float = 1e-6,
            max_iter: int = 50) -> tuple[torch.Tensor, SolverStats]:
    r"""Broyden's "good" method for :math:`g(z) = f(z) - z = 0`, one problem per sample.

    The inverse Jacobian of :math:`g` is approximated by :math:`B_k = -I + \sum_i u_i v_i^\top` (so the first step
    is a plain iteration) and each step is :math:`z_{k+1} = z_k - B_k g(z_k)`; with
    :math:`\Delta z = z_{k+1} - z_k`, :math:`\Delta g = g(z_{k+1}) - g(z_k)` the update is

    .. math:: B_{k+1} = B_k + \frac{(\Delta z - B_k\Delta g)\,\Delta z^\top B_k}{\Delta z^\top B_k \Delta g}.
    """
    _check(z0, tol, max_iter)
    tracker = _Tracker("broyden", tol)
    n_batch, shape = z0.shape[0], z0.shape
    U: list[torch.Tensor] = []   # [N, d] each
    V: list[torch.Tensor] = []

    def times_B(x: torch.Tensor) -> torch.Tensor:          # B x, per sample
        out = -x
        for u, v in zip(U, V):
            out = out + u * (v * x).sum(1, keepdim=True)
        return out

    def B_transposed_times(x: torch.Tensor) -> torch.Tensor:  # B^T x, per sample
        out = -x
        for u, v in zip(U, V):
            out = out + v * (u * x).sum(1, keepdim=True)
        return out

    z = z0.reshape(n_batch, -1)
    fz = f(z0).reshape(n_batch, -1)
    gz = fz - z
    done = tracker.record(z, fz)
    for _ in range(max_iter - 1):
        if done:
            break
        z_next = z - times_B(gz)
        fz_next = f(z_next.reshape(shape)).reshape(n_batch, -1)
        g_next = fz_next - z_next
        done = tracker.record(z_next, fz_next)
        dz, dg = z_next - z, g_next - gz
        v = B_transposed_times(dz)
        denominator = (v * dg).sum(1, keepdim=True)
        safe = denominator.abs() > _EPS
        u = torch.where(safe, (dz - times_B(dg)) / torch.where(safe, denominator, torch.ones_like(denominator)),
                        torch.zeros_like(dz))
        U.append(u)
        V.append(v)
        z, gz = z_next, g_next
    return _finish_shaped(tracker, shape)


SOLVERS: dict[str, Callable[..., tuple[torch.Tensor, SolverStats]]] = {
    "iteration": fixed_point_iteration,
    "anderson": anderson,
    "broyden": broyden,
}
"""Solver names accepted by :func:`solve` and by the implicit layers' ``solver`` / ``backward_solver`` options."""


def solve(f: Callable[[torch.Tensor], torch.Tensor], z0: torch.Tensor, solver: str = "anderson", tol: float = 1e-6,
          max_iter: int = 50, **options) -> tuple[torch.Tensor, SolverStats]:
    """Solve :math:`z = f(z)` from ``z0`` with the solver called ``solver`` (see :data:`SOLVERS`); ``options`` go to it
    (e.g. ``m``, ``lam``, ``beta`` for Anderson). Runs without autograd; returns ``(z*, stats)``."""
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; choose one of {sorted(SOLVERS)}")
    with torch.no_grad():
        return SOLVERS[solver](f, z0, tol=tol, max_iter=max_iter, **options)
