"""Input checks shared across auditkit; each raises with the parameter, what arrived and what is accepted."""

from __future__ import annotations

import numbers
from typing import Any

import torch

from auditkit.errors import MetricInputError


def check_int(value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` if it is an int (not a bool) in ``[minimum, maximum]``, else raise.

    >>> check_int(3, "k", minimum=2)
    3
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise MetricInputError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise MetricInputError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise MetricInputError(f"{name} must be <= {maximum}, got {value}")
    return value


def as_distance_vector(values: Any, name: str, *, allow_empty: bool = False) -> torch.Tensor:
    """Convert ``values`` (tensor, array, sequence) to a 1-D floating tensor of distances and check it.

    Distances must be finite and non-negative. The device of a tensor input is kept.
    """
    try:
        t = torch.as_tensor(values)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise MetricInputError(f"{name} must be a 1-D array of distances: {exc}") from None
    if t.dim() != 1:
        raise MetricInputError(f"{name} must be 1-D, got shape {tuple(t.shape)}")
    if not (t.is_floating_point() or t.dtype in (torch.int32, torch.int64)):
        raise MetricInputError(f"{name} must hold real numbers, got dtype {t.dtype}")
    if not t.is_floating_point():
        t = t.to(torch.float64)
    if t.numel() == 0 and not allow_empty:
        raise MetricInputError(f"{name} is empty: the metric is not defined on an empty set of distances")
    if t.numel() and not bool(torch.isfinite(t).all()):
        raise MetricInputError(f"{name} contains NaN or infinite distances")
    if t.numel() and bool((t < 0).any()):
        raise MetricInputError(f"{name} contains negative distances (min {t.min().item():.4g})")
    return t
