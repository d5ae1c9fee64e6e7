r"""One network, two twins: an ANN and an SNN that share part of every convolution (Joint A-SNN).

Guo, Peng, Chen et al., *Joint A-SNN: Joint training of artificial and spiking neural networks via self-distillation
and weight factorization*, Pattern Recognition 2023. Every convolution weight
:math:`W \in \mathbb R^{c_{out}\times c_{in}\times k_h\times k_w}` is factorised per kernel position :math:`(i, j)` by
the singular value decomposition of its :math:`c_{out}\times c_{in}` slice,

.. math::

    W_{:,:,i,j} = U_{ij}\,\mathrm{diag}(\sigma_{ij})\,Q_{ij}^\top
    \quad\Longrightarrow\quad
    W^{ANN}_{:,:,i,j} = U_{ij}\,\mathrm{diag}(\sigma^{ANN}_{ij})\,Q_{ij}^\top,\qquad
    W^{SNN}_{:,:,i,j} = U_{ij}\,\mathrm{diag}(\sigma^{SNN}_{ij})\,Q_{ij}^\top,

with the singular vectors :math:`U, Q` shared and the singular values :math:`\sigma^{ANN}, \sigma^{SNN}` the twins'
own, all four trainable and updated together (weight-factorisation training, WFT). At initialisation
:math:`\sigma^{ANN} = \sigma^{SNN} = \sigma`, so both twins compute exactly the original convolution. Batch norms and
linear layers are separate per twin; the activation is a ReLU in the ANN and a spiking neuron in the SNN.

:class:`JointNet` builds the pair from any snnlab SNN (``SmallCNN``, ``VGG9``, ``ResNet18``, ...): it attaches the
paper's bottleneck branches (:class:`BottleneckBranch`) after every stage but the last with
:class:`~snnlab.models.multi_exit.MultiExit`, then replaces, in place, each convolution by a
:class:`FactorisedConv2d` and each batch norm, linear layer and neuron by a :class:`Twin` holding one module per twin.
Both twins run the same multi-step modules: the SNN on ``[T, N, ...]``, the ANN on ``[1, N, ...]`` (one step, ReLU).
"""
from __future__ import annotations

import copy
from typing import NamedTuple

import torch
import torch.nn.functional as F
from spikingjelly.activation_based import functional, layer
from torch import nn

from ..energy import NEURON_TYPES
from ..hooks import FeatureCapture
from .base import SpikingNet
from .multi_exit import MultiExit, stage_channels

__all__ = ["NETWORKS", "SHARINGS", "FactorisedConv2d", "Twin", "BottleneckBranch", "JointNet", "JointOutput",
           "make_twins"]

NETWORKS = ("ann", "snn")
"""The two twins of a :class:`JointNet`."""
SHARINGS = ("factorised", "shared", "separate")
"""How the twins' convolutions relate: Joint A-SNN's shared singular vectors with own singular values
(``"factorised"``), one weight for both (``"shared"``, as in ANN-to-SNN conversion) or independent weights
(``"separate"``, two networks coupled only by the loss)."""


def _check_network(network: str) -> str:
    if network not in NETWORKS:
        raise ValueError(f"network must be one of {NETWORKS}, got {network!r}")
    return network


class FactorisedConv2d(nn.Module):
    r"""A convolution whose per-kernel-position weight slices are :math:`U\,\mathrm{diag}(\sigma^{ANN})\,Q^\top`
    and :math:`U\,\mathrm{diag}(\sigma^{SNN})\,Q^\top` (module docstring), built from ``conv`` so that both twins
    start equal to it.

    Parameters (for kernel :math:`k_h\times k_w`, rank ``r`` :math:`= \min(c_{out}, c_{in}/g)`): ``U``
    ``[k_h, k_w, c_out, r]``, ``V`` ``[k_h, k_w, r, c_in/g]`` (rows are :math:`Q^\top`), ``sigma_ann`` and
    ``sigma_snn`` ``[k_h, k_w, r]``; the bias (if any) is shared. ``network`` (``"ann"`` or ``"snn"``) selects the
    singular values used by :meth:`forward`, which takes ``[N, C, H, W]`` or time-major ``[T, N, C, H, W]``.
    """

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        if not isinstance(conv, nn.Conv2d):
            raise TypeError(f"conv must be an nn.Conv2d, got {type(conv).__name__}")
        if conv.padding_mode != "zeros":
            raise ValueError(f"only zero padding is supported, got padding_mode={conv.padding_mode!r}")
        slices = conv.weight.detach().permute(2, 3, 0, 1)                    # [kh, kw, c_out, c_in/g]
        u, sigma, v = torch.linalg.svd(slices, full_matrices=False)
        self.U, self.V = nn.Parameter(u.contiguous()), nn.Parameter(v.contiguous())
        self.sigma_ann, self.sigma_snn = nn.Parameter(sigma.clone()), nn.Parameter(sigma.clone())
        self.bias = None if conv.bias is None else nn.Parameter(conv.bias.detach().clone())
        self.stride, self.padding, self.dilation, self.groups = conv.stride, conv.padding, conv.dilation, conv.groups
        self.network = "snn"

    def sigma(self, network: str) -> torch.Tensor:
        """The singular values of ``network``, ``[k_h, k_w, r]``."""
        return self.sigma_ann if _check_network(network) == "ann" else self.sigma_snn

    def weight(self, network: str) -> torch.Tensor:
        """The convolution weight of ``network``, ``[c_out, c_in/g, k_h, k_w]``."""
        return ((self.U * self.sigma(network).unsqueeze(-2)) @ self.V).permute(2, 3, 0, 1)

    def to_conv(self, network: str) -> layer.Conv2d:
        """A plain (multi-step SpikingJelly) convolution holding ``network``'s weight, for deployment."""
        weight = self.weight(network).detach()
        conv = layer.Conv2d(weight.shape[1] * self.groups, weight.shape[0], tuple(weight.shape[2:]), self.stride,
                            self.padding, self.dilation, self.groups, bias=self.bias is not None, step_mode="m")
        conv.weight.data.copy_(weight)
        if self.bias is not None:
            conv.bias.data.copy_(self.bias.detach())
        return conv.to(weight.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight(self.network)
        if x.dim() == 5:
            y = F.conv2d(x.flatten(0, 1), weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
            return y.unflatten(0, x.shape[:2])
        return F.conv2d(x, weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        kh, kw, c_out, r = self.U.shape
        return (f"c_out={c_out}, c_in={self.V.shape[-1] * self.groups}, kernel=({kh}, {kw}), rank={r}, "
                f"stride={self.stride}, padding={self.padding}, network={self.network!r}")


class Twin(nn.Module):
    """One module per twin (``ann``, ``snn``); ``network`` selects which one :meth:`forward` runs."""

    def __init__(self, ann: nn.Module, snn: nn.Module):
        super().__init__()
        self.ann, self.snn = ann, snn
        self.network = "snn"

    def forward(self, x):
        return self.ann(x) if self.network == "ann" else self.snn(x)

    def extra_repr(self) -> str:
        return f"network={self.network!r}"


_TWINNED = (nn.BatchNorm1d, nn.BatchNorm2d, nn.Linear)


def make_twins(module: nn.Module, sharing: str = "factorised") -> nn.Module:
    """Turn, in place, a multi-step SNN ``module`` into the ANN/SNN pair of Joint A-SNN and return it.

    Every convolution becomes a :class:`FactorisedConv2d` (``sharing="factorised"``), stays one convolution used by
    both twins (``"shared"``) or becomes a :class:`Twin` of two copies (``"separate"``); every batch norm and linear
    layer becomes a :class:`Twin` of two copies; every spiking neuron a :class:`Twin` of ``nn.ReLU`` and the neuron.
    """
    if sharing not in SHARINGS:
        raise ValueError(f"sharing must be one of {SHARINGS}, got {sharing!r}")
    for name, child in module.named_children():
        if isinstance(child, nn.Conv2d):
            if sharing == "factorised":
                setattr(module, name, FactorisedConv2d(child))
            elif sharing == "separate":
                setattr(module, name, Twin(child, copy.deepcopy(child)))
        elif isinstance(child, _TWINNED):
            setattr(module, name, Twin(child, copy.deepcopy(child)))
        elif isinstance(child, NEURON_TYPES):
            setattr(module, name, Twin(nn.ReLU(), child))
        else:
            make_twins(child, sharing)
    return module


class BottleneckBranch(SpikingNet):
    """Joint A-SNN's self-distillation branch after an intermediate stage (the official code's
    ``branchBottleNeck`` followed by average pooling and an FC):

    ``conv1x1(C_in → w/4)-BN-act → conv k×k stride k (w/4 → w/4)-BN-act → conv1x1(w/4 → w)-BN-act →
    global avg pool → FC(w → classes)``, where ``w`` is the width of the network's last stage and ``k`` the ratio
    of this stage's spatial size to the last stage's (8, 4, 2 after stages 1-3 of a CIFAR ResNet-18), so the
    branch's features have the final features' shape.
    """

    def __init__(self, in_channels: int, width: int, kernel: int, num_classes: int, neuron):
        super().__init__(neuron)
        middle = max(1, width // 4)
        self.features = nn.Sequential(
            self.conv(in_channels, middle, 1, bias=False), self.bn(middle), self.act(),
            self.conv(middle, middle, kernel, stride=kernel, bias=False), self.bn(middle), self.act(),
            self.conv(middle, width, 1, bias=False), self.bn(width), self.act())
        self.classifier = nn.Sequential(self.global_pool(), self.flatten(), self.linear(width, num_classes))

    def forward_layers(self, x):
        return self.classifier(self.features(x))


class JointOutput(NamedTuple):
    """What one twin of a :class:`JointNet` returns, one entry per exit (branches in stage order, then the final
    classifier): ``logits`` ``[N, classes]`` and ``features`` ``[N, F]`` (the input of the exit's last linear layer).
    SNN logits and features are **summed** over the time steps, as in the official code."""

    logits: tuple[torch.Tensor, ...]
    features: tuple[torch.Tensor, ...]


def _last_linear(module: nn.Module, prefix: str) -> str:
    paths = [name for name, m in module.named_modules() if isinstance(m, nn.Linear)]
    if not paths:
        raise ValueError(f"{type(module).__name__} has no linear classifier")
    return f"{prefix}{paths[-1]}"


class JointNet(nn.Module):
    """The ANN and SNN twins of Joint A-SNN, built from an snnlab SNN ``model`` (see the module docstring).

    >>> net = JointNet(ResNet18(100, neuron="joint-asnn"), 100, sample_shape=(3, 32, 32))
    >>> ann = net(x, "ann")                          # x [N, 3, 32, 32]: JointOutput, 4 exits
    >>> snn = net(encoding.direct(x, 4), "snn")      # [T, N, ...]: logits and features summed over T
    >>> deployed = net.export("snn")                 # a plain SNN with the SNN twin's weights

    Args:
        model: an snnlab SNN (built with a neuron) listing its stages in ``stage_names``; it is modified in place.
        num_classes: classes (for the branches).
        sample_shape: shape of one input sample ``(C, H, W)`` (to size the branches' strided convolutions).
        branches: attach a :class:`BottleneckBranch` after every stage but the last (the paper's stages 1-3 of a
            ResNet-18); ``False`` for the final exit only.
        sharing: how the twins' convolutions relate, one of :data:`SHARINGS`.
    """

    def __init__(self, model: SpikingNet, num_classes: int, sample_shape: tuple[int, ...], branches: bool = True,
                 sharing: str = "factorised"):
        super().__init__()
        if not getattr(model, "spiking", False):
            raise ValueError("model must be an snnlab SNN (built with a neuron, e.g. neuron='joint-asnn'); "
                             "JointNet derives the ANN twin from it")
        stages = tuple(getattr(model, "stage_names", ()))
        if branches and len(stages) < 2:
            raise ValueError(f"{type(model).__name__} lists {len(stages)} stage(s) in stage_names; branches need at "
                             "least two (a branch after every stage but the last)")
        self.sharing = sharing
        heads = self._branches(model, stages, num_classes, sample_shape) if branches else {}
        self.exit_paths = tuple(heads) + ("final",)
        # each exit's feature is the input of its last linear layer (paths taken before twinning keep their names)
        self.feature_paths = tuple(_last_linear(head, f"heads.{i}.") for i, head in enumerate(heads.values())) + (
            _last_linear(model, "model." if heads else ""),)
        self.net = make_twins(MultiExit(model, heads) if heads else model, sharing)
        self.backbone: SpikingNet = self.net.model if heads else self.net

    @staticmethod
    def _branches(model: SpikingNet, stages: tuple[str, ...], num_classes: int, sample_shape) -> dict:
        probe = torch.zeros(1, 1, *sample_shape)
        training = model.training
        model.eval()  # a probe pass must not touch the batch-norm statistics
        try:
            with torch.no_grad(), FeatureCapture(model, stages) as cap:
                model(probe)
        finally:
            model.train(training)
        sizes = {path: cap.features[path].shape[-1] for path in stages}
        width = stage_channels(model, stages[-1])
        heads = {}
        for path in stages[:-1]:
            kernel = sizes[path] // sizes[stages[-1]]
            if kernel < 1 or sizes[path] % sizes[stages[-1]]:
                raise ValueError(f"stage {path!r} ({sizes[path]} px) is not a whole multiple of the last stage "
                                 f"({sizes[stages[-1]]} px); choose another input size")
            heads[path] = BottleneckBranch(stage_channels(model, path), width, kernel, num_classes, model.neuron)
        return heads

    def set_network(self, network: str) -> None:
        """Make every twinned module run ``network``'s part."""
        _check_network(network)
        for module in self.modules():
            if isinstance(module, (FactorisedConv2d, Twin)):
                module.network = network

    def forward(self, x: torch.Tensor, network: str) -> JointOutput:
        """Run the ``"ann"`` twin on ``[N, ...]`` or the ``"snn"`` twin on ``[T, N, ...]``; every exit's logits and
        features (SNN: summed over T)."""
        self.set_network(network)
        x_seq = x.unsqueeze(0) if network == "ann" else x
        with FeatureCapture(self.net, self.feature_paths, kind="input") as cap:
            out = self.net(x_seq)
        per_step = [*out.exits.values(), out.output] if isinstance(out, tuple) else [out]
        features = [cap.features[path] for path in self.feature_paths]
        return JointOutput(tuple(o.sum(0) for o in per_step), tuple(f.flatten(2).sum(0) for f in features))

    def singular_values(self, backbone_only: bool = False) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Module path → ``(sigma_ann, sigma_snn)``, each ``[k_h, k_w, r]``, of every :class:`FactorisedConv2d`
        (detached); with ``backbone_only``, those of the backbone, with paths relative to it (no branches)."""
        root = self.backbone if backbone_only else self
        return {path: (m.sigma_ann.detach(), m.sigma_snn.detach()) for path, m in root.named_modules()
                if isinstance(m, FactorisedConv2d)}

    def export(self, network: str) -> SpikingNet:
        """A stand-alone copy of the backbone (no branches) as a plain network of ``network``'s weights.

        ``"snn"`` gives a multi-step SNN (``[T, N, ...]`` → per-step outputs ``[T, N, classes]``); ``"ann"`` its
        ANN twin (``[N, ...]`` → ``[N, classes]``, ReLU). This is what runs at inference, so energy and firing
        rates are measured on it (the factorisation costs nothing once the weights are multiplied out).
        """
        _check_network(network)
        plain = copy.deepcopy(self.backbone)

        def replace(module: nn.Module) -> None:
            for name, child in module.named_children():
                if isinstance(child, FactorisedConv2d):
                    setattr(module, name, child.to_conv(network))
                elif isinstance(child, Twin):
                    setattr(module, name, getattr(child, network))
                else:
                    replace(child)

        replace(plain)
        if network == "ann":
            for child in plain.children():  # the SpikingNet itself derives its step mode from its neuron
                functional.set_step_mode(child, "s")
            plain.neuron = None
        return plain

    def extra_repr(self) -> str:
        return f"sharing={self.sharing!r}, exits={self.exit_paths}"
