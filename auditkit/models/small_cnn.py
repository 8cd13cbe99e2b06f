"""``small_cnn``: a three-convolution network with batch norm for small images (8x8 digits up to 32x32).

Why revision 1 (no batch norm, one pool) stalled on 28x28 images (issue 20; the figures are in
``benchmarks/RESULTS.md``): (1) no normalisation. With PyTorch's default initialisation the
activations shrink at every un-normalised layer and the global average pool shrinks them again, so
the logits start near 0 and their gradients are tiny: SGD at 0.01 (the image-folder template) stayed
near chance, Adam crawled. Batch norm after every convolution alone lifted the same SGD run from
0.22 to 0.73 held-out. (2) Too little pooling. One 2x2 pool left the last layer a 10x10-pixel view,
averaged globally, at full 28x28 cost; a second pool from 16 pixels gives an 18x18 view for a quarter
of the work (0.80 held-out with that SGD run, 2.5-4x faster per epoch). With Adam at 0.01 on a
one-cycle schedule and 2-pixel shifts (the family's training from 16 pixels) the fixed network
reached 0.84 held-out from 750 Fashion-MNIST images in 30 epochs.
"""

from __future__ import annotations

import torch
from torch import nn

POOL_FIRST_FROM = 16
"""Shorter image side from which the first convolution is followed by a 2x2 max pool too, and the
family trains with one-cycle and 2-pixel shifts (:attr:`SmallCNN.training_schedule`)."""


class SmallCNN(nn.Module):
    """conv3x3(C->b)-BN-ReLU-[maxpool2]-conv3x3(b->2b)-BN-ReLU-maxpool2-conv3x3(2b->2b)-BN-ReLU-GAP-dropout-linear.

    The first pool is there when ``min(H, W) >= POOL_FIRST_FROM`` (16), so the last convolution sees
    ``H/4 x W/4`` (7x7 for 28x28, receptive field 18 pixels); below that (8x8 digits) only the second
    pool is, so Grad-CAM keeps a 4x4 map. From 16 pixels the family also trains, unless the training
    config says otherwise, with a one-cycle schedule and random shifts of up to 2 pixels
    (``training_schedule``, ``training_shift``; read by :func:`~auditkit.models.train_model`); below,
    with the cosine schedule and no shift, as before. All convolutions use padding 1 and no bias (batch norm's
    shift replaces it). Global average pooling makes the head independent of the image size.

    Grad-CAM layer: :attr:`target_layer` is the last ReLU, so Grad-CAM sees the rectified, normalised
    map of the last convolution, before the global pooling (the same place as ResNet-18's ``layer4``,
    whose blocks end with a ReLU). Every ReLU is a distinct, non-inplace module, so a hook on it fires
    exactly once per forward pass and sees an unmodified tensor.

    Args:
        in_channels: C, channels of the input images.
        num_classes: number of logits.
        base_filters: b, width of the first convolution.
        dropout: drop probability before the linear layer, in [0, 1).
        image_size: (H, W) of the inputs; it decides the first pool.

    Shapes:
        input ``Tensor[N, C, H, W]`` float in [0, 1] (no internal normalisation); output logits
        ``Tensor[N, num_classes]``; ``target_layer`` output ``Tensor[N, 2b, H//2, W//2]`` below 16
        pixels, ``Tensor[N, 2b, H//4, W//4]`` from 16.

    >>> SmallCNN(1, 10, base_filters=4, dropout=0.0, image_size=(8, 8))(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
    """

    def __init__(self, in_channels: int, num_classes: int, *, base_filters: int, dropout: float,
                 image_size: tuple[int, int]) -> None:
        super().__init__()
        b = base_filters
        large = min(image_size) >= POOL_FIRST_FROM
        first_pool = [MaxPool2x2()] if large else []
        # What train_model uses unless its config says otherwise (the schedule; pixels of shift).
        self.training_schedule = "onecycle" if large else "cosine"
        self.training_shift = 2 if large else 0
        self.features = nn.Sequential(
            *_conv_bn_relu(in_channels, b),
            *first_pool,
            *_conv_bn_relu(b, 2 * b),
            MaxPool2x2(),
            *_conv_bn_relu(2 * b, 2 * b),
        )
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(2 * b, num_classes)
        )

    @property
    def target_layer(self) -> nn.Module:
        """The last ReLU; its output ``[N, 2b, h, w]`` is the map Grad-CAM uses."""
        return self.features[-1]

    def reset_parameters(self) -> None:
        """Re-draw every weight from the global RNG with PyTorch's default layer initialisation
        (batch norm: weight 1, bias 0, running statistics reset)."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d | nn.Linear | nn.BatchNorm2d):
                module.reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[N, num_classes]`` of images ``x: [N, C, H, W]``."""
        return self.head(self.features(x))


class MaxPool2x2(nn.MaxPool2d):
    """``nn.MaxPool2d(2)``, computed in the channels-last layout when autograd is off.

    PyTorch's CPU max-pool kernel for the default (NCHW) layout is slow on small maps: on the demo's
    ``[256, 32, 8, 8]`` activations it took about 9.6 ms against 0.9 ms channels-last, most of the
    model's forward pass (2-core VM, torch 2.14). Pooling channels-last makes the forward passes of
    RISE, muF and the predictions about 1.5x faster (66,000 -> 104,000 images/s at batch 256). A
    maximum is exact, so the output is the same to the bit. With autograd on (training, gradient
    methods) the layout change and the channels-last backward cost more than they save (25,800 ->
    23,300 images/s), so the pool stays as it is there. It has no parameters: checkpoints are those
    of ``nn.MaxPool2d(2)``.

    >>> x = torch.rand(3, 4, 8, 8)
    >>> with torch.no_grad():
    ...     torch.equal(MaxPool2x2()(x), nn.functional.max_pool2d(x, 2))
    True
    """

    def __init__(self) -> None:
        super().__init__(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled():
            return super().forward(x)
        return super().forward(x.contiguous(memory_format=torch.channels_last)).contiguous()


def _conv_bn_relu(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
