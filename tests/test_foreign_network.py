"""A SpikingJelly network that is not snnlab's, trained by snnlab's methods: its neuron state is reset around every
forward, so batches do not leak membrane potential (or the autograd graph it holds) into each other."""
import torch
from spikingjelly.activation_based import functional, layer, neuron
from torch import nn
from torch.utils.data import TensorDataset

from snnlab.methods import KDSNN, TET
from snnlab.methods.base import reset_around_forward
from snnlab.train import TrainConfig, Trainer


def _own_snn() -> nn.Module:
    """A researcher's own multi-step SpikingJelly network, ``[T, N, 1, 8, 8]`` → ``[T, N, 10]``; it never resets
    itself."""
    return nn.Sequential(layer.Flatten(step_mode="m"), layer.Linear(64, 32, step_mode="m"),
                         neuron.LIFNode(step_mode="m"), layer.Linear(32, 10, step_mode="m"))


def _data(n: int = 96, seed: int = 0) -> TensorDataset:
    generator = torch.Generator().manual_seed(seed)
    return TensorDataset(torch.rand(n, 1, 8, 8, generator=generator), torch.randint(0, 10, (n,), generator=generator))


def test_own_network_trains_twice_in_a_row_under_kdsnn():
    torch.manual_seed(0)
    teacher = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    method = KDSNN(_own_snn(), teacher, T=3, mode="response")
    config = TrainConfig(epochs=2, batch_size=16, lr=1e-2, progress=False, device="cpu", amp=False)
    first = Trainer(method, _data(), _data(48, 1), config).fit()
    second = Trainer(method, _data(), _data(48, 1), config).fit()       # the same network, trained again
    assert len(first) == len(second) == 2
    assert all(torch.isfinite(torch.tensor(epoch["loss"])) for epoch in first + second)


def test_every_forward_starts_from_rest_and_leaves_no_state():
    """The same batch gives the same output twice (no state carried over), and the neurons hold no tensor after."""
    torch.manual_seed(0)
    network = _own_snn()
    with torch.no_grad():
        network[1].weight.mul_(8.0)                       # strong enough that the neurons fire and carry state
    method = TET(network, T=4)
    x = torch.rand(5, 1, 8, 8)
    first, second = method.predict(x), method.predict(x)
    assert torch.equal(first, second)
    lif = network[2]
    assert not isinstance(lif.v, torch.Tensor), "the membrane state is reset after the forward"
    # without the hooks a second forward starts from the first one's state
    raw = _own_snn()
    raw.load_state_dict(network.state_dict())
    sequence = x.unsqueeze(0).repeat(4, 1, 1, 1, 1)
    outputs = raw(sequence)
    assert isinstance(raw[2].v, torch.Tensor) and not torch.equal(outputs, raw(sequence))
    functional.reset_net(raw)


def test_an_ann_is_left_alone_and_hooks_are_added_once():
    ann = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    assert not reset_around_forward(ann)._forward_hooks
    snn = reset_around_forward(reset_around_forward(_own_snn()))
    assert len(snn._forward_hooks) == 1 and len(snn._forward_pre_hooks) == 1
