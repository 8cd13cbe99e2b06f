"""The wall time of each stage of one run, for results.json's ``plan`` (:class:`Timings`).

A stage is what the cost plan (:mod:`auditkit.cost`) estimates and the engine can time as one block:
``training`` (the clean folds, with their held-out accuracies), ``<group>.<method>`` (one
explainer's passes and muF at every level of a group: ``clean``, ``sanity_images``,
``weight_randomisation``, ``label_shuffling``; :func:`stage_of`), ``properties.<method>``,
``predictions`` (every level's), ``scoring`` (bootstrap, ReCo's permutations and the smooth controls),
``weight_randomisation.calibration``, ``label_shuffling.retraining``, ``deployed``, and ``tasks``
(what an executor such as Ray ran: then the passes are loaded, not computed, in their own stage).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

GROUPS = ("sanity_images", "weight_randomisation", "label_shuffling")
"""The work-file tags of the non-clean levels start with these (``weight_randomisation_0.25``)."""


def stage_of(tag: str, method: str) -> str:
    """The stage of ``method``'s pass at the level tagged ``tag`` (``""``: the clean level).

    >>> stage_of("", "rise"), stage_of("label_shuffling_0.05", "rise")
    ('clean.rise', 'label_shuffling.rise')
    """
    return f"{next((g for g in GROUPS if tag.startswith(g)), 'clean')}.{method}"


class Timings:
    """Wall seconds per stage, summed over the blocks timed under its name; the one mutable holder
    the frozen run context carries (``RunContext.timings``), shared by its sanity copy."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Add the wall time of the ``with`` block to stage ``name``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


__all__ = ["GROUPS", "Timings", "stage_of"]
