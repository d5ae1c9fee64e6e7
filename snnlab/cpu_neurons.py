r"""A multi-step IF/LIF for the CPU: a few in-place operations per time step forward, one per step backward.

SpikingJelly's CPU paths (its custom operator for the fusable surrogates, its PyTorch reference loop for the others)
allocate several tensors per step and evaluate the surrogate inside the backward loop. This path runs the same
neuron as one autograd Function. The forward pass is SpikingJelly's charge, fire and reset with SpikingJelly's
arithmetic, so the spikes and membrane states are bit-identical:

.. math::

    H[t] = \begin{cases} V[t-1] + X[t] & \text{IF} \\
    V[t-1] + \tfrac{1}{\tau}\big(X[t] - (V[t-1] - V_{reset})\big) & \text{LIF, decay\_input} \\
    V[t-1] - \tfrac{1}{\tau}\big(V[t-1] - V_{reset}\big) + X[t] & \text{LIF} \end{cases}
    \qquad S[t] = \Theta(H[t] - V_{th}),

with :math:`V[t] = H[t] - V_{th} S[t]` (soft reset) or :math:`V[t] = S[t]\,V_{reset} + (1 - S[t])\,H[t]` (hard
reset). Each step writes into preallocated ``[T, ...]`` buffers: for :math:`\tau = 2` the charge is one fused
multiply-add (halving is exact, so the rounding is SpikingJelly's), and the hard reset to 0 is the single
``addcmul`` :math:`H - H\,S`.

Every factor of the backward recurrence depends on :math:`H` and :math:`S` alone, which the forward pass keeps, so
it is computed for all steps at once; with :math:`\sigma_\alpha'` the surrogate's derivative,

.. math::

    A[t] = \frac{\partial \mathcal L}{\partial S[t]}\,\sigma_\alpha'(H[t] - V_{th}), \qquad
    R[t] = \frac{\partial V[t]}{\partial H[t]} = \begin{cases} 1 - V_{th}\,\sigma_\alpha'(H[t]-V_{th}) & \text{soft} \\
    1 - S[t] + (V_{reset} - H[t])\,\sigma_\alpha'(H[t]-V_{th}) & \text{hard} \end{cases}

(the :math:`\sigma_\alpha'` terms of :math:`R` dropped with ``detach_reset``), and only the linear recurrence is left
to the
loop over :math:`t = T, \dots, 1`, one ``addcmul`` per step:

.. math::

    \frac{\partial \mathcal L}{\partial H[t]} = A[t] + k\,R[t]\,\frac{\partial \mathcal L}{\partial H[t+1]}, \qquad
    k = \frac{\partial H[t+1]}{\partial V[t]} = 1 - \tfrac{1}{\tau}\ (1 \text{ for IF}),

with :math:`\partial \mathcal L/\partial V[T]` entering at :math:`t = T` through :math:`R[T]`;
:math:`\partial \mathcal L/\partial X[t] = \partial \mathcal L/\partial H[t]` (divided by :math:`\tau` when the input
decays) and
:math:`\partial \mathcal L/\partial V[0] = k\,\partial \mathcal L/\partial H[1]`.

:class:`CPUIFNode` and :class:`CPULIFNode` (what :func:`snnlab.neurons.make_neuron` builds) take this path for a
float32 multi-step call on a CPU and SpikingJelly's own path otherwise (its fused kernels on CUDA).
"""
from __future__ import annotations

import math

import torch
from spikingjelly.activation_based import neuron

from .spikingjelly_private import surrogate_spec

__all__ = ["multi_step_neuron", "surrogate_derivative", "CPUPath", "CPUIFNode", "CPULIFNode", "CPU_IMPLEMENTATION"]

CPU_IMPLEMENTATION = "snnlab-cpu"
"""The name :mod:`snnlab.execution` reports for a neuron call that ran :func:`multi_step_neuron`."""


def _closed_form_(z: torch.Tensor, alpha: float, surrogate_id: int) -> torch.Tensor:
    """SpikingJelly's closed-form surrogate derivatives (``spikingjelly._ops.surrogate._surrogate_gradient``),
    evaluated in place on ``z``: the same formulas without a new ``[T, ...]`` tensor per operation."""
    if surrogate_id == 0:                                               # sigmoid: alpha s (1 - s), s = sigmoid(alpha z)
        z.mul_(alpha).sigmoid_()
        return torch.addcmul(z, z, z, value=-1.0, out=z).mul_(alpha)
    if surrogate_id == 1:                                               # atan: (alpha/2) / (1 + (pi/2 alpha z)^2)
        return z.mul_(math.pi / 2 * alpha).square_().add_(1.0).reciprocal_().mul_(alpha / 2)
    if surrogate_id == 2:                                               # piecewise quadratic: max(0, alpha - alpha^2 |z|)
        return z.abs_().mul_(-alpha * alpha).add_(alpha).clamp_min_(0.0)
    if surrogate_id == 3:                                               # piecewise exp: (alpha/2) exp(-alpha |z|)
        return z.abs_().mul_(-alpha).exp_().mul_(alpha / 2)
    if surrogate_id == 4:                                               # soft sign: 1 / (2 alpha (1/alpha + |z|)^2)
        return z.abs_().add_(1.0 / alpha).square_().mul_(2 * alpha).reciprocal_()
    if surrogate_id == 5:                                               # super spike: alpha / (1 + |z|)^2
        return z.abs_().add_(1.0).square_().reciprocal_().mul_(alpha)
    if surrogate_id == 6:                                               # erf: alpha / sqrt(pi) exp(-(alpha z)^2)
        return z.mul_(alpha).square_().neg_().exp_().mul_(alpha / math.sqrt(math.pi))
    raise ValueError(f"no closed form for surrogate id {surrogate_id}")


def surrogate_derivative(surrogate_function, z: torch.Tensor) -> torch.Tensor:
    """:math:`\\sigma'(z)` for every element, written over ``z``: SpikingJelly's closed form for its fusable surrogates,
    else the surrogate's own backward (so any SpikingJelly surrogate, e.g. ``Rect``)."""
    spec = surrogate_spec(surrogate_function)
    if spec is not None:
        surrogate_id, alpha = spec
        return _closed_form_(z, alpha, surrogate_id)
    with torch.enable_grad():
        leaf = z.detach().requires_grad_(True)
        spikes = surrogate_function(leaf)
        (derivative,) = torch.autograd.grad(spikes, leaf, torch.ones_like(spikes))
    return z.copy_(derivative)


def _charge(x: torch.Tensor, v: torch.Tensor, tau: float | None, decay_input: bool, reset_value: float,
            out: torch.Tensor, scratch: torch.Tensor) -> None:
    """:math:`H[t]` into ``out`` with SpikingJelly's operations in SpikingJelly's order (``scratch``: a buffer)."""
    if tau is None:                                                     # IF: H = V + X
        torch.add(v, x, out=out)
        return
    leak = torch.sub(v, reset_value, out=scratch) if reset_value else v
    if decay_input:                                                     # H = V + (X - (V - V_reset)) / tau
        torch.sub(x, leak, out=scratch)
        if tau == 2.0:                                                  # one rounding, as V + fl(d / 2)
            torch.add(v, scratch, alpha=0.5, out=out)
        else:
            torch.add(v, scratch.div_(tau), out=out)
    elif tau == 2.0 and not reset_value:                                # fl(V - V/2) = V/2 exactly: one rounding
        torch.add(x, v, alpha=0.5, out=out)
    else:                                                               # H = V - (V - V_reset) / tau + X
        torch.div(leak, tau, out=scratch)
        torch.add(torch.sub(v, scratch, out=scratch), x, out=out)


def _reset(h: torch.Tensor, spikes: torch.Tensor, threshold: float, reset: float | None) -> torch.Tensor:
    """:math:`V[t]` from :math:`H[t]` and :math:`S[t]`, rounded as SpikingJelly rounds it."""
    if reset is None:                                                   # H - V_th S (S*V_th is exact)
        return torch.sub(h, spikes, alpha=threshold)
    if reset == 0.0:                                                    # (1 - S) H + S*0 = H - H S, exactly
        return torch.addcmul(h, h, spikes, value=-1.0)
    return spikes * reset + (1 - spikes) * h


class _MultiStepNeuron(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x_seq, v, tau, decay_input, threshold, reset, detach_reset, surrogate_function):
        reset_value = 0.0 if reset is None else reset
        h_seq = torch.empty_like(x_seq)
        spikes = torch.empty_like(x_seq)
        scratch = torch.empty_like(x_seq[0])
        for t in range(x_seq.shape[0]):
            _charge(x_seq[t], v, tau, decay_input, reset_value, h_seq[t], scratch)
            torch.ge(h_seq[t], threshold, out=spikes[t])
            v = _reset(h_seq[t], spikes[t], threshold, reset)
        ctx.save_for_backward(h_seq, spikes)
        ctx.settings = (tau, decay_input, threshold, reset, detach_reset, surrogate_function)
        return spikes, v

    @staticmethod
    def backward(ctx, grad_spikes, grad_v):
        h_seq, spikes = ctx.saved_tensors
        tau, decay_input, threshold, reset, detach_reset, surrogate_function = ctx.settings
        derivative = surrogate_derivative(surrogate_function, h_seq - threshold)
        if reset is None:
            through_reset = torch.ones_like(h_seq) if detach_reset else derivative.mul(-threshold).add_(1.0)
        else:
            through_reset = torch.sub(1.0, spikes)
            if not detach_reset:
                through_reset.addcmul_(h_seq - reset if reset else h_seq, derivative, value=-1.0)
        grad_h = derivative.mul_(grad_spikes)                           # A[t], overwritten by dL/dH[t]
        last = h_seq.shape[0] - 1
        grad_h[last].addcmul_(grad_v, through_reset[last])
        leak = 1.0 if tau is None else 1.0 - 1.0 / tau
        if leak != 1.0:
            through_reset.mul_(leak)
        for t in range(last - 1, -1, -1):
            grad_h[t].addcmul_(grad_h[t + 1], through_reset[t])
        grad_v0 = grad_h[0] * leak if ctx.needs_input_grad[1] else None
        grad_x = grad_h.div_(tau) if (tau is not None and decay_input) else grad_h
        return grad_x, grad_v0, None, None, None, None, None, None


def multi_step_neuron(x_seq: torch.Tensor, v: "torch.Tensor | float", tau: float | None, decay_input: bool,
                      threshold: float, reset: float | None, detach_reset: bool,
                      surrogate_function) -> tuple[torch.Tensor, torch.Tensor]:
    """Run an IF (``tau=None``) or LIF neuron over ``x_seq`` ``[T, ...]`` from state ``v``; returns
    ``(spikes [T, ...], V[T])``, differentiable in ``x_seq`` and ``v`` (see the module docstring)."""
    v = v.expand_as(x_seq[0]) if isinstance(v, torch.Tensor) else torch.full_like(x_seq[0], float(v))
    return _MultiStepNeuron.apply(x_seq.contiguous(), v, None if tau is None else float(tau), decay_input,
                                  float(threshold), None if reset is None else float(reset), detach_reset,
                                  surrogate_function)


class CPUPath:
    """Mixin for SpikingJelly's multi-step IF and LIF nodes: a float32 call on a CPU runs :func:`multi_step_neuron`;
    any other call (another device or dtype, ``store_v_seq``, SpikingJelly's reduced neuron precision) runs
    SpikingJelly's own path, its fused kernels on CUDA."""

    def runs_cpu_path(self, x_seq: torch.Tensor) -> bool:
        return (self.step_mode == "m" and x_seq.device.type == "cpu" and x_seq.dtype == torch.float32
                and not self.store_v_seq and self._neuron_precision is None)

    def multi_step_forward(self, x_seq: torch.Tensor, *args, **kwargs):
        if args or kwargs or not self.runs_cpu_path(x_seq):
            return super().multi_step_forward(x_seq, *args, **kwargs)
        (v,) = self.materialize_states((x_seq,), tuple(self._memories.values()), "m")
        spikes, v = multi_step_neuron(x_seq, v, getattr(self, "tau", None), getattr(self, "decay_input", False),
                                      self.v_threshold, self.v_reset, self.detach_reset, self.surrogate_function)
        self._memories["v"] = v
        return spikes


class CPUIFNode(CPUPath, neuron.IFNode):
    """SpikingJelly's ``IFNode`` with :class:`CPUPath`."""


class CPULIFNode(CPUPath, neuron.LIFNode):
    """SpikingJelly's ``LIFNode`` with :class:`CPUPath`."""
