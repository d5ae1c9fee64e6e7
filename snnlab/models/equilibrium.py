r"""A stack of IF layers with feedback, trained at equilibrium with implicit gradients (SpikingBERT's recipe).

Layer :math:`l` of ``layers`` IF layers of ``hidden`` neurons receives the current

.. math:: I_1 = W_1 x + F a_L + b_1, \qquad I_l = W_l a_{l-1} + b_l \ (l > 1),

where :math:`x` is the (analog, constant) input and :math:`F` a feedback connection from the last layer to the
first (SpikingBERT's architecture has one; ``feedback=False`` drops it). The network is simulated for
``t_conv`` steps; the average spiking rates :math:`a^\star` satisfy :math:`a^\star = \mathrm{clamp}(I(a^\star)/V_{th},
0, 1)` and are differentiated implicitly (:func:`snnlab.implicit.spiking_equilibrium`); a linear readout of the
last layer's simulated rates gives the class scores. Memory does not grow with ``t_conv``.
"""
from __future__ import annotations

import torch
from torch import nn

from ..implicit import simulate_if, spiking_equilibrium

__all__ = ["SpikingEquilibriumMLP"]


class SpikingEquilibriumMLP(nn.Module):
    """IF layers at equilibrium with feedback and a linear readout: ``[N, ...]`` (flattened) → logits ``[N, C]``.

    Args:
        num_classes: outputs of the readout.
        in_features: size of the flattened input.
        hidden: neurons per layer; layers: number of IF layers.
        feedback: feedback connection from the last layer into the first.
        t_conv: simulated time steps; v_threshold: IF threshold; gamma: ASR weighting (1 = plain mean).
        backward_solver, backward_tol, backward_max_iter: the adjoint solve (see
            :func:`~snnlab.implicit.implicit_gradient`).

    After each forward, ``last_stats`` holds the implicit solve's statistics and ``last_rates`` the simulated
    rates ``[N, layers, hidden]``.
    """

    def __init__(self, num_classes: int, in_features: int, hidden: int = 64, layers: int = 2, feedback: bool = True,
                 t_conv: int = 30, v_threshold: float = 1.0, gamma: float = 1.0, backward_solver: str = "broyden",
                 backward_tol: float = 1e-4, backward_max_iter: int = 30):
        super().__init__()
        if layers < 1 or hidden < 1:
            raise ValueError(f"layers and hidden must be >= 1, got {layers} and {hidden}")
        self.hidden, self.layers = hidden, layers
        self.input = nn.Linear(in_features, hidden)
        self.stack = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(layers - 1))
        self.feedback = nn.Linear(hidden, hidden, bias=False) if feedback else None
        if self.feedback is not None:
            nn.init.normal_(self.feedback.weight, std=0.1 / hidden ** 0.5)
        self.readout = nn.Linear(hidden, num_classes)
        self.t_conv, self.v_threshold, self.gamma = t_conv, v_threshold, gamma
        self.backward = dict(backward_solver=backward_solver, backward_tol=backward_tol,
                             backward_max_iter=backward_max_iter)
        self.last_stats = self.last_rates = None

    def drive(self, a: torch.Tensor, x_current: torch.Tensor) -> torch.Tensor:
        """Input currents ``[N, layers, hidden]`` of every neuron given the rates (or spikes) ``a`` of the same shape
        and the input's current :math:`W_1 x + b_1`."""
        first = x_current + (self.feedback(a[:, -1]) if self.feedback is not None else 0.0)
        return torch.stack([first] + [layer(a[:, i]) for i, layer in enumerate(self.stack)], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_current = self.input(x.flatten(1))
        like = x_current.new_zeros(x_current.shape[0], self.layers, self.hidden)
        a, self.last_rates, self.last_stats = spiking_equilibrium(
            lambda z: self.drive(z, x_current), like, self.t_conv, self.v_threshold, self.gamma, **self.backward)
        return self.readout(a[:, -1])

    def unrolled(self, x: torch.Tensor) -> torch.Tensor:
        """Logits from the simulated rates with the gradient back-propagated through all ``t_conv`` steps (BPTT
        with the neuron's surrogate): the training signal the implicit gradient replaces, for comparisons of
        memory, time and gradients. Memory grows with ``t_conv``."""
        x_current = self.input(x.flatten(1))
        like = x_current.new_zeros(x_current.shape[0], self.layers, self.hidden)
        rates, _ = simulate_if(lambda s: self.drive(s, x_current), like, self.t_conv, self.v_threshold, self.gamma,
                               track_grad=True)
        return self.readout(rates[:, -1])
