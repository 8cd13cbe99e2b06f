"""``resnet18``: ResNet-18 of variable width for small images (Fel et al., appendix E).

Built from torchvision's :class:`~torchvision.models.resnet.BasicBlock` because torchvision's
``ResNet`` fixes the stage widths at 64/128/256/512; here they are b, 2b, 4b, 8b.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock


class ResNet18(nn.Module):
    """ResNet-18 (2 BasicBlocks per stage) with a 3x3 stride-1 stem, no max pool and a dropout head.

    Departures from torchvision's ImageNet ResNet-18, all for small images (CIFAR-10, Fashion-MNIST,
    EuroSAT in the paper): the stem is conv3x3 stride 1 (not 7x7 stride 2) with b filters, there is no
    stem max pool, stage widths are b, 2b, 4b, 8b, and dropout is applied before the final linear layer
    (the paper uses b=32 / p=0.25 on CIFAR-10, 46 / 0.25 on EuroSAT, 26 / 0.4 on Fashion-MNIST).
    Stages 2-4 halve the resolution, so an ``H x W`` input gives ``ceil(H/8) x ceil(W/8)`` maps in
    ``layer4``. Initialisation follows torchvision: Kaiming-normal (fan_out) convolutions, BatchNorm
    weight 1 and bias 0, PyTorch's default for the linear layer.

    Args:
        in_channels: C, channels of the input images.
        num_classes: number of logits.
        base_filters: b, width of the stem and of stage 1.
        dropout: drop probability before the linear layer, in [0, 1).

    Shapes:
        input ``Tensor[N, C, H, W]`` float in [0, 1] (no internal normalisation; BatchNorm follows the
        stem); output logits ``Tensor[N, num_classes]``; ``target_layer`` (``layer4``) output
        ``Tensor[N, 8b, ceil(H/8), ceil(W/8)]``.

    >>> ResNet18(3, 10, base_filters=4, dropout=0.0)(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    """

    def __init__(self, in_channels: int, num_classes: int, *, base_filters: int, dropout: float) -> None:
        super().__init__()
        b = base_filters
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, b, 3, stride=1, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU()
        )
        self.layer1 = _stage(b, b, stride=1)
        self.layer2 = _stage(b, 2 * b, stride=2)
        self.layer3 = _stage(2 * b, 4 * b, stride=2)
        self.layer4 = _stage(4 * b, 8 * b, stride=2)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(8 * b, num_classes)
        )
        self.reset_parameters()

    @property
    def target_layer(self) -> nn.Module:
        """``layer4``; its output ``[N, 8b, ceil(H/8), ceil(W/8)]`` is the map Grad-CAM uses."""
        return self.layer4

    def reset_parameters(self) -> None:
        """Re-draw every weight from the global RNG (torchvision's ResNet initialisation)."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d | nn.Linear):
                module.reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[N, num_classes]`` of images ``x: [N, C, H, W]``."""
        x = self.stem(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.head(x)


def _stage(in_planes: int, planes: int, *, stride: int) -> nn.Sequential:
    """Two BasicBlocks; the first changes width/resolution through a 1x1 conv + BN shortcut if needed."""
    downsample = None
    if stride != 1 or in_planes != planes:
        downsample = nn.Sequential(
            nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
        )
    return nn.Sequential(BasicBlock(in_planes, planes, stride, downsample), BasicBlock(planes, planes))
