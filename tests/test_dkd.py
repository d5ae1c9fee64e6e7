"""Decoupled KD: TCKD and NCKD against an independent computation, the decomposition of classical KD, stability,
gradients, the method's warm-up and the reproduction's recipe."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from snnlab.losses import decoupled_kd, dkd_parts, kd_loss
from snnlab.methods import DKD
from snnlab.models import SmallCNN
from snnlab.repro.papers.dkd import ARMS, PRESETS, official_schedule, run_seed
from snnlab.train import TrainConfig, Trainer


def _softmax(row: np.ndarray) -> np.ndarray:
    e = np.exp(row - row.max())
    return e / e.sum()


def _reference(student: np.ndarray, teacher: np.ndarray, target: int, tau: float) -> tuple[float, float, float]:
    """TCKD, NCKD and 1 - p_t of the teacher for one sample, written out from the definitions."""
    p_s, p_t = _softmax(student / tau), _softmax(teacher / tau)
    b_s, b_t = np.array([p_s[target], 1 - p_s[target]]), np.array([p_t[target], 1 - p_t[target]])
    tckd = float(np.sum(b_t * np.log(b_t / b_s)))
    rest = [c for c in range(len(student)) if c != target]
    q_s, q_t = p_s[rest] / p_s[rest].sum(), p_t[rest] / p_t[rest].sum()
    nckd = float(np.sum(q_t * np.log(q_t / q_s)))
    return tckd, nckd, float(1 - p_t[target])


def _batch(n=8, c=6, scale=3.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, c, generator=g, dtype=torch.float64) * scale,
            torch.randn(n, c, generator=g, dtype=torch.float64) * scale, torch.randint(0, c, (n,), generator=g))


@pytest.mark.parametrize("tau", [1.0, 4.0])
def test_tckd_and_nckd_match_their_definitions(tau):
    student, teacher, targets = _batch()
    parts = dkd_parts(student, teacher, targets, tau)
    for n in range(len(targets)):
        tckd, nckd, rest = _reference(student[n].numpy(), teacher[n].numpy(), int(targets[n]), tau)
        assert parts["tckd"][n].item() == pytest.approx(tckd, rel=1e-10, abs=1e-12)
        assert parts["nckd"][n].item() == pytest.approx(nckd, rel=1e-10, abs=1e-12)
        assert parts["teacher_rest"][n].item() == pytest.approx(rest, rel=1e-12)


def test_classical_kd_is_tckd_plus_the_teachers_rest_times_nckd():
    student, teacher, targets = _batch(n=16, c=10, seed=1)
    parts = dkd_parts(student, teacher, targets, tau=4.0)
    identity = (parts["tckd"] + parts["teacher_rest"] * parts["nckd"]).mean()
    assert (4.0 ** 2 * identity).item() == pytest.approx(kd_loss(student, teacher, tau=4.0).item(), rel=1e-10)


def test_decoupled_kd_weights_each_part_by_its_coefficient_and_tau_squared():
    student, teacher, targets = _batch(seed=2)
    parts = dkd_parts(student, teacher, targets, tau=2.0)
    terms = decoupled_kd(student, teacher, targets, alpha=0.5, beta=3.0, tau=2.0)
    assert terms["dkd_tckd"].item() == pytest.approx(0.5 * 4 * parts["tckd"].mean().item())
    assert terms["dkd_nckd"].item() == pytest.approx(3.0 * 4 * parts["nckd"].mean().item())


def test_stable_for_confident_logits_and_gradients_are_right():
    student, teacher, targets = _batch(scale=400.0, seed=3)          # probabilities of exactly 0 and 1 in float32
    terms = decoupled_kd(student.float().requires_grad_(), teacher.float(), targets)
    assert all(torch.isfinite(v) for v in terms.values())
    student32 = student.float().requires_grad_()
    sum(decoupled_kd(student32, teacher.float(), targets).values()).backward()
    assert torch.isfinite(student32.grad).all()
    s, t, y = _batch(n=4, c=5, seed=4)
    assert torch.autograd.gradcheck(lambda x: sum(decoupled_kd(x, t, y).values()), (s.requires_grad_(),))


def test_bad_inputs_are_refused_with_the_fix():
    student, teacher, targets = _batch()
    with pytest.raises(ValueError, match="same shape"):
        decoupled_kd(student, teacher[:, :5], targets)
    with pytest.raises(ValueError, match="at least 3 classes"):
        decoupled_kd(student[:, :2], teacher[:, :2], targets % 2)
    with pytest.raises(ValueError, match="positive"):
        decoupled_kd(student, teacher, targets, tau=0.0)
    with pytest.raises(ValueError, match="shape \\[8\\]"):
        decoupled_kd(student, teacher, targets[:3])


def test_the_method_warms_the_distillation_weight_up_and_keeps_the_teacher_frozen():
    teacher = SmallCNN(num_classes=10, in_channels=1, width=4, neuron=None)
    method = DKD(SmallCNN(num_classes=10, in_channels=1, width=4, neuron="if"), teacher, T=2, warmup_epochs=4.0)
    images, targets = torch.rand(6, 1, 16, 16), torch.randint(0, 10, (6,))
    method.on_epoch_start(1)
    _, early = method(images, targets)
    method.on_epoch_start(6)
    _, late = method(images, targets)
    assert early["dkd_nckd"].item() == pytest.approx(late["dkd_nckd"].item() / 4, rel=1e-5)
    assert set(late) == {"ce", "dkd_tckd", "dkd_nckd"}
    sum(late.values()).backward()
    assert all(p.grad is None for p in teacher.parameters()) and not teacher.training


def test_official_schedule_scales_milestones_and_warm_up_with_the_epochs():
    assert official_schedule(240)[0]["milestones"] == (150, 180, 210) and official_schedule(240)[1] == 20
    train, warmup = official_schedule(30)
    assert train["milestones"] == (19, 23, 27) and warmup == pytest.approx(2.5)
    config = TrainConfig(**{**train, "progress": False})
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=config.lr)
    trainer_scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, list(config.milestones), config.gamma)
    rates = []
    for _ in range(30):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        trainer_scheduler.step()
    assert rates[18] == pytest.approx(0.05) and rates[19] == pytest.approx(0.005) and rates[27] == pytest.approx(5e-5)
    with pytest.raises(ValueError, match="milestones"):
        TrainConfig(epochs=10, scheduler="multistep", milestones=(5, 3))
    with pytest.raises(ValueError, match="milestones"):
        TrainConfig(epochs=10, scheduler="multistep")


def test_the_trainer_follows_the_multistep_schedule():
    from snnlab.data import get_dataset

    train = get_dataset("digits", "train", size=16, train_limit=64)
    method = DKD(SmallCNN(num_classes=10, in_channels=1, width=4, neuron="if"),
                 SmallCNN(num_classes=10, in_channels=1, width=4, neuron=None), T=2, warmup_epochs=1.0)
    config = TrainConfig(epochs=3, lr=0.05, optimizer="sgd", scheduler="multistep", milestones=(1, 2), gamma=0.5,
                         batch_size=32, progress=False)
    history = Trainer(method, train, None, config).fit()
    assert [round(epoch["lr"], 6) for epoch in history] == [0.05, 0.025, 0.0125]


def test_smoke_reproduction_trains_every_arm_and_learns():
    smoke = PRESETS["smoke"]
    settings = {**smoke, "data_options": {"size": 16},                  # every training image (a class-balanced set)
                "teacher": {**smoke["teacher"], "train": {**smoke["teacher"]["train"], "epochs": 3}},
                "train": {**smoke["train"], "epochs": 3}}
    results = run_seed(settings, seed=0, progress=False)
    assert set(results) == set(ARMS)
    assert all(isinstance(results[arm]["network"], torch.nn.Module) for arm in ARMS[:2])
    assert results["teacher"]["final"] > 30.0 and results["dkd"]["final"] > 15.0     # chance: 10 %
    assert math.isfinite(results["dkd"]["history"][-1]["loss/dkd_nckd"])


def test_an_ann_student_takes_dkd_through_the_loss_terms_function():
    import torch.nn.functional as F

    from snnlab.methods import DistilledANN

    teacher = SmallCNN(num_classes=10, in_channels=1, width=4, neuron=None)
    student = SmallCNN(num_classes=10, in_channels=1, width=4, neuron=None)
    method = DistilledANN(student, teacher,
                          loss_terms=lambda z_s, z_t, y: {"ce": F.cross_entropy(z_s, y), **decoupled_kd(z_s, z_t, y)})
    images, targets = torch.rand(6, 1, 16, 16), torch.randint(0, 10, (6,))
    logits, terms = method(images, targets)
    with torch.no_grad():
        expected = decoupled_kd(student(images), teacher(images), targets)
    assert set(terms) == {"ce", "dkd_tckd", "dkd_nckd"}
    assert terms["dkd_nckd"].item() == pytest.approx(expected["dkd_nckd"].item(), rel=1e-5)
    assert set(DistilledANN(student, teacher)(images, targets)[1]) == {"ce", "kd"}      # response KD by default
