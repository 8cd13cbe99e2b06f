"""Tiny models shared by the explainer tests (CPU, 1x8x8 inputs, a few ms per pass)."""

from __future__ import annotations

import pytest
import torch
from torch import nn


class TinyCNN(nn.Module):
    """``body`` ends at the Grad-CAM layer (a conv at half the input resolution, so maps are upsampled);
    ``head`` starts with an in-place ReLU and a max pool, so the layer's gradient has exact zeros
    (Grad-CAM++'s 0/0 case) and hooks must clone."""

    def __init__(self, in_channels: int = 1, classes: int = 3, size: tuple[int, int] = (8, 8)) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, 4, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(4, 6, 3, padding=1),
        )
        self.head = nn.Sequential(
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Dropout(0.5),
            nn.Linear(6 * (size[0] // 4) * (size[1] // 4), classes),
        )

    @property
    def target_layer(self) -> nn.Module:
        return self.body[3]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: these models are tiny, and with more threads than free cores OpenMP's
    spin-waits made a 0.1 s test take 20 s whenever another process used a core."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def cnn() -> TinyCNN:
    torch.manual_seed(0)
    return TinyCNN().eval()


@pytest.fixture
def cnn3() -> TinyCNN:
    torch.manual_seed(0)
    return TinyCNN(in_channels=3, size=(16, 12)).eval()


@pytest.fixture
def linear():
    """``f(x) = W x + b`` on ``[2, 3, 3]`` images, 4 classes; returns (model, W as [4, 2, 3, 3])."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(18, 4)).eval()
    return model, model[1].weight.detach().reshape(4, 2, 3, 3)


@pytest.fixture
def images() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return torch.rand(7, 1, 8, 8, generator=gen), torch.randint(0, 3, (7,), generator=gen)


def tiny_vit(classes: int = 3) -> nn.Module:
    """torchvision's ViT for 1 x 28 x 28 images: 7-pixel patches (a 4 x 4 grid after one class token),
    2 blocks of width 32, 2 heads; the patch embedding rebuilt for one channel as for operators' models.
    torchvision zero-initialises the head (every gradient of an untrained ViT is 0): drawn here."""
    from torchvision.models import VisionTransformer

    from auditkit.models.operator import adapt_first_conv

    net = VisionTransformer(image_size=28, patch_size=7, num_layers=2, num_heads=2, hidden_dim=32,
                            mlp_dim=64, num_classes=classes)
    adapt_first_conv(net, 1)
    nn.init.normal_(net.heads.head.weight, std=0.5)
    return net.eval()


def tiny_swin(classes: int = 3) -> nn.Module:
    """torchvision's Swin for 1 x 28 x 28 images: 4-pixel patches (7 x 7, merged to 4 x 4), width 16,
    two stages of two blocks, 2 x 2 windows."""
    from torchvision.models.swin_transformer import SwinTransformer

    from auditkit.models.operator import adapt_first_conv

    net = SwinTransformer(patch_size=[4, 4], embed_dim=16, depths=[2, 2], num_heads=[2, 2],
                          window_size=[2, 2], num_classes=classes)
    adapt_first_conv(net, 1)
    return net.eval()


@pytest.fixture
def vit() -> nn.Module:
    torch.manual_seed(0)
    return tiny_vit()


@pytest.fixture
def swin() -> nn.Module:
    torch.manual_seed(0)
    return tiny_swin()


@pytest.fixture
def images28() -> tuple[torch.Tensor, torch.Tensor]:
    """Five random 1 x 28 x 28 images and classes."""
    gen = torch.Generator().manual_seed(2)
    return torch.rand(5, 1, 28, 28, generator=gen), torch.randint(0, 3, (5,), generator=gen)
