"""Small tensor conventions shared by data, models and explainers."""

from __future__ import annotations

import torch


def as_float_images(x: torch.Tensor) -> torch.Tensor:
    """Return images as float32 in [0, 1]: ``uint8`` is divided by 255, floating input is kept as is.

    Datasets keep large image sets as ``uint8`` (4x less memory) and convert one batch at a time.

    >>> as_float_images(torch.tensor([0, 255], dtype=torch.uint8))
    tensor([0., 1.])
    """
    if x.dtype == torch.uint8:
        return x.to(torch.float32).div_(255.0)
    if not x.is_floating_point():
        raise TypeError(f"images must be uint8 or floating point, got {x.dtype}")
    return x
