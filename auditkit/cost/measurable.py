"""Whether an audit's evidence will be measurable: the S= and S≠ pairs to expect (torch-free).

ReCo needs pairs of fold models that disagree on an image (S≠: one right, one wrong); a score whose
sets hold fewer than ``metrics.min_pairs`` pairs is undefined, and so is every sanity verdict resting
on it. Each of N images gives k - 1 pairs (its own fold model with each other one). With every fold
model right with probability a and the correctness of two models on one image correlated with
coefficient rho (the phi coefficient of two Bernoulli(a) variables)::

    P(S=) = a² + rho a (1 - a),    P(S≠) = 2 a (1 - a) (1 - rho),

so ``|S≠| = N (k - 1) 2 a (1 - a) (1 - rho)`` on average. Models err on the same hard images, so rho
is positive: :data:`ERROR_CORRELATION` was measured on the demo's clean level. The degraded levels'
errors are less correlated (the demo's weight-randomised and label-shuffled levels gave 1.0 to 2.4
times the pairs this predicts), so their counts are lower bounds.

The accuracy a is the operator's to declare (``auditkit plan --accuracy``): a pilot of a few epochs
would underestimate it exactly where it matters, near 1, where S≠ empties (every fold at 1.0 gives no
S≠ pair at all). Without it, the plan gives the highest accuracy at which the clean level still has
``min_pairs`` S≠ pairs, and the images needed at a few accuracies. At a sanity level the accuracy is
taken as the level's fraction of the way from a to chance (the majority-class rate): what
``levels_by: accuracy`` targets for weight randomisation; for label shuffling, an assumption (models
resist label noise: the demo lost 0.02 at 5 % and 0.16 at 30 %); no count for ``levels_by: noise``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from auditkit.policy import Policy

ERROR_CORRELATION = 0.5
"""rho: the correlation of two fold models' correctness on one image, measured on the demo's clean
level (1,797 digits, k = 5, accuracy 0.993: 52 S≠ pairs of 7,188, 103 if the models erred
independently, so 1 - rho = 0.50)."""

REFERENCE_ACCURACIES = (0.9, 0.95, 0.99)
"""Accuracies the plan gives the expected pairs at when none is declared."""


def pair_shares(accuracy: float, correlation: float = ERROR_CORRELATION) -> tuple[float, float]:
    """``(P(S=), P(S≠))`` of one pair of fold models on one image (module docstring).

    >>> pair_shares(1.0), pair_shares(0.5, 0.0)
    ((1.0, 0.0), (0.25, 0.5))
    """
    both = accuracy * accuracy + correlation * accuracy * (1 - accuracy)
    return both, 2 * accuracy * (1 - accuracy) * (1 - correlation)


def expected_pairs(n: int, k: int, accuracy: float) -> tuple[float, float]:
    """``(|S=|, |S≠|)`` expected from ``n`` images and ``k`` fold models at ``accuracy``.

    >>> [round(v) for v in expected_pairs(1797, 5, 0.993)]
    [7113, 50]
    """
    s_eq, s_neq = pair_shares(accuracy)
    return n * (k - 1) * s_eq, n * (k - 1) * s_neq


def images_needed(min_pairs: int, k: int, accuracy: float) -> int | None:
    """The images that give ``min_pairs`` S≠ pairs on average at ``accuracy``; None when no number of
    images does (accuracy 0 or 1: no pair disagrees).

    >>> images_needed(30, 5, 0.99), images_needed(30, 5, 1.0)
    (758, None)
    """
    _, share = pair_shares(accuracy)
    return None if share <= 0 else math.ceil(min_pairs / ((k - 1) * share))


def highest_accuracy(n: int, k: int, min_pairs: int) -> float | None:
    """The accuracy above which ``n`` images give fewer than ``min_pairs`` S≠ pairs on average (the
    root above 1/2 of ``n (k - 1) P(S≠) = min_pairs``); None when even a = 1/2 gives too few.

    >>> round(highest_accuracy(1797, 5, 30), 4)
    0.9958
    """
    c = min_pairs / (2 * (1 - ERROR_CORRELATION) * n * (k - 1))
    return None if c > 0.25 else (1 + math.sqrt(1 - 4 * c)) / 2


@dataclass(frozen=True)
class LevelPairs:
    """The pairs to expect at one level: its check (``clean`` for level 0), level, images, the
    accuracy assumed and the expected |S=| and |S≠|."""

    check: str
    level: float
    images: int
    accuracy: float
    s_eq: float
    s_neq: float


@dataclass(frozen=True)
class Measurability:
    """What :func:`measurability` found (module docstring).

    Attributes:
        min_pairs, k, images: the policy's ``metrics.min_pairs``, ``cross_validation.k`` and the
            audited images; sanity_images: the images every sanity level explains.
        accuracy: the accuracy declared; None: not declared.
        highest: the accuracy above which the clean level has too few S≠ pairs (None: at any).
        levels: the pairs expected at each level (declared accuracy only).
        needed: ``(accuracy, images needed, |S≠| expected)`` at the declared accuracy, else at
            :data:`REFERENCE_ACCURACIES`.
    """

    min_pairs: int
    k: int
    images: int
    sanity_images: int
    accuracy: float | None
    highest: float | None
    levels: tuple[LevelPairs, ...]
    needed: tuple[tuple[float, int | None, float], ...]

    def warnings(self) -> list[str]:
        """One line per level expected to have fewer than ``min_pairs`` S≠ or S= pairs."""
        return [f"{p.check} {p.level:g}: about {p.s_neq:.0f} S≠ and {p.s_eq:.0f} S= pairs expected, "
                f"fewer than metrics.min_pairs ({self.min_pairs}): ReCo will be undefined there"
                for p in self.levels if min(p.s_eq, p.s_neq) < self.min_pairs]

    def lines(self) -> list[str]:
        """The measurability in words, for ``auditkit plan`` and the run's log."""
        top = ("no accuracy gives enough" if self.highest is None else
               f"fewer above accuracy {self.highest:.4f}")
        out = [f"measurability: ReCo needs >= {self.min_pairs} S≠ pairs (metrics.min_pairs); "
               f"{self.images} images x {self.k - 1} pairs each: {top}"]
        out += [f"  {p.check} {p.level:g} ({p.images} images, accuracy {p.accuracy:.3f}): "
                f"{p.s_eq:.0f} S=, {p.s_neq:.0f} S≠ pairs expected" for p in self.levels]
        out += [f"  at accuracy {a:g}: {s:.0f} S≠ pairs expected; "
                + ("no number of images gives S≠ pairs" if n is None else
                   f"{n} images give {self.min_pairs}") for a, n, s in self.needed]
        return out + [f"  warning: {w}" for w in self.warnings()]


def measurability(policy: Policy, n_images: int, chance: float,
                  accuracy: float | None = None) -> Measurability:
    """The pairs to expect for ``policy`` on ``n_images`` images whose majority-class rate is
    ``chance``, at the clean ``accuracy`` when declared (module docstring)."""
    k, min_pairs = policy.cross_validation.k, policy.metrics.min_pairs
    s = policy.sanity_checks
    n_sanity = n_images if s.max_images is None else min(s.max_images, n_images)
    levels: list[LevelPairs] = []
    if accuracy is not None:
        levels.append(LevelPairs("clean", 0.0, n_images, accuracy, *expected_pairs(n_images, k, accuracy)))
        if n_sanity < n_images:  # level 0 of the trends, re-scored on the sanity subsample
            levels.append(LevelPairs("sanity_images", 0.0, n_sanity, accuracy,
                                     *expected_pairs(n_sanity, k, accuracy)))
        checks = [("weight_randomisation", s.weight_randomisation.levels)
                  if s.weight_randomisation.enabled and s.weight_randomisation.levels_by == "accuracy"
                  else ("", ()),
                  ("label_shuffling", s.label_shuffling.levels if s.label_shuffling.enabled else ())]
        for check, values in checks:
            for level in values:
                a = accuracy - level * (accuracy - chance)
                levels.append(LevelPairs(check, level, n_sanity, a, *expected_pairs(n_sanity, k, a)))
    at = REFERENCE_ACCURACIES if accuracy is None else (accuracy,)
    needed = tuple((a, images_needed(min_pairs, k, a), expected_pairs(n_images, k, a)[1]) for a in at)
    return Measurability(min_pairs, k, n_images, n_sanity, accuracy, highest_accuracy(n_images, k, min_pairs),
                         tuple(levels), needed)


__all__ = [
    "ERROR_CORRELATION",
    "REFERENCE_ACCURACIES",
    "LevelPairs",
    "Measurability",
    "expected_pairs",
    "highest_accuracy",
    "images_needed",
    "measurability",
    "pair_shares",
]
