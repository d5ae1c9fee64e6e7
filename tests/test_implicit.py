"""snnlab.implicit: fixed-point solvers, implicit differentiation, spiking equilibrium."""
from __future__ import annotations

import logging

import pytest
import torch

from snnlab.implicit import (SOLVERS, asr_map, fixed_point, implicit_gradient, simulate_if, solve,
                             spiking_equilibrium, weighted_average_rate)
from snnlab.memory import saved_for_backward


def _contraction(d: int, norm: float, seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(d, d, generator=g, dtype=dtype)
    return norm * w / torch.linalg.matrix_norm(w, 2)


def _tanh_map(w, b, x):
    return lambda z: torch.tanh(z @ w.T + x + b)


@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_solvers_find_the_solution_of_a_linear_contraction(solver):
    w = _contraction(8, 0.8)
    x = torch.randn(3, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    exact = torch.linalg.solve(torch.eye(8, dtype=torch.float64) - w, x.T).T     # z = W z + x
    z, stats = solve(lambda z: z @ w.T + x, torch.zeros_like(x), solver, tol=1e-10, max_iter=300)
    assert stats.converged and stats.solver == solver and stats.residual <= 1e-10
    assert stats.iterations == len(stats.residuals) <= 300
    assert torch.allclose(z, exact, atol=1e-8)


def test_anderson_and_broyden_need_fewer_evaluations_than_iteration_on_a_slow_contraction():
    # symmetric W with eigenvalues spread over [0, 0.97]: plain iteration contracts by only 0.97 per step
    q, _ = torch.linalg.qr(torch.randn(30, 30, dtype=torch.float64, generator=torch.Generator().manual_seed(2)))
    w = q @ torch.diag(torch.linspace(0, 0.97, 30, dtype=torch.float64)) @ q.T
    x = torch.randn(2, 30, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    f = lambda z: z @ w.T + x  # noqa: E731
    counts = {s: solve(f, torch.zeros_like(x), s, tol=1e-8, max_iter=1000)[1].iterations for s in SOLVERS}
    assert counts["anderson"] < counts["iteration"] / 3 and counts["broyden"] < counts["iteration"] / 3, counts


def test_a_non_contractive_map_is_reported_not_hidden(caplog):
    x = torch.ones(2, 4, dtype=torch.float64)
    with caplog.at_level(logging.WARNING, logger="snnlab.implicit"):
        _, stats = solve(lambda z: 2.0 * z + x, torch.zeros_like(x), "iteration", tol=1e-6, max_iter=20)
    assert not stats.converged and stats.iterations == 20 and stats.residual > 0.1
    assert any("did not converge" in r.getMessage() for r in caplog.records)


def test_solver_statistics_are_logged_not_printed(caplog, capsys):
    w = _contraction(4, 0.5)
    with caplog.at_level(logging.DEBUG, logger="snnlab.implicit"):
        solve(lambda z: z @ w.T + 1.0, torch.zeros(1, 4, dtype=torch.float64), "anderson", tol=1e-8)
    assert capsys.readouterr().out == ""
    assert any("anderson: converged" in r.getMessage() for r in caplog.records)


def test_bad_solver_options_are_rejected():
    with pytest.raises(ValueError, match="unknown solver"):
        solve(lambda z: z, torch.zeros(1, 2), "newton")
    with pytest.raises(ValueError, match="batch"):
        solve(lambda z: z, torch.tensor(1.0), "iteration")
    with pytest.raises(ValueError, match="backward_solver"):
        implicit_gradient(lambda z: z, torch.zeros(1, 2), backward_solver="newton")


@pytest.mark.parametrize("backward_solver", sorted(SOLVERS))
def test_gradcheck_of_the_implicit_backward(backward_solver):
    w = _contraction(5, 0.7).requires_grad_()
    b = torch.randn(5, dtype=torch.float64, generator=torch.Generator().manual_seed(4)).requires_grad_()
    x = torch.randn(3, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(5)).requires_grad_()

    def layer(w, b, x):
        z, _ = fixed_point(_tanh_map(w, b, x), torch.zeros(3, 5, dtype=torch.float64), "broyden", tol=1e-12,
                           max_iter=200, backward_solver=backward_solver, backward_tol=1e-12, backward_max_iter=300)
        return z

    assert torch.autograd.gradcheck(layer, (w, b, x))


def test_implicit_gradient_matches_finite_differences_and_unrolled_backprop():
    w = _contraction(6, 0.6, seed=6).requires_grad_()
    b = torch.zeros(6, dtype=torch.float64, requires_grad=True)
    x = torch.randn(2, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    target = torch.randn(2, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(8))

    def loss_of(z):
        return ((z - target) ** 2).sum()

    z, stats = fixed_point(_tanh_map(w, b, x), torch.zeros_like(x), "anderson", tol=1e-12, max_iter=200)
    loss_of(z).backward()
    implicit = w.grad.clone()
    assert stats.forward.converged and stats.backward is not None and stats.backward.converged

    # unrolled backpropagation through 80 plain iterations (converged to machine precision)
    w.grad = None
    z_unrolled = torch.zeros_like(x)
    for _ in range(80):
        z_unrolled = torch.tanh(z_unrolled @ w.T + x + b)
    loss_of(z_unrolled).backward()
    assert torch.allclose(implicit, w.grad, atol=1e-9)

    # central finite differences of the loss at the solved fixed point
    def loss_at(w_value):
        with torch.no_grad():
            z, _ = solve(_tanh_map(w_value, b, x), torch.zeros_like(x), "broyden", tol=1e-13, max_iter=300)
            return loss_of(z).item()

    eps = 1e-6
    for i, j in [(0, 0), (2, 5), (5, 1)]:
        step = torch.zeros_like(w)
        step[i, j] = eps
        numeric = (loss_at(w.detach() + step) - loss_at(w.detach() - step)) / (2 * eps)
        assert abs(numeric - implicit[i, j].item()) < 1e-6


def test_a_backward_solve_that_stops_early_is_flagged(caplog):
    w = _contraction(6, 0.95, seed=9).requires_grad_()
    x = torch.randn(2, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(10))
    z, stats = fixed_point(lambda z: z @ w.T + x, torch.zeros_like(x), "broyden", tol=1e-10, max_iter=100,
                           backward_solver="iteration", backward_max_iter=2)
    with caplog.at_level(logging.WARNING, logger="snnlab.implicit"):
        z.sum().backward()
    assert stats.forward.converged and not stats.backward.converged and not stats.converged
    assert stats.backward.iterations == 2
    assert any("did not converge" in r.getMessage() for r in caplog.records)


def test_weighted_average_rate_matches_its_definition():
    g = torch.Generator().manual_seed(11)
    spikes = (torch.rand(7, 3, 4, generator=g) < 0.4).double()
    gamma = 0.8
    rates = weighted_average_rate(spikes, gamma)
    for t in range(7):
        weights = torch.tensor([gamma ** (t - tau) for tau in range(t + 1)], dtype=torch.float64)
        expected = (weights[:, None, None] * spikes[:t + 1]).sum(0) / weights.sum()
        assert torch.allclose(rates[t], expected)
    assert torch.allclose(weighted_average_rate(spikes, 1.0)[-1], spikes.mean(0))


def test_if_rate_under_constant_current_converges_to_the_clamped_current():
    current = torch.linspace(-0.5, 1.5, 41)[None]
    for t_conv in (10, 100, 1000):
        rate, history = simulate_if(lambda s: current.expand_as(s), torch.zeros_like(current), t_conv, record=True)
        expected = current.clamp(0, 1)
        assert history.shape == (t_conv, *current.shape) and torch.equal(history[-1], rate)
        assert (rate - expected).abs().max() <= 1.0 / t_conv + 1e-6   # |rate - I/V_th| <= V_th / (V_th T)
    rate, _ = simulate_if(lambda s: 1.5 * current.expand_as(s), torch.zeros_like(current), 200, v_threshold=1.5)
    assert (rate - current.clamp(0, 1)).abs().max() <= 1.0 / 200 + 1e-6


def test_recurrent_if_network_reaches_the_fixed_point_of_its_rate_map():
    g = torch.Generator().manual_seed(12)
    w = 0.5 * torch.randn(16, 16, generator=g) / 4
    x = torch.rand(4, 16, generator=g)
    drive = lambda a: a @ w.T + x  # noqa: E731
    a_star, stats = solve(asr_map(drive), torch.zeros_like(x), "iteration", tol=1e-6, max_iter=500)
    assert stats.converged
    errors = [(simulate_if(drive, x, t)[0] - a_star).abs().max().item() for t in (10, 100, 1000)]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 0.01, errors


def _saved_bytes(fn) -> int:
    return saved_for_backward(fn)[1]


def test_saved_bytes_golden_value():
    a, b = torch.rand(10, requires_grad=True), torch.rand(10, requires_grad=True)
    value, saved = saved_for_backward(lambda: (a * b).sum())
    assert saved == 2 * 10 * 4 and torch.isclose(value, (a * b).sum())          # mul saves both float32 operands
    assert saved_for_backward(lambda: (a.detach() * 2).sum())[1] == 0            # nothing to differentiate


def test_spiking_equilibrium_memory_does_not_grow_with_time_steps():
    w = torch.nn.Linear(32, 32)
    x = torch.rand(8, 32)

    def run(t_conv):
        a, rates, _ = spiking_equilibrium(lambda a: w(a) + x, torch.zeros(8, 32), t_conv)
        return a.sum()

    assert _saved_bytes(lambda: run(5)) == _saved_bytes(lambda: run(200)) > 0


def test_spiking_equilibrium_gradient_is_the_implicit_gradient_of_the_rate_map():
    torch.manual_seed(13)
    w = torch.nn.Linear(10, 10).double()
    x = torch.rand(3, 10, dtype=torch.float64)
    drive = lambda a: w(a) + x  # noqa: E731
    a, rates, stats = spiking_equilibrium(drive, torch.zeros_like(x), 50, backward_tol=1e-12,
                                          backward_max_iter=100)
    assert torch.equal(a.detach(), rates)             # the value read downstream is the simulated rate itself
    a.pow(2).sum().backward()
    grad = w.weight.grad.clone()
    w.weight.grad = None
    # reference: dense (I - J)^{-1} at the simulated rates, by hand, for dL/da = 2 a_sim
    z = rates.detach().requires_grad_()
    fz = asr_map(drive)(z)
    jac = torch.autograd.functional.jacobian(lambda v: asr_map(drive)(v.view(3, 10)).flatten(), rates.flatten())
    dl_dz = 2 * rates.flatten()
    g = torch.linalg.solve((torch.eye(30, dtype=torch.float64) - jac).T, dl_dz)
    (fz.flatten() * g).sum().backward()
    assert stats.backward.converged
    assert torch.allclose(grad, w.weight.grad, atol=1e-8)


def test_if_stack_learns_digits_with_implicit_gradients():
    """SpikingEquilibriumMLP (IF layers with feedback, no surrogate gradient, no BPTT) learns the embedded digits:
    the training loss falls every epoch and test accuracy ends far above chance (10 %); measured 55 %."""
    from snnlab.data import get_dataset
    from snnlab.methods.base import ANNClassification
    from snnlab.models.equilibrium import SpikingEquilibriumMLP
    from snnlab.train import TrainConfig, Trainer

    train = get_dataset("digits", "train", size=16, train_limit=256)
    test = get_dataset("digits", "test", size=16)
    torch.manual_seed(0)
    model = SpikingEquilibriumMLP(10, 256, hidden=32, t_conv=10)
    history = Trainer(ANNClassification(model), train, test,
                      TrainConfig(epochs=3, lr=3e-3, batch_size=32, progress=False)).fit()
    losses = [r["loss"] for r in history]
    assert losses[0] > losses[1] > losses[2], losses
    assert history[-1]["test_acc"] > 30.0, history[-1]["test_acc"]
    assert model.last_rates.shape[1:] == (2, 32) and 0 <= model.last_rates.min() <= model.last_rates.max() <= 1


def test_unrolled_bptt_simulates_the_same_rates_and_its_memory_grows_with_the_steps():
    from snnlab.models.equilibrium import SpikingEquilibriumMLP

    torch.manual_seed(3)
    model = SpikingEquilibriumMLP(10, 16, hidden=12, t_conv=20)
    x = torch.rand(5, 16)
    model(x)
    unrolled = model.unrolled(x)
    assert torch.allclose(unrolled, model.readout(model.last_rates[:, -1]), atol=1e-6)   # the same simulation
    unrolled.sum().backward()
    assert model.input.weight.grad.abs().sum() > 0                                      # through the surrogate

    def saved_at(t_conv):
        model.t_conv = t_conv
        return _saved_bytes(lambda: model.unrolled(x).sum())

    assert saved_at(40) > 1.8 * saved_at(20)
