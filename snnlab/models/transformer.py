r"""A small BERT-style ANN transformer (the teacher) and a SpikingBERT student with spiking attention at equilibrium.

Both read token ids ``[N, L]`` (``[PAD] = 0``, ``[CLS]`` first, as the ``text`` data set serves them), classify
from the ``[CLS]`` position (BERT's choice) or the mean over real tokens (``pool``), and can return their
internals for distillation: ``model(ids, internals=True) -> (logits, internals)`` with ``internals["embedding"]`` the
embedding layer's output ``[N, L, D]``, ``internals["scores"]`` each layer's attention scores before the mask and
the softmax (:func:`attention_scores`, ``[N, H, L, L]``) and ``internals["hidden"]`` each layer's output
``[N, L, D]``.

The student (Bal & Sengupta, *SpikingBERT*, AAAI 2024) is a network of IF neurons (threshold :math:`V_{th}`,
subtractive reset) driven by the constant current of the token and position embeddings. Layer :math:`l` with
input :math:`u` (the embedding current for the first layer, the spikes/rates :math:`a_{out}^{l-1}` otherwise) has
neuron groups :math:`k, v` (keys and values), :math:`o` (attention output), :math:`h` (feed-forward) and
:math:`out`, whose currents are

.. math::

    X_k = W_k u,\quad X_v = W_v u,\quad
    X_o = W_o\,\mathrm{softmax}\!\Big(\frac{(W_q u)\,a_k^\top}{\sqrt{d_h}} + M\Big) a_v + u,\quad
    X_h = W_1 a_o + b_1,\quad X_{out} = W_2 a_h + b_2 + a_o.

The query :math:`W_q u` is real-valued; keys and values are spikes (their rates at equilibrium); :math:`M` masks the
padding. The network is simulated for ``t_conv`` steps and differentiated implicitly at the average spiking rates
(:func:`snnlab.implicit.spiking_equilibrium`), so no surrogate gradient is used and memory does not grow with
``t_conv``. What the classifier and the distillation losses read are the simulated rates :math:`a_{sim}` themselves,
in training and at inference, with the implicit gradient of :math:`f(a_{sim})` attached in training (the official
code's read-out): the prediction comes from the spikes, not from a non-spiking map of them. There is no layer norm in
the student (rates live in [0, 1]); the teacher is a post-norm transformer.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..implicit import spiking_equilibrium

__all__ = ["TransformerClassifier", "SpikingBERTStudent", "attention_scores", "attention_probabilities", "padding_mask",
           "pooled", "POOLS"]


def padding_mask(ids: torch.Tensor) -> torch.Tensor:
    """Boolean ``[N, L]``, True at real tokens (``ids != [PAD] = 0``)."""
    if ids.dim() != 2 or ids.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"expected token ids [N, L] (int64), got {tuple(ids.shape)} {ids.dtype}")
    return ids != 0


def attention_scores(q: torch.Tensor, k: torch.Tensor, heads: int) -> torch.Tensor:
    r"""Scaled dot-product scores :math:`q_h k_h^\top/\sqrt{d_h}` per head, before the mask and the softmax,
    ``[N, H, L, L]``; ``q``, ``k`` are ``[N, L, D]``."""
    n, length, dim = q.shape
    split = lambda t: t.reshape(n, length, heads, dim // heads).transpose(1, 2)  # noqa: E731
    return split(q) @ split(k).transpose(-1, -2) / math.sqrt(dim // heads)


def _masked_softmax(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax over keys of ``scores`` ``[N, H, L, L]`` with the padded keys (``mask`` ``[N, L]`` False) at zero."""
    return scores.masked_fill(~mask[:, None, None, :], float("-inf")).softmax(-1)


def attention_probabilities(q: torch.Tensor, k: torch.Tensor, mask: torch.Tensor, heads: int) -> torch.Tensor:
    r""":math:`\mathrm{softmax}(q_h k_h^\top/\sqrt{d_h} + M)` per head, ``[N, H, L, L]``; ``q``, ``k`` are
    ``[N, L, D]``, ``mask`` ``[N, L]`` (True at real tokens; padded keys get zero weight)."""
    return _masked_softmax(attention_scores(q, k, heads), mask)


def _merge_heads(probs: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    n, length, dim = v.shape
    heads = probs.shape[1]
    out = probs @ v.reshape(n, length, heads, dim // heads).transpose(1, 2)
    return out.transpose(1, 2).reshape(n, length, dim)


class _Embedding(nn.Module):
    def __init__(self, vocab_size: int, max_len: int, dim: int):
        super().__init__()
        self.token = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.position = nn.Embedding(max_len, dim)
        self.max_len = max_len

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.shape[1] > self.max_len:
            raise ValueError(f"sequences of length {ids.shape[1]} exceed the model's max_len={self.max_len}")
        return self.token(ids) + self.position.weight[:ids.shape[1]]


POOLS = ("cls", "mean")


def _check_pool(pool: str) -> str:
    if pool not in POOLS:
        raise ValueError(f"unknown pool {pool!r}; choose one of {POOLS}")
    return pool


def pooled(x: torch.Tensor, mask: torch.Tensor, pool: str) -> torch.Tensor:
    """What a classifier reads from ``x`` ``[N, L, D]``: the first (``[CLS]``) position or the mean over real
    tokens."""
    if pool == "cls":
        return x[:, 0]
    weights = mask[..., None].to(x.dtype)
    return (x * weights).sum(1) / weights.sum(1).clamp_min(1.0)


def _check_dims(dim: int, heads: int, layers: int) -> None:
    if dim % heads:
        raise ValueError(f"dim ({dim}) must be divisible by heads ({heads})")
    if layers < 1:
        raise ValueError(f"layers must be >= 1, got {layers}")


class _EncoderLayer(nn.Module):
    """Post-norm transformer layer: ``LN(x + MHA(x))`` then ``LN(x + FFN(x))``; returns the attention scores too."""

    def __init__(self, dim: int, heads: int, ffn: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn), nn.GELU(), nn.Linear(ffn, dim))
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        scores = attention_scores(q, k, self.heads)
        x = self.norm1(x + self.dropout(self.out(_merge_heads(self.dropout(_masked_softmax(scores, mask)), v))))
        return self.norm2(x + self.dropout(self.ffn(x))), scores


class TransformerClassifier(nn.Module):
    """A small BERT-style ANN encoder (token + position embeddings, post-norm layers, ``[CLS]`` classifier).

    Args:
        vocab_size, num_classes: vocabulary and output sizes.
        max_len: longest sequence; dim, heads, layers, ffn: width, attention heads, depth, feed-forward width.
        dropout: dropout on embeddings, attention and residual branches.
        pool: what the classifier reads: ``"cls"`` (the ``[CLS]`` position, as BERT) or ``"mean"`` (the mean over
            real tokens).
    """

    def __init__(self, vocab_size: int, num_classes: int, max_len: int = 32, dim: int = 64, heads: int = 2,
                 layers: int = 4, ffn: int = 128, dropout: float = 0.1, pool: str = "cls"):
        super().__init__()
        _check_dims(dim, heads, layers)
        self.pool = _check_pool(pool)
        self.embedding = _Embedding(vocab_size, max_len, dim)
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.ModuleList(_EncoderLayer(dim, heads, ffn, dropout) for _ in range(layers))
        self.classifier = nn.Linear(dim, num_classes)
        self.dim, self.heads = dim, heads

    def forward(self, ids: torch.Tensor, internals: bool = False):
        mask = padding_mask(ids)
        embedding = x = self.dropout(self.norm(self.embedding(ids)))
        scores, hidden = [], []
        for layer in self.layers:
            x, layer_scores = layer(x, mask)
            scores.append(layer_scores)
            hidden.append(x)
        logits = self.classifier(pooled(x, mask, self.pool))
        return (logits, {"embedding": embedding, "scores": scores, "hidden": hidden}) if internals else logits


class SpikingBERTStudent(nn.Module):
    r"""SpikingBERT student: IF layers with spiking attention, trained at equilibrium (see the module docstring).

    Args:
        vocab_size, num_classes, max_len, dim, heads, layers, ffn: as :class:`TransformerClassifier`.
        t_conv: simulated time steps; v_threshold: IF threshold (SpikingBERT: 1.0); gamma: ASR weighting :math:`\rho`.
        backward_solver, backward_tol, backward_max_iter: the adjoint solve (SpikingBERT: Broyden, 30 iterations).
        pool: ``"cls"`` or ``"mean"``, as :class:`TransformerClassifier`.

    The classifier reads the simulated rates of the last layer's output group (see the module docstring). With
    ``internals=True`` the forward also returns the embedding current :math:`u^0` (``"embedding"``), each layer's
    attention scores :math:`(W_q u)\,a_k^\top/\sqrt{d_h}` before the mask and the softmax (``"scores"``) and each
    layer's output rates (``"hidden"``), all from the simulated rates. After each forward, ``last_rates`` holds the
    simulated average spiking rates per group (``{"layer0.k": [N, L, D], ...}``) and ``last_stats`` the implicit
    solve's statistics.
    """

    GROUPS = ("k", "v", "o", "h", "out")

    def __init__(self, vocab_size: int, num_classes: int, max_len: int = 32, dim: int = 32, heads: int = 2,
                 layers: int = 2, ffn: int = 64, t_conv: int = 16, v_threshold: float = 1.0, gamma: float = 1.0,
                 backward_solver: str = "broyden", backward_tol: float = 1e-4, backward_max_iter: int = 30,
                 pool: str = "cls"):
        super().__init__()
        _check_dims(dim, heads, layers)
        self.pool = _check_pool(pool)
        self.embedding = _Embedding(vocab_size, max_len, dim)
        self.q = nn.ModuleList(nn.Linear(dim, dim) for _ in range(layers))
        self.k = nn.ModuleList(nn.Linear(dim, dim) for _ in range(layers))
        self.v = nn.ModuleList(nn.Linear(dim, dim) for _ in range(layers))
        self.o = nn.ModuleList(nn.Linear(dim, dim) for _ in range(layers))
        self.ffn1 = nn.ModuleList(nn.Linear(dim, ffn) for _ in range(layers))
        self.ffn2 = nn.ModuleList(nn.Linear(ffn, dim) for _ in range(layers))
        self.classifier = nn.Linear(dim, num_classes)
        self.dim, self.heads, self.n_layers, self.ffn_dim = dim, heads, layers, ffn
        self.t_conv, self.v_threshold, self.gamma = t_conv, v_threshold, gamma
        self.backward = dict(backward_solver=backward_solver, backward_tol=backward_tol,
                             backward_max_iter=backward_max_iter)
        self.widths = [dim, dim, dim, ffn, dim] * layers
        self.last_rates = self.last_stats = None

    def _groups(self, a: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        """Split the packed state ``[N, L, sum(widths)]`` into per-layer groups."""
        parts = torch.split(a, self.widths, dim=-1)
        return [dict(zip(self.GROUPS, parts[5 * i:5 * i + 5])) for i in range(self.n_layers)]

    def _layer_input(self, groups: list[dict], embedded: torch.Tensor, layer: int) -> torch.Tensor:
        return embedded if layer == 0 else groups[layer - 1]["out"]

    def drive(self, a: torch.Tensor, embedded: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Input currents of every neuron (packed like ``a``) given the spikes or rates ``a`` of every group."""
        groups, currents = self._groups(a), []
        for i, g in enumerate(groups):
            u = self._layer_input(groups, embedded, i)
            probs = attention_probabilities(self.q[i](u), g["k"], mask, self.heads)
            currents += [self.k[i](u), self.v[i](u), self.o[i](_merge_heads(probs, g["v"])) + u,
                         self.ffn1[i](g["o"]), self.ffn2[i](g["h"]) + g["o"]]
        return torch.cat(currents, dim=-1)

    def forward(self, ids: torch.Tensor, internals: bool = False):
        mask = padding_mask(ids)
        embedded = self.embedding(ids)
        like = embedded.new_zeros(*ids.shape, sum(self.widths))
        a, rates, self.last_stats = spiking_equilibrium(lambda z: self.drive(z, embedded, mask), like, self.t_conv,
                                                        self.v_threshold, self.gamma, **self.backward)
        self.last_rates = {f"layer{i}.{name}": rate for i, g in enumerate(self._groups(rates)) for name, rate in
                           g.items()}
        groups = self._groups(a)  # the value of a_sim, the implicit gradient of f(a_sim)
        logits = self.classifier(pooled(groups[-1]["out"], mask, self.pool))
        if not internals:
            return logits
        scores = [attention_scores(self.q[i](self._layer_input(groups, embedded, i)), g["k"], self.heads)
                  for i, g in enumerate(groups)]
        return logits, {"embedding": embedded, "scores": scores, "hidden": [g["out"] for g in groups]}

    def weight_layers(self, rates: dict[str, float], length: int) -> list[tuple[str, float, int]]:
        """``(name, input rate, Layer#OPS per sample)`` of every weight layer and attention product, given the mean
        rate of each group (``{"layer0.k": r, ...}``) and the sequence length: the inputs of Norm#OPS
        (:func:`snnlab.energy.norm_ops`). Analog inputs (the embedding current, the attention output) have rate 1;
        the token-embedding lookup is not an operation."""
        d, f, out = self.dim, self.ffn_dim, []
        for i in range(self.n_layers):
            r_in = 1.0 if i == 0 else rates[f"layer{i - 1}.out"]
            out += [(f"layer{i}.q", r_in, length * d * d), (f"layer{i}.k", r_in, length * d * d),
                    (f"layer{i}.v", r_in, length * d * d),
                    (f"layer{i}.scores", rates[f"layer{i}.k"], length * length * d),
                    (f"layer{i}.context", rates[f"layer{i}.v"], length * length * d),
                    (f"layer{i}.o", 1.0, length * d * d), (f"layer{i}.ffn1", rates[f"layer{i}.o"], length * d * f),
                    (f"layer{i}.ffn2", rates[f"layer{i}.h"], length * f * d)]
        out.append(("classifier", rates[f"layer{self.n_layers - 1}.out"], d * self.classifier.out_features))
        return out
