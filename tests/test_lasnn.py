"""LaSNN: attention maps and the attention loss against independent computations, SAM by spike times, threshold
balancing against loops and SpikingJelly's ann2snn, conversion reproducing the small ANN at large T, the teacher's
gradient attention, the single-run accuracy-vs-T readout, a smoke run that learns and the committed book record."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from snnlab.conversion.threshold_balance import (balanced_thresholds, convert_by_threshold_balancing, readout_layer,
                                                 max_activations, neuron_paths)
from snnlab.encoding import poisson
from snnlab.losses.attention import (activation_attention, attention_distance, attention_loss, gradient_attention,
                                     normalized_attention, spike_activation_map)
from snnlab.methods.base import ANNClassification
from snnlab.methods.lasnn import LaSNN, attention_levels
from snnlab.models import SmallCNN
from snnlab.models.plain import ConversionCNN
from snnlab.neurons import neuron_spec
from snnlab.repro.papers.lasnn import accuracy_by_steps, steps_to_reach
from snnlab.train import TrainConfig, Trainer

IF_SOFT = neuron_spec("if", v_reset=None, surrogate="triangle", alpha=1.0)


# ------------------------------------------------------------------------------------------------ attention
def test_activation_and_gradient_attention_against_loops():
    g = torch.Generator().manual_seed(0)
    f = torch.randn(2, 3, 4, 5, generator=g)
    ref_a, ref_g = np.zeros((2, 4, 5)), np.zeros((2, 4, 5))
    for n, c, h, w in np.ndindex(*f.shape):
        ref_a[n, h, w] += f[n, c, h, w].item() ** 2
        ref_g[n, h, w] += abs(f[n, c, h, w].item())
    assert np.allclose(activation_attention(f).numpy(), ref_a, atol=1e-6)
    assert np.allclose(gradient_attention(f).numpy(), ref_g, atol=1e-6)


def test_spike_activation_map_sums_decayed_earlier_spike_times():
    g = torch.Generator().manual_seed(1)
    spikes = (torch.rand(6, 2, 3, 2, 2, generator=g) < 0.5).double()
    gamma = 0.7
    ref = np.zeros((2, 2, 2))
    for n, c, h, w in np.ndindex(2, 3, 2, 2):
        times = [t for t in range(6) if spikes[t, n, c, h, w] == 1]
        for t in times:
            ref[n, h, w] += sum(math.exp(-gamma * (t - tk)) for tk in times if tk < t)
    assert np.allclose(spike_activation_map(spikes, gamma).numpy(), ref)
    single = torch.zeros(4, 1, 1, 1, 1)
    single[2] = 1.0
    assert spike_activation_map(single).item() == 0.0                     # a lone spike has no earlier spike


def test_attention_distance_against_numpy_and_resizing():
    g = torch.Generator().manual_seed(2)
    s, t = torch.rand(3, 4, 4, generator=g), torch.rand(3, 4, 4, generator=g)
    a, b = s.flatten(1).numpy(), t.flatten(1).numpy()
    ref = np.mean([np.linalg.norm(b[n] / np.linalg.norm(b[n]) - a[n] / np.linalg.norm(a[n])) for n in range(3)])
    assert attention_distance(s, t).item() == pytest.approx(ref, rel=1e-6)
    assert attention_loss([s, s], [t, t]).item() == pytest.approx(2 * ref, rel=1e-6)
    small = torch.rand(3, 2, 2, generator=g)
    resized = F.interpolate(small.unsqueeze(1), size=(4, 4), mode="bilinear", align_corners=False).squeeze(1)
    assert attention_distance(small, t).item() == pytest.approx(attention_distance(resized, t).item(), rel=1e-6)
    assert attention_distance(t, t * 3.0).item() == pytest.approx(0.0, abs=1e-6)   # scale-free


def test_attention_losses_have_correct_gradients():
    g = torch.Generator().manual_seed(3)
    spikes = torch.rand(3, 2, 2, 3, 3, generator=g, dtype=torch.float64, requires_grad=True)
    teacher = torch.rand(2, 3, 3, generator=g, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda s: attention_distance(spike_activation_map(s), teacher), (spikes,))
    assert torch.autograd.gradcheck(lambda s: attention_distance(activation_attention(s.mean(0)), teacher), (spikes,))


def test_a_silent_student_map_counts_as_distance_one_without_gradient():
    """A sample whose SAM is zero (no neuron fired twice) has no attention direction: its distance to any teacher map
    is 1 and it passes no gradient (dividing by a clamped norm would scale its surrogate gradient by 1e12)."""
    teacher = torch.rand(2, 3, 3, generator=torch.Generator().manual_seed(4))
    spikes = torch.zeros(4, 2, 2, 3, 3)
    spikes[1, 0, 0, 0, 0] = 1.0        # sample 0: one lone spike, a zero map whose derivative in later spikes is not
    spikes[:, 1, 0, 0, 0] = 1.0                                            # sample 1 fires at every step
    spikes.requires_grad_(True)
    distance = attention_distance(spike_activation_map(spikes), teacher)
    distance.backward()
    silent = 1.0
    active = (normalized_attention(teacher)[1] - normalized_attention(spike_activation_map(spikes.detach()))[1]).norm()
    assert distance.item() == pytest.approx((silent + active.item()) / 2)
    assert spikes.grad[:, 0].abs().max().item() == 0.0 and torch.isfinite(spikes.grad).all()


# ------------------------------------------------------------------------------------------- conversion
def _train_small_ann(train, test, epochs=6):
    torch.manual_seed(0)
    ann = ConversionCNN(4, 1, 8, cfg=(8, "P", 8, "P"), neuron=None)
    Trainer(ANNClassification(ann), train, test, TrainConfig(epochs=epochs, lr=1e-2, batch_size=16,
                                                             progress=False)).fit()
    return ann.eval()


def test_max_activations_and_thresholds_against_a_direct_computation(tiny_images):
    train, _ = tiny_images
    torch.manual_seed(1)
    ann = ConversionCNN(4, 1, 8, cfg=(4, "P", 6, "P"), neuron=None).eval()
    maxima = max_activations(ann, DataLoader(train, batch_size=10))
    x = torch.stack([train[i][0] for i in range(len(train))])
    with torch.no_grad():
        a1 = torch.relu(ann.features[0](x))
        a2 = torch.relu(ann.features[3](ann.features[2](a1)))
    assert maxima == pytest.approx([a1.max().item(), a2.max().item()], rel=1e-6)
    assert balanced_thresholds(maxima) == pytest.approx([maxima[0], maxima[1] / maxima[0]])
    with pytest.raises(ValueError, match="active"):
        balanced_thresholds([1.0, 0.0])


def test_maxima_equal_spikingjelly_ann2snn_scales_on_one_calibration_batch(tiny_images):
    from spikingjelly.activation_based import ann2snn

    train, _ = tiny_images
    torch.manual_seed(2)
    ann = ConversionCNN(4, 1, 8, cfg=(4, "P", 6, "P"), neuron=None).eval()
    plain = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.ReLU(), nn.AvgPool2d(2),
                          nn.Conv2d(4, 6, 3, padding=1, bias=False), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
                          nn.Linear(24, 4, bias=False))
    plain.load_state_dict({k.replace("features.", "").replace("classifier.1", "7"): v
                           for k, v in ann.state_dict().items()})
    batch = next(iter(DataLoader(train, batch_size=len(train))))
    converted = ann2snn.Converter(recipe=ann2snn.RateCodingRecipe([batch], mode="Max"), device="cpu").convert(plain)
    scales = [m.scale for name, m in converted.named_modules() if name.endswith("scaler1")]
    assert max_activations(ann, [batch]) == pytest.approx([float(s) for s in scales], rel=1e-5)


def test_conversion_reproduces_the_small_ann_at_large_T(tiny_images):
    train, test = tiny_images
    ann = _train_small_ann(train, test)
    snn = ConversionCNN(4, 1, 8, cfg=(8, "P", 8, "P"), neuron=IF_SOFT)
    thresholds = convert_by_threshold_balancing(ann, snn, DataLoader(train, batch_size=32))
    modules = dict(snn.named_modules())
    assert [modules[p].v_threshold for p in neuron_paths(snn)] == pytest.approx(thresholds)
    x = torch.stack([test[i][0] for i in range(len(test))])
    y = torch.tensor([test[i][1] for i in range(len(test))])
    with torch.no_grad():
        ann_pred = ann(x).argmax(1)
    ann_acc = 100.0 * (ann_pred == y).float().mean().item()
    assert ann_acc > 80.0
    acc_1, acc_512 = accuracy_by_steps(snn, test, (1, 512), seed=0, batch_size=48)
    assert acc_512 == pytest.approx(ann_acc, abs=2.1) and acc_1 < acc_512   # one test image is ~2.1 pp
    with torch.no_grad():
        agreement = (snn(poisson(x, 512, torch.Generator().manual_seed(0))).mean(0).argmax(1) == ann_pred)
    assert agreement.float().mean().item() >= 0.95
    with torch.no_grad():                   # the readout is rescaled: the mean output estimates the logits themselves
        logits, rates = ann(x), snn(poisson(x, 512, torch.Generator().manual_seed(1))).mean(0)
    assert (rates - logits).norm() / logits.norm() < 0.1
    assert readout_layer(snn) is snn.classifier[-1]


def test_conversion_rejects_biases_and_batch_norm(tiny_images):
    loader = DataLoader(tiny_images[0], batch_size=32)
    with pytest.raises(ValueError, match="batch norm"):
        convert_by_threshold_balancing(SmallCNN(4, 1, width=4, neuron=None), SmallCNN(4, 1, width=4), loader)
    biased = ConversionCNN(4, 1, 8, cfg=(4, "P"), neuron=None)
    biased.classifier[-1].bias = nn.Parameter(torch.zeros(4))
    with pytest.raises(ValueError, match="bias-free"):
        convert_by_threshold_balancing(biased, ConversionCNN(4, 1, 8, cfg=(4, "P")), loader)


# ----------------------------------------------------------------------------------------------- method
def test_readout_by_steps_equals_separate_runs_on_the_same_spikes(tiny_images):
    _, test = tiny_images
    torch.manual_seed(3)
    snn = ConversionCNN(4, 1, 8, cfg=(4, "P"), neuron=IF_SOFT).eval()
    curve = accuracy_by_steps(snn, test, (2, 5), seed=7, batch_size=48)
    from snnlab.reproducibility import derived_seed

    x = torch.stack([test[i][0] for i in range(len(test))])
    y = torch.tensor([test[i][1] for i in range(len(test))])
    spikes = poisson(x, 5, torch.Generator().manual_seed(derived_seed(7, 0)))
    with torch.no_grad():
        separate = [100.0 * (snn(spikes[:T]).mean(0).argmax(1) == y).float().mean().item() for T in (2, 5)]
    assert curve == pytest.approx(separate)
    assert steps_to_reach((1, 2, 4), (50.0, 70.0, 90.0), 65.0) == (2.0, True)
    assert steps_to_reach((1, 2), (50.0, 60.0), 99.0) == (2.0, False)


def test_teacher_gradient_attention_and_loss_terms(tiny_images):
    train, _ = tiny_images
    torch.manual_seed(4)
    teacher = SmallCNN(4, 1, width=4, neuron=None).eval()
    student = ConversionCNN(4, 1, 8, cfg=(4, "P", 4, "P", 4, "P"), neuron=IF_SOFT)
    assert attention_levels(student, teacher) == (("features.1", "features.2"), ("features.4", "features.5"),
                                                  ("features.7", "features.9"))
    method = LaSNN(student, teacher, T=4, alpha=0.5, beta=2.0, beta_grad=3.0)
    x, y = next(iter(DataLoader(train, batch_size=8)))
    logits, act, grad = method.teacher_signals(x, y)
    features = {}
    hook = teacher.features[5].register_forward_hook(lambda m, a, o: features.__setitem__("mid", o))
    out = teacher(x.clone().requires_grad_(True))         # frozen weights: the graph runs through the input
    hook.remove()
    (g_mid,) = torch.autograd.grad(F.cross_entropy(out, y), features["mid"])
    assert torch.allclose(grad[1], g_mid.abs().sum(1)) and torch.allclose(act[1], features["mid"].pow(2).sum(1))
    assert all(not p.requires_grad for p in teacher.parameters())
    _, losses = method(x, y)
    assert set(losses) == {"ce", "kd", "at", "gat"} and all(torch.isfinite(v) for v in losses.values())
    logit_kd_only = LaSNN(student, teacher, T=4, beta=0.0, beta_grad=0.0)
    assert set(logit_kd_only(x, y)[1]) == {"ce", "kd"}
    only_ce = LaSNN(student, None, T=4)
    assert set(only_ce(x, y)[1]) == {"ce"}
    with pytest.raises(ValueError, match="attention"):
        LaSNN(student, teacher, attention="saliency")


def test_smoke_run_learns_from_the_converted_initialisation(tiny_images):
    train, test = tiny_images
    torch.manual_seed(5)
    teacher = SmallCNN(4, 1, width=8, neuron=None)
    Trainer(ANNClassification(teacher), train, test, TrainConfig(epochs=6, lr=1e-2, batch_size=16,
                                                                progress=False)).fit()
    ann = _train_small_ann(train, test, epochs=2)
    snn = ConversionCNN(4, 1, 8, cfg=(8, "P", 8, "P"), neuron=IF_SOFT)
    convert_by_threshold_balancing(ann, snn, DataLoader(train, batch_size=32))
    levels = (("features.1", "features.2"), ("features.3", "features.5"))
    method = LaSNN(snn, teacher, T=4, levels=levels)
    history = Trainer(method, train, test, TrainConfig(epochs=4, lr=3e-3, batch_size=16, progress=False)).fit()
    assert history[-1]["loss"] < history[0]["loss"]
    assert history[-1]["test_acc"] > 60.0                                   # chance is 25 %


def test_paper_preset_runs_on_cifar10_files(tmp_path):
    """The paper preset's pipeline (CIFAR-10, ResNet-18 teacher, conversion-friendly student with dropout, SGD)
    runs end to end on CIFAR's file format; networks, T and sweeps are scaled down to keep the test short."""
    from test_data_real import make_cifar

    from snnlab.repro.papers.lasnn import ARMS, PRESETS, run_seed

    make_cifar(tmp_path / "cifar-10-batches-py")
    paper = PRESETS["paper"]
    one_epoch = dict(epochs=1, batch_size=8)
    settings = {**paper, "data_options": {**paper["data_options"], "root": str(tmp_path), "download": False},
                "teacher": {**paper["teacher"], "model_options": {**paper["teacher"]["model_options"],
                                                                  "width_mult": 0.0625},
                            "train": {**paper["teacher"]["train"], **one_epoch}},
                "student": {**paper["student"], "cfg": (8, "P", 8, "P", 8, "P")},
                "ann_train": {**paper["ann_train"], **one_epoch}, "train": {**paper["train"], **one_epoch},
                "T": 2, "sweep": (1, 2, 4), "student_sweep": (1, 2)}
    results = run_seed(settings, seed=0, progress=False)
    assert all(isinstance(results[arm]["network"], torch.nn.Module) for arm in ARMS[:2])  # kept by the record
    assert set(results) == set(ARMS) | {f"lasnn-lr{rate:g}" for rate in paper["lr_sweep"]}
    assert len(results["converted"]["curve"]) == 3 and len(results["lasnn"]["curve"]) == 2
    assert results["lasnn"]["metrics"]["energy_pj"] > 0 and results["teacher"]["metrics"]["firing_rate"] == 0.0


def test_committed_book_record_has_the_metrics_the_chapter_shows():
    """(That the record's setting is the book preset's is checked for every record in tests/test_records.py.)"""
    from snnlab.repro.papers.lasnn import ARMS, PRESETS

    record = json.loads((Path(__file__).resolve().parents[1] / "results" / "lasnn-book.json").read_text())
    assert set(record["arms"]) == set(ARMS) | {f"lasnn-lr{rate:g}" for rate in PRESETS["book"]["lr_sweep"]}
    assert {"latency_ratio", "converted_steps_to_match", "energy_pj", "firing_rate"} <= set(
        record["arms"]["lasnn"]["metrics"])
