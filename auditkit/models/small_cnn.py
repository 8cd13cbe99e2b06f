"""``small_cnn``: a three-convolution network for small images (8x8 digits up to 32x32)."""

from __future__ import annotations

import torch
from torch import nn


class SmallCNN(nn.Module):
    """conv3x3(C->b)-ReLU-conv3x3(b->2b)-ReLU-maxpool2-conv3x3(2b->2b)-ReLU-GAP-dropout-linear.

    All convolutions use padding 1, so an ``H x W`` input gives a ``2b x H//2 x W//2`` feature map
    after the last convolution. Global average pooling makes the head independent of the image size.

    Grad-CAM layer: :attr:`target_layer` is the last ReLU, so Grad-CAM sees the rectified map of the
    last convolution, before the global pooling (the same place as ResNet-18's ``layer4``, whose blocks
    end with a ReLU). Every ReLU is a distinct, non-inplace module, so a hook on it fires exactly once
    per forward pass and sees an unmodified tensor.

    Args:
        in_channels: C, channels of the input images.
        num_classes: number of logits.
        base_filters: b, width of the first convolution.
        dropout: drop probability before the linear layer, in [0, 1).

    Shapes:
        input ``Tensor[N, C, H, W]`` float in [0, 1] (no internal normalisation); output logits
        ``Tensor[N, num_classes]``; ``target_layer`` output ``Tensor[N, 2b, H//2, W//2]``.

    >>> SmallCNN(1, 10, base_filters=4, dropout=0.0)(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
    """

    def __init__(self, in_channels: int, num_classes: int, *, base_filters: int, dropout: float) -> None:
        super().__init__()
        b = base_filters
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, b, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(b, 2 * b, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * b, 2 * b, 3, padding=1),
            nn.ReLU(),
        )
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(2 * b, num_classes)
        )

    @property
    def target_layer(self) -> nn.Module:
        """The last ReLU; its output ``[N, 2b, H//2, W//2]`` is the map Grad-CAM uses."""
        return self.features[-1]

    def reset_parameters(self) -> None:
        """Re-draw every weight from the global RNG with PyTorch's default layer initialisation."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                module.reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[N, num_classes]`` of images ``x: [N, C, H, W]``."""
        return self.head(self.features(x))
