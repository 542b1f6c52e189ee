r"""ResNets (He et al. 2016) in torch.nn: one parameterised definition for ResNet-10/18/34/50.

``variant="cifar"``: 3x3 stride-1 stem, no max-pool (for 32x32 inputs); ``variant="imagenet"``:
7x7 stride-2 stem and 3x3 max-pool. ``width`` is the first stage's channel count (64 in the
papers; tests use 4-8). ``norm="group"`` swaps BatchNorm for GroupNorm (statistics independent
of the batch, so single-process and DDP runs compute the same function even on CPU, where
SyncBatchNorm is not available).

:class:`Encoder` is the backbone followed by an optional linear projection to ``dim``
dimensions: ``forward`` gives the (unnormalised) features the heads consume.

Examples:
    >>> import torch
    >>> net = Encoder(resnet("resnet18", variant="cifar", width=4), dim=16)
    >>> net(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 16])
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import check_choice, check_int

#: name -> (block type, blocks per stage).
ARCHS: dict[str, tuple[str, tuple[int, int, int, int]]] = {
    "resnet10": ("basic", (1, 1, 1, 1)),
    "resnet18": ("basic", (2, 2, 2, 2)),
    "resnet34": ("basic", (3, 4, 6, 3)),
    "resnet50": ("bottleneck", (3, 4, 6, 3)),
}
VARIANTS = ("cifar", "imagenet")
NORMS = ("batch", "group")


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    # 32 groups (Wu & He 2018) where that leaves at least 2 channels per group, fewer for thin nets
    groups = next((g for g in (32, 16, 8, 4, 2) if channels % g == 0 and channels // g >= 2), 1)
    return nn.GroupNorm(groups, channels)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection."""

    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int, norm: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = _norm(norm, planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = _norm(norm, planes)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), _norm(norm, planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (carrying the stride, as in torchvision's v1.5), 1x1 expand by 4."""

    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int, norm: str) -> None:
        super().__init__()
        out_ch = planes * self.expansion
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = _norm(norm, planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = _norm(norm, planes)
        self.conv3 = nn.Conv2d(planes, out_ch, 1, bias=False)
        self.bn3 = _norm(norm, out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != out_ch:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, out_ch, 1, stride, bias=False), _norm(norm, out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """A ResNet trunk: stem, four stages, global average pool. ``out_dim`` is the feature size."""

    def __init__(self, block: str, layers: tuple[int, ...], variant: str = "cifar", width: int = 64,
                 norm: str = "batch", in_channels: int = 3) -> None:
        super().__init__()
        check_choice("variant", variant, VARIANTS)
        check_choice("norm", norm, NORMS)
        check_int("width", width, minimum=1)
        Block = BasicBlock if block == "basic" else Bottleneck
        if variant == "cifar":
            self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, 1, 1, bias=False), _norm(norm, width),
                                      nn.ReLU(inplace=True))
        else:
            self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 7, 2, 3, bias=False), _norm(norm, width),
                                      nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
        stages, cin = [], width
        for i, n_blocks in enumerate(layers):
            planes = width * 2**i
            blocks = []
            for j in range(n_blocks):
                blocks.append(Block(cin, planes, 2 if (j == 0 and i > 0) else 1, norm))
                cin = planes * Block.expansion
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.out_dim, self.norm = cin, norm
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        for m in self.modules():  # zero-init the last norm of each residual branch (Goyal et al. 2017)
            if isinstance(m, (BasicBlock, Bottleneck)):
                last = m.bn3 if isinstance(m, Bottleneck) else m.bn2
                if last.weight is not None:
                    nn.init.zeros_(last.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.pool(self.stages(self.stem(x))), 1)


def resnet(arch: str, variant: str = "cifar", width: int = 64, norm: str = "batch") -> ResNet:
    """Build ``arch`` (one of :data:`ARCHS`) in the ``cifar`` or ``imagenet`` variant."""
    check_choice("arch", arch, ARCHS)
    block, layers = ARCHS[arch]
    return ResNet(block, layers, variant=variant, width=width, norm=norm)


#: Normalisation of the projection's output: same kind as the backbone (auto), batch, group, or none.
PROJECTION_NORMS = ("auto", "batch", "group", "none")


class Encoder(nn.Module):
    r"""Backbone then an optional projection to ``dim`` (``None``: the backbone's features).

    The projection is ``Linear(out_dim, dim)`` followed by a normalisation layer without affine
    parameters (``norm``): ``BatchNorm1d`` after a batch-norm backbone (``"auto"``), ``GroupNorm``
    with one group (a per-sample standardisation, batch-independent like a group-norm backbone),
    or ``"none"`` (a plain linear layer with bias).
    A prototype head divides the features by their norm; without a normalisation layer in front,
    the pooled ReLU features share one large common direction, every image starts at nearly the
    same point of the sphere, and the feature norm grows during training (SGD steps are orthogonal
    to the feature), which shrinks the effective learning rate: on real digits the prototype head
    then learned to 21-43 % where the linear head reached 96 % (docs/training.md, "The heads").
    """

    def __init__(self, backbone: ResNet, dim: int | None = None, norm: str = "auto") -> None:
        super().__init__()
        self.backbone = backbone
        check_choice("norm", norm, PROJECTION_NORMS)
        if dim is not None:
            check_int("dim", dim, minimum=1)
        if norm == "auto":
            norm = getattr(backbone, "norm", "batch")
        self.projection: nn.Module = nn.Identity()
        if dim:
            layers: list[nn.Module] = [nn.Linear(backbone.out_dim, dim, bias=norm == "none")]
            if norm == "batch":  # no affine part: the feature scale stays fixed (mean squared norm = dim)
                layers.append(nn.BatchNorm1d(dim, affine=False))
            elif norm == "group":
                layers.append(nn.GroupNorm(1, dim, affine=False))
            self.projection = nn.Sequential(*layers)
        self.out_dim = dim or backbone.out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projection(self.backbone(x))
