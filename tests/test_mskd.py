"""MSKD: HCKD/TCKD against independent computations and hand-worked values, the curriculum, the frozen teacher,
the SEEN-style teacher, the clip protocol and an end-to-end smoke run."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from snnlab.evaluation import clip_protocol
from snnlab.losses import curriculum_alpha, hit_signal, mskd_hckd_loss, mskd_tckd_loss
from snnlab.methods import MSKD
from snnlab.models import IntensityStudent, SEENTeacher
from snnlab.train import TrainConfig, Trainer


# ------------------------------------------------------------------------------------------ independent reference
def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _reference_signal(out_seq: np.ndarray, target: np.ndarray, probs: bool) -> np.ndarray:
    """Loop version of MSKD eqs. 4-5: mean over the correct steps, else 1/N_c."""
    T, N, C = out_seq.shape
    values = _softmax(out_seq) if probs else out_seq
    signal = np.empty((N, C))
    for n in range(N):
        right = [t for t in range(T) if int(np.argmax(out_seq[t, n])) == int(target[n])]
        signal[n] = values[right, n].mean(0) if right else np.full(C, 1.0 / C)
    return signal


def _random_case(seed: int, T=5, N=12, C=4):
    rng = np.random.default_rng(seed)
    student, teacher = rng.normal(size=(T, N, C)) * 2, rng.normal(size=(T, N, C)) * 2
    target = rng.integers(0, C, N)
    wrong = (target + 1) % C
    student[:, 0, :] = -5.0
    student[:, 0, wrong[0]] = 5.0                       # student never right on sample 0
    teacher[:, 1, :] = -5.0
    teacher[:, 1, target[1]] = 5.0                      # teacher always right on sample 1
    teacher[:, 2, :] = -5.0
    teacher[:, 2, wrong[2]] = 5.0                       # teacher never right on sample 2
    return student, teacher, target


@pytest.mark.parametrize("space", ["probs", "logits"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hckd_and_tckd_match_an_independent_computation(space, seed):
    student, teacher, target = _random_case(seed)
    probs = space == "probs"
    s_ref, t_ref = _reference_signal(student, target, probs), _reference_signal(teacher, target, probs)
    assert np.allclose(s_ref[0], 0.25) and np.allclose(t_ref[2], 0.25)        # the uniform fallbacks are exercised
    as_t = [torch.tensor(a, dtype=torch.float64) for a in (student, teacher)]
    y = torch.tensor(target)
    assert np.allclose(hit_signal(as_t[0], y, space).numpy(), s_ref)
    assert mskd_hckd_loss(*as_t, y, space).item() == pytest.approx(((s_ref - t_ref) ** 2).mean(), rel=1e-12)
    s_rep = _softmax(student) if probs else student
    t_rep = _softmax(teacher) if probs else teacher
    per_step = [((s_rep[t] - t_rep[t]) ** 2).mean() for t in range(student.shape[0])]
    assert mskd_tckd_loss(*as_t, space).item() == pytest.approx(np.mean(per_step), rel=1e-12)


def test_hand_worked_example_in_logit_space():
    """T=2, N=2, C=3. Student right at t=1 on sample 0 and at t=2 on sample 1; teacher always right on sample 0
    and never on sample 1 (uniform signal 1/3)."""
    student = torch.tensor([[[2.0, 0, 0], [0, 1, 0]], [[0, 3, 0], [0, 0, 1]]])
    teacher = torch.tensor([[[1.0, 0, 0], [1, 0, 0]], [[1, 0, 0], [1, 0, 0]]])
    y = torch.tensor([0, 2])
    assert torch.allclose(hit_signal(student, y, "logits"), torch.tensor([[2.0, 0, 0], [0, 0, 1]]))
    assert torch.allclose(hit_signal(teacher, y, "logits"), torch.tensor([[1.0, 0, 0], [1 / 3, 1 / 3, 1 / 3]]))
    # (1 + (1/9 + 1/9 + 4/9)) / 6 = 5/18;  TCKD: (1 + 2 + 10 + 2) / 12 = 1.25
    assert mskd_hckd_loss(student, teacher, y, "logits").item() == pytest.approx(5 / 18)
    assert mskd_tckd_loss(student, teacher, "logits").item() == pytest.approx(1.25)


def test_identical_networks_have_zero_distillation_loss():
    out = torch.randn(4, 6, 7)
    y = torch.randint(0, 7, (6,))
    assert mskd_hckd_loss(out, out.clone(), y).item() == 0.0 and mskd_tckd_loss(out, out.clone()).item() == 0.0


def test_bad_inputs_fail_clearly():
    out = torch.randn(4, 6, 7)
    with pytest.raises(ValueError, match="same shape"):
        mskd_tckd_loss(out, torch.randn(3, 6, 7))
    with pytest.raises(ValueError, match="space"):
        mskd_tckd_loss(out, out, "softmax")
    with pytest.raises(ValueError, match=r"\[T, N, C\]"):
        hit_signal(out[0], torch.zeros(6, dtype=torch.long))
    with pytest.raises(ValueError, match="target"):
        hit_signal(out, torch.zeros(5, dtype=torch.long))


# -------------------------------------------------------------------------------------------------- curriculum
def test_curriculum_alpha_follows_the_paper_and_is_capped():
    values = [curriculum_alpha(e) for e in (1, 30, 31, 60, 61, 90, 91, 121, 500)]
    assert values == pytest.approx([0.5, 0.5, 0.6, 0.6, 0.7, 0.7, 0.8, 0.9, 0.9])
    assert [curriculum_alpha(e, period=3) for e in range(1, 17)][::3] == pytest.approx([0.5, 0.6, 0.7, 0.8, 0.9, 0.9])
    assert curriculum_alpha(1000, cap=1.0) == 1.0
    with pytest.raises(ValueError, match="from 1"):
        curriculum_alpha(0)
    with pytest.raises(ValueError, match="period"):
        curriculum_alpha(1, period=0)


# -------------------------------------------------------------------------------------------- method and teacher
class _Student(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 3)

    def forward(self, x):                               # [T, N, 1, 4, 4] -> [T, N, 3]
        return self.fc(x.flatten(2))


class _Teacher(_Student):
    def forward(self, x):
        return self.fc(x["frames"].flatten(2) + x["events"].flatten(2))


def _clip_batch(n=5, T=3):
    return {"frames": torch.rand(T, n, 1, 4, 4), "events": torch.rand(T, n, 1, 4, 4)}, torch.randint(0, 3, (n,))


def test_gradients_reach_only_the_student_and_the_teacher_stays_frozen():
    student, teacher = _Student(), _Teacher()
    before = [p.clone() for p in teacher.parameters()]
    method = MSKD(student, teacher, T=3, alpha_schedule=lambda epoch: 0.7)
    method.train()
    assert not teacher.training and all(not p.requires_grad for p in teacher.parameters())
    x, y = _clip_batch()
    _, losses = method(x, y)
    assert set(losses) == {"cls", "hckd", "tckd"}
    sum(losses.values()).backward()
    assert all(p.grad is None for p in teacher.parameters())
    assert student.fc.weight.grad is not None and student.fc.weight.grad.abs().sum() > 0
    torch.optim.SGD(method.parameters(), lr=1.0).step()
    assert all(torch.equal(a, b) for a, b in zip(before, teacher.parameters()))


def test_loss_terms_are_weighted_by_alpha():
    torch.manual_seed(0)
    student, teacher = _Student(), _Teacher()
    x, y = _clip_batch()
    out_s, out_t = student(x["frames"]), teacher(x)
    method = MSKD(student, teacher, T=3, alpha_schedule=lambda epoch: 0.5 + 0.1 * epoch)
    method.on_epoch_start(2)
    _, losses = method(x, y)
    ce = torch.stack([nn.functional.cross_entropy(out_s[t], y) for t in range(3)]).mean()
    assert losses["cls"].item() == pytest.approx(0.3 * ce.item(), rel=1e-6)
    assert losses["hckd"].item() == pytest.approx(0.7 * mskd_hckd_loss(out_s, out_t, y).item(), rel=1e-6)
    assert losses["tckd"].item() == pytest.approx(0.7 * mskd_tckd_loss(out_s, out_t).item(), rel=1e-6)
    baseline = MSKD(student, None, T=3, hckd=False, tckd=False)
    _, plain = baseline(x, y)
    assert set(plain) == {"cls"} and plain["cls"].item() == pytest.approx(ce.item(), rel=1e-6)
    only_tckd = MSKD(student, teacher, T=3, hckd=False, tckd=True)
    assert set(only_tckd(x, y)[1]) == {"cls", "tckd"}
    with pytest.raises(ValueError, match="teacher"):
        MSKD(student, None, T=3)
    with pytest.raises(ValueError, match="dict"):
        baseline(x["frames"], y)
    scaled = MSKD(student, teacher, T=3, alpha_schedule=lambda epoch: 0.5, kd_weight=20.0)
    _, heavy = scaled(x, y)
    assert heavy["tckd"].item() == pytest.approx(0.5 * 20.0 * mskd_tckd_loss(out_s, out_t).item(), rel=1e-6)
    assert heavy["cls"].item() == pytest.approx(0.5 * ce.item(), rel=1e-6)
    with pytest.raises(ValueError, match="kd_weight"):
        MSKD(student, teacher, T=3, kd_weight=0.0)


def test_output_gradient_norms_match_the_closed_form_gradients():
    from snnlab.methods.mskd import output_gradient_norms

    torch.manual_seed(3)
    student, teacher = _Student(), _Teacher()
    x, y = _clip_batch()
    alpha, w = 0.6, 5.0
    method = MSKD(student, teacher, T=3, hckd=False, tckd=True, alpha_schedule=lambda epoch: alpha, kd_weight=w)
    norms = output_gradient_norms(method, x, y)
    logits, targets = student(x["frames"]).detach().numpy(), teacher(x).detach().numpy()
    T, N, C = logits.shape
    p, q = _softmax(logits), _softmax(targets)
    # cross entropy averaged over steps and samples: d/dO = (softmax - one-hot) / (T N)
    one_hot = np.eye(C)[y.numpy()][None]
    assert norms["cls"] == pytest.approx((1 - alpha) * np.linalg.norm((p - one_hot) / (T * N)), rel=1e-5)
    # MSE of probabilities over T N C entries, through the softmax Jacobian p_i (delta_ij - p_j)
    diff = p - q
    grad = 2.0 / (T * N * C) * p * (diff - (diff * p).sum(-1, keepdims=True))
    assert norms["tckd"] == pytest.approx(alpha * w * np.linalg.norm(grad), rel=1e-5)
    assert all(param.grad is None for param in student.parameters())                 # nothing was accumulated


def test_seen_teacher_uses_both_modalities():
    torch.manual_seed(0)
    teacher = SEENTeacher(num_classes=7, event_channels=2, input_size=16, widths=(4, 8), hidden=16)
    x = {"frames": torch.rand(4, 3, 1, 16, 16), "events": torch.rand(4, 3, 2, 16, 16) * 3}
    out = teacher(x)
    assert out.shape == (4, 3, 7)
    out.square().sum().backward()
    assert teacher.frame_branch[0].weight.grad.abs().sum() > 0                 # intensity branch is trained
    assert teacher.event_branch[0].weight.grad.abs().sum() > 0                 # event branch is trained
    again = teacher(x)
    assert torch.equal(out.detach(), again.detach())                           # state is reset between calls
    with pytest.raises(ValueError, match="frames"):
        teacher(x["frames"])


def test_intensity_student_sees_each_frame_and_its_change():
    student = IntensityStudent(num_classes=7, input_size=16)
    seen = []
    student.features[0].register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    x = torch.rand(4, 2, 1, 16, 16)
    assert student(x).shape == (4, 2, 7)
    stem = seen[0]                                                              # [T, N, 2, H, W]
    assert torch.equal(stem[:, :, :1], x)
    assert torch.equal(stem[0, :, 1:], torch.zeros_like(x[0])) and torch.allclose(stem[1:, :, 1:], x[1:] - x[:-1])
    with pytest.raises(ValueError, match=r"\[T, N"):
        student(x[0])
    with pytest.raises(ValueError, match="neuron"):
        IntensityStudent(neuron=None)


# ------------------------------------------------------------------------------------------------ clip protocol
class _Clips(torch.utils.data.Dataset):
    """Sample i is the tensor (label, test_seed): a fake model can be right or wrong per pass."""

    def __init__(self):
        self.labels = torch.tensor([0, 1, 2, 0, 1, 2])
        self.conditions = ["normal", "normal", "normal", "low-light", "low-light", "low-light"]
        self.test_seed = 7
        self.info = None

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return torch.tensor([float(self.labels[i]), float(self.test_seed)]), self.labels[i]

    @staticmethod
    def collate_fn(batch):
        return torch.stack([b[0] for b in batch]), torch.stack([b[1] for b in batch])


def test_clip_protocol_averages_passes_conditions_and_steps():
    def sequence_fn(x):                         # step 1 always right; step 2 right on pass 0 only (weight 2)
        label, seed = x[:, 0].long(), x[:, 1]
        right = nn.functional.one_hot(label, 3).float()
        wrong = nn.functional.one_hot((label + 1) % 3, 3).float()
        second = torch.where((seed == 0).unsqueeze(-1), right, wrong)
        return torch.stack([right, 2 * second])

    data = _Clips()
    metrics = clip_protocol(sequence_fn, data, passes=4, batch_size=4)
    # pass 0: mean output right everywhere (100 %); passes 1-3: 2*wrong outweighs right (0 %)
    assert metrics["war"] == pytest.approx(25.0) and metrics["uar"] == pytest.approx(25.0)
    assert metrics["acc/normal"] == pytest.approx(25.0) and metrics["acc/low-light"] == pytest.approx(25.0)
    assert metrics["step1"] == pytest.approx(100.0) and metrics["step2"] == pytest.approx(25.0)
    assert data.test_seed == 7                                                  # restored
    data.random_crop = False
    assert clip_protocol(sequence_fn, data, passes=4)["war"] == pytest.approx(100.0)   # one (fixed) pass: seed 0
    with pytest.raises(ValueError, match="passes"):
        clip_protocol(sequence_fn, data, passes=0)


# ------------------------------------------------------------------------------------------------- end to end
def test_distilled_student_learns_on_the_eye_set(tmp_path, monkeypatch):
    """A teacher trained briefly on both modalities, then an intensity-only student distilled from it: the
    student's loss falls and the teacher beats chance."""
    from snnlab.data import get_dataset
    from snnlab.methods import TET

    monkeypatch.setenv("SNNLAB_DATA", str(tmp_path))
    options = dict(train_per_class=12, test_per_class=4, size=16)
    train, test = get_dataset("eye", "train", **options), get_dataset("eye", "test", **options)
    config = dict(epochs=3, batch_size=16, lr=3e-3, progress=False, seed=0)
    torch.manual_seed(0)
    teacher = SEENTeacher(num_classes=7, input_size=16, widths=(8, 16), hidden=32)
    Trainer(TET(teacher, 4), train, test, TrainConfig(**config)).fit()
    student = IntensityStudent(num_classes=7, input_size=16)
    method = MSKD(student, teacher, T=4, alpha_schedule=lambda epoch: 0.5)
    history = Trainer(method, train, test, TrainConfig(**{**config, "epochs": 4})).fit()
    assert history[-1]["loss"] < history[0]["loss"]
    assert history[-1]["loss/cls"] < history[0]["loss/cls"]
    assert all(np.isfinite(r["loss/hckd"]) and np.isfinite(r["loss/tckd"]) for r in history)


def test_committed_book_record_has_every_metric_the_chapter_shows():
    """(That the record's setting is the book preset's is checked for every record in tests/test_records.py.)"""
    import json
    from pathlib import Path

    from snnlab.repro.papers.mskd import ARMS

    record = json.loads((Path(__file__).resolve().parents[1] / "results" / "mskd-book.json").read_text())
    for arm in ARMS:
        metrics = record["arms"][arm]["metrics"]
        assert {"war", "uar", "acc/normal", "acc/overexposure", "acc/low-light", "acc/HDR", "step1", "params",
                "energy_pj"} <= set(metrics)
        assert metrics["war"]["per_seed"] == record["arms"][arm]["per_seed"]
        if arm.startswith("student"):
            assert {"grad_cls_start", "grad_cls_end"} <= set(metrics)


def test_paper_preset_runs_on_a_see_folder(tmp_path):
    """The paper preset (SEE reader, SEEN settings, random-crop passes) runs end to end on SEE's released layout."""
    from test_data_real import make_see

    from snnlab.repro.papers.mskd import ARMS, PRESETS, run_seed

    make_see(tmp_path)
    paper = PRESETS["paper"]
    settings = {**paper, "data_options": {**paper["data_options"], "root": str(tmp_path)},
                "teacher": {**paper["teacher"], "train": {**paper["teacher"]["train"], "epochs": 1, "batch_size": 2}},
                "train": {**paper["train"], "epochs": 2, "batch_size": 2}, "passes": 3}
    results = run_seed(settings, seed=0, progress=False)
    assert all(isinstance(results[arm]["network"], torch.nn.Module) for arm in ARMS[:2])  # kept by the record
    assert set(results) == set(ARMS)
    for arm, result in results.items():
        metrics = result["metrics"]
        assert 0.0 <= metrics["war"] <= 100.0 and len(result["curve"]) == (1 if arm == "teacher" else 2)
        assert {"acc/HDR", "acc/normal", "step4", "energy_pj", "params"} <= set(metrics)
    assert results["teacher"]["metrics"]["params"] > 4 * results["student"]["metrics"]["params"]
    params = {arm: results[arm]["metrics"]["params"] for arm in ("student", "intensity-teacher", "teacher")}
    assert 3 * params["student"] < params["intensity-teacher"] < params["teacher"]
    terms = {"student": {"cls"}, "student+tckd": {"cls", "tckd"}, "student+hckd": {"cls", "hckd"},
             "student+both": {"cls", "hckd", "tckd"}}
    for arm, names in terms.items():
        measured = {key for key in results[arm]["metrics"] if key.startswith("grad_")}
        assert measured == {f"grad_{name}_{when}" for name in names for when in ("start", "end")}
        assert results[arm]["metrics"]["grad_cls_start"] > 0


def test_premise_is_the_teachers_margin_and_what_intensity_frames_carry_is_a_diagnostic():
    """The premise is measured on arms that are not the method's output: the multimodal teacher against the
    intensity student trained alone (at least 3 points, its interval excluding 0). The intensity-only network of the
    teacher's size is reported beside the verdict, with its interval."""
    from snnlab.repro import get_reproduction
    from snnlab.repro.protocol import judge

    reproduction = get_reproduction("mskd")
    student = [40.0, 41.0, 39.0, 40.0, 40.0]

    def arms(teacher, intensity_teacher):
        values = {"teacher": teacher, "intensity-teacher": intensity_teacher, "student": student,
                  "student+both": student, "student+tckd": student, "student+hckd": student}
        return {arm: {"per_seed": v, "mean": sum(v) / len(v), "metrics": {"acc/low-light": {"per_seed": v}}}
                for arm, v in values.items()}

    strong = arms([52.0, 53.0, 51.0, 52.0, 52.0], [41.0, 42.0, 40.0, 41.5, 40.5])
    assert reproduction.premise.assess(strong)["status"] == "holds"
    assert reproduction.premise.assess(strong)["measured"] == pytest.approx(12.0)
    carries = judge(reproduction.protocol("book"), strong)["diagnostics"]["intensity-carries"]
    assert carries["mean"] == pytest.approx(1.0) and carries["ci"][0] < carries["mean"] < carries["ci"][1]
    weak = arms([41.0, 41.5, 40.5, 41.0, 41.0], [60.0] * 5)     # the intensity network does not rescue it
    assert reproduction.premise.assess(weak)["status"] == "fails"
