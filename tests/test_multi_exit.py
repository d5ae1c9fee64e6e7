"""Behaviour of snnlab.models.multi_exit: exit heads on stages of snnlab and plain SpikingJelly models."""
from __future__ import annotations

import pytest
import torch
from spikingjelly.activation_based import layer, neuron
from torch import nn

from snnlab.models import ExitOutput, MultiExit, SmallCNN, exit_head

T, N, CLASSES = 2, 3, 5


def small(neuron_="lif", seed=0):
    torch.manual_seed(seed)
    return SmallCNN(num_classes=CLASSES, width=4, neuron=neuron_)


def with_heads(net, detach=False):
    # stage outputs of SmallCNN(width=4): features.2 has 4 channels, features.6 has 8
    return MultiExit(net, {"features.2": exit_head(4, CLASSES, net.neuron),
                           "features.6": exit_head(8, CLASSES, net.neuron)}, detach=detach)


def images(steps=T):
    x = torch.rand(N, 1, 16, 16, generator=torch.Generator().manual_seed(1)) * 3
    return x if steps is None else x.expand(steps, *x.shape)


def test_snn_and_ann_heads_give_per_step_and_static_logits():
    out = with_heads(small())(images())
    assert isinstance(out, ExitOutput) and out.output.shape == (T, N, CLASSES)
    assert {p: o.shape for p, o in out.exits.items()} == {"features.2": (T, N, CLASSES), "features.6": (T, N, CLASSES)}
    ann_out = with_heads(small(None))(images(None))
    assert ann_out.output.shape == (N, CLASSES)
    assert all(o.shape == (N, CLASSES) for o in ann_out.exits.values())


def test_final_output_equals_the_unwrapped_model_and_calls_are_repeatable():
    net = small().eval()
    me = with_heads(net).eval()
    first, second = me(images()), me(images())
    assert torch.equal(first.output, net(images()))
    assert torch.equal(first.output, second.output)  # neuron state of backbone and heads reset in between
    assert all(torch.equal(first.exits[p], second.exits[p]) for p in first.exits)
    assert not net._forward_hooks and not net.features[2]._forward_hooks  # no hook left on the model


def test_head_loss_trains_the_backbone_unless_detached():
    net = small()
    out = with_heads(net)(images())
    out.exits["features.2"].pow(2).sum().backward()
    assert net.features[0].weight.grad.abs().sum() > 0  # before the stage: reached
    assert net.features[7].weight.grad is None  # after the stage: not on the path

    net = small()
    me = with_heads(net, detach=True)
    me(images()).exits["features.2"].pow(2).sum().backward()
    assert net.features[0].weight.grad is None
    assert me.heads[0].features[0].weight.grad.abs().sum() > 0


def test_plain_spikingjelly_model_and_head_are_reset_by_the_wrapper():
    torch.manual_seed(0)
    net = nn.Sequential(layer.Conv2d(1, 4, 3, padding=1, step_mode="m"), neuron.LIFNode(step_mode="m"),
                        layer.Flatten(step_mode="m"), layer.Linear(4 * 16 * 16, CLASSES, step_mode="m"))
    head = nn.Sequential(layer.Flatten(step_mode="m"), layer.Linear(4 * 16 * 16, CLASSES, step_mode="m"),
                         neuron.LIFNode(step_mode="m"))  # a reader's own head, which does not reset itself
    me = MultiExit(net, {"1": head})
    first, second = me(images()), me(images())
    assert torch.equal(first.output, second.output) and torch.equal(first.exits["1"], second.exits["1"])
    assert net[1].v == 0.0 and head[2].v == 0.0


def test_unknown_stage_path_is_rejected_with_the_valid_paths():
    net = small()
    with pytest.raises(ValueError, match="closest: features.6"):
        MultiExit(net, {"features.66": exit_head(8, CLASSES, net.neuron)})
