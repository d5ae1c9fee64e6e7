"""Models: small networks for embedded data, VGG-9, VGGSNN, CIFAR ResNets (each as SNN or ANN twin), SEEN teacher,
shrinking staged SNNs and Joint A-SNN's factorised ANN–SNN twins."""
from .base import SpikingNet
from .factorised import BottleneckBranch, FactorisedConv2d, JointNet, JointOutput, Twin, make_twins
from .multi_exit import ExitHead, ExitOutput, MultiExit, exit_head, stage_channels
from .plain import ConversionCNN
from .resnet import ResNet18, ResNet19
from .seen import IntensityStudent, SEENTeacher
from .shrinking import ShrinkingSNN, TemporalTransformer
from .small import MLP, SmallCNN
from .vgg import VGG9, VGGSNN

__all__ = ["SpikingNet", "SmallCNN", "MLP", "VGG9", "VGGSNN", "ResNet18", "ResNet19",
           "MultiExit", "ExitOutput", "ExitHead", "exit_head", "stage_channels", "SEENTeacher", "IntensityStudent",
           "ShrinkingSNN", "TemporalTransformer", "FactorisedConv2d", "Twin", "make_twins", "BottleneckBranch",
           "JointNet", "JointOutput", "ConversionCNN"]
