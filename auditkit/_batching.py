"""Chunking helper shared by every explainer and by :func:`auditkit.metrics.mu_fidelity`."""

from __future__ import annotations

from collections.abc import Iterator

from auditkit._validation import check_int


def batch_slices(n: int, batch_size: int) -> Iterator[slice]:
    """Yield consecutive slices of ``range(n)`` of at most ``batch_size`` items.

    An impossible ``batch_size`` (not a positive int) is an error, never silently replaced.

    >>> [(s.start, s.stop) for s in batch_slices(5, 2)]
    [(0, 2), (2, 4), (4, 5)]
    """
    check_int(batch_size, "batch_size", minimum=1)
    check_int(n, "n", minimum=0)
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))
