"""Small vision transformers for the examples' 28 x 28 grey images, built by torchvision.

torchvision's named builders (``vit_b_16``, ``swin_t``) fix widths and depths meant for ImageNet; an
operator with small images calls the classes themselves, as these factories do. Both are called by
auditkit as ``function(num_classes=K, in_channels=C, image_size=(H, W))`` (``model.factory``) and
return untrained models; nothing is downloaded.
"""

from __future__ import annotations

from torch import nn
from torchvision.models import VisionTransformer
from torchvision.models.swin_transformer import SwinTransformer


def _grey_patches(conv: nn.Conv2d, in_channels: int) -> nn.Conv2d:
    """The patch embedding rebuilt for ``in_channels`` (torchvision's are for RGB)."""
    return nn.Conv2d(in_channels, conv.out_channels, kernel_size=conv.kernel_size, stride=conv.stride,
                     padding=conv.padding)


def vit(num_classes: int, in_channels: int, image_size: tuple[int, int]) -> nn.Module:
    """ViT: 7 x 7-pixel patches (a 4 x 4 grid and one class token), 2 blocks of width 32, 2 heads.

    Grad-CAM's default layer is the last block's first norm (``encoder.layers.encoder_layer_1.ln_1``).
    """
    if image_size[0] != image_size[1]:
        raise ValueError(f"the ViT takes square images, not {image_size[0]} x {image_size[1]}")
    net = VisionTransformer(image_size=image_size[0], patch_size=7, num_layers=2, num_heads=2,
                            hidden_dim=32, mlp_dim=64, num_classes=num_classes)
    net.conv_proj = _grey_patches(net.conv_proj, in_channels)
    return net


def swin(num_classes: int, in_channels: int, image_size: tuple[int, int]) -> nn.Module:
    """Swin: 4 x 4-pixel patches (7 x 7 at 28 pixels, merged to 4 x 4), width 16, two stages of two
    blocks, 2 x 2 windows. Grad-CAM's default layer is the last stage's last block's ``norm1``."""
    net = SwinTransformer(patch_size=[4, 4], embed_dim=16, depths=[2, 2], num_heads=[2, 2],
                          window_size=[2, 2], num_classes=num_classes)
    net.features[0][0] = _grey_patches(net.features[0][0], in_channels)
    return net
