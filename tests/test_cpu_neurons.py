"""snnlab's CPU neuron path against SpikingJelly's own CPU paths: the same spikes and state, gradients within 1e-6."""
from __future__ import annotations

import pytest
import torch
from spikingjelly.activation_based import functional

from snnlab.cpu_neurons import CPU_IMPLEMENTATION, CPUPath, multi_step_neuron, surrogate_derivative
from snnlab.execution import NeuronPathProbe
from snnlab.models import SmallCNN
from snnlab.neurons import PRESETS, SURROGATES, make_neuron, make_surrogate, neuron_spec

CPU_PRESETS = sorted(name for name, spec in PRESETS.items() if spec.kind in ("if", "lif"))
VARIANTS = {  # settings no preset covers: another tau with decaying input, a non-zero reset potential
    "lif-tau3-decay": dict(spec="lif", tau=3.0),
    "lif-reset-0.3": dict(spec="lif", v_reset=0.3, decay_input=False, tau=1.5),
    "if-reset-0.2": dict(spec="if", v_reset=0.2, surrogate="atan", alpha=2.0),
}


def _currents(seed: int, shape=(6, 4, 3, 5, 5)) -> torch.Tensor:
    torch.manual_seed(seed)
    return torch.randn(*shape) * 1.3 + 0.45


def _run(node, x, weights, state_weights):
    """Spikes, final state and the input gradient of a loss that reads both."""
    x = x.detach().clone().requires_grad_(True)
    spikes = node(x)
    state = node.v
    loss = (spikes * weights).sum() + (state * state_weights).sum()
    (grad,) = torch.autograd.grad(loss, x)
    return spikes.detach(), state.detach(), grad


def _assert_same_neuron(settings: dict, seed: int = 0):
    x = _currents(seed)
    weights, state_weights = torch.randn_like(x), torch.randn_like(x[0])
    ours = make_neuron(**settings)
    theirs = make_neuron(**settings, cpu_path=False)
    assert isinstance(ours, CPUPath) and not isinstance(theirs, CPUPath)
    spikes, state, grad = _run(ours, x, weights, state_weights)
    ref_spikes, ref_state, ref_grad = _run(theirs, x, weights, state_weights)
    assert 0.05 < spikes.mean() < 0.95                                # the neuron really fires, and not always
    torch.testing.assert_close(spikes, ref_spikes, rtol=0, atol=0)
    torch.testing.assert_close(state, ref_state, rtol=0, atol=0)
    torch.testing.assert_close(grad, ref_grad, rtol=0, atol=1e-6)
    assert grad.abs().max() > 1e-2                                    # gradients flow


@pytest.mark.parametrize("detach_reset", [False, True])
@pytest.mark.parametrize("preset", CPU_PRESETS)
def test_every_preset_matches_spikingjelly(preset, detach_reset):
    _assert_same_neuron(dict(spec=preset, detach_reset=detach_reset))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_other_settings_match_spikingjelly(variant):
    _assert_same_neuron(VARIANTS[variant], seed=1)


@pytest.mark.parametrize("preset", ["tet", "tssd"])
def test_state_carried_between_calls_keeps_its_gradient(preset):
    """Two calls without a reset: the second starts from the first's state, and the gradient reaches the first
    call's input through it, as in SpikingJelly."""
    first, second = _currents(2, (3, 2, 7)), _currents(3, (3, 2, 7))
    grads = []
    for cpu_path in (True, False):
        node = make_neuron(preset, cpu_path=cpu_path)
        x1, x2 = first.clone().requires_grad_(True), second.clone().requires_grad_(True)
        out = torch.cat([node(x1), node(x2)])
        grads.append((out.detach(), *torch.autograd.grad((out * torch.arange(6.0).view(6, 1, 1)).sum(), (x1, x2))))
        functional.reset_net(node)
    for ours, theirs in zip(grads[0], grads[1]):
        torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-6)
    assert grads[0][1].abs().max() > 0


def test_function_gradient_in_the_state_matches_autograd_of_the_same_recurrence():
    """dL/dV[0] of :func:`multi_step_neuron` against autograd through SpikingJelly's node started from the same V[0]."""
    x, v0 = _currents(4, (5, 3, 4)), torch.rand(3, 4)
    spec = neuron_spec("lif", decay_input=False)
    v_ours = v0.clone().requires_grad_(True)
    spikes, v_last = multi_step_neuron(x, v_ours, spec.tau, spec.decay_input, spec.v_threshold, spec.v_reset,
                                       spec.detach_reset, make_neuron(spec).surrogate_function)
    (ours,) = torch.autograd.grad(spikes.sum() + 2 * v_last.sum(), v_ours)
    node = make_neuron(spec, cpu_path=False)
    v_theirs = v0.clone().requires_grad_(True)
    node.v = v_theirs
    out = node(x)
    (theirs,) = torch.autograd.grad(out.sum() + 2 * node.v.sum(), v_theirs)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-6)
    assert ours.abs().max() > 0


def test_cpu_path_is_taken_only_where_it_applies():
    node = make_neuron("lif")
    for x, expected in [(torch.rand(2, 3, 4), CPU_IMPLEMENTATION), (torch.rand(2, 3, 4, dtype=torch.float64), None)]:
        with NeuronPathProbe(node) as probe:
            node(x)
        assert (probe.paths["<root>"] == CPU_IMPLEMENTATION) == (expected is not None)
        functional.reset_net(node)
    recording = make_neuron("lif", store_v_seq=True)                 # SpikingJelly records V[1..T]
    recording(torch.rand(4, 3, 2) * 3)
    assert recording.v_seq.shape == (4, 3, 2)
    assert not make_neuron("lif").runs_cpu_path(torch.rand(2, 3, 4, dtype=torch.float64))


def test_a_network_trains_the_same_on_either_path():
    """One SGD step of a SmallCNN on each path, from the same weights: same outputs, same parameter gradients."""
    x, y = torch.rand(4, 8, 1, 12, 12), torch.randint(0, 10, (8,))
    grads = []
    for cpu_path in (True, False):
        torch.manual_seed(0)
        model = SmallCNN(num_classes=10, in_channels=1, width=4, neuron="tet")
        if not cpu_path:
            for parent in list(model.modules()):
                for name, child in parent.named_children():
                    if isinstance(child, CPUPath):
                        setattr(parent, name, make_neuron("tet", cpu_path=False))
        out = model(x)
        torch.nn.functional.cross_entropy(out.mean(0), y).backward()
        grads.append([out.detach()] + [p.grad for p in model.parameters()])
    for ours, theirs in zip(*grads):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(SURROGATES))
def test_surrogate_derivative_is_the_surrogates_own_backward(name):
    """The in-place closed forms (and the autograd fallback for the others) against autograd through SpikingJelly's
    surrogate, on values around the threshold."""
    surrogate = make_surrogate(name, 2.5)
    z = torch.linspace(-2, 2, 401)
    leaf = z.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(surrogate(leaf).sum(), leaf)
    torch.testing.assert_close(surrogate_derivative(surrogate, z.clone()), expected, rtol=1e-6, atol=1e-6)
    assert expected.abs().max() > 0.1
