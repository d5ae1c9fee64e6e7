"""Losses against independent re-computation on random tensors, and gradient checks."""
import pytest
import torch
from spikingjelly.activation_based import functional as sjf

from snnlab.losses import kd_loss, mean_output_ce, soft_cross_entropy, tet_loss
from snnlab.losses.tet import output_regulariser, per_step_ce


def explicit_tet(out_seq, y, lam, phi):
    T, N, C = out_seq.shape
    ce = sum(-torch.log_softmax(out_seq[t], -1)[torch.arange(N), y].mean() for t in range(T)) / T
    mse = sum(((out_seq[t] - phi) ** 2).mean() for t in range(T)) / T
    return (1 - lam) * ce + lam * mse   # the official code's weighting


@pytest.mark.parametrize("lam,phi", [(0.0, 1.0), (1e-3, 1.0), (0.5, -0.3)])
def test_tet_loss_matches_explicit_sum(lam, phi):
    torch.manual_seed(0)
    out_seq, y = torch.randn(4, 6, 5) * 3, torch.randint(0, 5, (6,))
    assert torch.allclose(tet_loss(out_seq, y, lam=lam, phi=phi), explicit_tet(out_seq, y, lam, phi), atol=1e-6)


def test_tet_ce_equals_spikingjelly_and_terms_add_up():
    torch.manual_seed(1)
    out_seq, y = torch.randn(3, 8, 10), torch.randint(0, 10, (8,))
    assert torch.allclose(per_step_ce(out_seq, y), sjf.temporal_efficient_training_cross_entropy(out_seq, y))
    assert torch.allclose(tet_loss(out_seq, y, lam=0.1),
                          0.9 * per_step_ce(out_seq, y) + 0.1 * output_regulariser(out_seq))


def test_tet_differs_from_mean_output_ce_and_both_equal_at_T1():
    torch.manual_seed(2)
    out_seq, y = torch.randn(4, 8, 10), torch.randint(0, 10, (8,))
    # Jensen: the CE of the mean output is at most the mean of per-step CEs (CE is convex in the logits).
    assert mean_output_ce(out_seq, y) < tet_loss(out_seq, y, lam=0)
    assert torch.allclose(mean_output_ce(out_seq[:1], y), tet_loss(out_seq[:1], y, lam=0))


def test_tet_rejects_wrong_layout():
    with pytest.raises(ValueError, match=r"\[T, N, C\]"):
        tet_loss(torch.randn(8, 10), torch.zeros(8, dtype=torch.long))


def test_kd_loss_matches_explicit_kl():
    torch.manual_seed(3)
    s, t, tau = torch.randn(5, 7), torch.randn(5, 7), 3.0
    p_t, p_s = torch.softmax(t / tau, -1), torch.softmax(s / tau, -1)
    expected = tau**2 * (p_t * (p_t.log() - p_s.log())).sum(-1).mean()
    assert torch.allclose(kd_loss(s, t, tau), expected, atol=1e-6)
    assert kd_loss(t, t, tau).abs() < 1e-6


def test_soft_ce_is_kd_plus_teacher_entropy():
    torch.manual_seed(4)
    s, t = torch.randn(5, 7), torch.randn(5, 7)
    p_t = torch.softmax(t, -1)
    entropy = -(p_t * p_t.log()).sum(-1).mean()
    assert torch.allclose(soft_cross_entropy(s, t), kd_loss(s, t, tau=1.0) + entropy, atol=1e-6)


def test_kd_gradient_check_and_teacher_shape_error():
    s = torch.randn(3, 4, dtype=torch.double, requires_grad=True)
    t = torch.randn(3, 4, dtype=torch.double)
    assert torch.autograd.gradcheck(lambda z: kd_loss(z, t, 2.0), (s,))
    assert torch.autograd.gradcheck(lambda z: tet_loss(z.view(1, 3, 4).expand(2, 3, 4), torch.tensor([0, 1, 3])), (s,))
    with pytest.raises(ValueError, match="same shape"):
        kd_loss(torch.randn(2, 3, 10), torch.randn(3, 10))
    with pytest.raises(ValueError, match="positive"):
        kd_loss(s, t, tau=0.0)


def test_kd_tau_squared_scaling_of_gradients():
    # Hinton et al.: for large tau the gradient of tau^2 KL approaches (z_s - z_t) / C (zero-mean logits).
    torch.manual_seed(5)
    s = torch.randn(1, 6)
    s = (s - s.mean()).requires_grad_()
    t = torch.randn(1, 6)
    t = t - t.mean()
    kd_loss(s, t, tau=100.0).backward()
    assert torch.allclose(s.grad, (s - t).detach() / 6, atol=5e-3)  # O(z^2 / (tau C)) from the expansion
    kd_loss(s, t, tau=1.0).backward()  # at tau = 1 the linearisation does not hold
    assert not torch.allclose(s.grad, 2 * (s - t).detach() / 6, atol=5e-3)


def test_tet_method_terms_sum_to_the_official_weighting_and_lam_is_checked():
    from snnlab.methods import TET
    torch.manual_seed(3)
    model = torch.nn.Linear(6, 4)
    method = TET(lambda x: model(x), T=3, lam=0.25, phi=0.5)
    x, y = torch.randn(5, 6), torch.randint(0, 4, (5,))
    _, losses = method(x, y)
    out_seq = model(x).expand(3, 5, 4)
    assert torch.allclose(sum(losses.values()), explicit_tet(out_seq, y, 0.25, 0.5), atol=1e-6)
    for lam in (-0.1, 1.5):
        with pytest.raises(ValueError, match="lam must lie in"):
            tet_loss(out_seq, y, lam=lam)
        with pytest.raises(ValueError, match="lam must lie in"):
            TET(lambda x: model(x), T=3, lam=lam)
