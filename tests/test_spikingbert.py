"""SpikingBERT: spiking attention at equilibrium, two-stage KD, Norm#OPS, the reproduction's presets."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import snnlab.repro.papers.spikingbert as repro_spikingbert
from snnlab.energy import MAC_AC_COST_RATIO
from snnlab.implicit import asr_map, simulate_if
from snnlab.methods.spikingbert import SpikingBERTKD, internal_kd_losses, layer_map, spikingbert_energy
from snnlab.models.transformer import (SpikingBERTStudent, TransformerClassifier, attention_probabilities,
                                       padding_mask)
from snnlab.repro import get_reproduction, run, stale_differences

VOCAB = 20


def _ids(n=4, length=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(4, VOCAB, (n, length), generator=g)
    ids[:, 0] = 1                                      # [CLS]
    for i in range(n):
        ids[i, length - i:] = 0                        # right padding of different lengths
    return ids


def test_layer_map_is_tinybert_uniform():
    assert layer_map(2, 4) == [1, 3]
    assert layer_map(4, 12) == [2, 5, 8, 11]
    assert layer_map(1, 1) == [0]
    with pytest.raises(ValueError, match="teacher layers"):
        layer_map(3, 2)


def test_attention_probabilities_match_an_explicit_masked_softmax():
    g = torch.Generator().manual_seed(1)
    q, k = torch.randn(3, 5, 8, generator=g), torch.randn(3, 5, 8, generator=g)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]], dtype=torch.bool)
    probs = attention_probabilities(q, k, mask, heads=2)
    for n in range(3):
        real = int(mask[n].sum())
        for h in range(2):
            qh, kh = q[n, :, 4 * h:4 * h + 4], k[n, :real, 4 * h:4 * h + 4]
            expected = torch.softmax(qh @ kh.T / 2.0, dim=-1)
            assert torch.allclose(probs[n, h, :, :real], expected, atol=1e-6)
            assert torch.all(probs[n, h, :, real:] == 0)


def test_padding_mask_rejects_non_token_input():
    with pytest.raises(ValueError, match="token ids"):
        padding_mask(torch.rand(2, 3))


def test_student_runs_at_equilibrium_with_implicit_gradients():
    torch.manual_seed(0)
    student = SpikingBERTStudent(VOCAB, 2, max_len=8, dim=8, heads=2, layers=2, ffn=16, t_conv=10)
    ids = _ids()
    logits, internals = student(ids, internals=True)
    assert logits.shape == (4, 2)
    assert [a.shape for a in internals["scores"]] == [(4, 2, 7, 7)] * 2
    assert [h.shape for h in internals["hidden"]] == [(4, 7, 8)] * 2
    assert internals["embedding"].shape == (4, 7, 8)
    rates = student.last_rates
    assert set(rates) == {f"layer{i}.{g}" for i in range(2) for g in ("k", "v", "o", "h", "out")}
    # rates are spike counts over 10 steps: multiples of 1/10 in [0, 1]
    for r in rates.values():
        assert r.min() >= 0 and r.max() <= 1 and torch.allclose(r * 10, (r * 10).round(), atol=1e-4)
    F.cross_entropy(logits, torch.tensor([0, 1, 0, 1])).backward()
    assert student.last_stats.backward is not None and student.last_stats.backward.converged
    assert student.q[0].weight.grad.abs().sum() > 0 and student.embedding.token.weight.grad.abs().sum() > 0


def _simulated_rates(student, ids):
    """The student's simulated average spiking rates ``[N, L, sum(widths)]``, from its drive, outside its forward."""
    mask = padding_mask(ids)
    with torch.no_grad():
        embedded = student.embedding(ids)
        like = embedded.new_zeros(*ids.shape, sum(student.widths))
        rates, _ = simulate_if(lambda s: student.drive(s, embedded, mask), like, student.t_conv)
    return rates, embedded, mask


def _mean_over_tokens(x, mask):
    weights = mask[..., None].float()
    return (x * weights).sum(1) / weights.sum(1)


def test_classifier_reads_the_simulated_rates():
    """The logits are the classifier applied to the simulated rates of the last output group, at inference and in
    training (where the implicit gradient still reaches the weights), not to the rate map f of them."""
    torch.manual_seed(7)
    student = SpikingBERTStudent(VOCAB, 2, max_len=8, dim=8, heads=2, layers=2, ffn=16, t_conv=12, pool="mean")
    ids = _ids(seed=8)
    rates, embedded, mask = _simulated_rates(student, ids)
    with torch.no_grad():
        expected = student.classifier(_mean_over_tokens(rates[..., -8:], mask))
        mapped = asr_map(lambda a: student.drive(a, embedded, mask))(rates)
        from_map = student.classifier(_mean_over_tokens(mapped[..., -8:], mask))
    assert (expected - from_map).abs().max() > 1e-3          # the two read-outs differ here
    student.eval()
    with torch.no_grad():
        assert torch.allclose(student(ids), expected, atol=1e-6)
    student.train()
    logits = student(ids)
    assert torch.allclose(logits, expected, atol=1e-6)
    F.cross_entropy(logits, torch.tensor([0, 1, 0, 1])).backward()
    assert student.ffn2[0].weight.grad.abs().sum() > 0


def test_internals_are_embeddings_and_pre_softmax_scores():
    """Teacher: the embedding layer's output and ``q_h k_h^T / sqrt(d_h)`` of its own projections; student: the
    embedding current and ``(W_q u) a_k^T / sqrt(d_h)`` with the simulated key rates."""
    torch.manual_seed(9)
    ids = _ids(seed=10)
    teacher = TransformerClassifier(VOCAB, 2, max_len=8, dim=8, heads=2, layers=2, ffn=16).eval()
    with torch.no_grad():
        _, internals = teacher(ids, internals=True)
        embedding = teacher.norm(teacher.embedding.token(ids) + teacher.embedding.position.weight[:7])
        q, k, _ = teacher.layers[0].qkv(embedding).chunk(3, dim=-1)
    assert torch.allclose(internals["embedding"], embedding, atol=1e-6)
    for h in range(2):
        expected = q[..., 4 * h:4 * h + 4] @ k[..., 4 * h:4 * h + 4].transpose(1, 2) / 2.0
        assert torch.allclose(internals["scores"][0][:, h], expected, atol=1e-5)
    student = SpikingBERTStudent(VOCAB, 2, max_len=8, dim=8, heads=2, layers=1, ffn=16, t_conv=10)
    rates, embedded, _ = _simulated_rates(student, ids)
    with torch.no_grad():
        _, internals = student(ids, internals=True)
        q = student.q[0](embedded)
    assert torch.equal(internals["embedding"], embedded)
    for h in range(2):
        expected = q[..., 4 * h:4 * h + 4] @ rates[..., 4 * h:4 * h + 4].transpose(1, 2) / 2.0
        assert torch.allclose(internals["scores"][0][:, h], expected, atol=1e-5)


def test_student_rates_approach_the_fixed_point_of_the_rate_map():
    """The simulated ASR approximately satisfies a = clamp(drive(a)/V_th, 0, 1); with spiking keys and values inside
    a softmax the match is approximate (SpikingBERT's argument), and it improves with more steps."""
    torch.manual_seed(2)
    student = SpikingBERTStudent(VOCAB, 2, max_len=8, dim=8, heads=2, layers=1, ffn=16)
    ids = _ids(seed=3)
    mask = padding_mask(ids)
    gaps = []
    for t_conv in (4, 64):
        student.t_conv = t_conv
        with torch.no_grad():
            student(ids)
            embedded = student.embedding(ids)
            packed = torch.cat([student.last_rates[f"layer0.{g}"] for g in student.GROUPS], dim=-1)
            mapped = asr_map(lambda a: student.drive(a, embedded, mask))(packed)
        gaps.append(((mapped - packed).abs() * mask[..., None]).sum().item() / (mask.sum().item() * packed.shape[-1]))
    assert gaps[1] < gaps[0] and gaps[1] < 0.05, gaps


def test_internal_kd_losses_match_an_explicit_computation():
    """Scores: squared differences summed over real query rows and real keys (padded keys count 0 in both), divided
    by rows x heads x all keys; embedding and hidden states: over real tokens, through the same linear map."""
    g = torch.Generator().manual_seed(4)
    mask = padding_mask(_ids(n=3, length=5))
    s_scores = [4 * torch.randn(3, 2, 5, 5, generator=g) for _ in range(2)]
    t_scores = [4 * torch.randn(3, 2, 5, 5, generator=g) for _ in range(4)]
    s_hid = [torch.rand(3, 5, 4, generator=g) for _ in range(2)]
    t_hid = [torch.randn(3, 5, 6, generator=g) for _ in range(4)]
    s_emb, t_emb = torch.randn(3, 5, 4, generator=g), torch.randn(3, 5, 6, generator=g)
    hidden_map = torch.nn.Linear(4, 6)
    student = {"scores": s_scores, "hidden": s_hid, "embedding": s_emb}
    teacher = {"scores": t_scores, "hidden": t_hid, "embedding": t_emb}
    losses = internal_kd_losses(student, teacher, mask, hidden_map, [1, 3])
    rows = [(n, i) for n in range(3) for i in range(5) if mask[n, i]]
    att = hid = 0.0
    for l, m in enumerate([1, 3]):
        att += sum(float((s_scores[l][n, h, i, j] - t_scores[m][n, h, i, j]) ** 2)
                   for n, i in rows for h in range(2) for j in range(5) if mask[n, j]) / (len(rows) * 2 * 5)
        hid += sum(((hidden_map(s_hid[l][n, i]) - t_hid[m][n, i]) ** 2).sum() for n, i in rows) / (len(rows) * 6)
    emb = sum(((hidden_map(s_emb[n, i]) - t_emb[n, i]) ** 2).sum() for n, i in rows) / (len(rows) * 6)
    assert set(losses) == {"attention", "embedding", "hidden"}
    assert torch.allclose(losses["attention"], torch.tensor(att), rtol=1e-5)
    assert torch.allclose(losses["hidden"], hid, atol=1e-5)
    assert torch.allclose(losses["embedding"], emb, atol=1e-5)
    with pytest.raises(ValueError, match="same number of heads"):
        internal_kd_losses(student, {**teacher, "scores": [a[:, :1] for a in t_scores]}, mask, hidden_map, [1, 3])


def test_two_stage_kd_switches_losses_and_leaves_the_teacher_alone():
    torch.manual_seed(5)
    teacher = TransformerClassifier(VOCAB, 2, max_len=8, dim=12, heads=2, layers=4, ffn=16)
    student = SpikingBERTStudent(VOCAB, 2, max_len=8, dim=8, heads=2, layers=2, ffn=16, t_conv=6)
    method = SpikingBERTKD(student, teacher, ikd_epochs=1)
    assert method.mapping == [1, 3]
    before = [p.clone() for p in teacher.parameters()]
    ids, y = _ids(), torch.tensor([0, 1, 1, 0])
    method.train()
    method.on_epoch_start(1)
    _, losses = method(ids, y)
    assert set(losses) == {"attention", "embedding", "hidden"} and not teacher.training
    sum(losses.values()).backward()
    assert method.hidden_map.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in teacher.parameters())
    method.on_epoch_start(2)
    logits, losses = method(ids, y)
    assert set(losses) == {"prediction"}
    with torch.no_grad():
        expected = -(torch.softmax(teacher(ids), -1) * torch.log_softmax(logits, -1)).sum(-1).mean()
    assert torch.allclose(losses["prediction"], expected, atol=1e-6)
    assert all(torch.equal(a, b) for a, b in zip(before, teacher.parameters()))


def test_norm_ops_and_energy_ratio_follow_the_papers_formula():
    torch.manual_seed(6)
    student = SpikingBERTStudent(VOCAB, 2, max_len=8, dim=8, heads=2, layers=2, ffn=16, t_conv=8)
    ids = _ids()
    report = spikingbert_energy(student, ids)
    layers = student.weight_layers(report["rates"], ids.shape[1])
    per_step = sum(r * o for _, r, o in layers) / sum(o for _, _, o in layers)
    assert math.isclose(report["norm_ops_per_step"], per_step, rel_tol=1e-9) and 0 < per_step < 1
    assert math.isclose(report["energy_ratio_per_step"], MAC_AC_COST_RATIO / per_step, rel_tol=1e-9)
    # per inference: each group's mean spike count per neuron over the 8 steps (real tokens), analog inputs 8
    real = padding_mask(ids)[..., None].float()
    counts = {name: float(((r * 8).round() * real).sum() / (real.sum() * r.shape[-1]))
              for name, r in student.last_rates.items()}
    analog = {"layer0.q", "layer0.k", "layer0.v", "layer0.o", "layer1.o"}
    spiking = student.weight_layers(counts, ids.shape[1])
    per_inference = (sum((8 if name in analog else c) * o for name, c, o in spiking)
                     / sum(o for _, _, o in spiking))
    assert math.isclose(report["norm_ops_per_inference"], per_inference, rel_tol=1e-6)
    assert math.isclose(report["norm_ops_per_inference"], 8 * per_step, rel_tol=1e-6)
    assert math.isclose(report["energy_ratio_per_inference"], MAC_AC_COST_RATIO / per_inference, rel_tol=1e-6)
    # an ANN (every rate 1) has Norm#OPS = 1
    ones = {name: 1.0 for name in report["rates"]}
    assert math.isclose(sum(r * o for _, r, o in student.weight_layers(ones, 7))
                        / sum(o for _, _, o in student.weight_layers(ones, 7)), 1.0)
    student.gamma = 0.9
    with pytest.raises(ValueError, match="gamma = 1"):
        spikingbert_energy(student, ids)


def test_the_student_learns_in_a_smoke_run():
    """A small student trained with implicit gradients on 128 sentences of the embedded text set fits them."""
    from snnlab.data import get_dataset

    train = get_dataset("text", "train", train_size=128, test_size=64)
    torch.manual_seed(0)
    student = SpikingBERTStudent(train.info.extra["vocab_size"], 2, dim=16, heads=2, layers=1, ffn=32, t_conv=8,
                                 pool="mean")
    optimizer = torch.optim.Adam(student.parameters(), lr=1e-2)
    losses = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)            # tiny model: one thread is faster and immune to oversubscribed cores
    try:
        for _ in range(15):
            for batch in torch.randperm(128).split(32):
                loss = F.cross_entropy(student(train.ids[batch]), train.labels[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
    finally:
        torch.set_num_threads(threads)
    with torch.no_grad():
        accuracy = (student(train.ids).argmax(-1) == train.labels).float().mean().item()
    assert sum(losses[-4:]) / 4 < 0.8 * sum(losses[:4]) / 4, losses
    assert accuracy > 0.75, accuracy


def test_smoke_reproduction_runs_end_to_end():
    record = run("spikingbert", "smoke", out=None, progress=False)
    assert tuple(record["arms"]) == repro_spikingbert.ARMS
    t_conv = record["setting"]["model_options"]["t_conv"]
    for arm in ("kd", "no-kd"):
        metrics = {key: value["mean"] for key, value in record["arms"][arm]["metrics"].items()}
        assert 0 < metrics["norm_ops_per_step"] <= 1
        assert math.isclose(metrics["norm_ops_per_inference"], t_conv * metrics["norm_ops_per_step"], rel_tol=1e-9)
        for unit in ("step", "inference"):
            assert math.isclose(metrics[f"energy_ratio_per_{unit}"],
                                MAC_AC_COST_RATIO / metrics[f"norm_ops_per_{unit}"], rel_tol=1e-9)
    assert record["effect"]["of"] == "kd - no-kd"


def test_paper_preset_explains_what_to_download():
    settings = get_reproduction("spikingbert").settings("paper")
    assert settings["dataset"] == "sst2" and settings["model_options"]["t_conv"] == 80
    with pytest.raises(repro_spikingbert.PaperResourcesMissing, match="SST-2") as error:
        repro_spikingbert.run_seed(settings, 0, False)
    assert "bert-base" in str(error.value).lower() and "gluebenchmark" in str(error.value)


def test_committed_book_record_has_the_energy_metrics():
    """The chapter reads these metrics from the committed record. A record made with another setting than the book
    preset awaits its re-run (tests/test_records.py lists it) and is expected to miss them."""
    record = json.loads((Path(__file__).resolve().parents[1] / "results" / "spikingbert-book.json").read_text())
    stale = stale_differences(record["setting"], get_reproduction("spikingbert").settings("book"))
    if stale:
        pytest.xfail(f"the book record awaits a re-run at the current preset ({'; '.join(stale)})")
    assert tuple(record["arms"]) == repro_spikingbert.ARMS
    for arm in ("kd", "no-kd"):
        assert {"params", "mean_rate", *repro_spikingbert.ENERGY_METRICS} <= set(record["arms"][arm]["metrics"])
