"""KDSNN: margin ReLU, partial L2 and both distillation losses against independent computations; default feature
pairs; the frozen teacher; a smoke run that learns; the paper preset on CIFAR files; the committed book record."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import norm
from torch import nn

from snnlab.losses.feature_kd import feature_adapter, margin_from_bn, margin_relu, partial_l2_loss
from snnlab.methods.base import ANNClassification
from snnlab.methods.kdsnn import KDSNN, FeaturePair, default_feature_pairs
from snnlab.models import ResNet18, SmallCNN
from snnlab.train import TrainConfig, Trainer


# ------------------------------------------------------------------------------------------------ margin ReLU
def _heo_margin(scale: float, shift: float) -> float:
    """Heo et al.'s get_margin_from_BN, written with scipy."""
    s = abs(scale)
    if norm.cdf(-shift / s) > 0.001:
        return -s * math.exp(-(shift / s) ** 2 / 2) / math.sqrt(2 * math.pi) / norm.cdf(-shift / s) + shift
    return -3 * s


def test_margin_matches_heo_formula_and_a_monte_carlo_estimate():
    bn = nn.BatchNorm2d(5)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.0, -0.5, 2.0, 0.3, 1.0]))
        bn.bias.copy_(torch.tensor([0.0, 0.4, -1.0, 2.0, 5.0]))       # the last channel takes the -3|gamma| branch
    margin = margin_from_bn(bn)
    expected = [_heo_margin(w, b) for w, b in zip(bn.weight.tolist(), bn.bias.tolist())]
    assert margin.tolist() == pytest.approx(expected, rel=1e-5)
    assert margin[-1].item() == pytest.approx(-3.0)
    rng = np.random.default_rng(0)
    for c in range(3):                                   # E[x | x < 0] by sampling (channels 3, 4: -3|gamma|)
        x = rng.normal(bn.bias[c].item(), abs(bn.weight[c].item()), 2_000_000)
        assert margin[c].item() == pytest.approx(x[x < 0].mean(), abs=5e-3)


def test_margin_relu_and_partial_l2_against_loops():
    g = torch.Generator().manual_seed(1)
    teacher = torch.randn(3, 4, 2, 2, generator=g)
    student = torch.randn(3, 4, 2, 2, generator=g)
    margin = -torch.rand(4, generator=g)
    target = margin_relu(teacher, margin)
    loss, ref_target = 0.0, np.empty(teacher.shape)
    for n, c, h, w in np.ndindex(*teacher.shape):
        t = max(teacher[n, c, h, w].item(), margin[c].item())
        s = student[n, c, h, w].item()
        ref_target[n, c, h, w] = t
        if not (s <= t and t <= 0):
            loss += (s - t) ** 2
    assert np.allclose(target.numpy(), ref_target)
    assert partial_l2_loss(student, target).item() == pytest.approx(loss / 3, rel=1e-6)
    below = torch.full((1, 4, 2, 2), -5.0)                              # under a non-positive target: no loss
    assert partial_l2_loss(below, margin_relu(torch.full((1, 4, 2, 2), -9.0), margin)).item() == 0.0


def test_feature_loss_gradient_matches_finite_differences():
    g = torch.Generator().manual_seed(2)
    target = margin_relu(torch.randn(2, 3, 2, 2, generator=g, dtype=torch.float64), -torch.rand(3, dtype=torch.float64))
    student = torch.randn(2, 3, 2, 2, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda s: partial_l2_loss(s, target), (student,))


# --------------------------------------------------------------------------------------------- method losses
def _pair(student_width=4, teacher_width=8, seed=0):
    torch.manual_seed(seed)
    student = SmallCNN(4, 1, width=student_width, neuron="if")
    teacher = SmallCNN(4, 1, width=teacher_width, neuron=None).eval()
    with torch.no_grad():
        for module in teacher.modules():
            if isinstance(module, nn.BatchNorm2d):          # non-trivial BN statistics, so margins differ
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
    return student, teacher


def test_default_feature_pairs_find_neurons_relus_and_their_batch_norms():
    student, teacher = _pair()
    assert default_feature_pairs(student, teacher) == (
        FeaturePair("features.2", "features.2", "features.1"), FeaturePair("features.5", "features.5", "features.4"),
        FeaturePair("features.9", "features.9", "features.8"))
    resnet = default_feature_pairs(ResNet18(10, neuron="if", width_mult=0.125), ResNet18(10, neuron=None,
                                                                                       width_mult=0.125))
    assert resnet[1] == FeaturePair("features.layer2.1.act2", "features.layer2.1.act2", "features.layer2.1.bn2")


def test_response_and_feature_losses_match_an_independent_computation():
    student, teacher = _pair()
    method = KDSNN(student, teacher, T=3, mode="both", alpha=0.7, tau=3.0, beta=0.01)
    x = torch.rand(6, 1, 8, 8)
    y = torch.randint(0, 4, (6,))
    s_spikes, t_inputs = {}, {}
    hooks = [student.features[i].register_forward_hook(lambda m, a, o, i=i: s_spikes.__setitem__(i, o))
             for i in (2, 5, 9)]
    hooks += [teacher.features[i].register_forward_pre_hook(lambda m, a, i=i: t_inputs.__setitem__(i, a[0]))
              for i in (2, 5, 9)]
    z_s, losses = method(x, y)
    for h in hooks:
        h.remove()
    z_t = teacher(x).detach()
    p_t = torch.softmax(z_t.double() / 3.0, -1).numpy()
    log_p_s = torch.log_softmax(z_s.double() / 3.0, -1).detach().numpy()
    kl = (p_t * (np.log(p_t) - log_p_s)).sum(1).mean()
    ce = -torch.log_softmax(z_s.double(), -1)[torch.arange(6), y].mean().item()
    assert losses["ce"].item() == pytest.approx(0.3 * ce, rel=1e-5)
    assert losses["kd"].item() == pytest.approx(0.7 * 9.0 * kl, rel=1e-4)
    feat = 0.0
    for adapter, i in zip(method.adapters, (2, 5, 9)):
        bn = teacher.features[i - 1]
        margins = torch.tensor([_heo_margin(w, b) for w, b in zip(bn.weight.tolist(), bn.bias.tolist())])
        target = torch.maximum(t_inputs[i], margins.view(1, -1, 1, 1))
        source = adapter(s_spikes[i].mean(0))
        keep = ~((source <= target) & (target <= 0))
        feat += ((source - target)[keep] ** 2).sum().item() / 6
    assert losses["feat"].item() == pytest.approx(0.01 * feat, rel=1e-4)


def test_teacher_is_frozen_and_stays_in_eval_mode():
    student, teacher = _pair()
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    method = KDSNN(student, teacher, T=2, mode="both")
    optimizer = torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=0.5)
    method.train()
    assert not teacher.training and all(not p.requires_grad for p in teacher.parameters())
    _, losses = method(torch.rand(8, 1, 8, 8), torch.randint(0, 4, (8,)))
    sum(losses.values()).backward()
    optimizer.step()
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())
    assert all(p.grad is not None for p in method.adapters.parameters())


def test_bad_settings_fail_clearly():
    student, teacher = _pair()
    with pytest.raises(ValueError, match="mode"):
        KDSNN(student, teacher, mode="logits")
    with pytest.raises(ValueError, match="teacher"):
        KDSNN(student, None, mode="response")
    with pytest.raises(ValueError, match="alpha"):
        KDSNN(student, teacher, alpha=1.5)
    with pytest.raises(TypeError, match="BatchNorm"):
        margin_from_bn(nn.Linear(2, 2))
    wide = KDSNN(student, teacher, T=2, mode="feature",
                 feature_pairs=(FeaturePair("features.2", "features.9", "features.8"),))
    with pytest.raises(ValueError, match="spatial size"):
        wide(torch.rand(2, 1, 8, 8), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="same shape"):
        partial_l2_loss(torch.zeros(1, 2, 2, 2), torch.zeros(1, 3, 2, 2))
    assert feature_adapter(3, 5)(torch.rand(2, 3, 4, 4)).shape == (2, 5, 4, 4)


def test_smoke_run_learns(tiny_images):
    train, test = tiny_images
    torch.manual_seed(0)
    teacher = SmallCNN(4, 1, width=8, neuron=None)
    taught = Trainer(ANNClassification(teacher), train, test, TrainConfig(epochs=8, lr=1e-2, batch_size=16,
                                                                         progress=False)).fit()
    assert taught[-1]["test_acc"] > 90.0
    torch.manual_seed(0)
    method = KDSNN(SmallCNN(4, 1, width=8, neuron="if"), teacher, T=2, mode="both", beta=1e-3)
    history = Trainer(method, train, test, TrainConfig(epochs=5, lr=1e-2, batch_size=16, progress=False)).fit()
    assert history[-1]["loss"] < history[0]["loss"]
    assert history[-1]["test_acc"] > 50.0                                 # chance is 25 %


def test_distilled_ann_terms_match_an_independent_computation_and_the_teacher_stays_frozen():
    from snnlab.methods import DistilledANN

    student, teacher = SmallCNN(4, 1, width=4, neuron=None), SmallCNN(4, 1, width=8, neuron=None)
    method = DistilledANN(student, teacher, alpha=0.3, tau=2.0).train()
    x, y = torch.rand(6, 1, 16, 16), torch.tensor([0, 1, 2, 3, 0, 1])
    logits, losses = method(x, y)
    z_t = teacher(x)
    p_t, log_p_s = torch.softmax(z_t / 2.0, -1), torch.log_softmax(logits / 2.0, -1)
    kl = (p_t * (torch.log(p_t) - log_p_s)).sum(-1).mean()
    assert torch.allclose(losses["ce"], 0.7 * F.cross_entropy(logits, y))
    assert torch.allclose(losses["kd"], 0.3 * 4.0 * kl, atol=1e-6)
    sum(losses.values()).backward()
    assert not teacher.training and all(p.grad is None for p in teacher.parameters())
    assert all(p.grad is not None for p in student.parameters())
    for bad in (dict(alpha=1.2), dict(alpha=-0.1), dict(tau=0.0)):
        with pytest.raises(ValueError, match="need tau > 0 and 0 <= alpha <= 1"):
            DistilledANN(student, teacher, **bad)


def test_a_teacher_with_its_own_data_options_learns_from_its_own_data(tmp_path, monkeypatch):
    from snnlab.repro.common import load_data, teacher_data

    monkeypatch.setenv("SNNLAB_DATA", str(tmp_path))
    settings = dict(dataset="digits", data_options=dict(size=8, train_limit=50),
                    teacher=dict(data_options=dict(size=8)))
    students = load_data(settings)
    teachers = teacher_data(settings, students)
    assert len(students[0]) == 50 and len(teachers[0]) > 50 and len(teachers[1]) == len(students[1])
    assert teacher_data({**settings, "teacher": {}}, students) is students


# ------------------------------------------------------------------------------------------- reproduction
def test_paper_preset_runs_on_cifar10_files(tmp_path):
    """The paper preset (CIFAR-10, ResNet-18 IF student and ANN teacher, T = 4) runs end to end on CIFAR's file
    format; the networks are scaled down (width_mult) to keep the test short."""
    from test_data_real import make_cifar

    from snnlab.repro.papers.kdsnn import ARMS, PRESETS, STUDENT_MODES, run_seed

    make_cifar(tmp_path / "cifar-10-batches-py")
    paper = PRESETS["paper"]
    small = dict(width_mult=0.0625)
    settings = {**paper, "data_options": {**paper["data_options"], "root": str(tmp_path), "download": False},
                "teacher": {**paper["teacher"], "model_options": {**paper["teacher"]["model_options"], **small},
                            "train": {**paper["train"], "epochs": 1, "batch_size": 8}},
                "model_options": {**paper["model_options"], **small},
                "train": {**paper["train"], "epochs": 1, "batch_size": 8}, "noise": {"gaussian": (0.2,)}}
    results = run_seed(settings, seed=0, progress=False)
    assert all(isinstance(results[arm]["network"], torch.nn.Module) for arm in ARMS[:2])  # kept by the record
    assert set(results) == set(ARMS) | {f"kd-response-tau{tau:g}" for tau in paper["tau_sweep"]}
    for arm in ("teacher", *STUDENT_MODES):
        metrics = results[arm]["metrics"]
        assert 0.0 <= metrics["gaussian@0.2"] <= 100.0 and metrics["energy_pj"] > 0
    assert results["teacher"]["metrics"]["firing_rate"] == 0.0 and results["snn"]["metrics"]["firing_rate"] > 0


def test_committed_book_record_has_the_metrics_the_chapter_shows():
    """(That the record's setting is the book preset's is checked for every record in tests/test_records.py.)"""
    from snnlab.repro.papers.kdsnn import ARMS, PRESETS, STUDENT_MODES

    record = json.loads((Path(__file__).resolve().parents[1] / "results" / "kdsnn-book.json").read_text())
    assert tuple(record["arms"]) == ARMS + tuple(f"kd-response-tau{tau:g}" for tau in PRESETS["book"]["tau_sweep"])
    for arm in ("teacher", *STUDENT_MODES):
        assert {"energy_pj", "firing_rate", "gaussian@0.4", "salt-pepper@0.2", "blur@1.5"} <= set(
            record["arms"][arm]["metrics"])
