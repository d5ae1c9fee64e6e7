"""Behaviour of snnlab.energy: op counts against independent re-computation, energy, firing rates, Norm#OPS."""
from __future__ import annotations

import pytest
import torch
from spikingjelly.activation_based import functional, layer, neuron
from torch import nn

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
