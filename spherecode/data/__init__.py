"""Datasets (CIFAR-100, ImageNet folders, digits, glyphs, synthetic), torch transforms and loaders; never downloads."""

from .dataset import AugmentedDataset, ImageDataset
from .loader import ShardedSampler, make_loader
from .spec import DATASETS, build_dataset

__all__ = ["DATASETS", "AugmentedDataset", "ImageDataset", "ShardedSampler", "build_dataset", "make_loader"]
