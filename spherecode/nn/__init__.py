"""Networks: ResNet backbones, prototype and linear heads, supervised losses."""

from .backbones import ARCHS, Encoder, ResNet, resnet
from .heads import Classifier, LinearHead, PrototypeHead
from .losses import SUPERVISED_LOSSES, mettes_loss, prototype_cross_entropy

__all__ = ["ARCHS", "SUPERVISED_LOSSES", "Classifier", "Encoder", "LinearHead", "PrototypeHead", "ResNet",
           "mettes_loss", "prototype_cross_entropy", "resnet"]
