"""Behaviour of snnlab.hooks on a reader-style plain SpikingJelly model and on snnlab models."""
from __future__ import annotations

import copy

import pytest
import torch
from spikingjelly.activation_based import functional, layer, neuron
from torch import nn

from snnlab.hooks import FeatureCapture, capture, module_paths
from snnlab.models import SmallCNN

T, N = 3, 2


def plain_sj_net(step_mode="m", seed=0):
    """What a reader writes by hand: conv -> BN -> LIF -> flatten -> FC, all SpikingJelly multi-step layers."""
    torch.manual_seed(seed)
    return nn.Sequential(
        layer.Conv2d(1, 4, 3, padding=1, step_mode=step_mode), layer.BatchNorm2d(4, step_mode=step_mode),
        neuron.LIFNode(tau=2.0, step_mode=step_mode), layer.Flatten(step_mode=step_mode),
        layer.Linear(4 * 6 * 6, 3, step_mode=step_mode),
    )


def seq_input(seed=1):
    return torch.rand(T, N, 1, 6, 6, generator=torch.Generator().manual_seed(seed)) * 4


def test_captured_outputs_equal_a_manual_forward():
    net, x = plain_sj_net(), seq_input()
    out, feats = capture(net, x, ["0", "1", "2"])
    functional.reset_net(net)
    h0 = net[0](x)
    h1 = net[1](h0)
    s = net[2](h1)
    assert torch.equal(feats["0"], h0) and torch.equal(feats["1"], h1) and torch.equal(feats["2"], s)
    assert torch.equal(out, net[4](net[3](s)))
    assert feats["2"].shape == (T, N, 4, 6, 6) and 0 < feats["2"].mean() < 1  # real spikes, time-major


def test_loss_on_captured_feature_reaches_earlier_weight_unless_detached():
    net, x = plain_sj_net(), seq_input()
    _, feats = capture(net, x, "2")  # spikes: the gradient must pass the surrogate of the LIF
    feats["2"].sum().backward()
    assert net[0].weight.grad is not None and net[0].weight.grad.abs().sum() > 0
    assert net[4].weight.grad is None  # the later layer is not on the path of this loss

    functional.reset_net(net)
    _, feats = capture(net, x, "2", detach=True)
    assert not feats["2"].requires_grad and feats["2"].grad_fn is None


def test_input_of_neuron_layer_is_the_preceding_bn_output():
    net, x = plain_sj_net(), seq_input()
    with FeatureCapture(net, "2", kind="input") as pre, FeatureCapture(net, "1") as bn_out:
        net(x)
    assert torch.equal(pre.features["2"], bn_out.features["1"])
    functional.reset_net(net)
    assert torch.equal(pre.features["2"], net[1](net[0](x)))


def test_hooks_are_removed_and_records_follow_the_latest_forward():
    net = plain_sj_net()
    cap = FeatureCapture(net, "1")
    net(seq_input(1))
    functional.reset_net(net)
    net(seq_input(2))
    functional.reset_net(net)
    kept = cap.features["1"]
    cap.remove()
    cap.remove()  # idempotent
    assert torch.equal(kept, net[1](net[0](seq_input(2))))  # only the latest pass is kept
    net(seq_input(3))
    assert len(cap.records["1"]) == 1 and torch.equal(cap.features["1"], kept)  # no hook is left


def test_module_run_once_per_step_is_stacked_time_major():
    torch.manual_seed(0)
    fc = nn.Linear(5, 3)
    net = nn.Sequential(layer.MultiStepContainer(fc), neuron.IFNode(step_mode="m"))
    x = torch.randn(T, N, 5)
    with FeatureCapture(net, "0.0") as cap:  # the nn.Linear inside runs T times in one forward
        net(x)
    assert len(cap.records["0.0"]) == T
    assert torch.allclose(cap.features["0.0"], fc(x))


def test_single_step_model_looped_outside_matches_multi_step_twin():
    multi = plain_sj_net("m").eval()  # eval: BN statistics must not depend on how time steps are batched
    single = copy.deepcopy(multi)
    functional.set_step_mode(single, "s")
    x = seq_input()
    _, ref = capture(multi, x, "2")
    cap = FeatureCapture(single, "2", clear_on_forward=False)
    for t in range(T):
        single(x[t])
    assert torch.equal(cap.features["2"], ref["2"])


def test_unknown_path_lists_closest_and_valid_paths():
    net = SmallCNN(width=4)
    with pytest.raises(ValueError) as err:
        FeatureCapture(net, ["features.2", "features.33"])
    msg = str(err.value)
    assert "'features.33'" in msg and "closest: features.3" in msg
    assert all(path in msg for path in module_paths(net))
    assert not net._forward_hooks and not net.features[2]._forward_hooks  # nothing hooked on failure
    with pytest.raises(ValueError, match=r"valid paths: 0, 1, 2, 2.surrogate_function, 3, 4$"):
        capture(plain_sj_net(), seq_input(), "conv")
    with pytest.raises(ValueError, match="kind must be one of"):
        FeatureCapture(net, "features.2", kind="grad")
