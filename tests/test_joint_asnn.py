"""Joint A-SNN: the factorised convolution against the original one and against the SVD's gradient formula, the
twins' weights moving together through the shared U, V, every loss term against an independent computation, the
deployed networks equal to the twins, smoke runs that learn, and the paper preset on CIFAR-100's file format."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from snnlab.encoding import encode
from snnlab.methods.joint_asnn import JointASNN, SummedOutputCE, joint_asnn_losses, masked_feature_l2
from snnlab.models import ResNet18, SmallCNN
from snnlab.models.factorised import BottleneckBranch, FactorisedConv2d, JointNet, JointOutput, Twin


def _joint(seed=0, width=4, **options):
    torch.manual_seed(seed)
    return JointNet(SmallCNN(10, in_channels=1, width=width, neuron="joint-asnn"), 10, (1, 16, 16), **options)


def _spiking(net):
    """Make an untrained net spike in eval mode (small running variances amplify the BN outputs)."""
    net.eval()
    for module in net.modules():
        if hasattr(module, "running_var"):
            module.running_var.fill_(0.02)
    return net


@pytest.mark.parametrize("c_in, c_out, kernel, stride, groups, bias", [
    (3, 8, 3, 1, 1, False), (8, 3, 3, 2, 1, True), (6, 6, 1, 1, 1, False), (8, 4, 3, 1, 2, False)])
def test_factorised_conv_equals_the_original_conv_at_initialisation(c_in, c_out, kernel, stride, groups, bias):
    torch.manual_seed(0)
    conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=bias)
    fact = FactorisedConv2d(conv)
    x = torch.randn(5, c_in, 9, 9)
    for network in ("ann", "snn"):
        fact.network = network
        assert torch.allclose(fact.weight(network), conv.weight, atol=1e-5)
        assert torch.allclose(fact(x), conv(x), atol=1e-5)
        x_seq = torch.randn(3, 2, c_in, 9, 9)                              # time-major input, same conv per step
        assert torch.allclose(fact(x_seq), torch.stack([conv(x_t) for x_t in x_seq]), atol=1e-5)
    rank = min(c_out, c_in // groups)
    assert fact.U.shape == (kernel, kernel, c_out, rank) and fact.sigma_snn.shape == (kernel, kernel, rank)
    assert torch.all(fact.sigma_ann[..., :-1] >= fact.sigma_ann[..., 1:])  # singular values, in decreasing order


def test_singular_value_gradient_is_u_transpose_g_v():
    """dL/dsigma_r = u_r^T (dL/dW) v_r at every kernel position: the gradient the factorisation must produce."""
    torch.manual_seed(1)
    fact = FactorisedConv2d(nn.Conv2d(4, 5, 3, padding=1, bias=False))
    x = torch.randn(2, 4, 6, 6)
    weight = fact.weight("snn").detach().requires_grad_(True)
    target = torch.randn(2, 5, 6, 6)
    F.mse_loss(F.conv2d(x, weight, padding=1), target).backward()
    fact.network = "snn"
    F.mse_loss(fact(x), target).backward()
    grad_w = weight.grad
    for i in range(3):
        for j in range(3):
            u, v = fact.U[i, j].detach(), fact.V[i, j].detach()           # [c_out, r], [r, c_in]
            expected = [float(u[:, r] @ grad_w[:, :, i, j] @ v[r]) for r in range(u.shape[1])]
            assert torch.allclose(fact.sigma_snn.grad[i, j], torch.tensor(expected), atol=1e-6)
    assert fact.sigma_ann.grad is None                                       # the ANN's values were not used


def test_both_networks_weights_change_consistently_through_shared_u_v():
    torch.manual_seed(2)
    fact = FactorisedConv2d(nn.Conv2d(3, 6, 3, padding=1, bias=False))
    before = {n: fact.weight(n).detach().clone() for n in ("ann", "snn")}
    sigma_ann = fact.sigma_ann.detach().clone()
    optimiser = torch.optim.SGD(fact.parameters(), lr=0.1)
    fact.network = "snn"                                                     # a loss on the SNN twin only
    fact(torch.randn(4, 3, 5, 5)).pow(2).mean().backward()
    optimiser.step()
    after = {n: fact.weight(n).detach() for n in ("ann", "snn")}
    assert torch.equal(fact.sigma_ann.detach(), sigma_ann)                   # its own values untouched ...
    assert not torch.allclose(after["ann"], before["ann"])                   # ... yet the ANN's weight moved (U, V)
    u, v = fact.U.detach(), fact.V.detach()
    for network, sigma in (("ann", fact.sigma_ann), ("snn", fact.sigma_snn)):  # W = U diag(sigma) V per position
        for i in range(3):
            for j in range(3):
                slice_ = u[i, j] @ torch.diag(sigma.detach()[i, j]) @ v[i, j]
                assert torch.allclose(after[network][:, :, i, j], slice_, atol=1e-6)
    difference = after["snn"] - after["ann"]                                 # differs only by the singular values
    for i in range(3):
        for j in range(3):
            delta = torch.diag(fact.sigma_snn.detach()[i, j] - sigma_ann[i, j])
            assert torch.allclose(difference[:, :, i, j], u[i, j] @ delta @ v[i, j], atol=1e-6)


def test_twins_share_what_the_sharing_mode_says():
    factorised, shared, separate = (_joint(sharing=s) for s in ("factorised", "shared", "separate"))
    convs = lambda net: [m for m in net.modules() if isinstance(m, nn.Conv2d)]  # noqa: E731
    assert not convs(factorised) and sum(isinstance(m, FactorisedConv2d) for m in factorised.modules()) == 3 + 6
    assert len(convs(shared)) == 3 + 6 and len(convs(separate)) == 2 * (3 + 6)
    for net in (factorised, shared, separate):                               # BN, linear and neurons: two of each
        twins = [m for m in net.modules() if isinstance(m, Twin)]
        assert sum(isinstance(t.snn, nn.BatchNorm2d) for t in twins) == 3 + 6
        assert sum(isinstance(t.ann, nn.ReLU) for t in twins) == 3 + 6
        assert sum(isinstance(t.ann, nn.Linear) and t.ann is not t.snn for t in twins) == 3
    x = torch.rand(4, 1, 16, 16)                                             # all start as the same network
    for net in (factorised, shared, separate):
        _spiking(net)
    outs = [net(encode("direct", x, 2), "snn").logits[-1] for net in (factorised, shared, separate)]
    assert torch.allclose(outs[0], outs[1], atol=1e-4) and torch.allclose(outs[1], outs[2], atol=1e-5)


def test_branches_after_every_stage_but_the_last_with_the_papers_strides():
    torch.manual_seed(0)
    net = JointNet(ResNet18(100, in_channels=3, neuron="joint-asnn", width_mult=0.125), 100, (3, 32, 32))
    assert net.exit_paths == ("features.layer1", "features.layer2", "features.layer3", "final")
    assert all(torch.equal(m.running_mean, torch.zeros_like(m.running_mean)) for m in net.modules()
               if isinstance(m, nn.BatchNorm2d))                            # sizing the branches left BN untouched
    branches = [h for h in net.net.heads if isinstance(h, BottleneckBranch)]
    strides = [[m.stride for m in h.modules() if isinstance(m, FactorisedConv2d)][1] for h in branches]
    assert strides == [(8, 8), (4, 4), (2, 2)]                             # 32, 16, 8 px -> 4 px, as the code
    x = torch.rand(3, 3, 32, 32)
    for out in (net(x, "ann"), net(encode("direct", x, 2), "snn")):
        assert len(out.logits) == 4 and all(l.shape == (3, 100) for l in out.logits)
        assert all(f.shape == (3, 64) for f in out.features)               # branch features match the final's


def test_snn_outputs_are_summed_over_time_and_exports_equal_the_twins():
    net = _spiking(_joint(seed=3))
    x = torch.rand(6, 1, 16, 16)
    snn, ann = net(encode("direct", x, 4), "snn"), net(x, "ann")
    deployed_snn, deployed_ann = net.export("snn").eval(), net.export("ann").eval()
    per_step = deployed_snn(encode("direct", x, 4))
    assert per_step.shape == (4, 6, 10)
    assert torch.allclose(snn.logits[-1], per_step.sum(0), atol=1e-5)
    assert torch.allclose(ann.logits[-1], deployed_ann(x), atol=1e-5)
    assert not any(isinstance(m, (FactorisedConv2d, Twin)) for m in deployed_snn.modules())
    assert 0 < (snn.features[-1] > 0).float().mean() < 1                    # the SNN did spike


def _output(seed, exits=3, n=5, classes=4, features=6, spiking_features=False):
    g = torch.Generator().manual_seed(seed)
    feats = [torch.randn(n, features, generator=g) for _ in range(exits)]
    if spiking_features:
        feats = [torch.randint(0, 3, (n, features), generator=g).float() for _ in range(exits)]
    return JointOutput(tuple(torch.randn(n, classes, generator=g) * 3 for _ in range(exits)), tuple(feats))


def _ce(logits, y):
    return sum(-math.log(math.exp(logits[i][y[i]]) / sum(math.exp(v) for v in logits[i])) for i in range(len(y))
               ) / len(y)


def _kd(student, teacher, tau):
    """tau^2 * mean_n sum_c p_T (log p_T - log p_S), with explicit softmaxes."""
    total = 0.0
    for s_row, t_row in zip(student.tolist(), teacher.tolist()):
        zs, zt = sum(math.exp(v / tau) for v in s_row), sum(math.exp(v / tau) for v in t_row)
        for s_v, t_v in zip(s_row, t_row):
            p_t, p_s = math.exp(t_v / tau) / zt, math.exp(s_v / tau) / zs
            total += p_t * (math.log(p_t) - math.log(p_s))
    return tau**2 * total / len(student)


def test_masked_feature_l2_against_a_loop():
    g = torch.Generator().manual_seed(4)
    s, t = torch.randn(3, 7, generator=g), torch.randn(3, 7, generator=g)
    expected = sum((s[i, j] - t[i, j]).item() ** 2 for i in range(3) for j in range(7)
                   if s[i, j] > 0 or t[i, j] > 0)
    assert masked_feature_l2(s, t).item() == pytest.approx(expected, rel=1e-6)
    assert masked_feature_l2(-s.abs(), -t.abs()).item() == 0.0             # both silent: no penalty
    with pytest.raises(ValueError, match="same shape"):
        masked_feature_l2(s, t[:, :3])


@pytest.mark.parametrize("alpha, tau, beta", [(0.1, 3.0, 1e-6), (0.5, 2.0, 0.01)])
def test_joint_losses_against_an_independent_computation(alpha, tau, beta):
    ann, snn = _output(5), _output(6, spiking_features=True)
    y = torch.tensor([0, 3, 1, 2, 3])
    losses = joint_asnn_losses(ann, snn, y, alpha, tau, beta)
    a, s = [x.detach() for x in ann.logits], [x.detach() for x in snn.logits]
    expected = {
        "ce_ann": (1 - alpha) * sum(_ce(x.tolist(), y.tolist()) for x in a),
        "ce_snn": (1 - alpha) * sum(_ce(x.tolist(), y.tolist()) for x in s),
        "kd_branches": alpha * sum(_kd(a[k], a[-1], tau) for k in range(2)),
        "kd_ann_snn": alpha * sum(_kd(s[k], a[k], tau) for k in range(3)),
        "feature": beta * sum(((fs - fa) ** 2 * ((fs > 0) | (fa > 0))).sum().item()
                              for fs, fa in zip(snn.features, ann.features)),
    }
    assert set(losses) == set(expected)
    for name, value in expected.items():
        assert losses[name].item() == pytest.approx(value, rel=1e-5, abs=1e-9), name


def test_teachers_are_detached_and_a_single_exit_has_no_branch_term():
    ann = JointOutput(tuple(torch.randn(4, 3, requires_grad=True) for _ in range(2)),
                      tuple(torch.rand(4, 5, requires_grad=True) for _ in range(2)))
    snn = JointOutput(tuple(torch.randn(4, 3, requires_grad=True) for _ in range(2)),
                      tuple(torch.rand(4, 5, requires_grad=True) for _ in range(2)))
    y = torch.tensor([0, 1, 2, 0])
    losses = joint_asnn_losses(ann, snn, y)
    (losses["kd_ann_snn"] + losses["feature"]).backward()
    assert all(t.grad is None for t in ann.logits + ann.features)           # SNN terms never move the ANN
    assert all(t.grad is not None for t in snn.logits + snn.features)
    losses["kd_branches"].backward()
    assert ann.logits[-1].grad is None and ann.logits[0].grad is not None   # the final exit teaches its branch
    single = joint_asnn_losses(JointOutput(ann.logits[-1:], ann.features[-1:]),
                               JointOutput(snn.logits[-1:], snn.features[-1:]), y)
    assert "kd_branches" not in single
    with pytest.raises(ValueError, match="exits"):
        joint_asnn_losses(ann, JointOutput(snn.logits[:1], snn.features[:1]), y)


def test_summed_output_ce_is_the_cross_entropy_of_the_summed_output():
    torch.manual_seed(5)
    model = SmallCNN(4, in_channels=1, width=4, neuron="joint-asnn")
    method = SummedOutputCE(model, T=3)
    x, y = torch.rand(5, 1, 8, 8), torch.tensor([0, 1, 2, 3, 0])
    logits, losses = method(x, y)
    per_step = model(encode("direct", x, 3))
    assert torch.allclose(logits, per_step.sum(0), atol=1e-6)
    assert losses["ce"].item() == pytest.approx(_ce(per_step.sum(0).tolist(), y.tolist()), rel=1e-5)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="snnlab SNN"):
        JointNet(SmallCNN(10, in_channels=1, width=4, neuron=None), 10, (1, 16, 16))
    with pytest.raises(ValueError, match="sharing"):
        _joint(sharing="half")
    with pytest.raises(ValueError, match="network"):
        _joint()(torch.rand(2, 1, 16, 16), "cnn")
    with pytest.raises(ValueError, match="network"):
        _joint().export("both")
    with pytest.raises(TypeError, match="Conv2d"):
        FactorisedConv2d(nn.Linear(3, 4))


def test_joint_training_learns(tiny_images):
    from snnlab.train import TrainConfig, Trainer

    train_set, test_set = tiny_images
    torch.manual_seed(0)
    net = JointNet(SmallCNN(4, in_channels=1, width=4, neuron="joint-asnn"), 4, (1, 8, 8))
    method = JointASNN(net, T=2)
    config = TrainConfig(epochs=6, batch_size=16, lr=1e-2, progress=False, seed=0)
    history = Trainer(method, train_set, test_set, config).fit()
    assert history[-1]["loss"] < history[0]["loss"]
    assert history[-1]["test_acc"] > 50.0                                   # 4 classes: chance is 25 %
    method.test_network = "ann"
    assert Trainer(method, train_set, test_set, config).evaluate(test_set) > 50.0
    sigma = net.singular_values()
    assert len(sigma) == 3 + 2 * 3 and all(not torch.equal(a, s) for a, s in sigma.values())  # they moved apart


def test_reproduction_smoke_runs_every_arm_with_energy(tmp_path, monkeypatch):
    import snnlab.repro.papers.joint_asnn  # noqa: F401  (registers "joint-asnn")
    from snnlab.repro import run
    from snnlab.repro.papers.joint_asnn import ARMS

    monkeypatch.setenv("SNNLAB_DATA", str(tmp_path))
    record = run("joint-asnn", preset="smoke", out=None, progress=False)
    assert tuple(record["arms"]) == ARMS and record["effect"]["of"] == "joint-snn - snn-alone"
    for arm in ARMS:
        metrics = {k: v["mean"] for k, v in record["arms"][arm]["metrics"].items()}
        assert metrics["energy_pj"] == pytest.approx(4.6 * metrics["macs"] + 0.9 * metrics["sops"])
        if arm.endswith("-ann") or arm == "ann-alone":
            assert metrics["sops"] == 0 and "firing_rate" not in metrics
        else:
            assert 0 <= metrics["firing_rate"] <= 1 and metrics["sops"] >= 0
    ann = record["arms"]["ann-alone"]["metrics"]["macs"]["mean"]
    assert record["arms"]["joint-ann"]["metrics"]["macs"]["mean"] == ann       # the same deployed architecture


def test_paper_preset_runs_on_cifar100_files(tmp_path):
    """The paper preset (CIFAR-100, ResNet-18, T = 4) runs end to end on CIFAR-100's file format (a narrow ResNet-18
    and one epoch keep it quick)."""
    from test_data_real import make_cifar

    from snnlab.repro.papers.joint_asnn import ARMS, PRESETS, run_seed

    make_cifar(tmp_path / "cifar-100-python", hundred=True)
    paper = PRESETS["paper"]
    assert paper["dataset"] == "cifar100" and paper["model"] == "resnet18" and paper["T"] == 4
    settings = {**paper, "data_options": {**paper["data_options"], "root": str(tmp_path), "download": False},
                "model_options": {**paper["model_options"], "width_mult": 0.0625},
                "train": {**paper["train"], "epochs": 1, "batch_size": 4}, "energy_samples": 4}
    results = run_seed(settings, seed=0, progress=False)
    assert all(isinstance(results[arm]["network"], torch.nn.Module) for arm in ARMS[:2])  # kept by the record
    assert set(results) == set(ARMS)
    assert all(0.0 <= r["final"] <= 100.0 for r in results.values())


def test_committed_book_record_reports_energy_for_every_arm():
    """(That the record's setting is the book preset's is checked for every record in tests/test_records.py.)"""
    import json
    from pathlib import Path

    from snnlab.repro.papers.joint_asnn import ARMS

    record = json.loads((Path(__file__).resolve().parents[1] / "results" / "joint-asnn-book.json").read_text())
    assert tuple(record["arms"]) == ARMS
    for arm in ARMS:
        assert {"energy_pj", "macs", "sops"} <= set(record["arms"][arm]["metrics"])
