"""results.json as one typed, versioned document: what the engine builds and every reader takes.

:class:`AuditDocument` and the frozen dataclasses under it are the whole of results.json; torch-free,
so the report, the history and ``verify`` read it without loading torch. :meth:`AuditDocument.to_json`
gives the bytes that are signed and :meth:`AuditDocument.from_json` reads them back, its exact inverse
(``from_json(b).to_json() == b``). A field's JSON key is its name unless its metadata says otherwise
(``key``); ``omit_none`` leaves an absent optional section out, ``null_empty`` writes an empty reason as
``null``. Verdicts are data: :class:`CheckStatus` for a threshold check, :class:`SanityVerdict` for a
sanity check, each beside its prose reason, so no reader parses prose or compares a threshold again.

Schema versions (:data:`SCHEMA_VERSION`); an older document is upgraded on reading
(:func:`upgrade`), so the history, ``diff`` and the since-last-audit section read every audit the
history holds:

- 1: the first schema.
- 2: a threshold check's ``on`` is ``estimate`` (the policy's name) and it gains ``status``
  (:class:`CheckStatus`); a sanity check's settings sit under ``settings`` instead of beside its
  results; the scores of an explainer, of its properties, of a sanity level and of the deployed
  model's maps sit under ``scores``, keyed by the catalog's metric names, so a new metric of the
  catalog needs no new field here.
"""

from __future__ import annotations

import json
import types
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from enum import Enum
from typing import Any, Union, get_args, get_origin, get_type_hints

from auditkit._format import interval_text
from auditkit.catalog import METRICS
from auditkit.errors import AuditError

SCHEMA_VERSION = 2
"""results.json's ``schema_version`` (the history in the module docstring)."""

IGNORED, S_EQ, S_NEQ = 0, 1, 2
"""Category of a pair of fold models on one image in a distance record: ignored (neither model is
right), S= (both right) or S≠ (exactly one right)."""


class ResultsError(AuditError, ValueError):
    """A results.json that is not a document of a known schema version; names the key."""


def _key(name: str) -> dict[str, Any]:
    return {"key": name}


_OMIT = {"omit_none": True}
_NULL = {"null_empty": True}


class CheckStatus(str, Enum):
    """The outcome of one threshold check, decided once by the engine.

    ``met``/``not_met``: the measured score against the threshold; ``inadmissible``: a sanity check
    of the metric failed for the method; ``not_evidenced``: one was inconclusive; ``undefined``: the
    score, or the interval bound the threshold asks for, is undefined.
    """

    MET = "met"
    NOT_MET = "not_met"
    INADMISSIBLE = "inadmissible"
    NOT_EVIDENCED = "not_evidenced"
    UNDEFINED = "undefined"


class SanityVerdict(str, Enum):
    """A sanity check's verdict on one metric, one method or the whole check."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its percentile bootstrap interval (results.json's
    ``{"value", "ci_low", "ci_high", "undefined"}``).

    Attributes:
        value: the estimate on all audited images; ``None`` when the score is undefined.
        low, high: the interval's bounds (``None`` without bootstrap or when undefined).
        undefined: why the score is undefined, or ``""``.
    """

    value: float | None
    low: float | None = field(default=None, metadata=_key("ci_low"))
    high: float | None = field(default=None, metadata=_key("ci_high"))
    undefined: str = field(default="", metadata=_NULL)

    @property
    def interval(self) -> tuple[float, float] | None:
        """``(low, high)``, or ``None`` when the score or either bound is missing."""
        if self.value is None or self.low is None or self.high is None:
            return None
        return self.low, self.high

    def bound(self, side: str) -> float | None:
        """``"point"``, ``"low"`` or ``"high"``."""
        return {"point": self.value, "low": self.low, "high": self.high}[side]

    def text(self, digits: int = 3) -> str:
        """``value [low, high]`` with ``digits`` decimals, the value alone, or ``undefined``.

        >>> Estimate(0.5, 0.25, 0.75).text(2), Estimate(0.5).text(1), Estimate(None).text()
        ('0.50 [0.25, 0.75]', '0.5', 'undefined')
        """
        return interval_text(self.value, self.low, self.high, digits)


@dataclass(frozen=True)
class RecoChance:
    """ReCo's permutation null (:mod:`auditkit.metrics.chance`), or why it is undefined."""

    null_mean: float | None = field(default=None, metadata=_OMIT)
    null_sd: float | None = field(default=None, metadata=_OMIT)
    null_q95: float | None = field(default=None, metadata=_OMIT)
    p_value: float | None = field(default=None, metadata=_OMIT)
    permutations: int | None = field(default=None, metadata=_OMIT)
    alpha: float | None = field(default=None, metadata=_OMIT)
    distinguishable: bool | None = field(default=None, metadata=_OMIT)
    undefined: str | None = field(default=None, metadata=_OMIT)


@dataclass(frozen=True)
class Correlation:
    """Mean |rho| of the maps with a control's map, over the sampled images and fold models."""

    mean_abs_rho: float | None
    images: int
    undefined_maps: int


@dataclass(frozen=True)
class Transformation:
    """Invariance under one declared transformation."""

    name: str
    setting: Mapping[str, Any]
    distance: Estimate
    compared: int
    left_out: int


@dataclass(frozen=True)
class Properties:
    """Robustness, invariance and completeness of one explainer on the clean audit.

    Attributes:
        scores: property metric of the catalog (``scope="property"``) -> its estimate.
        robustness_images, sensitivity_undefined: images measured, and of these with an all-zero map.
        invariance_images, invariance_left_out, invariance_transformations: the invariance sample,
            the images left out (prediction changed), and each transformation's distance.
        completeness_images, completeness_undefined: images measured, and of these with
            ``f_c(x) = f_c(baseline)``.
    """

    scores: Mapping[str, Estimate]
    robustness_images: int
    sensitivity_undefined: int
    invariance_images: int
    invariance_left_out: int
    invariance_transformations: tuple[Transformation, ...]
    completeness_images: int
    completeness_undefined: int


@dataclass(frozen=True)
class SmoothControl:
    """The smooth random control (``random_smooth``) at one method's own width.

    Attributes:
        sigma: the Gaussian width in pixels measured on the method's maps, at which the control's
            maps were drawn (:func:`~auditkit.explainers.random_smooth.smoothness_width`).
        scores: per-explainer metric of the catalog (``scope="explainer"``) -> the control's estimate.
    """

    sigma: float
    scores: Mapping[str, Estimate]


@dataclass(frozen=True)
class ExplainerEntry:
    """Everything measured for one explainer on the clean audit.

    Attributes:
        settings: the explainer's resolved settings.
        scores: per-explainer metric of the catalog (``scope="explainer"``) -> its estimate.
        reco_chance: ReCo's chance level.
        n_s_eq, n_s_neq, n_ignored: sizes of S=, S≠ and the ignored pairs; n_degenerate_pairs: pairs
            with a constant map.
        mu_fidelity_images, mu_fidelity_undefined: images muF was computed on, and of these undefined.
        input_correlation: the maps against the input control's; coverage_correlation: RISE's maps
            against its masks' coverage (RISE only).
        properties: the properties (``None`` where none was measured).
        smooth_control: the smooth random control at this method's width (``None`` where the policy
            lists no ``random_smooth``, and for the controls).
    """

    settings: Mapping[str, Any]
    scores: Mapping[str, Estimate]
    reco_chance: RecoChance
    n_s_eq: int
    n_s_neq: int
    n_ignored: int
    n_degenerate_pairs: int
    mu_fidelity_images: int
    mu_fidelity_undefined: int
    input_correlation: Correlation
    coverage_correlation: Correlation | None = field(default=None, metadata=_OMIT)
    properties: Properties | None = field(default=None, metadata=_OMIT)
    smooth_control: SmoothControl | None = field(default=None, metadata=_OMIT)

    def score(self, metric: str) -> Estimate | None:
        """Score ``metric`` of the catalog (per explainer or property); ``None`` where not measured.

        >>> from auditkit.results import _example
        >>> _example().explainers["saliency"].score("mege").text(2)
        '0.70 [0.60, 0.80]'
        """
        if METRICS[metric].scope == "property":
            return None if self.properties is None else self.properties.scores.get(metric)
        return self.scores.get(metric)


@dataclass(frozen=True)
class FoldChance:
    """A fold's accuracy interval (Wilson) against the chance rate."""

    interval: str
    low: float = field(metadata=_key("ci_low"))
    high: float = field(metadata=_key("ci_high"))
    chance: float
    above_chance: bool


@dataclass(frozen=True)
class Fold:
    """One cross-trained fold model."""

    index: int
    n_test: int
    accuracy: float
    checkpoint_sha256: str
    chance: FoldChance


@dataclass(frozen=True)
class Accuracy(Estimate):
    """The models' held-out accuracy with its interval, and what the fold sizes let one expect.

    Attributes:
        spread: max - min of the fold accuracies; max_spread: the policy's bound; comparable: within it.
        fold_sd: the binomial sd of each fold at the mean accuracy; expected_spread: the range k such
            folds would show.
        chance: the majority class's rate; at_chance: the folds whose interval does not exclude it.
    """

    spread: float = 0.0
    max_spread: float = 1.0
    comparable: bool = True
    fold_sd: tuple[float, ...] = ()
    expected_spread: float = 0.0
    chance: float = 0.0
    at_chance: tuple[int, ...] = ()


@dataclass(frozen=True)
class ThresholdCheck:
    """One threshold of the policy applied to one explainer (``None``: the models).

    Attributes:
        threshold: the threshold's id; metric, op, value: what it tests.
        estimate: ``point`` or ``lower_bound`` (the policy's ``estimate``).
        measured: the value compared (the point or the bound least favourable to passing).
        status: the outcome (:class:`CheckStatus`); passed: ``status is met``.
        reason: the outcome in words.
        inadmissible, not_evidenced: the sanity checks that failed / were inconclusive for the metric.
    """

    threshold: str
    metric: str
    op: str
    value: float
    estimate: str
    explainer: str | None
    measured: float | None
    status: CheckStatus
    passed: bool
    reason: str
    inadmissible: tuple[str, ...] = ()
    not_evidenced: tuple[str, ...] = ()

    @property
    def subject(self) -> str:
        """``T1[saliency]``, or the threshold's id for a model threshold."""
        return self.threshold + (f"[{self.explainer}]" if self.explainer else "")


@dataclass(frozen=True)
class Requirement:
    """A requirement of the policy and whether its evidence holds."""

    id: str
    title: str
    articles: tuple[str, ...]
    evidence: tuple[str, ...]
    met: bool
    failed_checks: tuple[str, ...]


@dataclass(frozen=True)
class Trend:
    """The fall of one metric across a sanity check's levels: slope per unit of level with its
    interval, and for a gated metric the verdict (``None`` for an ungated one) and why."""

    slope: float | None
    low: float | None = field(metadata=_key("ci_low"))
    high: float | None = field(metadata=_key("ci_high"))
    sd: float | None
    p_value: float | None
    resamples: int
    passed: bool | None
    verdict: SanityVerdict | None
    reason: str = field(default="", metadata=_NULL)


@dataclass(frozen=True)
class SanityLevel:
    """One explainer's scores at one level of a sanity check (level 0: the clean audit)."""

    level: float
    scores: Mapping[str, Estimate]
    reco_chance: RecoChance
    n_s_eq: int
    n_s_neq: int
    accuracy: Estimate

    def score(self, metric: str) -> Estimate | None:
        """Score ``metric`` (a per-explainer metric) at this level; ``None`` where not measured."""
        return self.scores.get(metric)


@dataclass(frozen=True)
class SanityExplainer:
    """One explainer through a sanity check: its levels, the trend of each metric and its verdict
    (``None``: outside the verdict, as the ``random`` control)."""

    levels: tuple[SanityLevel, ...]
    trend: Mapping[str, Trend]
    in_verdict: bool
    passed: bool | None
    status: SanityVerdict | None


@dataclass(frozen=True)
class FoldCalibration:
    """The noise scale found for one fold model at one weight-randomisation level (``levels_by:
    accuracy``): the target ``clean - level x (clean - chance)`` and what the bisection reached.

    Attributes:
        fold: fold index; clean: its clean held-out accuracy; chance: the majority-class rate.
        target: the accuracy sought; accuracy: the held-out accuracy reached at ``scale``.
        scale: the noise scale, in units of each weight tensor's standard deviation.
        steps: accuracy evaluations of the bisection; reached: |accuracy - target| <= tolerance.
    """

    fold: int
    clean: float
    chance: float
    target: float
    accuracy: float
    scale: float
    steps: int
    reached: bool


@dataclass(frozen=True)
class SanityCalibration:
    """The scales found for every fold model at one weight-randomisation level."""

    level: float
    folds: tuple[FoldCalibration, ...]


@dataclass(frozen=True)
class SanityCheck:
    """One sanity check over its levels (Fel et al., section 4.2).

    Attributes:
        levels: the levels, 0 (the clean audit) first; settings: the check's policy settings.
        alpha, min_fall: the trend test's level and the smallest meaningful fall.
        chance_accuracy: the majority class's rate; images: images explained at every level.
        status: the check's verdict (passed: it is ``pass``); explainers: per explainer.
        calibration: per degraded level, the noise scale found per fold (weight randomisation with
            ``levels_by: accuracy``; absent otherwise).
        degradation: why the degradation itself is in doubt (the models' accuracy did not fall
            over the levels, or a target accuracy was not reached); absent when it is not.
    """

    levels: tuple[float, ...]
    settings: Mapping[str, Any]
    alpha: float
    min_fall: float
    chance_accuracy: float
    images: int
    passed: bool
    status: SanityVerdict
    explainers: Mapping[str, SanityExplainer]
    calibration: tuple[SanityCalibration, ...] | None = field(default=None, metadata=_OMIT)
    degradation: str | None = field(default=None, metadata=_OMIT)


@dataclass(frozen=True)
class RandomWorst:
    """Whether the ``random`` control scored worst on one property (point estimates)."""

    metric: str
    held: bool | None
    random: float | None
    not_beating_random: tuple[str, ...]


@dataclass(frozen=True)
class PropertyChecks:
    """Checks of the properties against the ``random`` control (``None``: no property measured)."""

    random_scores_worst: Mapping[str, RandomWorst] | None = field(default=None, metadata=_OMIT)


PAIR_SEPARATOR = " vs "
"""Joins the two registry names of a pair of explainers into one subject (``saliency vs gradcam``):
the ``explainer`` of a threshold check on a pair metric (catalog scope ``pair``)."""


def pair_name(first: str, second: str) -> str:
    """The subject of the pair ``(first, second)``.

    >>> pair_name("saliency", "gradcam")
    'saliency vs gradcam'
    """
    return f"{first}{PAIR_SEPARATOR}{second}"


@dataclass(frozen=True)
class AgreementPair:
    """How far two explainers agree on the same images (:mod:`auditkit.metrics.agreement`).

    Attributes:
        first, second: the two explainers, in the policy's order.
        scores: pair metric of the catalog (``scope="pair"``) -> its mean over the images with its
            bootstrap interval over the images.
        degenerate: images where a map of the pair is constant (both scores fixed by convention).
    """

    first: str
    second: str
    scores: Mapping[str, Estimate]
    degenerate: int

    @property
    def name(self) -> str:
        """:func:`pair_name` of the pair."""
        return pair_name(self.first, self.second)


@dataclass(frozen=True)
class Agreement:
    """The agreement between every pair of the audited explainers.

    Each image is explained by its own fold model (the one that did not train on it), by every method.

    Attributes:
        top_k: k as a fraction of the features (``metrics.agreement.top_k``); k: that many features
            (pixels); features: the features of a map, D.
        chance_top_k: top-k agreement of two independent random rankings, k / D.
        images: the images compared (a seeded sample of the audited ones).
        pairs: every pair, in the policy's order (first before second).
    """

    top_k: float
    k: int
    features: int
    chance_top_k: float
    images: int
    pairs: tuple[AgreementPair, ...]

    def pair(self, name: str) -> AgreementPair | None:
        """The pair whose :attr:`AgreementPair.name` is ``name``, in either order; None if absent."""
        for p in self.pairs:
            if name in (p.name, pair_name(p.second, p.first)):
                return p
        return None


class ConvergenceStatus(str, Enum):
    """Whether one sampling budget suffices (:mod:`auditkit.metrics.convergence`): the score moved
    by at most ``share`` of its interval's width when the budget was doubled (``converged``), by
    more (``not_converged``), or the check could not tell (``undetermined``: no interval, a score
    undefined at b or 2b, or 2b beyond what the setting accepts)."""

    CONVERGED = "converged"
    NOT_CONVERGED = "not_converged"
    UNDETERMINED = "undetermined"


@dataclass(frozen=True)
class BudgetCheck:
    """How far one score moves when one sampling budget is doubled.

    Attributes:
        setting: the budget's policy key (``explainers[rise].masks``, ``metrics.bootstrap.resamples``).
        explainer: the method whose score it is; None for a score of the models (accuracy).
        score: the score: a metric of the catalog, or ``reco_chance.p_value``.
        budget: b, the policy's value; doubled: the budget compared with (2b; b itself where the
            error has a closed form).
        measure: ``change`` (``|S(2b) - S(b)|``), ``ends`` (largest move of the interval's ends) or
            ``standard_error`` (the closed-form Monte-Carlo error at b).
        value: the score at b where measured (the subsample's, for the explainers' budgets, muF
            and robustness), else None; change: the measure, score units; tolerance: ``share``
            of the interval's width (half of ``|p - alpha|`` for a p-value).
        map_change: mean Spearman distance ``1 - |rho|`` between each map at b and at 2b (the
            explainers' budgets only).
        status: the verdict; reason: why it is undetermined, or "".
    """

    setting: str
    explainer: str | None
    score: str
    budget: int
    doubled: int
    measure: str
    value: float | None
    change: float | None
    tolerance: float | None
    status: ConvergenceStatus
    reason: str = field(default="", metadata=_NULL)
    map_change: float | None = field(default=None, metadata=_OMIT)


@dataclass(frozen=True)
class Convergence:
    """The convergence checks of the audit's sampling budgets (policy section ``convergence``).

    Attributes:
        images: the subsample the explainers' budgets, muF and robustness were checked on; seed: its
            seed; share: the criterion's share of the interval width.
        checks: one per (budget, explainer, score), in the policy's order of explainers.
    """

    images: int
    seed: int
    share: float
    checks: tuple[BudgetCheck, ...]


@dataclass(frozen=True)
class PolicyRecord:
    """The audited policy: its name, file, digest and every setting as resolved."""

    name: str
    path: str
    sha256: str
    resolved: Mapping[str, Any]


@dataclass(frozen=True)
class System:
    """The audited AI system as the policy declares it (``contest``: how a person affected by one
    of its decisions contests it; absent when the policy says nothing)."""

    name: str | None
    version: str | None
    owner: str | None
    intended_purpose: str | None
    contact: str | None
    contest: str | None = field(default=None, metadata=_OMIT)


@dataclass(frozen=True)
class Model:
    """The audited architecture (:func:`auditkit.engine.preflight.describe_model`).

    Attributes:
        source: ``family``, ``torchvision`` or ``factory``; architecture: its name or dotted path;
        cls: the class's dotted name (``class``); description: one line for a reader.
        factory, init_weights: the operator's factory and initial weights with their digests.
        target_layer: Grad-CAM's layer; normalize: the normalisation inside the model.
    """

    source: str
    architecture: str
    cls: str = field(metadata=_key("class"))
    description: str
    parameters: int
    kwargs: Mapping[str, Any]
    factory: Mapping[str, Any] | None
    init_weights: Mapping[str, Any] | None
    target_layer: str | None
    normalize: Mapping[str, Any] | None


@dataclass(frozen=True)
class Training:
    """How the fold models were trained: ``auditkit``'s loop or the operator's ``function``."""

    kind: str
    function: Mapping[str, Any] | None
    seed: int
    kwargs: Mapping[str, Any] | None = field(default=None, metadata=_OMIT)
    determinism: str | None = field(default=None, metadata=_OMIT)


@dataclass(frozen=True)
class Dataset:
    """The audited images."""

    kind: str
    source: str
    n_images: int
    classes: tuple[str, ...]
    image_shape: tuple[int, ...]
    fingerprint_sha256: str


@dataclass(frozen=True)
class Seeds:
    """The seeds of the folds, the training and the bootstrap."""

    folds: int
    training: int
    bootstrap: int


@dataclass(frozen=True)
class Reused:
    """Work loaded from an earlier run instead of being redone."""

    folds: tuple[Any, ...]
    explainers: tuple[str, ...]
    sanity: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.folds or self.explainers or self.sanity)


@dataclass(frozen=True)
class DeployedAccuracy(Estimate):
    """The deployed checkpoint's accuracy, on which images and whether they were held out."""

    images: int = 0
    on: str = ""
    held_out: bool = False
    note: str = ""


@dataclass(frozen=True)
class DeployedExplainer:
    """muF, robustness and invariance of one explainer's maps of the deployed model.

    Attributes:
        scores: ``mu_fidelity`` and, where measured, the robustness and invariance metrics.
    """

    scores: Mapping[str, Estimate]
    mu_images: int
    mu_undefined: int
    robustness_images: int | None = field(default=None, metadata=_OMIT)
    sensitivity_undefined: int | None = field(default=None, metadata=_OMIT)
    invariance_images: int | None = field(default=None, metadata=_OMIT)
    invariance_left_out: int | None = field(default=None, metadata=_OMIT)
    invariance_transformations: tuple[Transformation, ...] | None = field(default=None, metadata=_OMIT)

    def score(self, metric: str) -> Estimate | None:
        """Score ``metric`` of the deployed model's maps; ``None`` where not measured."""
        return self.scores.get(metric)


@dataclass(frozen=True)
class Deployed:
    """The deployed checkpoint (``deployed.checkpoint``), measured beside the fold models."""

    checkpoint: str
    sha256: str
    accuracy: DeployedAccuracy
    explainers: Mapping[str, DeployedExplainer]
    scope: str


@dataclass(frozen=True)
class FoldCheckpoint:
    """One fold model f_i kept with the dossier, so a decision sheet can be made when ``work/`` is
    gone (``auditkit explain``).

    Attributes:
        fold: i, from 1; file: its path relative to the kept dossier's folder (``folds/fold_1.pt``);
        sha256: the digest of its bytes (covered by the signature of results.json).
    """

    fold: int
    file: str
    sha256: str


@dataclass(frozen=True)
class DecisionReference:
    """What a decision sheet (``auditkit explain``) compares one image with, measured at the clean
    level on the audited images, each by the fold model that did not train on it.

    Every distribution is :data:`QUANTILES` + 1 quantiles (0 %, 1 %, ..., 100 %), so the share of
    audited images below a value is read off it without keeping any image's figure.

    Attributes:
        fold_checkpoints: the k fold models, in fold order (empty when they were not kept).
        confidence: quantiles of the top-class softmax probability of the held-out fold model.
        fold_agreement: quantiles of the share of the k fold models that predict the class the
            held-out fold model predicts.
        consistency: per explainer, quantiles of the per-image mean distance (the audit's MeGe
            distance) between the maps of the pairs of fold models that both predict that class;
            images with no such pair are left out.
    """

    fold_checkpoints: tuple[FoldCheckpoint, ...]
    confidence: tuple[float, ...]
    fold_agreement: tuple[float, ...]
    consistency: Mapping[str, tuple[float, ...]]


QUANTILES = 100
"""A :class:`DecisionReference` distribution holds quantiles 0/100, 1/100, ..., 100/100."""


@dataclass(frozen=True)
class HistoryLink:
    """This audit's place in the history's hash chain: signed with the report, a statement of the
    chain's length and head (as a Certificate Transparency signed tree head) that a verifier holds the
    database to (``auditkit history --check``).

    Attributes:
        audit_id: the audit's sequence number, its row's id (``previous_audits + 1``).
        previous_audits: the chain's length when the audit was appended to it.
        previous_row_hash: the chain's head then, the ``row_hash`` of audit ``previous_audits`` (64
            zeros for the first): the head this audit extends. Its own ``row_hash`` covers this
            results.json, so it cannot be written in it.
        history_id: the random id of the history database (128 bits, hex), so dossiers of two
            histories written into one out folder are told apart; ``None`` before it was recorded.
    """

    audit_id: int
    previous_audits: int
    previous_row_hash: str
    history_id: str | None = field(default=None, metadata=_OMIT)


@dataclass(frozen=True)
class PlanStage:
    """One stage of the audit: its work and time as ``auditkit plan`` estimated them before the first
    fold trained, and the wall time the engine measured (``auditkit.engine.timing``).

    Attributes:
        stage: ``training``, ``clean.<method>``, ``properties.<method>``, ``scoring``, ... (``other``:
            the run's time outside every timed stage).
        estimated_seconds: None for a stage the plan did not foresee (``other``, ``tasks``).
        measured_seconds: None for a stage that did not run.
        train_images, forward, grad: the model evaluations counted for it (images, by kind).
    """

    stage: str
    estimated_seconds: float | None
    measured_seconds: float | None
    train_images: int = 0
    forward: int = 0
    grad: int = 0


@dataclass(frozen=True)
class CostPlan:
    """The audit's cost plan beside its measured times (``auditkit plan``).

    Attributes:
        device: where the rates were measured. rates: images per second of ``train``, ``forward``
            and ``grad`` evaluations and ``scoring`` seconds per scoring, measured before the run.
        estimated_seconds: the plan's total; measured_seconds: the audit's (``run_seconds``).
        stages: per stage, largest estimate first.
    """

    device: str
    rates: Mapping[str, float]
    estimated_seconds: float
    measured_seconds: float | None
    stages: tuple[PlanStage, ...]

    def measured(self, seconds: Mapping[str, float], total: float) -> CostPlan:
        """This plan with the measured ``seconds`` per stage and the run's ``total``; a timed stage
        the plan did not foresee is added, and ``other`` holds the rest of ``total``.

        >>> plan = CostPlan("cpu", {}, 2.0, None, (PlanStage("training", 2.0, None),))
        >>> [(s.stage, s.measured_seconds) for s in plan.measured({"training": 1.5}, 2.0).stages]
        [('training', 1.5), ('other', 0.5)]
        """
        known = {s.stage for s in self.stages}
        stages = [replace(s, measured_seconds=_seconds(seconds.get(s.stage))) for s in self.stages]
        stages += [PlanStage(name, None, _seconds(t)) for name, t in seconds.items() if name not in known]
        stages.append(PlanStage("other", None, _seconds(max(0.0, total - sum(seconds.values())))))
        return replace(self, measured_seconds=_seconds(total), stages=tuple(stages))


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


@dataclass(frozen=True)
class AuditDocument:
    """The whole of results.json.

    Attributes:
        schema_version: :data:`SCHEMA_VERSION`; auditkit_version: the producing version.
        created: ISO time of the audit; verdict: ``pass`` when every requirement is met, else ``fail``.
        policy, system, model, training, preprocessing, dataset: what was audited.
        folds, accuracy: the cross-trained models.
        explainers: per explainer, in the policy's order; thresholds, requirements: the verdicts.
        sanity_checks: by check name; property_checks: against the random control.
        seeds, environment, run_seconds, reused_from_earlier_run: how it ran.
        deployed: the deployed checkpoint's figures; history: the place in the history.
        agreement: the agreement between the explainers (absent with fewer than two).
        decisions: what ``auditkit explain`` compares one decision with (absent when the policy
            has no deployed checkpoint).
        plan: the cost plan estimated before the run beside the measured times (absent when the run
            made none).
        convergence: whether the sampling budgets suffice (absent unless the policy's
            ``convergence`` section is enabled).
    """

    schema_version: int
    auditkit_version: str
    created: str
    verdict: str
    policy: PolicyRecord
    system: System
    model: Model
    training: Training
    preprocessing: Mapping[str, Any]
    dataset: Dataset
    folds: tuple[Fold, ...]
    accuracy: Accuracy
    explainers: Mapping[str, ExplainerEntry]
    thresholds: tuple[ThresholdCheck, ...]
    requirements: tuple[Requirement, ...]
    sanity_checks: Mapping[str, SanityCheck]
    property_checks: PropertyChecks
    seeds: Seeds
    environment: Mapping[str, Any]
    run_seconds: float
    reused_from_earlier_run: Reused
    deployed: Deployed | None = field(default=None, metadata=_OMIT)
    history: HistoryLink | None = field(default=None, metadata=_OMIT)
    agreement: Agreement | None = field(default=None, metadata=_OMIT)
    decisions: DecisionReference | None = field(default=None, metadata=_OMIT)
    plan: CostPlan | None = field(default=None, metadata=_OMIT)
    convergence: Convergence | None = field(default=None, metadata=_OMIT)

    @property
    def passed(self) -> bool:
        """Every requirement is met."""
        return self.verdict == "pass"

    def score(self, explainer: str | None, metric: str) -> Estimate | None:
        """Score ``metric`` of the catalog for ``explainer`` (``None`` for a model metric: the
        accuracy, or its spread as a point; a :func:`pair_name` for a pair metric); ``None`` where
        this audit did not measure it.

        >>> doc = _example()
        >>> doc.score("saliency", "mege").text(1), doc.score(None, "accuracy").text(1)
        ('0.7 [0.6, 0.8]', '0.9')
        >>> doc.score(None, "accuracy_spread").text(2), doc.score("saliency", "completeness_error")
        ('0.05', None)
        """
        if METRICS[metric].scope == "pair":  # explainer: a pair_name
            pair = None if self.agreement is None else self.agreement.pair(explainer or "")
            return None if pair is None else pair.scores.get(metric)
        if METRICS[metric].scope != "model":
            entry = self.explainers.get(explainer or "")
            return None if entry is None else entry.score(metric)
        if metric == "accuracy":
            return self.accuracy
        return Estimate(self.accuracy.spread)

    def estimates(self, metrics: tuple[str, ...]) -> dict[tuple[str | None, str], Estimate]:
        """``(explainer, metric) -> Estimate`` of every measured score of ``metrics``, the accuracy
        first under ``(None, "accuracy")``."""
        found: dict[tuple[str | None, str], Estimate] = {(None, "accuracy"): self.accuracy}
        for name in self.explainers:
            for metric in metrics:
                estimate = self.score(name, metric)
                if estimate is not None:
                    found[(name, metric)] = estimate
        return found

    def to_plain(self) -> dict[str, Any]:
        """The document as JSON-ready plain data."""
        return _to_plain(self)

    def to_json(self) -> bytes:
        """The bytes of results.json (two-space indent, UTF-8, a final newline; NaN refused)."""
        return (json.dumps(self.to_plain(), indent=2, allow_nan=False) + "\n").encode()

    @classmethod
    def from_plain(cls, data: Mapping[str, Any]) -> AuditDocument:
        """Read parsed results.json of any known schema version (upgraded by :func:`upgrade`).

        Raises:
            ResultsError: an unknown version, a missing or unexpected key (named by its path).
        """
        return _from_plain(cls, upgrade(data), "results.json")

    @classmethod
    def from_json(cls, data: bytes | str) -> AuditDocument:
        """The inverse of :meth:`to_json`."""
        try:
            plain = json.loads(data)
        except ValueError as exc:
            raise ResultsError(f"results.json is not JSON: {exc}") from exc
        if not isinstance(plain, dict):
            raise ResultsError("results.json is not a JSON object")
        return cls.from_plain(plain)


def upgrade(data: Mapping[str, Any]) -> dict[str, Any]:
    """Parsed results.json of an older schema version as the current version has it.

    Version 1 -> 2: a threshold check's ``on`` becomes ``estimate`` and gains its ``status``
    (decided from the fields version 1 kept: the sanity checks against it, then the measured value);
    a sanity check's settings move under ``settings``; the scores move under ``scores``.
    """
    version = data.get("schema_version")
    if version == SCHEMA_VERSION:
        return dict(data)
    if version != 1:
        raise ResultsError(f"results.json: schema_version {version!r} is not one this auditkit reads "
                           f"(1 to {SCHEMA_VERSION})")
    try:
        return _upgrade_v1(data)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ResultsError(f"results.json: not a readable schema-1 document ({type(exc).__name__}: "
                           f"{exc})") from None


def _upgrade_v1(data: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(data, schema_version=2)
    out["thresholds"] = [_threshold_v1(c) for c in data.get("thresholds", [])]
    out["sanity_checks"] = {name: _sanity_v1(s) for name, s in data.get("sanity_checks", {}).items()}
    out["explainers"] = {name: _explainer_v1(e) for name, e in data.get("explainers", {}).items()}
    if data.get("deployed") is not None:
        deployed = data["deployed"]
        out["deployed"] = {**deployed, "explainers": {
            name: _scored_v1(e, _V1_DEPLOYED_SCORES, after=None)
            for name, e in deployed["explainers"].items()}}
    return out


_V1_SCORES = ("mege", "reco", "reco_corrected", "reco_auc", "mu_fidelity")
_V1_PROPERTY_SCORES = ("sensitivity_max", "robustness_distance", "invariance_distance",
                       "completeness_error")
_V1_DEPLOYED_SCORES = ("mu_fidelity", "sensitivity_max", "robustness_distance", "invariance_distance")


def _scored_v1(entry: Mapping[str, Any], metrics: tuple[str, ...], after: str | None) -> dict[str, Any]:
    """``entry`` with its ``metrics`` moved under ``scores``, placed after key ``after`` (first
    when ``None``)."""
    scores = {m: entry[m] for m in metrics if m in entry}
    rest = [(k, v) for k, v in entry.items() if k not in scores]
    at = 0 if after is None else [k for k, _ in rest].index(after) + 1
    return dict([*rest[:at], ("scores", scores), *rest[at:]])


def _explainer_v1(entry: Mapping[str, Any]) -> dict[str, Any]:
    out = _scored_v1(entry, _V1_SCORES, after="settings")
    if "properties" in out:
        out["properties"] = _scored_v1(out["properties"], _V1_PROPERTY_SCORES, after=None)
    return out


def _threshold_v1(check: Mapping[str, Any]) -> dict[str, Any]:
    if check.get("inadmissible"):
        status = CheckStatus.INADMISSIBLE
    elif check.get("not_evidenced"):
        status = CheckStatus.NOT_EVIDENCED
    elif check.get("passed"):
        status = CheckStatus.MET
    elif check.get("measured") is None:
        status = CheckStatus.UNDEFINED
    else:
        status = CheckStatus.NOT_MET
    out: dict[str, Any] = {}
    for key, value in check.items():
        out["estimate" if key == "on" else key] = value
        if key == "measured":
            out["status"] = status.value
    return out


_SANITY_RESULTS = ("levels", "alpha", "min_fall", "chance_accuracy", "images", "passed", "status",
                   "explainers", "calibration", "degradation")


def _sanity_v1(check: Mapping[str, Any]) -> dict[str, Any]:
    out = {key: check[key] for key in _SANITY_RESULTS[:1]}
    out["settings"] = {k: v for k, v in check.items() if k not in _SANITY_RESULTS}
    out.update({key: check[key] for key in _SANITY_RESULTS[1:] if key in check})
    out["explainers"] = {name: {**e, "levels": [_scored_v1(level, _V1_SCORES, after="level")
                                                for level in e["levels"]]}
                         for name, e in check["explainers"].items()}
    return out


def _to_plain(obj: Any) -> Any:
    if is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {}
        for f in fields(obj):
            value = getattr(obj, f.name)
            if value is None and f.metadata.get("omit_none"):
                continue
            if f.metadata.get("null_empty") and value == "":
                value = None
            out[f.metadata.get("key", f.name)] = _to_plain(value)
        return out
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, (list, tuple)):
        return [_to_plain(v) for v in obj]
    if isinstance(obj, Mapping):
        return {k: _to_plain(v) for k, v in obj.items()}
    return obj


def _from_plain(tp: Any, data: Any, path: str) -> Any:
    """``data`` (parsed JSON) as type ``tp``; ``path`` names the place in errors."""
    origin, args = get_origin(tp), get_args(tp)
    if tp is Any:
        return data
    if origin is Union or origin is types.UnionType:
        if data is None and type(None) in args:
            return None
        (inner,) = (a for a in args if a is not type(None))
        return _from_plain(inner, data, path)
    if is_dataclass(tp):
        return _dataclass(tp, data, path)
    if isinstance(tp, type) and issubclass(tp, Enum):
        try:
            return tp(data)
        except ValueError:
            raise ResultsError(f"{path}: {data!r} is not one of {[e.value for e in tp]}") from None
    if origin is tuple:
        _expect(data, list, path)
        return tuple(_from_plain(args[0], v, f"{path}[{i}]") for i, v in enumerate(data))
    if origin in (Mapping, dict):
        _expect(data, dict, path)
        return {k: _from_plain(args[1], v, f"{path}.{k}") for k, v in data.items()}
    if tp in _SCALARS and not _SCALARS[tp](data):
        raise ResultsError(f"{path}: expected {tp.__name__}, got {data!r}")
    return data


_SCALARS = {
    bool: lambda v: isinstance(v, bool),
    int: lambda v: isinstance(v, int) and not isinstance(v, bool),
    float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    str: lambda v: isinstance(v, str),
}
"""The JSON values a scalar field accepts (a ``float`` field takes an integer, as JSON writes ``1``)."""


def _expect(data: Any, kind: type, path: str) -> None:
    if not isinstance(data, kind):
        raise ResultsError(f"{path}: expected a JSON {'array' if kind is list else 'object'}, "
                           f"got {type(data).__name__}")


def _dataclass(tp: type, data: Any, path: str) -> Any:
    _expect(data, dict, path)
    hints = get_type_hints(tp)
    known = {f.metadata.get("key", f.name) for f in fields(tp)}
    unexpected = sorted(set(data) - known)
    if unexpected:
        raise ResultsError(f"{path}: unexpected key {unexpected[0]!r}")
    kwargs = {}
    for f in fields(tp):
        key = f.metadata.get("key", f.name)
        if key not in data:
            if not f.metadata.get("omit_none"):  # only an absent optional section may be left out
                raise ResultsError(f"{path}: missing key {key!r}")
            continue
        value = data[key]
        if f.metadata.get("null_empty") and value is None:
            value = ""
        kwargs[f.name] = _from_plain(hints[f.name], value, f"{path}.{key}")
    return tp(**kwargs)


def _example() -> AuditDocument:
    """A small document for the doctests."""
    score = Estimate(0.7, 0.6, 0.8)
    entry = ExplainerEntry({}, {"mege": score}, RecoChance(undefined="no pair"),
                           1, 1, 0, 0, 1, 0, Correlation(0.1, 1, 0))
    return AuditDocument(
        SCHEMA_VERSION, "0", "2026-01-01T00:00:00+00:00", "pass", PolicyRecord("p", "p.yaml", "", {}),
        System(None, None, None, None, None),
        Model("family", "small_cnn", "x.SmallCNN", "", 1, {}, None, None, None, None),
        Training("auditkit", None, 0), {}, Dataset("digits", "", 2, ("0", "1"), (1, 8, 8), ""), (),
        Accuracy(0.9, spread=0.05), {"saliency": entry}, (), (), {}, PropertyChecks(), Seeds(0, 0, 0),
        {}, 1.0, Reused((), (), ()))


__all__ = [
    "IGNORED",
    "PAIR_SEPARATOR",
    "QUANTILES",
    "SCHEMA_VERSION",
    "S_EQ",
    "S_NEQ",
    "Accuracy",
    "Agreement",
    "AgreementPair",
    "AuditDocument",
    "BudgetCheck",
    "CheckStatus",
    "Convergence",
    "ConvergenceStatus",
    "Correlation",
    "CostPlan",
    "Dataset",
    "DecisionReference",
    "Deployed",
    "DeployedAccuracy",
    "DeployedExplainer",
    "ExplainerEntry",
    "Fold",
    "FoldCalibration",
    "FoldChance",
    "FoldCheckpoint",
    "HistoryLink",
    "Model",
    "PlanStage",
    "PolicyRecord",
    "Properties",
    "PropertyChecks",
    "RandomWorst",
    "RecoChance",
    "Requirement",
    "ResultsError",
    "Reused",
    "SanityCalibration",
    "SanityCheck",
    "SanityExplainer",
    "SanityLevel",
    "SanityVerdict",
    "Seeds",
    "System",
    "ThresholdCheck",
    "Training",
    "Transformation",
    "Trend",
    "pair_name",
    "upgrade",
]
