"""Setting checks of :mod:`auditkit.explainers`; each raises :class:`ExplainerError` naming the parameter,
what arrived and what is accepted."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

from auditkit._validation import check_int
from auditkit.errors import ExplainerError, MetricInputError


def setting_int(value: Any, name: str, *, minimum: int, maximum: int | None = None) -> int:
    """Return ``value`` as int if it is an int (not a bool) in ``[minimum, maximum]``."""
    try:
        return check_int(value, name, minimum=minimum, maximum=maximum)
    except MetricInputError as exc:
        raise ExplainerError(str(exc)) from None


def setting_real(value: Any, name: str, accepted: str, ok: Callable[[float], bool]) -> float:
    """Return ``value`` as float if it is a finite real (not a bool) for which ``ok`` holds.

    ``accepted`` describes the valid range in the message, e.g. ``"in (0, 1]"``.
    """
    real = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not real or not ok(float(value)):
        raise ExplainerError(f"{name} must be a finite number {accepted}, got {value!r}")
    return float(value)


def setting_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ExplainerError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def setting_bool(value: Any, name: str) -> bool:
    """Return ``value`` if it is a bool (``0``/``1`` are refused: a policy typo should not pass)."""
    if not isinstance(value, bool):
        raise ExplainerError(f"{name} must be true or false, got {type(value).__name__} {value!r}")
    return value


def setting_seed(value: Any) -> int:
    """Return ``generator_seed`` if it is an int in ``[0, 2**63 - 1]`` (what ``manual_seed`` takes)."""
    return setting_int(value, "generator_seed", minimum=0, maximum=2**63 - 1)
