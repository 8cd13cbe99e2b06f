"""The labels check of :mod:`auditkit.data`, raising :class:`DatasetArgumentError` (the other checks
are :mod:`auditkit._validation`'s, with :func:`~auditkit.data.errors.data_error`)."""

from __future__ import annotations

from typing import Any

import torch

from auditkit.data.errors import DatasetArgumentError


def check_labels(labels: Any, name: str = "labels") -> torch.Tensor:
    """Return ``labels`` as a 1-D int64 CPU tensor of non-negative class indices, else raise."""
    if not isinstance(labels, torch.Tensor):
        raise DatasetArgumentError(
            f"{name} must be a torch.Tensor of class indices, got {type(labels).__name__}"
        )
    integer = not (labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool)
    if labels.dim() != 1 or not integer:
        raise DatasetArgumentError(
            f"{name} must be a 1-D integer tensor, got shape {tuple(labels.shape)} dtype {labels.dtype}"
        )
    if labels.numel() and int(labels.min()) < 0:
        raise DatasetArgumentError(f"{name} must be >= 0 (class indices), got minimum {int(labels.min())}")
    return labels.to(device="cpu", dtype=torch.int64)
