"""Scores of an audit with their bootstrap intervals (resampling the audited images)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from auditkit.catalog import names
from auditkit.engine.distances import S_EQ, S_NEQ, DistanceRecord
from auditkit.engine.properties import PropertyValues
from auditkit.errors import MetricInputError
from auditkit.explainers import EXPLAINERS, RandomBaseline
from auditkit.metrics import mege, reco, reco_auc
from auditkit.metrics.bootstrap import (
    bootstrap_mean,
    bootstrap_mege,
    bootstrap_reco,
    percentile_interval,
)
from auditkit.metrics.chance import RecoChance, corrected_reco, reco_chance
from auditkit.results import (
    Correlation,
    Estimate,
    ExplainerEntry,
    Properties,
    RandomWorst,
    SmoothControl,
    Transformation,
)
from auditkit.results import RecoChance as ChanceRecord


def _score(point: Any, resampled: torch.Tensor | None, confidence: float, undefined: str = "") -> Estimate:
    """Build a Estimate from a point-estimate thunk and resampled values; undefined for the reason
    ``undefined`` when one is given."""
    if undefined:
        return Estimate(None, undefined=undefined)
    try:
        value = float(point())
    except MetricInputError as exc:
        return Estimate(None, undefined=str(exc))
    if math.isnan(value):
        return Estimate(None, undefined="undefined on every audited image")
    if resampled is None:
        return Estimate(value)
    try:
        interval = percentile_interval(resampled, confidence)
    except MetricInputError:  # undefined on every resample: report the point without interval
        return Estimate(value)
    return Estimate(value, interval.low, interval.high)


PROPERTY_SCORES: tuple[str, ...] = names(scope="property")
"""The property scores (:class:`PropertyScores`), in report order (:data:`~auditkit.catalog.METRICS`)."""


@dataclass(frozen=True)
class TransformationScore:
    """The invariance of an explainer under one declared transformation.

    Attributes:
        name, setting: the transformation and its sizing setting (``{}`` for hflip).
        distance: mean Spearman distance over the compared images.
        compared: images compared; left_out: images whose prediction it changed (not compared).
    """

    name: str
    setting: Mapping[str, Any]
    distance: Estimate
    compared: int
    left_out: int

    def document(self) -> Transformation:
        """results.json's record of this transformation."""
        return Transformation(self.name, dict(self.setting), self.distance, self.compared, self.left_out)


@dataclass(frozen=True)
class PropertyScores:
    """Robustness, invariance and completeness of one explainer (:mod:`auditkit.engine.properties`).

    A score of a disabled property, or completeness of a method that claims none, is undefined and
    says why. ``invariance_distance`` is the worst (largest) of the transformations' mean distances.

    Attributes:
        robustness_images: images measured; sensitivity_undefined: of these, with an all-zero map.
        invariance_images: images in the sample; transformations: one entry per declaration.
        completeness_images: images measured (0 without a claim); completeness_undefined: of these,
            where ``f_c(x) = f_c(baseline)``.
        resampled: metric -> ``Tensor[R]`` bootstrap values; not written to results.json.
    """

    sensitivity_max: Estimate
    robustness_distance: Estimate
    invariance_distance: Estimate
    completeness_error: Estimate
    robustness_images: int
    sensitivity_undefined: int
    invariance_images: int
    transformations: tuple[TransformationScore, ...]
    completeness_images: int
    completeness_undefined: int
    resampled: Mapping[str, torch.Tensor] = field(default_factory=dict, repr=False, compare=False)

    def score(self, metric: str) -> Estimate:
        """The score of property metric ``metric`` (one of :data:`PROPERTY_SCORES`)."""
        if metric not in PROPERTY_SCORES:
            raise KeyError(metric)
        return getattr(self, metric)

    def document(self) -> Properties:
        """results.json's ``properties`` of one explainer."""
        return Properties(
            {metric: self.score(metric) for metric in PROPERTY_SCORES}, self.robustness_images,
            self.sensitivity_undefined, self.invariance_images,
            sum(t.left_out for t in self.transformations),
            tuple(t.document() for t in self.transformations), self.completeness_images,
            self.completeness_undefined)


def mean_score(values: torch.Tensor, sample: torch.Tensor, weights: torch.Tensor | None,
                confidence: float, absent: str) -> tuple[Estimate, torch.Tensor | None]:
    """Mean of per-image ``values`` over ``sample`` (NaN skipped), with its bootstrap interval."""
    if values.numel() == 0:
        return Estimate(None, undefined=absent), None
    boot = bootstrap_mean(values, weights[:, sample]) if weights is not None else None
    defined = values[~torch.isnan(values)]
    return _score(lambda: defined.mean() if defined.numel() else math.nan, boot, confidence), boot


def _worst(point: list[Estimate], boots: list[torch.Tensor | None], confidence: float) -> Estimate:
    """The largest of several defined means, and the interval of the largest over each resample."""
    defined = [i for i, s in enumerate(point) if s.value is not None]
    if not defined:
        return Estimate(None, undefined="no image kept its prediction under any transformation")
    value = max(point[i].value for i in defined)  # type: ignore[type-var]
    if any(boots[i] is None for i in defined):
        return Estimate(value)
    stacked = torch.stack([boots[i] for i in defined])  # type: ignore[misc]
    worst = torch.where(torch.isnan(stacked), -torch.inf, stacked).amax(dim=0)
    return _score(lambda: value, torch.where(torch.isinf(worst), torch.nan, worst), confidence)


def property_scores(
    values: PropertyValues,
    transformations: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    claims_completeness: bool,
    weights: torch.Tensor | None,
    confidence: float,
) -> PropertyScores:
    """Scores of :class:`PropertyValues` with intervals from the shared resamples ``weights`` [R, N]
    restricted to each property's sample (as muF's).

    Args:
        transformations: ``(name, setting)`` of each declared transformation, in policy order
            (empty when invariance is disabled).
    """
    off = "not measured: disabled in the policy's properties section"
    sens, boot_sens = mean_score(values.sensitivity, values.robust_sample, weights, confidence, off)
    rdist, boot_rdist = mean_score(values.robust_distance, values.robust_sample, weights,
                                    confidence, off)
    per_t, boots = [], []
    for (name, setting), row in zip(transformations, values.invariance, strict=True):
        score, boot = mean_score(row, values.invariance_sample, weights, confidence, off)
        kept = int((~torch.isnan(row)).sum())
        if score.value is None:
            score = Estimate(None, undefined="every image changed its prediction under it")
        per_t.append(TransformationScore(name, setting, score, kept, row.numel() - kept))
        boots.append(boot)
    inv = (_worst([t.distance for t in per_t], boots, confidence) if per_t
           else Estimate(None, undefined=off))
    absent = off if claims_completeness else "not applicable: the method makes no completeness claim"
    comp, boot_comp = mean_score(values.completeness, values.completeness_sample, weights,
                                  confidence, absent)
    resampled = {k: v for k, v in (("sensitivity_max", boot_sens), ("robustness_distance", boot_rdist),
                                   ("completeness_error", boot_comp)) if v is not None}
    return PropertyScores(
        sensitivity_max=sens,
        robustness_distance=rdist,
        invariance_distance=inv,
        completeness_error=comp,
        robustness_images=int(values.robust_sample.numel()),
        sensitivity_undefined=int(torch.isnan(values.sensitivity).sum()),
        invariance_images=int(values.invariance_sample.numel()),
        transformations=tuple(per_t),
        completeness_images=int(values.completeness_sample.numel()),
        completeness_undefined=int(torch.isnan(values.completeness).sum()),
        resampled=resampled,
    )


RANDOM_WORST: Mapping[str, str] = {"robustness": "robustness_distance",
                                   "invariance": "invariance_distance"}
"""The sanity expectation of the properties: the ``random`` control scores worst (largest) on each
property's Spearman distance. Max-sensitivity is left out: the relative change of a random map
depends only on the distribution it is drawn from (about 0.71 for U[0, 1) maps), not on the model."""


def random_scores_worst(explainers: Mapping[str, ExplainerScores]) -> dict[str, RandomWorst]:
    """Per property of :data:`RANDOM_WORST`, whether ``random`` scored worst (point estimates).

    ``held`` is None when the policy audits no ``random`` explainer or the score is undefined for it
    or for every other explainer; ``better_than_random`` lists the explainers that did not beat it.
    """
    out: dict[str, RandomWorst] = {}
    for prop, metric in RANDOM_WORST.items():
        ours = explainers.get(RandomBaseline.name)
        value = None if ours is None else ours.score(metric).value
        others = {name: s.score(metric).value for name, s in explainers.items()
                  if not EXPLAINERS[name].control}
        others = {name: v for name, v in others.items() if v is not None}
        held = None if value is None or not others else all(v < value for v in others.values())
        out[prop] = RandomWorst(metric, held, value, tuple(sorted(n for n, v in others.items()
                                                                  if value is not None and v >= value)))
    return out


CHANCE_ALPHA = 0.05
"""A ReCo is distinguishable from chance when its permutation p-value is below this."""


@dataclass(frozen=True)
class ChanceLevel:
    """ReCo's chance level on the observed S= and S≠ (:mod:`auditkit.metrics.chance`).

    Attributes:
        chance: the permutation null, or None where ReCo is undefined.
        undefined: why there is none, or "".
    """

    chance: RecoChance | None
    undefined: str = ""

    @property
    def distinguishable(self) -> bool | None:
        """ReCo stands above chance (p < :data:`CHANCE_ALPHA`); None where undefined."""
        return None if self.chance is None else self.chance.p_value < CHANCE_ALPHA

    def document(self) -> ChanceRecord:
        """results.json's ``reco_chance``."""
        c = self.chance
        if c is None:
            return ChanceRecord(undefined=self.undefined)
        return ChanceRecord(c.null_mean, c.null_sd, c.null_q95, c.p_value, c.permutations, CHANCE_ALPHA,
                            self.distinguishable)


def _chance(record: DistanceRecord, perms: torch.Tensor, form: str) -> ChanceLevel:
    try:
        return ChanceLevel(reco_chance(record.distances.double(), record.category.long(),
                                       perms.shape[0], form=form, perms=perms))
    except MetricInputError as exc:
        return ChanceLevel(None, str(exc))


@dataclass(frozen=True)
class SmoothControlScores:
    """The smooth random control at one method's width (:mod:`auditkit.engine.smooth`).

    Attributes:
        sigma: the method's width in pixels, at which the control was drawn.
        scores: the control's scores there.
    """

    sigma: float
    scores: ExplainerScores

    def document(self) -> SmoothControl:
        """results.json's ``smooth_control`` of the method."""
        return SmoothControl(self.sigma, {m: self.scores.score(m) for m in SCORE_METRICS})


@dataclass(frozen=True)
class ExplainerScores:
    """Everything measured for one explainer.

    Attributes:
        name: registry name of the explainer.
        mege, reco, reco_auc, mu_fidelity: the scores.
        reco_corrected: ``(ReCo - E0) / (1 - E0)``, E0 ReCo's chance level (0 = chance, 1 = perfect);
            its interval maps ReCo's resamples by the same E0.
        reco_chance: ReCo's permutation null, p-value and chance band.
        n_s_eq, n_s_neq, n_ignored: sizes of S=, S≠ and of the ignored pairs (both wrong).
        n_degenerate: pairs that contain a constant map (distance fixed by convention).
        mu_images: images muF was computed on; mu_undefined: of these, how many had no
            correlation (constant score drops or subset sums) and were skipped.
        resampled: metric -> ``Tensor[R]`` bootstrap values of the four scores (NaN where
            undefined), kept for the sanity checks' trend tests; empty without bootstrap. Not
            written to results.json.
    """

    name: str
    mege: Estimate
    reco: Estimate
    reco_auc: Estimate
    mu_fidelity: Estimate
    reco_corrected: Estimate
    reco_chance: ChanceLevel
    n_s_eq: int
    n_s_neq: int
    n_ignored: int
    n_degenerate: int
    mu_images: int
    mu_undefined: int
    resampled: Mapping[str, torch.Tensor] = field(default_factory=dict, repr=False, compare=False)
    properties: PropertyScores | None = None
    """Robustness, invariance, completeness; None where not measured (the sanity checks' levels)."""
    input_rho: torch.Tensor = field(default_factory=lambda: torch.empty(0, 0), repr=False, compare=False)
    """``[M, k]`` |rho| between the maps and the input control's (``DistanceRecord.input_rho``)."""
    coverage_rho: torch.Tensor = field(default_factory=lambda: torch.empty(0, 0), repr=False,
                                       compare=False)
    """``[M, k]`` |rho| between RISE's maps and its mask coverage (``DistanceRecord.coverage_rho``)."""
    own_maps: torch.Tensor = field(default_factory=lambda: torch.empty(0, 0, 0), repr=False, compare=False)
    """``[M, H, W]`` the sampled images' maps by their own fold models (``DistanceRecord.own_maps``)."""
    smooth_control: SmoothControlScores | None = None
    """The smooth random control at this method's width; None where not measured."""

    def input_correlation(self) -> Correlation:
        """results.json's ``input_correlation``: mean |rho| (Spearman) of the maps with the input
        control's map ``sum_c |x_c|`` over the sampled images and fold models (NaN pairs, a constant
        map, left out); 1 is a map that ranks pixels as the input does."""
        return _mean_abs_rho(self.input_rho)

    def coverage_correlation(self) -> Correlation | None:
        """results.json's ``coverage_correlation`` (RISE only, else None): mean |rho| of the maps with
        the masks' drawn coverage on the same images; near 1, the map ranks pixels by how often the
        masks kept them, not by the model (the estimator of :class:`~auditkit.explainers.Rise`
        divides by the coverage so that it does not)."""
        if not self.coverage_rho.numel() or bool(torch.isnan(self.coverage_rho).all()):
            return None
        return _mean_abs_rho(self.coverage_rho)

    def score(self, metric: str) -> Estimate:
        if metric in PROPERTY_SCORES:
            if self.properties is None:
                return Estimate(None, undefined="not measured for these models")
            return self.properties.score(metric)
        if metric not in SCORE_METRICS:
            raise KeyError(metric)
        return getattr(self, metric)

    def document(self, settings: Mapping[str, Any]) -> ExplainerEntry:
        """results.json's entry of this explainer, with its resolved ``settings``."""
        return ExplainerEntry(
            dict(settings), {metric: self.score(metric) for metric in SCORE_METRICS},
            self.reco_chance.document(), self.n_s_eq, self.n_s_neq, self.n_ignored, self.n_degenerate,
            self.mu_images, self.mu_undefined, self.input_correlation(), self.coverage_correlation(),
            None if self.properties is None else self.properties.document(),
            None if self.smooth_control is None else self.smooth_control.document())


def explainer_scores(
    name: str,
    record: DistanceRecord,
    mu_values: torch.Tensor,
    mu_sample: torch.Tensor,
    *,
    reco_form: str,
    weights: torch.Tensor | None,
    confidence: float,
    permutations: torch.Tensor,
    min_pairs: int = 1,
) -> ExplainerScores:
    """Scores of one explainer; ``weights`` [R, N] are the shared bootstrap resamples (or None);
    ReCo's chance level from the shared image ``permutations`` [R', N]
    (:func:`~auditkit.metrics.chance.image_permutations`: the same draws for every explainer and
    level). A score whose sets hold fewer than ``min_pairs`` pairs (``metrics.min_pairs``) is
    undefined, its resamples NaN (:func:`_enough_pairs`)."""
    s_eq, s_neq = record.s_eq, record.s_neq
    few_eq, few_both = _enough_pairs(s_eq.numel(), s_neq.numel(), min_pairs)
    chance = ChanceLevel(None, few_both) if few_both else _chance(record, permutations, reco_form)
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
    if chance.chance is None:
        corrected = Estimate(None, undefined=chance.undefined)
    else:
        e0, observed = chance.chance.null_mean, chance.chance.observed
        boot_corrected = None
        if boot_reco is not None and e0 < 1.0:  # at E0 = 1 the point says why it is undefined
            boot_corrected = resampled["reco_corrected"] = corrected_reco(boot_reco, e0)
        corrected = _score(lambda: corrected_reco(observed, e0), boot_corrected, confidence)
    defined_mu = mu_values[~torch.isnan(mu_values)]
    few = {"mege": few_eq, "reco": few_both, "reco_auc": few_both}
    resampled.update({m: torch.full_like(v, torch.nan) for m, v in resampled.items() if few.get(m)})
    return ExplainerScores(
        name=name,
        mege=_score(lambda: mege(s_eq), boot_mege, confidence, few_eq),
        reco=_score(lambda: reco(s_eq, s_neq, form=reco_form), boot_reco, confidence, few_both),
        reco_auc=_score(lambda: reco_auc(s_eq, s_neq, form=reco_form), boot_auc, confidence, few_both),
        mu_fidelity=_score(lambda: defined_mu.mean() if defined_mu.numel() else math.nan,
                           boot_mu, confidence),
        reco_corrected=corrected,
        reco_chance=chance,
        n_s_eq=int(s_eq.numel()),
        n_s_neq=int(s_neq.numel()),
        n_ignored=int((record.category == 0).sum()),
        n_degenerate=int(record.degenerate[record.category > 0].sum()),
        mu_images=int(mu_values.numel()),
        mu_undefined=int(torch.isnan(mu_values).sum()),
        resampled=resampled,
        input_rho=record.input_rho,
        coverage_rho=record.coverage_rho, own_maps=record.own_maps,
    )


def _mean_abs_rho(rho: torch.Tensor) -> Correlation:
    """Mean of the defined |rho| ``[M, k]`` (NaN: a constant map, left out), with the counts.

    >>> _mean_abs_rho(torch.tensor([[0.2, float("nan")], [0.4, 0.6]])).mean_abs_rho
    0.4000000059604645
    """
    defined = rho[~torch.isnan(rho)]
    return Correlation(float(defined.mean()) if defined.numel() else None, int(rho.shape[0]),
                       int(torch.isnan(rho).sum()))


def _enough_pairs(n_eq: int, n_neq: int, min_pairs: int) -> tuple[str, str]:
    """Why a score of S= alone, and one of S= and S≠, is undefined for too few pairs ("" where not).

    >>> _enough_pairs(100, 7, 30)
    ('', 'not enough pairs (n = 7 in S≠, at least 30 needed)')
    """
    short = {name: f"n = {n} in {name}" for name, n in (("S=", n_eq), ("S≠", n_neq)) if n < min_pairs}
    eq, both = short.get("S=", ""), ", ".join(short.values())
    return (f"not enough pairs ({eq}, at least {min_pairs} needed)" if eq else "",
            f"not enough pairs ({both}, at least {min_pairs} needed)" if both else "")


def accuracy_score(correct: torch.Tensor, weights: torch.Tensor | None, confidence: float) -> Estimate:
    """Mean held-out accuracy over all images (each judged by the model that did not train on it)."""
    values = correct.double()
    boot = bootstrap_mean(values, weights) if weights is not None else None
    return _score(lambda: values.mean(), boot, confidence)


SCORE_METRICS: tuple[str, ...] = names(scope="explainer")
"""The scores measured for every explainer at every level, in report order
(:data:`~auditkit.catalog.METRICS`)."""

__all__ = [
    "PROPERTY_SCORES",
    "RANDOM_WORST",
    "SCORE_METRICS",
    "S_EQ",
    "S_NEQ",
    "ChanceLevel",
    "ExplainerScores",
    "PropertyScores",
    "SmoothControlScores",
    "TransformationScore",
    "accuracy_score",
    "explainer_scores",
    "mean_score",
    "property_scores",
    "random_scores_worst",
]
