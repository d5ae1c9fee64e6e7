"""Behaviour of snnlab.energy: op counts against hand counts (the kit's spike-driven convention: ACs per spike and
synapse reached, average pooling of spikes folded into the next weight layer, an input repeated at every step counted
once), energy, firing rates, Norm#OPS."""
from __future__ import annotations

import pytest
import torch
from spikingjelly.activation_based import functional, layer, neuron
from torch import nn

from snnlab.encoding import direct, poisson
from snnlab.energy import (E_AC_PJ, E_MAC_PJ, EnergyReport, energy_ratio, energy_report, firing_rates,
                           norm_ops)
from snnlab.hooks import capture
from snnlab.models import SmallCNN

T, N = 3, 2


def conv_lif_fc(seed=0):
    """conv (analog input, MACs) -> IF neuron -> flatten -> FC (spike input, SOPs)."""
    torch.manual_seed(seed)
    return nn.Sequential(
        layer.Conv2d(2, 4, 3, stride=2, padding=1, step_mode="m"), neuron.IFNode(v_threshold=0.3, step_mode="m"),
        layer.Flatten(step_mode="m"), layer.Linear(4 * 4 * 4, 5, step_mode="m"),
    )


def analog_input(seed=1):
    return torch.rand(T, N, 2, 8, 8, generator=torch.Generator().manual_seed(seed))


def test_conv_on_analog_input_counts_macs_of_the_textbook_formula():
    c_in, c_out, k, stride, pad, h, w = 3, 5, 3, 2, 1, 9, 7
    net = nn.Sequential(layer.Conv2d(c_in, c_out, k, stride=stride, padding=pad, step_mode="m"),
                        neuron.LIFNode(step_mode="m"))
    report = energy_report(net, torch.randn(T, N, c_in, h, w))
    h_out, w_out = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    expected = c_out * c_in * k * k * h_out * w_out * N * T
    assert [layer_.path for layer_ in report.layers] == ["0"]
    assert report.macs == report.ops == expected and report.sops == 0


def test_linear_on_binary_spikes_counts_one_sop_per_spike_and_output():
    in_f, out_f = 20, 7
    net = nn.Sequential(layer.Linear(in_f, out_f, step_mode="m"), neuron.IFNode(step_mode="m"))
    spikes = (torch.rand(T, N, in_f, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    report = energy_report(net, spikes)
    assert report.sops == int(spikes.sum()) * out_f and report.macs == 0
    assert report.ops == T * N * in_f * out_f
    assert report.layers[0].input_rate == pytest.approx(spikes.mean().item())


class LayerList(nn.Module):
    """The layers of :func:`conv_lif_fc` in an ``nn.ModuleList`` the forward iterates over (never called itself)."""

    def __init__(self, layers):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x):
        for module in self.layers:
            x = module(x)
        return x


def test_layers_held_in_a_module_list_are_counted_once():
    sequential = conv_lif_fc()
    listed = LayerList(conv_lif_fc())
    expected, report = energy_report(sequential, analog_input()), energy_report(listed, analog_input())
    assert (report.macs, report.sops, report.ops) == (expected.macs, expected.sops, expected.ops)
    assert [layer_.path for layer_ in report.layers] == [f"layers.{layer_.path}" for layer_ in expected.layers]
    assert report.energy_pj == pytest.approx(expected.energy_pj)


def test_energy_is_4_6_pj_per_mac_plus_0_9_pj_per_ac_layer_by_layer():
    net, x = conv_lif_fc().eval(), analog_input()
    report = energy_report(net, x)
    _, feats = capture(net, x, "1")  # the spikes the FC receives, captured independently of the counters
    functional.reset_net(net)  # a plain SpikingJelly model keeps its state after a forward
    spikes = feats["1"]
    conv, fc = report.layers
    assert (conv.path, fc.path) == ("0", "3")
    assert conv.macs == 4 * 2 * 3 * 3 * 4 * 4 * N * T and conv.sops == 0
    assert fc.sops == int(spikes.sum()) * 5 > 0 and fc.macs == 0
    assert report.energy_pj == pytest.approx(4.6 * conv.macs + 0.9 * fc.sops)
    assert (E_MAC_PJ, E_AC_PJ) == (4.6, 0.9)
    custom = energy_report(net, x, e_mac_pj=3.0, e_ac_pj=0.1)
    assert custom.energy_pj == pytest.approx(3.0 * conv.macs + 0.1 * fc.sops)
    assert report.norm_ops == pytest.approx((conv.macs + fc.sops) / (conv.ops + fc.ops))
    assert report.steps == T and report.ann_energy_pj == pytest.approx(4.6 * (conv.ops + fc.ops) / T)


def test_firing_rate_is_the_mean_of_captured_spikes():
    net, x = conv_lif_fc().eval(), analog_input()
    _, feats = capture(net, x, "1")
    functional.reset_net(net)
    rate = feats["1"].mean().item()
    assert 0 < rate < 1
    assert energy_report(net, x).firing_rates == pytest.approx({"1": rate})
    assert firing_rates(net, x) == pytest.approx({"1": rate})


def test_ann_twin_counts_only_macs_and_snn_twin_has_t_times_its_layer_ops_but_compares_with_one_ann_pass():
    torch.manual_seed(0)
    ann, snn = SmallCNN(width=4, neuron=None), SmallCNN(width=4, neuron="lif")
    binary_images = torch.randint(0, 2, (N, 1, 16, 16)).float()  # 0/1 pixels: still MACs in an ANN
    report = energy_report(ann, binary_images)
    assert report.sops == 0 and report.macs == report.ops > 0
    assert report.firing_rates == {} and report.norm_ops == 1.0 and report.ann_ratio == 1.0
    snn_report = energy_report(snn, binary_images.expand(T, *binary_images.shape))
    assert snn_report.ops == T * report.ops
    # the SNN's ANN comparison is the ANN twin's own single pass, measured on the ANN itself
    assert snn_report.ann_energy_pj == pytest.approx(report.energy_pj) and report.steps == 1
    assert snn_report.ann_ratio == pytest.approx(report.energy_pj / snn_report.energy_pj)
    assert energy_report(snn, binary_images.expand(T, *binary_images.shape), steps=1).ann_energy_pj == \
        pytest.approx(T * report.energy_pj)
    assert set(snn_report.firing_rates) == {"features.2", "features.5", "features.9"}
    assert report.mean_firing_rate is None
    assert snn_report.mean_firing_rate == pytest.approx(sum(snn_report.firing_rates.values()) / 3)


def test_norm_ops_and_energy_ratio_golden_values():
    # three layers of 100, 200 and 50 dense ops; inputs: analog (rate 1), then spikes at rates 0.2 and 0.1
    value = norm_ops([1.0, 0.2, 0.1], [100, 200, 50])
    assert value == pytest.approx((100 + 40 + 5) / 350)  # 0.414285...
    assert energy_ratio(value) == pytest.approx(5.1 * 350 / 145)  # 12.3103...
    assert norm_ops([1.0, 1.0], [10, 30]) == 1.0 and energy_ratio(1.0) == pytest.approx(5.1)  # an ANN
    with pytest.raises(ValueError, match="one input rate per layer"):
        norm_ops([1.0], [10, 30])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        norm_ops([1.5], [10])


def test_report_restores_modes_resets_state_and_renders():
    net, x = conv_lif_fc().train(), analog_input()
    report = energy_report(net, x)
    assert net.training and all(m.training for m in net.modules())
    assert net[1].v == 0.0  # reset_net after the pass
    assert isinstance(report, EnergyReport)
    text = str(report)
    assert "Norm#OPS" in text and "\n0 " in text and "\n3 " in text and "total" in text
    d = report.to_dict()
    assert d["macs"] == report.macs and d["sops"] == report.sops and d["energy_pj"] == report.energy_pj
    assert [row["path"] for row in d["layers"]] == ["0", "3"] and d["firing_rates"] == report.firing_rates


def test_model_without_weight_layers_is_a_clear_error():
    with pytest.raises(ValueError, match="no weight-layer operation"):
        energy_report(nn.Sequential(neuron.IFNode(step_mode="m")), torch.rand(T, N, 4))


# -- the spike-driven convention, against hand counts ----------------------------------------------------------------
# A 3x3 convolution with padding 1 and stride 1 on a side of length L: an input at position p reaches the outputs at
# p-1, p, p+1 that exist, i.e. 2 at either border and 3 inside.
def reach_3x3(length: int) -> torch.Tensor:
    return torch.tensor([sum(1 for q in (p - 1, p, p + 1) if 0 <= q < length) for p in range(length)])


def spikes_times_reach(spikes: torch.Tensor, c_out: int, reach_h: torch.Tensor, reach_w: torch.Tensor) -> int:
    """Hand count: every spike at (row h, column w) of a [..., C, H, W] map costs c_out * reach_h[h] * reach_w[w]."""
    total = 0
    for index in spikes.nonzero().tolist():
        h, w = index[-2:]
        total += c_out * int(reach_h[h]) * int(reach_w[w])
    return total


H = 8           # input side; the 2x2 pooling halves it


def pooled_network(pool_before_neuron: bool, seed=0) -> nn.Sequential:
    """conv -> IF -> avgpool 2 -> conv -> IF -> avgpool 2 -> global avgpool -> flatten -> linear, or, with
    ``pool_before_neuron``, each pooling before its neuron (pooling currents, so the next layer reads spikes)."""
    torch.manual_seed(seed)
    conv1, conv2 = layer.Conv2d(2, 4, 3, padding=1, step_mode="m"), layer.Conv2d(4, 3, 3, padding=1, step_mode="m")
    if1, if2 = neuron.IFNode(v_threshold=0.2, step_mode="m"), neuron.IFNode(v_threshold=0.2, step_mode="m")
    pool1, pool2 = layer.AvgPool2d(2, step_mode="m"), layer.AvgPool2d(2, step_mode="m")
    head = [layer.AdaptiveAvgPool2d((1, 1), step_mode="m"), layer.Flatten(step_mode="m"),
            layer.Linear(3, 5, step_mode="m")]
    stages = [conv1, pool1, if1, conv2, pool2, if2] if pool_before_neuron else [conv1, if1, pool1, conv2, if2, pool2]
    return nn.Sequential(*stages, *head)


def spikes_of(net: nn.Sequential, x: torch.Tensor) -> list[torch.Tensor]:
    """The outputs of the network's two IF layers, by running its modules one by one."""
    outputs = []
    with torch.no_grad():
        for module in net:
            x = module(x)
            if isinstance(module, neuron.IFNode):
                outputs.append(x)
    functional.reset_net(net)
    return outputs


def test_a_convolution_after_average_pooling_of_spikes_costs_acs_per_spike_and_folded_synapse():
    net, x = pooled_network(pool_before_neuron=False), analog_input()
    s1, s2 = spikes_of(net, x)
    assert 0.05 < s1.mean() < 0.95 and 0.05 < s2.mean() < 0.95
    layers = {entry.path: entry for entry in energy_report(net, x).layers}
    # conv1: an analog input that changes at every step: MACs at every step, padding included
    assert layers["0"].macs == T * N * 4 * 2 * 9 * H * H and layers["0"].sops == 0
    # conv2 reads the 2x2 average of s1 (a 4x4 map): folded, each spike of s1 reaches the 3 channels at the
    # 3x3 neighbourhood (cut at the borders) of its pooling window
    window_reach = reach_3x3(H // 2)
    by_hand = spikes_times_reach(s1, 3, window_reach[torch.arange(H) // 2], window_reach[torch.arange(H) // 2])
    assert layers["3"].sops == by_hand > 0 and layers["3"].macs == 0
    assert layers["3"].ops == T * N * 3 * 4 * 9 * (H // 2) ** 2       # the dense count is the layer as it runs
    # the linear classifier reads a 2x2 pooling then a global pooling of s2: every spike reaches all 5 outputs
    assert layers["8"].sops == int(s2.sum()) * 5 and layers["8"].macs == 0


def test_pooling_before_the_neuron_gives_the_next_layer_spikes():
    net, x = pooled_network(pool_before_neuron=True), analog_input()
    s1, s2 = spikes_of(net, x)                                         # s1 is [T, N, 4, 4, 4]: pooled, then fired
    layers = {entry.path: entry for entry in energy_report(net, x).layers}
    assert layers["0"].macs == T * N * 4 * 2 * 9 * H * H             # the pooling of currents is not counted
    assert layers["3"].sops == spikes_times_reach(s1, 3, reach_3x3(H // 2), reach_3x3(H // 2)) > 0
    assert layers["3"].macs == 0 and layers["8"].sops == int(s2.sum()) * 5


def test_a_direct_coded_first_layer_is_counted_once_and_a_poisson_coded_one_at_every_step():
    torch.manual_seed(0)
    net = nn.Sequential(layer.Conv2d(1, 4, 3, padding=1, step_mode="m"), neuron.IFNode(step_mode="m"))
    images = torch.rand(N, 1, H, H)
    one_step = N * 4 * 1 * 9 * H * H                                   # the MACs of one step (one ANN pass)
    direct_report = energy_report(net, direct(images, T))
    assert direct_report.macs == one_step and direct_report.sops == 0
    assert direct_report.ops == T * one_step and direct_report.ann_ops == one_step
    spikes = poisson(images, T, generator=torch.Generator().manual_seed(1))
    poisson_report = energy_report(net, spikes)
    assert poisson_report.macs == 0
    assert poisson_report.sops == spikes_times_reach(spikes, 4, reach_3x3(H), reach_3x3(H)) > 0
    # binary but the same at every step (a binarised image, directly coded): the ACs of one step
    binary = (images > 0.5).float()
    assert energy_report(net, direct(binary, T)).sops == spikes_times_reach(binary, 4, reach_3x3(H), reach_3x3(H))


def test_the_ann_twin_is_one_pass_of_macs_of_the_textbook_formula():
    ann, snn = SmallCNN(width=4, neuron=None), SmallCNN(width=4, neuron="lif")
    images = torch.rand(N, 1, 16, 16)
    by_hand = N * (4 * 1 * 9 * 16 * 16 + 8 * 4 * 9 * 16 * 16 + 16 * 8 * 9 * 8 * 8 + 16 * 10)
    report = energy_report(ann, images)
    assert report.macs == report.ops == by_hand and report.sops == 0 and report.steps == 1
    assert report.energy_pj == pytest.approx(4.6 * by_hand)
    snn_report = energy_report(snn, direct(images, T))
    assert snn_report.ann_energy_pj == pytest.approx(4.6 * by_hand)
    assert {entry.path: entry.macs for entry in snn_report.layers}["features.0"] == N * 4 * 9 * 16 * 16


def test_overlapping_pooling_of_spikes_does_not_fold_and_is_a_clear_error():
    net = nn.Sequential(neuron.IFNode(v_threshold=0.2, step_mode="m"),
                        layer.AvgPool2d(3, stride=1, step_mode="m"), layer.Conv2d(2, 3, 3, step_mode="m"))
    with pytest.raises(ValueError, match="overlap"):
        energy_report(net, analog_input())
    currents = nn.Sequential(layer.AvgPool2d(3, stride=1, step_mode="m"), layer.Conv2d(2, 3, 3, step_mode="m"),
                             neuron.IFNode(step_mode="m"))             # pooling real values: plain MACs
    assert energy_report(currents, analog_input()).macs == T * N * 3 * 2 * 9 * 4 * 4


def test_moving_the_poolings_of_small_cnn_before_its_neurons_keeps_it_spike_driven():
    from snnlab.repro.papers.energy_twins import pooling_before_neurons

    torch.manual_seed(0)
    after = SmallCNN(width=4, neuron="if").eval()
    before = pooling_before_neurons(SmallCNN(width=4, neuron="if")).eval()
    before.load_state_dict(after.state_dict())         # the same weights: the orders differ only in parameter-free layers
    for module in [*after.modules(), *before.modules()]:
        if isinstance(module, neuron.BaseNode):
            module.v_threshold = 0.05                  # a fresh network, made to fire in every layer
    kinds = [type(module).__name__ for module in before.features]
    assert kinds[4:7] == ["BatchNorm2d", "AvgPool2d", kinds[2]] and kinds[8:] == ["BatchNorm2d", "AvgPool2d", kinds[2]]
    x = direct(torch.rand(N, 1, 16, 16), T)
    for net in (after, before):
        first, *later = energy_report(net, x).layers
        assert first.macs == first.ops // T and all(entry.macs == 0 for entry in later)
    _, feats = capture(before, x, "features.6", detach=True)   # the spikes after the first pooling of currents
    conv3 = {entry.path: entry for entry in energy_report(before, x).layers}["features.7"]
    assert conv3.sops == spikes_times_reach(feats["features.6"], 16, reach_3x3(8), reach_3x3(8)) > 0
