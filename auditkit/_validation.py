"""The library's argument checks, in one message style: ``<name> must be <what>, got <value>``.

Each check raises the error of the caller's layer: ``error(message, name)`` builds it (default
:class:`~auditkit.errors.MetricInputError`; the models pass :func:`auditkit.models.errors.model_error`,
the data :func:`auditkit.data.errors.data_error`). Policy fields and explainer settings are checked by
the declared constraints of :mod:`auditkit.constraints`, worded the same way.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import torch

from auditkit.errors import MetricInputError

ErrorFactory = Callable[[str, str], Exception]
"""``(message, parameter name) -> the exception to raise``."""


def metric_error(message: str, name: str) -> Exception:
    """The default :data:`ErrorFactory`: a :class:`~auditkit.errors.MetricInputError`."""
    return MetricInputError(message)


def check_int(value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None,
              error: ErrorFactory = metric_error) -> int:
    """Return ``value`` if it is an int (not a bool) in ``[minimum, maximum]``, else raise.

    >>> check_int(3, "k", minimum=2)
    3
    >>> check_int(1, "k", minimum=2)
    Traceback (most recent call last):
    auditkit.errors.MetricInputError: k must be >= 2, got 1
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise error(f"{name} must be an int, got {type(value).__name__} {value!r}", name)
    value = int(value)
    if minimum is not None and value < minimum:
        raise error(f"{name} must be >= {minimum}, got {value}", name)
    if maximum is not None and value > maximum:
        raise error(f"{name} must be <= {maximum}, got {value}", name)
    return value


def check_real(value: Any, name: str, accepted: str, ok: Callable[[float], bool], *,
               error: ErrorFactory = metric_error) -> float:
    """Return ``value`` as float if it is a finite real (not a bool) for which ``ok`` holds;
    ``accepted`` words the valid range, e.g. ``"in [0, 1)"``.

    >>> check_real(0.5, "p", "in [0, 1)", lambda v: 0 <= v < 1)
    0.5
    """
    real = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not real or not ok(float(value)):
        raise error(f"{name} must be a finite number {accepted}, got {value!r}", name)
    return float(value)


def check_choice(value: Any, name: str, choices: tuple[str, ...], *,
                 error: ErrorFactory = metric_error) -> str:
    """Return ``value`` if it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise error(f"{name} must be one of {', '.join(choices)}, got {value!r}", name)
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
