"""Scores of an audit with their bootstrap intervals (resampling the audited images)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from auditkit.engine.distances import S_EQ, S_NEQ, DistanceRecord
from auditkit.errors import MetricInputError
from auditkit.metrics import mege, reco, reco_auc
from auditkit.metrics.bootstrap import (
    bootstrap_mean,
    bootstrap_mege,
    bootstrap_reco,
    percentile_interval,
)


@dataclass(frozen=True)
class Score:
    """A point estimate with its percentile bootstrap interval.

    Attributes:
        value: the estimate on all audited images; None when the score is undefined.
        low: lower bound of the interval (None without bootstrap or when undefined).
        high: upper bound of the interval.
        undefined: why the score is undefined, or "".
    """

    value: float | None
    low: float | None = None
    high: float | None = None
    undefined: str = ""

    def bound(self, side: str) -> float | None:
        """``"point"``, ``"low"`` or ``"high"``."""
        return {"point": self.value, "low": self.low, "high": self.high}[side]

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "ci_low": self.low, "ci_high": self.high,
                "undefined": self.undefined or None}

    def text(self, digits: int = 3) -> str:
        """``value [low, high]`` with ``digits`` decimals, the value alone, or ``undefined``.

        >>> Score(0.5, 0.25, 0.75).text(2), Score(0.5).text(1), Score(None).text()
        ('0.50 [0.25, 0.75]', '0.5', 'undefined')
        """
        if self.value is None:
            return "undefined"
        if self.low is None or self.high is None:
            return f"{self.value:.{digits}f}"
        return f"{self.value:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def _score(point: Any, resampled: torch.Tensor | None, confidence: float) -> Score:
    """Build a Score from a point-estimate thunk and resampled values."""
    try:
        value = float(point())
    except MetricInputError as exc:
        return Score(None, undefined=str(exc))
    if math.isnan(value):
        return Score(None, undefined="undefined on every audited image")
    if resampled is None:
        return Score(value)
    try:
        interval = percentile_interval(resampled, confidence)
    except MetricInputError:  # undefined on every resample: report the point without interval
        return Score(value)
    return Score(value, interval.low, interval.high)


@dataclass(frozen=True)
class ExplainerScores:
    """Everything measured for one explainer.

    Attributes:
        name: registry name of the explainer.
        mege, reco, reco_auc, mu_fidelity: the scores.
        n_s_eq, n_s_neq, n_ignored: sizes of S=, S≠ and of the ignored pairs (both wrong).
        n_degenerate: pairs that contain a constant map (distance fixed by convention).
        mu_images: images muF was computed on; mu_undefined: of these, how many had no
            correlation (constant score drops or subset sums) and were skipped.
        resampled: metric -> ``Tensor[R]`` bootstrap values of the four scores (NaN where
            undefined), kept for the sanity checks' trend tests; empty without bootstrap. Not
            written to results.json.
    """

    name: str
    mege: Score
    reco: Score
    reco_auc: Score
    mu_fidelity: Score
    n_s_eq: int
    n_s_neq: int
    n_ignored: int
    n_degenerate: int
    mu_images: int
    mu_undefined: int
    resampled: Mapping[str, torch.Tensor] = field(default_factory=dict, repr=False, compare=False)

    def score(self, metric: str) -> Score:
        return {"mege": self.mege, "reco": self.reco, "reco_auc": self.reco_auc,
                "mu_fidelity": self.mu_fidelity}[metric]

    def to_dict(self) -> dict[str, Any]:
        return {
            "mege": self.mege.to_dict(),
            "reco": self.reco.to_dict(),
            "reco_auc": self.reco_auc.to_dict(),
            "mu_fidelity": self.mu_fidelity.to_dict(),
            "n_s_eq": self.n_s_eq,
            "n_s_neq": self.n_s_neq,
            "n_ignored": self.n_ignored,
            "n_degenerate_pairs": self.n_degenerate,
            "mu_fidelity_images": self.mu_images,
            "mu_fidelity_undefined": self.mu_undefined,
        }


def explainer_scores(
    name: str,
    record: DistanceRecord,
    mu_values: torch.Tensor,
    mu_sample: torch.Tensor,
    *,
    reco_form: str,
    weights: torch.Tensor | None,
    confidence: float,
) -> ExplainerScores:
    """Scores of one explainer; ``weights`` [R, N] are the shared bootstrap resamples (or None)."""
    s_eq, s_neq = record.s_eq, record.s_neq
    boot_mege = boot_reco = boot_auc = boot_mu = None
    resampled: dict[str, torch.Tensor] = {}
    if weights is not None:
        boot_mege = bootstrap_mege(record.distances, record.category == S_EQ, weights)
        boot_reco, boot_auc = bootstrap_reco(
            record.distances, record.category, weights, form=reco_form
        )
        boot_mu = bootstrap_mean(mu_values, weights[:, mu_sample])
        resampled = {"mege": boot_mege, "reco": boot_reco, "reco_auc": boot_auc,
                     "mu_fidelity": boot_mu}
    defined_mu = mu_values[~torch.isnan(mu_values)]
    return ExplainerScores(
        name=name,
        mege=_score(lambda: mege(s_eq), boot_mege, confidence),
        reco=_score(lambda: reco(s_eq, s_neq, form=reco_form), boot_reco, confidence),
        reco_auc=_score(lambda: reco_auc(s_eq, s_neq, form=reco_form), boot_auc, confidence),
        mu_fidelity=_score(lambda: defined_mu.mean() if defined_mu.numel() else math.nan,
                           boot_mu, confidence),
        n_s_eq=int(s_eq.numel()),
        n_s_neq=int(s_neq.numel()),
        n_ignored=int((record.category == 0).sum()),
        n_degenerate=int(record.degenerate[record.category > 0].sum()),
        mu_images=int(mu_values.numel()),
        mu_undefined=int(torch.isnan(mu_values).sum()),
        resampled=resampled,
    )


def accuracy_score(correct: torch.Tensor, weights: torch.Tensor | None, confidence: float) -> Score:
    """Mean held-out accuracy over all images (each judged by the model that did not train on it)."""
    values = correct.double()
    boot = bootstrap_mean(values, weights) if weights is not None else None
    return _score(lambda: values.mean(), boot, confidence)


SCORE_METRICS: tuple[str, ...] = ("mege", "reco", "reco_auc", "mu_fidelity")
"""The scores measured for every explainer, in report order."""

__all__ = [
    "SCORE_METRICS",
    "S_EQ",
    "S_NEQ",
    "ExplainerScores",
    "Score",
    "accuracy_score",
    "explainer_scores",
]
