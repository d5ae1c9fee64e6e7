"""Networks for single-eye emotion clips: a SEEN-style multimodal teacher and an intensity-only student.

SEEN (Zhang et al., *In the Blink of an Eye: Event-based Emotion Recognition*, SIGGRAPH 2023) recognises emotions
from a single eye. Its frame branch reads the first and last intensity frames of a clip; its event branch is a
spiking CNN over the clip's ``T`` event frames; the two meet in a spiking head
``fc1(event_spikes + frame_spikes) -> LIF -> fc2``. MSKD (Wang et al., IJCAI 2024) uses such a network as the
teacher that distils into an intensity-only student (:class:`IntensityStudent`).
"""
from __future__ import annotations

import torch
from spikingjelly.activation_based import functional
from torch import nn

from .base import SpikingNet
from .vgg import _conv_bn_act, _pair

__all__ = ["SEENTeacher", "IntensityStudent"]


def _flat_size(input_size: "int | tuple[int, int]", widths: tuple[int, ...]) -> int:
    """Features after ``len(widths)`` 2x2-pooled stages ending with ``widths[-1]`` channels."""
    height, width = _pair(input_size)
    height, width = height >> len(widths), width >> len(widths)
    if height < 1 or width < 1:
        raise ValueError(f"input_size {input_size} is too small for {len(widths)} 2x2 poolings")
    return widths[-1] * height * width


def _spiking_stages(net: SpikingNet, in_channels: int, widths: tuple[int, ...]) -> list[nn.Module]:
    """``[conv-BN-neuron-avgpool]`` per width: the spiking trunk shared by the teacher's event branch and the
    student (stages end at modules ``4 i + 3``)."""
    layers, channels = [], in_channels
    for w in widths:
        layers += _conv_bn_act(net, channels, w) + [net.avg_pool(2)]
        channels = w
    return layers


class SEENTeacher(SpikingNet):
    r"""Multimodal SNN teacher: ``{"frames": [T, N, 1, H, W], "events": [T, N, C_e, H, W]}`` → ``[T, N, classes]``.

    * **Frame branch** (an ANN, computed once per clip): the first and last intensity frames stacked as two
      channels, ``[conv-BN-ReLU]`` stages with 2x2 average pooling, flattened, ``Linear → hidden``; its output is
      fed as a constant current to a spiking neuron for ``T`` steps (``frame_spikes``).
    * **Event branch** (an SNN): ``[conv-BN-LIF]`` stages with 2x2 average pooling over the ``T`` event frames,
      flattened, ``Linear → hidden → LIF`` (``event_spikes``).
    * **Head**: ``O(t) = fc2(LIF(fc1(event_spikes(t) + frame_spikes(t))))``, the per-step classifier output that TET
      and MSKD's losses read (SEEN itself puts a LIF after ``fc2`` and averages its membrane potential over time;
      per-step outputs are what MSKD distils).

    SEEN's weight-copy spatial attention from the frame branch into the event convolutions is not reproduced.

    Args:
        num_classes: output classes (SEE: 7).
        event_channels: channels of an event frame (2 for ON/OFF counts; 1 or 3 for SEE's JPG event frames).
        input_size: frame size ``H`` (or ``(H, W)``), fixing the flattened feature size.
        widths: channels of the convolution stages (each followed by a 2x2 average pooling), in both branches.
        hidden: width of the fusion layer.
        neuron: spiking neuron of the event branch and head (a name or a :class:`~snnlab.neurons.NeuronSpec`).
    """

    def __init__(self, num_classes: int = 7, event_channels: int = 2, input_size: "int | tuple[int, int]" = 32,
                 widths: tuple[int, ...] = (16, 32, 64), hidden: int = 128, neuron="tet"):
        if neuron is None:
            raise ValueError("SEENTeacher is a spiking network: give a neuron")
        super().__init__(neuron)
        flat = _flat_size(input_size, widths)

        frame_layers, channels = [], 2
        for w in widths:
            frame_layers += [nn.Conv2d(channels, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
                             nn.AvgPool2d(2)]
            channels = w
        self.frame_branch = nn.Sequential(*frame_layers, nn.Flatten(), nn.Linear(flat, hidden))
        self.frame_neuron = self.act()

        self.event_branch = nn.Sequential(*_spiking_stages(self, event_channels, widths), self.flatten(),
                                          self.linear(flat, hidden), self.act())
        self.fc1, self.head_neuron, self.fc2 = self.linear(hidden, hidden), self.act(), self.linear(hidden, num_classes)
        self.stage_names = tuple(f"event_branch.{4 * i + 3}" for i in range(len(widths)))

    def forward(self, x: dict) -> torch.Tensor:
        if not isinstance(x, dict) or not {"frames", "events"} <= set(x):
            raise ValueError("SEENTeacher takes {'frames': [T, N, 1, H, W], 'events': [T, N, C, H, W]} (the eye and "
                             "see data sets with modality='both')")
        frames, events = x["frames"], x["events"]
        if frames.dim() != 5 or events.dim() != 5 or frames.shape[:2] != events.shape[:2]:
            raise ValueError(f"frames and events must be time-major [T, N, C, H, W] with the same T and N, got "
                             f"{tuple(frames.shape)} and {tuple(events.shape)}")
        steps = events.shape[0]
        try:
            current = self.frame_branch(torch.cat([frames[0], frames[-1]], dim=1))          # [N, hidden]
            frame_spikes = self.frame_neuron(current.unsqueeze(0).expand(steps, *current.shape))
            event_spikes = self.event_branch(events)
            return self.fc2(self.head_neuron(self.fc1(event_spikes + frame_spikes)))
        finally:
            functional.reset_net(self)


class IntensityStudent(SpikingNet):
    r"""A light SNN on intensity frames that sees each frame and its change: step :math:`t` receives
    :math:`[x_t,\ x_t - x_{t-1}]` (with :math:`x_0 = x_1`, so the first change is zero) as ``2 * in_channels``
    channels, then ``[conv-BN-LIF-avgpool]`` stages, ``Linear → hidden → LIF`` and ``Linear → classes``.

    A feed-forward spiking network with shared weights over time integrates its input (a LIF membrane is a leaky
    sum) but cannot subtract one frame from the next, and on the ``eye`` set the emotion shows mostly in how the eye
    moves. The difference channel is computed from the intensity frames alone, so the student needs no event sensor.
    The layout is the teacher's event branch (:class:`SEENTeacher`: convolution stages and hidden layer) at half its
    widths by default, followed directly by a linear classifier.
    Input ``[T, N, in_channels, H, W]``, output ``[T, N, classes]``.
    """

    def __init__(self, num_classes: int = 7, in_channels: int = 1, input_size: "int | tuple[int, int]" = 32,
                 widths: tuple[int, ...] = (8, 16, 32), hidden: int = 64, neuron="tet"):
        if neuron is None:
            raise ValueError("IntensityStudent is a spiking network over a clip: give a neuron")
        super().__init__(neuron)
        self.features = nn.Sequential(*_spiking_stages(self, 2 * in_channels, widths), self.flatten(),
                                      self.linear(_flat_size(input_size, widths), hidden), self.act())
        self.classifier = self.linear(hidden, num_classes)
        self.stage_names = tuple(f"features.{4 * i + 3}" for i in range(len(widths)))

    def forward_layers(self, x: torch.Tensor) -> torch.Tensor:
        previous = torch.cat([x[:1], x[:-1]])
        return self.classifier(self.features(torch.cat([x, x - previous], dim=2)))
