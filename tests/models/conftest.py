"""Shared data for the model tests: sklearn's bundled digits as 1x8x8 float images in [0, 1]."""

from __future__ import annotations

import pytest
import torch
from sklearn.datasets import load_digits


@pytest.fixture(scope="session")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """``(images [1797, 1, 8, 8] float32 in [0, 1], labels [1797] int64)``."""
    data = load_digits()
    images = torch.tensor(data.images, dtype=torch.float32).unsqueeze(1) / 16.0
    return images, torch.tensor(data.target, dtype=torch.int64)
