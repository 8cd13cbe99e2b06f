"""Text of a score with its interval and of a duration, shared by the engine, the cost plan, the report
and the history (which must not load torch)."""

from __future__ import annotations


def interval_text(value: float | None, low: float | None, high: float | None, digits: int = 3) -> str:
    """``value [low, high]`` with ``digits`` decimals, the value alone without both bounds, or
    ``undefined`` without a value.

    >>> interval_text(0.5, 0.25, 0.75, 2), interval_text(0.5, None, None, 1), interval_text(None, 1, 2)
    ('0.50 [0.25, 0.75]', '0.5', 'undefined')
    """
    if value is None:
        return "undefined"
    if low is None or high is None:
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def duration(seconds: float) -> str:
    """
    >>> duration(0.179), duration(151.2), duration(7322)
    ('0.2 s', '2 min 31 s', '2 h 2 min')
    """
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    return f"{minutes // 60} h {minutes % 60} min"
