"""Neuron presets against their official update rules; encodings against their definitions."""
import pytest
import torch

from snnlab import encoding
from snnlab.neurons import FUSABLE_SURROGATES, PRESETS, make_neuron, neuron_spec


def reference_lif(x_seq, k, v_th, hard_reset):
    """Independent re-implementation of 'mem = k*mem + x; spike = mem >= v_th; reset' from the official codes."""
    mem = torch.zeros_like(x_seq[0])
    spikes = []
    for x in x_seq:
        mem = k * mem + x
        s = (mem >= v_th).float()
        mem = mem * (1 - s) if hard_reset else mem - v_th * s
        spikes.append(s)
    return torch.stack(spikes)


@pytest.mark.parametrize("preset,k,v_th,hard", [
    ("tet", 0.5, 1.0, True), ("tssd", 0.5, 1.0, False), ("joint-asnn", 0.25, 0.5, True), ("seen", 0.2, 0.3, True),
    ("spikingbert", 1.0, 1.0, False),
])
def test_presets_follow_official_update_rules(preset, k, v_th, hard):
    torch.manual_seed(0)
    x_seq = torch.rand(12, 5, 7) * 1.2 - 0.1
    node = make_neuron(preset)
    assert torch.equal(node(x_seq), reference_lif(x_seq, k, v_th, hard))


def test_surrogate_gradient_shape_of_tet_triangle():
    node = make_neuron("tet")
    x = torch.tensor([[0.0, 0.5, 1.0, 1.5, 2.5]], requires_grad=True)  # one step; H = x, grad = max(0, 1-|x-1|)
    node(x.unsqueeze(0)).sum().backward()
    assert torch.allclose(x.grad, torch.tensor([[0.0, 0.5, 1.0, 0.5, 0.0]]))


def test_overrides_and_validation():
    spec = neuron_spec("tet", surrogate="atan", alpha=2.0)
    assert spec.surrogate == "atan" and spec.tau == PRESETS["tet"].tau and spec.fusable
    assert not neuron_spec("tssd").fusable and "rect" not in FUSABLE_SURROGATES
    with pytest.raises(ValueError, match="tau must be > 1"):
        neuron_spec("lif", tau=1.0)
    with pytest.raises(ValueError, match="unknown neuron preset 'lfi'.*lif"):
        neuron_spec("lfi")
    with pytest.raises(ValueError, match="unknown neuron option"):
        neuron_spec("lif", threshold=1.0)
    with pytest.raises(ValueError, match="unknown surrogate"):
        neuron_spec("lif", surrogate="heaviside")
    node = make_neuron("lif", tau=3, v_threshold=1)  # ints are accepted (SpikingJelly itself asserts floats)
    assert node.tau == 3.0


def test_direct_encoding_repeats_input():
    x = torch.rand(3, 2, 4)
    seq = encoding.direct(x, 5)
    assert seq.shape == (5, 3, 2, 4) and all(torch.equal(s, x) for s in seq)


def test_poisson_rate_matches_intensity():
    x = torch.tensor([0.0, 0.2, 0.7, 1.0])
    g = torch.Generator().manual_seed(0)
    seq = encoding.poisson(x.expand(500, 4), 40, generator=g)
    rate = seq.mean(dim=(0, 1))
    assert set(seq.unique().tolist()) <= {0.0, 1.0}
    assert rate[0] == 0 and rate[3] == 1
    assert torch.allclose(rate, x, atol=0.01)  # 20,000 draws per entry: std <= 0.0035


def test_ttfs_single_spike_at_expected_time():
    x = torch.tensor([0.0, 0.25, 0.5, 1.0])
    seq = encoding.ttfs(x, 5)
    assert seq.sum(0).tolist() == [0.0, 1.0, 1.0, 1.0]  # zero never fires
    assert seq.argmax(0)[1:].tolist() == [3, 2, 0]     # round(4 * (1 - x))


def test_encoding_errors():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        encoding.poisson(torch.tensor([1.5]), 4)
    with pytest.raises(ValueError, match="positive int"):
        encoding.direct(torch.rand(2), 0)
    with pytest.raises(ValueError, match="unknown encoding"):
        encoding.encode("rate", torch.rand(2), 4)
