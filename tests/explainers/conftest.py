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
def images() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return torch.rand(7, 1, 8, 8, generator=gen), torch.randint(0, 3, (7,), generator=gen)
