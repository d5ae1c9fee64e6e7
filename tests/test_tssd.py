"""TSSD: the single-forward student/teacher equality, the loss terms against an independent computation, the weak
classifier kept out of inference, detached targets, early exit, and a smoke run that learns."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from snnlab.encoding import encode
from snnlab.methods import TSSD
from snnlab.methods.tssd import middle_stage
from snnlab.models import VGG9, ResNet18, SmallCNN


def _net(seed=0, width=4):
    torch.manual_seed(seed)
    return SmallCNN(num_classes=10, in_channels=1, width=width, neuron="tssd")


def test_first_steps_of_a_long_run_are_the_short_run():
    net = _net()
    net.eval()
    for module in net.modules():                                            # make the untrained net spike
        if hasattr(module, "running_var"):
            module.running_var.fill_(0.02)
    x = torch.rand(6, 1, 16, 16)
    long_run = net(encode("direct", x, 4))
    short_run = net(encode("direct", x, 2))
    assert torch.allclose(long_run[:2], short_run, atol=1e-6)
    assert not torch.allclose(long_run.mean(0), short_run.mean(0))         # the teacher sees more steps


def test_loss_terms_match_an_independent_computation():
    net = _net()
    method = TSSD(net, T_s=2, T_t=4, num_classes=10, alpha=0.7, beta=0.3)
    method.eval()                                                           # BN in eval: runs are comparable
    x, y = torch.rand(5, 1, 16, 16), torch.randint(0, 10, (5,))
    student_out, losses = method(x, y)
    full = net(encode("direct", x, 4))
    student, teacher = net(encode("direct", x, 2)).mean(0), full.mean(0)
    weak = method.weak(encode("direct", x, 2)).exits[middle_stage(net)]
    assert torch.allclose(student_out, student, atol=1e-6)
    assert losses["ce"].item() == pytest.approx(F.cross_entropy(student, y).item(), rel=1e-5)
    assert losses["ce_teacher"].item() == pytest.approx(F.cross_entropy(teacher, y).item(), rel=1e-5)
    assert losses["tsd"].item() == pytest.approx(0.7 * ((student - teacher) ** 2).mean().item(), rel=1e-5)
    ssd = sum(((weak[t] - student) ** 2).mean() for t in range(2)) / 2
    assert losses["ssd"].item() == pytest.approx(0.3 * ssd.item(), rel=1e-5)


def test_weak_classifier_is_kept_out_of_inference():
    net = _net()
    method = TSSD(net, T_s=2, T_t=4, num_classes=10).eval()
    x = torch.rand(5, 1, 16, 16)
    before = method.predict(x)
    with torch.no_grad():
        for p in method.weak.heads.parameters():
            p.add_(1.0)
    assert torch.equal(method.predict(x), before)
    assert torch.allclose(before, net(encode("direct", x, 2)).mean(0), atol=1e-6)
    assert middle_stage(VGG9(num_classes=10, width_mult=0.25)) == "features.13"          # stage 2 of 3


class _PerStep(nn.Module):
    """out_t = W x_t: time steps stay separate, so gradients show which steps a loss reaches."""

    input_ndim = 1

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)

    def forward(self, x):
        return self.fc(x)


def test_distillation_reaches_both_sides_by_default():
    """As the loss is written (minimised over the shared weights), TSD's gradient reaches the teacher's steps."""
    torch.manual_seed(0)
    method = TSSD(_PerStep(), T_s=1, T_t=3, num_classes=4, weak_stage=None)
    x = torch.randn(3, 2, 3, requires_grad=True)
    _, losses = method(x, torch.tensor([0, 1]))
    grad, = torch.autograd.grad(losses["tsd"], x)
    assert not method.detach_targets and grad[1:].abs().sum() > 0


@pytest.mark.parametrize("detach", [True, False])
def test_detached_targets_stop_the_gradient_at_the_teacher(detach):
    torch.manual_seed(0)
    method = TSSD(_PerStep(), T_s=1, T_t=3, num_classes=4, weak_stage=None, detach_targets=detach)
    x = torch.randn(3, 2, 3, requires_grad=True)                            # already time-major
    _, losses = method(x, torch.tensor([0, 1]))
    assert set(losses) == {"ce", "ce_teacher", "tsd"}
    grad, = torch.autograd.grad(losses["tsd"], x)
    reaches_teacher_steps = grad[1:].abs().sum() > 0
    assert reaches_teacher_steps != detach


@pytest.mark.parametrize("teacher_ce", [True, False])
def test_the_teacher_steps_are_trained_by_the_teacher_cross_entropy(teacher_ce):
    # With the TSD target detached, steps T_s+1..T_t get a gradient only through the teacher's own cross entropy.
    torch.manual_seed(0)
    method = TSSD(_PerStep(), T_s=1, T_t=3, num_classes=4, weak_stage=None, teacher_ce=teacher_ce,
                  detach_targets=True)
    x = torch.randn(3, 2, 3, requires_grad=True)
    _, losses = method(x, torch.tensor([0, 1]))
    assert ("ce_teacher" in losses) == teacher_ce
    grad, = torch.autograd.grad(sum(losses.values()), x)
    assert (grad[1:].abs().sum() > 0) == teacher_ce


def test_bad_settings_and_inputs_fail_clearly():
    with pytest.raises(ValueError, match="T_s < T_t"):
        TSSD(_net(), T_s=4, T_t=4, num_classes=10)
    method = TSSD(_net(), T_s=2, T_t=4, num_classes=10)
    with pytest.raises(ValueError, match="T = 4 steps"):
        method(torch.rand(3, 2, 1, 16, 16), torch.zeros(2, dtype=torch.long))   # 3 event frames, not 4
    with pytest.raises(ValueError, match="stage_names"):
        TSSD(_PerStep(), T_s=1, T_t=2, num_classes=4)


def test_early_exit_reports_which_samples_left_early():
    method = TSSD(_net(), T_s=2, T_t=4, num_classes=10).eval()
    x = torch.rand(8, 1, 16, 16)
    predictions, exited = method.early_exit(x, threshold=0.0)
    assert exited.all() and predictions.shape == (8,)
    predictions, exited = method.early_exit(x, threshold=1.01)
    assert not exited.any() and torch.equal(predictions, method.predict(x).argmax(-1))


def test_tssd_learns_on_digits(tmp_path, monkeypatch):
    from snnlab.data import get_dataset
    from snnlab.train import TrainConfig, Trainer

    monkeypatch.setenv("SNNLAB_DATA", str(tmp_path))
    train = get_dataset("digits", "train", size=16)
    test = get_dataset("digits", "test", size=16)
    method = TSSD(_net(width=8), T_s=1, T_t=2, num_classes=10)
    history = Trainer(method, train, test, TrainConfig(epochs=5, lr=3e-3, batch_size=32, progress=False)).fit()
    assert history[-1]["loss"] < history[0]["loss"] and history[-1]["test_acc"] > 50.0           # chance: 10 %
    assert {"loss/ce", "loss/ce_teacher", "loss/tsd", "loss/ssd"} <= set(history[-1])


@pytest.mark.parametrize("name", ["tssd", "tssd-events"])
def test_reproductions_run_every_arm(name, tmp_path, monkeypatch):
    from snnlab.repro import run
    from snnlab.repro.papers.tssd import ARMS

    monkeypatch.setenv("SNNLAB_DATA", str(tmp_path))
    record = run(name, preset="smoke", out=None, progress=False)
    assert tuple(record["arms"]) == ARMS and record["effect"]["of"] == "tssd-one-way - plain"
    assert {name: reading["of"] for name, reading in record["readings"].items()} == {
        "one-way": "tssd-one-way - plain", "teacher-ce": "tssd-detached - plain", "both-sides": "tssd - plain"}
    assert all(0.0 <= arm["mean"] <= 100.0 for arm in record["arms"].values())
    # every arm's network is tested at T_t too; the Table 2 arm's is its own last tested accuracy at T_t
    assert all(0.0 <= arm["metrics"]["acc_at_Tt"]["mean"] <= 100.0 for arm in record["arms"].values())
    long_run = record["arms"]["plain-Tt-at-Ts"]
    assert long_run["metrics"]["acc_at_Tt"]["per_seed"] == [curve[-1] for curve in long_run["curves"]]


def test_resnet18_gets_its_weak_classifier_after_the_middle_stage():
    torch.manual_seed(0)
    resnet = ResNet18(num_classes=10, in_channels=1, width_mult=0.0625, neuron="tssd")
    assert middle_stage(resnet) == "features.layer2"                                  # stage 2 of 4
    method = TSSD(resnet, T_s=1, T_t=2, num_classes=10)
    x, y = torch.rand(3, 1, 16, 16), torch.randint(0, 10, (3,))
    _, losses = method(x, y)
    assert set(losses) == {"ce", "ce_teacher", "tsd", "ssd"}
    sum(losses.values()).backward()
    assert all(p.grad is not None for p in method.weak.heads.parameters())
    assert resnet.features.layer1[0].conv1.weight.grad.abs().sum() > 0


def test_output_scale_is_the_mean_absolute_class_score_over_the_first_test_batches():
    from torch.utils.data import TensorDataset

    from snnlab.repro.papers.tssd import _output_scale

    class FirstPixels(torch.nn.Module):
        """``[T, N, 1, H, W]`` → the first three pixels of every step, times the step number: ``[T, N, 3]``."""

        def __init__(self):
            super().__init__()
            self.unused = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            steps = torch.arange(1, x.shape[0] + 1, dtype=x.dtype).view(-1, 1, 1)
            return x.flatten(2)[..., :3] * steps

    torch.manual_seed(0)
    images = torch.rand(20, 1, 4, 4) - 0.5
    test = TensorDataset(images, torch.zeros(20, dtype=torch.long))
    settings = {"encoding": "direct", "train": {"batch_size": 4}}
    # direct encoding repeats the image: the mean over T = 3 steps of t * x is 2 x
    expected = (2 * images[:8].flatten(1)[:, :3]).abs().mean().item()
    assert _output_scale(FirstPixels(), 3, settings, (None, test), batches=2) == pytest.approx(expected, rel=1e-6)


def test_each_reading_trains_its_arm_with_its_own_loss():
    """one-way: targets detached, no teacher cross entropy (the paper's three terms); teacher-ce: detached plus the
    teacher's cross entropy; both-sides: gradients through both sides plus the teacher's cross entropy."""
    from snnlab.repro import get_reproduction
    from snnlab.repro.papers.tssd import READINGS, _tssd

    settings = get_reproduction("tssd").settings("smoke")
    x, y = torch.rand(3, 1, 16, 16), torch.randint(0, 10, (3,))
    expected = {"tssd-one-way": (True, {"ce", "tsd", "ssd"}), "tssd-detached": (True, {"ce", "ce_teacher", "tsd", "ssd"}),
                "tssd": (False, {"ce", "ce_teacher", "tsd", "ssd"})}
    for arm, (detached, terms) in expected.items():
        method = _tssd(settings, 10, 1.0, 1.0, **READINGS[arm])(SmallCNN(num_classes=10, in_channels=1, width=4,
                                                                         neuron="tssd"))
        assert method.detach_targets == detached and set(method(x, y)[1]) == terms, arm
    readings = {r.arm: r.favoured for r in get_reproduction("tssd").readings}
    assert readings == {"tssd-one-way": True, "tssd-detached": False, "tssd": False}
