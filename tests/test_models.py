"""Behaviour of snnlab.models: SNN/ANN twins, time-major layout, causality, state reset, gradients, stages, sizes."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from snnlab.models import MLP, VGG9, VGGSNN, ResNet18, ResNet19, SmallCNN, SpikingNet
from snnlab.neurons import neuron_spec

T, N = 2, 2

# name -> (factory(neuron) building a tiny model, shape of one sample, classes)
TINY = {
    "SmallCNN": (lambda neuron: SmallCNN(num_classes=5, in_channels=1, width=4, neuron=neuron), (1, 16, 16), 5),
    "MLP": (lambda neuron: MLP(in_features=20, num_classes=5, hidden=(16, 8), neuron=neuron), (20,), 5),
    "VGG9": (lambda neuron: VGG9(num_classes=10, width_mult=0.125, neuron=neuron), (3, 32, 32), 10),
    "VGG9-dvs42": (lambda neuron: VGG9(num_classes=10, in_channels=2, input_size=42, width_mult=0.125,
                                       dropout=0.1, neuron=neuron), (2, 42, 42), 10),
    "VGGSNN": (lambda neuron: VGGSNN(num_classes=10, width_mult=0.125, neuron=neuron), (2, 48, 48), 10),
    "ResNet18": (lambda neuron: ResNet18(num_classes=7, width_mult=0.125, neuron=neuron), (3, 16, 16), 7),
    "ResNet19": (lambda neuron: ResNet19(num_classes=7, width_mult=0.125, neuron=neuron), (3, 16, 16), 7),
}
NAMES = list(TINY)

# An IF neuron with a low threshold keeps tiny randomly initialised networks firing in every layer, so the
# temporal tests below are not trivially satisfied by silent networks.
LIVELY = neuron_spec("if", v_threshold=0.5)


@pytest.fixture(autouse=True, scope="module")
def single_thread():
    """The models here are tiny: intra-op threads only add overhead (and spin when the CPU is shared)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def build(name, neuron="lif", seed=0):
    torch.manual_seed(seed)
    factory, _, _ = TINY[name]
    return factory(neuron)


def snn_input(name, steps=T, seed=1):
    """Direct encoding: the same static sample at every step, ``[steps, N, *sample]``."""
    torch.manual_seed(seed)
    x = torch.rand(N, *TINY[name][1])
    return x.unsqueeze(0).repeat(steps, *([1] * x.dim()))


def first_weight_layer(model):
    return next(m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))


@pytest.mark.parametrize("name", NAMES)
def test_output_shapes_snn_and_ann(name):
    classes = TINY[name][2]
    snn, ann = build(name), build(name, neuron=None)
    assert snn.spiking and not ann.spiking
    assert snn(snn_input(name)).shape == (T, N, classes)
    assert ann(snn_input(name)[0]).shape == (N, classes)


@pytest.mark.parametrize("name", NAMES)
def test_snn_and_ann_twin_share_state_dict_layout(name):
    snn_sd, ann_sd = build(name).state_dict(), build(name, neuron=None).state_dict()
    assert list(snn_sd) == list(ann_sd)
    assert {k: v.shape for k, v in snn_sd.items()} == {k: v.shape for k, v in ann_sd.items()}
    build(name, neuron=None).load_state_dict(snn_sd)  # SNN weights load into the ANN twin (and back)
    build(name).load_state_dict(ann_sd)


@pytest.mark.parametrize("name", NAMES)
def test_snn_output_is_causal_under_direct_encoding(name):
    model = build(name, neuron=LIVELY)
    # Eval-mode BN (batch statistics would mix the time steps); calibrate running stats on one batch so that the
    # network is active.
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            m.momentum = 1.0
    with torch.no_grad():
        model.train()(snn_input(name, steps=3))
        model.eval()
        long, short = model(snn_input(name, steps=3)), model(snn_input(name, steps=2))
    assert not torch.allclose(long[0], long[2]), "outputs do not change over time: the test would be vacuous"
    torch.testing.assert_close(long[:2], short)


@pytest.mark.parametrize("name", NAMES)
def test_neuron_state_is_reset_after_forward(name):
    model, x = build(name, neuron=LIVELY), snn_input(name)
    outputs = []
    with torch.no_grad():
        for _ in range(2):
            torch.manual_seed(2)  # same dropout masks
            outputs.append(model(x))
    first, second = outputs
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    assert all(getattr(m, "v", 0.0) == 0.0 for m in model.modules() if hasattr(m, "v_threshold"))


@pytest.mark.parametrize("name", NAMES)
def test_surrogate_gradients_reach_first_layer(name):
    model = build(name)
    model(snn_input(name)).square().mean().backward()
    grad = first_weight_layer(model).weight.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0


@pytest.mark.parametrize("spiking", [True, False], ids=["snn", "ann"])
@pytest.mark.parametrize("name", NAMES)
def test_stage_names_resolve_and_do_not_grow(name, spiking):
    model = build(name, neuron="lif" if spiking else None)
    modules = dict(model.named_modules())
    assert model.stage_names and all(s in modules for s in model.stage_names)
    outputs = {}
    for s in model.stage_names:
        modules[s].register_forward_hook(lambda m, i, o, s=s: outputs.__setitem__(s, o))
    x = snn_input(name)
    model(x if spiking else x[0])
    assert list(outputs) == list(model.stage_names), "stages must be listed in execution order"
    if name == "MLP":
        return
    sizes = [tuple(outputs[s].shape[-2:]) for s in model.stage_names]
    assert all(b[0] <= a[0] and b[1] <= a[1] for a, b in zip(sizes, sizes[1:])), sizes


@pytest.mark.parametrize("name", NAMES)
def test_snn_rejects_input_without_time_axis(name):
    with pytest.raises(ValueError, match=r"\[T, N"):
        build(name)(snn_input(name)[0])


def test_invalid_sizes_are_rejected():
    with pytest.raises(ValueError, match="width_mult"):
        ResNet18(width_mult=0)
    with pytest.raises(ValueError, match="too small"):
        VGGSNN(input_size=8)


def test_resnet_ann_twin_is_a_post_activation_resnet():
    """Block output = ReLU(BN2(conv2(ReLU(BN1(conv1 x)))) + shortcut(x)), checked by hand on one block."""
    model = build("ResNet18", neuron=None).eval()
    block = model.features.layer2[0]
    x = torch.rand(N, block.conv1.in_channels, 8, 8)
    with torch.no_grad():
        manual = torch.relu(block.bn2(block.conv2(torch.relu(block.bn1(block.conv1(x))))) + block.shortcut[1](
            block.shortcut[0](x)))
        torch.testing.assert_close(block(x), manual)


# -- parameter counts of the full-size models, from the layer lists of the papers ------------------------------------
def conv(cin, cout, k=3):
    return cin * cout * k * k


def bn(c):
    return 2 * c


def fc(fin, fout):
    return fin * fout + fout


def conv_bn_chain(cin, widths):
    total = 0
    for w in widths:
        total, cin = total + conv(cin, w) + bn(w), w
    return total


def basic_block(cin, cout, stride):
    projection = conv(cin, cout, 1) + bn(cout) if stride != 1 or cin != cout else 0
    return conv(cin, cout) + bn(cout) + conv(cout, cout) + bn(cout) + projection


def resnet(stem, stages, cin=3):
    """stages: [(blocks, width, stride)]; stem conv3x3 + BN."""
    total, c = conv(cin, stem) + bn(stem), stem
    for blocks, width, stride in stages:
        for b in range(blocks):
            total, c = total + basic_block(c, width, stride if b == 0 else 1), width
    return total


def n_params(model: SpikingNet) -> int:
    return sum(p.numel() for p in model.parameters())


EXPECTED = {
    # 64c-64c-P-128c-128c-P-256c-256c-256c-P, FC 256*4*4 -> 1024 -> 10 (Lee et al. 2020 VGG-9 + BN)
    "VGG9-cifar10": (lambda: VGG9(),
                     conv_bn_chain(3, [64, 64, 128, 128, 256, 256, 256]) + fc(256 * 16, 1024) + fc(1024, 10),
                     (5.5e6, 6.5e6)),
    # same at 42x42 event frames: 5x5 maps before the FC
    "VGG9-dvs42": (lambda: VGG9(in_channels=2, input_size=42),
                   conv_bn_chain(2, [64, 64, 128, 128, 256, 256, 256]) + fc(256 * 25, 1024) + fc(1024, 10),
                   (8e6, 8.6e6)),
    # TET VGGSNN: 64c-128c-P-256c-256c-P-512c-512c-P-512c-512c-P, FC 512*3*3 -> 10
    "VGGSNN": (lambda: VGGSNN(),
               conv_bn_chain(2, [64, 128, 256, 256, 512, 512, 512, 512]) + fc(512 * 9, 10),
               (9.0e6, 9.5e6)),
    # CIFAR ResNet-18: ~11.17M with 10 classes, as commonly reported
    "ResNet18": (lambda: ResNet18(),
                 resnet(64, [(2, 64, 1), (2, 128, 2), (2, 256, 2), (2, 512, 2)]) + fc(512, 10),
                 (11.1e6, 11.3e6)),
    "ResNet18-cifar100": (lambda: ResNet18(num_classes=100),
                          resnet(64, [(2, 64, 1), (2, 128, 2), (2, 256, 2), (2, 512, 2)]) + fc(512, 100),
                          (11.1e6, 11.3e6)),
    # tdBN ResNet-19: 128-channel stem, [3, 3, 2] blocks of 128-256-512, FC256, FC
    "ResNet19": (lambda: ResNet19(),
                 resnet(128, [(3, 128, 1), (3, 256, 2), (2, 512, 2)]) + fc(512, 256) + fc(256, 10),
                 (12.5e6, 12.8e6)),
    # TET's code: 64-channel stem, so the first block projects 64 -> 128
    "ResNet19-tet-code": (lambda: ResNet19(stem_channels=64),
                          resnet(64, [(3, 128, 1), (3, 256, 2), (2, 512, 2)]) + fc(512, 256) + fc(256, 10),
                          (12.5e6, 12.8e6)),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_full_size_parameter_counts(name):
    factory, expected, (low, high) = EXPECTED[name]
    model = factory()
    assert low < expected < high
    assert n_params(model) == expected


def test_ann_twin_with_dropout_trains_on_batches_of_different_sizes():
    from snnlab.models import SmallCNN

    model = SmallCNN(num_classes=3, in_channels=1, width=4, neuron=None, dropout=0.5).train()
    for batch in (8, 5):  # a smaller last batch must not meet a mask kept from the previous call
        out = model(torch.rand(batch, 1, 16, 16))
        assert out.shape == (batch, 3)
        out.sum().backward()
