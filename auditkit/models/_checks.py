"""Argument checks of :mod:`auditkit.models`; each raises :class:`ModelError` naming the parameter."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

from auditkit.models.errors import ModelError


def check_int(value: Any, name: str, *, minimum: int) -> int:
    """Return ``value`` as int if it is an int (not a bool) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ModelError(f"{name} must be an int >= {minimum}; got {value!r}", parameter=name)
    return int(value)


def check_real(value: Any, name: str, accepted: str, ok: Callable[[float], bool]) -> float:
    """Return ``value`` as float if it is a finite real (not a bool) for which ``ok`` holds.

    ``accepted`` describes the valid range in the message, e.g. ``"in [0, 1)"``.
    """
    real = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not real or not ok(float(value)):
        raise ModelError(f"{name} must be a finite number {accepted}; got {value!r}", parameter=name)
    return float(value)


def check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ModelError(f"{name} must be one of {', '.join(choices)}; got {value!r}", parameter=name)
    return value
