"""Whether the fold models learnt anything, and how far their accuracies differ from fold size alone.

Chance is the majority-class rate of the audited images, ``max_c n_c / N``: what a model that always
answers the most frequent class reaches. A fold model is *above chance* when the lower bound of the
Wilson interval of its held-out accuracy (:func:`~auditkit.metrics.binomial.wilson_interval`, at the
policy's bootstrap confidence) exceeds it. When a fold model is not, its explanations explain no
learnt decision, and no explanation score of the audit is evidence of anything.

The spread fold size alone gives is the expected range of k fold accuracies that share the mean
accuracy p, fold i having sd ``sqrt(p (1 - p) / n_i)``
(:func:`~auditkit.metrics.binomial.expected_range`): a ``max_accuracy_spread`` below it is failed by
comparable models about half the time.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from auditkit.engine.crosstrain import FoldModel
from auditkit.metrics.binomial import binomial_sd, expected_range, wilson_interval
from auditkit.results import FoldChance


def chance_rate(labels: torch.Tensor) -> float:
    """The majority-class rate ``max_c n_c / N`` of ``labels`` ``[N]``.

    >>> chance_rate(torch.tensor([0, 0, 0, 1]))
    0.75
    """
    return float(torch.bincount(labels).max()) / labels.numel()


def fold_chance(fold: FoldModel, chance: float, confidence: float) -> FoldChance:
    """results.json's ``chance`` of one fold: the accuracy's Wilson interval against ``chance``."""
    correct = round(fold.accuracy * fold.n_test)
    low, high = wilson_interval(correct, fold.n_test, confidence)
    return FoldChance("wilson", low, high, chance, low > chance)


def spread_from_fold_size(folds: Sequence[FoldModel]) -> tuple[tuple[float, ...], float]:
    """The per-fold binomial sds at the mean accuracy, and the expected range of k such folds."""
    n = sum(f.n_test for f in folds)
    p = sum(f.accuracy * f.n_test for f in folds) / n
    sds = [binomial_sd(p, f.n_test) for f in folds]
    return tuple(sds), expected_range(sds)


__all__ = ["chance_rate", "fold_chance", "spread_from_fold_size"]
