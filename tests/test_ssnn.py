"""SSNN: the temporal transformer against an independent computation, T_avg from the stage layout, the staged
forward, the loss with early classifiers kept out of inference, and a smoke run that learns."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from snnlab.encoding import encode
from snnlab.methods import SSNN
from snnlab.models import VGG9, ResNet18, ShrinkingSNN, SmallCNN, TemporalTransformer


def test_temporal_transformer_matches_the_definition():
    torch.manual_seed(0)
    tt = TemporalTransformer(5, 3)
    with torch.no_grad():
        tt.weights.normal_()
    x = torch.rand(5, 2, 4, 3, 3)
    out = tt(x)
    for n in range(2):
        o_avg = torch.stack([x[t, n].mean() for t in range(5)])                      # per-step mean over C, H, W
        d = torch.softmax(tt.weights @ o_avg, dim=0)                                  # over the T_out steps
        total = sum(x[t, n] for t in range(5))
        for t in range(3):
            assert torch.allclose(out[t, n], d[t] * total, atol=1e-6)
    assert torch.allclose(out.sum(0), x.sum(0), atol=1e-5)                            # the sum is redistributed
    with pytest.raises(ValueError, match="shrinks time"):
        TemporalTransformer(2, 3)


def test_t_avg_follows_the_stage_layout():
    vgg = VGG9(num_classes=10, in_channels=2, input_size=32, width_mult=0.125, neuron="ssnn")
    # VGG-9 stages: 2 | 2 | 3 spiking convolutions; the classifier's hidden FC neuron is not a computing unit
    net = ShrinkingSNN(vgg, (8, 6, 3))
    assert net.spiking_layers == [2, 2, 3] and net.t_avg == pytest.approx(37 / 7)       # 5.29, not 40 / 8 = 5
    assert ShrinkingSNN(vgg, (6, 4, 2)).t_avg == pytest.approx((2 * 6 + 2 * 4 + 3 * 2) / 7)
    assert ShrinkingSNN(vgg, (5, 5, 5)).t_avg == 5.0
    with pytest.raises(ValueError, match="non-increasing"):
        ShrinkingSNN(vgg, (2, 4))


def test_equal_steps_with_truncation_is_the_plain_network():
    torch.manual_seed(0)
    model = SmallCNN(num_classes=10, in_channels=1, width=4, neuron="ssnn").eval()
    x = encode("direct", torch.rand(3, 1, 16, 16), 4)
    staged = ShrinkingSNN(model, (4, 4, 4), redistribution="truncate")
    assert torch.allclose(staged(x), model(x), atol=1e-6)
    shrunk = ShrinkingSNN(model, (4, 2, 1), redistribution="mean")
    assert shrunk(x).shape == (1, 3, 10)
    with pytest.raises(ValueError, match="T_1"):
        shrunk(x[:3])


def test_ssnn_loss_has_one_term_per_classifier_and_predicts_with_the_last():
    torch.manual_seed(0)
    model = SmallCNN(num_classes=10, in_channels=1, width=4, neuron="ssnn")
    method = SSNN(ShrinkingSNN(model, (4, 2, 1)), num_classes=10, weights=(0.3, 0.3, 1.0)).eval()
    x, y = torch.rand(5, 1, 16, 16), torch.randint(0, 10, (5,))
    prediction, losses = method(x, y)
    assert set(losses) == {"ce", "exit1", "exit2"}
    final, stages = method.model.stage_outputs(encode("direct", x, 4))
    assert losses["ce"].item() == pytest.approx(F.cross_entropy(final.mean(0), y).item(), rel=1e-5)
    head = method.heads[0](stages[0]).mean(0)
    assert losses["exit1"].item() == pytest.approx(0.3 * F.cross_entropy(head, y).item(), rel=1e-5)
    before = method.predict(x)
    with torch.no_grad():
        for p in method.heads.parameters():
            p.add_(1.0)
    assert torch.equal(method.predict(x), before) and torch.allclose(before, prediction, atol=1e-6)
    plain = SSNN(ShrinkingSNN(model, (4, 2, 1)), num_classes=10, early_classifiers=False)
    assert set(plain(x, y)[1]) == {"ce"}


def test_ssnn_learns_on_digits(tmp_path, monkeypatch):
    from snnlab.data import get_dataset
    from snnlab.train import TrainConfig, Trainer

    monkeypatch.setenv("SNNLAB_DATA", str(tmp_path))
    torch.manual_seed(0)
    model = SmallCNN(num_classes=10, in_channels=1, width=8, neuron="ssnn")
    method = SSNN(ShrinkingSNN(model, (4, 2, 1)), num_classes=10)
    train, test = get_dataset("digits", "train", size=16), get_dataset("digits", "test", size=16)
    history = Trainer(method, train, test, TrainConfig(epochs=5, lr=3e-3, batch_size=32, progress=False)).fit()
    assert history[-1]["loss"] < history[0]["loss"] and history[-1]["test_acc"] > 50.0                # chance: 10 %


def test_reproduction_runs_the_compared_arms_at_the_same_t_avg(tmp_path, monkeypatch):
    from snnlab.repro import run, trained_network
    from snnlab.repro.common import load_data
    from snnlab.repro.papers.ssnn import ARMS, read_transformers

    monkeypatch.setenv("SNNLAB_DATA", str(tmp_path))
    record = run("ssnn", preset="smoke", out=None, progress=False)
    assert tuple(record["arms"]) == ARMS and record["effect"]["of"] == "ssnn - baseline"
    steps = {arm: summary["metrics"]["T_avg"]["mean"] for arm, summary in record["arms"].items()}
    assert steps == {"ssnn": 4.0, "baseline": 4.0, "no-transformer": 4.0, "no-early-classifiers": 4.0,
                     "baseline-at-T1": 6.0}                                   # the premise's arm runs at T_1
    assert record["premise"]["measured"] == pytest.approx(
        record["arms"]["baseline-at-T1"]["mean"] - record["arms"]["baseline"]["mean"])
    # the trained SSNN's transformers: shares that sum to one per class, and stage 2 gets stage 1's whole output
    read = read_transformers(trained_network(record, "ssnn"), load_data(record["setting"])[1])
    steps, classes = read["steps"], read["classes"]
    assert steps == list(record["setting"]["steps"]) and len(read["distributions"]) == len(steps) - 1
    for transition, per_class in enumerate(read["distributions"]):
        assert len(per_class) == len(classes)
        for shares in per_class:
            assert len(shares) == steps[transition + 1] and sum(shares) == pytest.approx(1.0, abs=1e-5)
    assert len(read["stage_1_output"]) == steps[0] and len(read["stage_2_input"]) == steps[1]
    assert sum(read["stage_2_input"]) == pytest.approx(sum(read["stage_1_output"]), rel=1e-5)


def test_resnet18_runs_in_stages_at_shrinking_steps():
    torch.manual_seed(0)
    resnet = ResNet18(num_classes=10, in_channels=2, width_mult=0.0625, neuron="ssnn")
    net = ShrinkingSNN(resnet, (4, 3, 2))
    assert net.cut_names == ("features.layer1", "features.layer2")
    # stem + 2 blocks x 2 neurons | 2 blocks x 2 | 4 blocks x 2 (the classifier has no hidden neuron)
    assert net.spiking_layers == [5, 4, 8] and net.t_avg == pytest.approx((5 * 4 + 4 * 3 + 8 * 2) / 17)
    x = torch.rand(4, 3, 2, 16, 16)
    final, stages = net.stage_outputs(x)
    assert final.shape == (2, 3, 10) and [s.shape[0] for s in stages] == [4, 3]
    method = SSNN(net, num_classes=10)
    _, losses = method(x, torch.randint(0, 10, (3,)))
    sum(losses.values()).backward()
    assert all(t.weights.grad is not None for t in net.transitions)


def test_every_paper_setting_runs_at_t_avg_5():
    from snnlab.repro import get_reproduction
    from snnlab.repro.papers.ssnn import average_steps

    reproduction = get_reproduction("ssnn")
    for setting in [reproduction.settings("paper")] + [v.settings for v in reproduction.variants.values()]:
        assert average_steps(setting, num_classes=10) == 5.0 and setting["T_baseline"] == 5
