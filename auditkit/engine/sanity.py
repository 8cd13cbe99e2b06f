"""The sanity checks of Fel et al., section 4.2: MeGe and ReCo must fall as the models are degraded.

Two checks, each over the policy's levels p_1 < ... < p_L, with level 0 the clean audit itself:

- ``weight_randomisation``: every trained fold model f_i is copied and its weights are noised; no
  retraining. With ``levels_by: accuracy`` (the default) level l is a fraction f_l of the way to
  chance: the copy's held-out accuracy targets ``a_il = acc_i - f_l x (acc_i - chance)`` (chance:
  the majority-class rate of the audited images), and the scale s of the noise
  ``s x z_t, z_t ~ N(0, sd_t²)`` on every selected weight tensor t
  (:class:`~auditkit.engine.degrade.WeightNoise`) is found by bisection in log s on fold i's
  held-out images (:func:`~auditkit.engine.degrade.find_scale`); what was found is recorded per
  fold and level (``calibration``). With ``levels_by: noise`` (appendix E.2) ``N(0, std²)`` noise is
  added to a share p of the convolution weights
  (:func:`~auditkit.engine.degrade.randomise_weights`). The draw of fold i at level index l is
  seeded by ``draw_seed(seed, l, i)``; each level is an independent draw from the trained weights,
  not a cumulative one, and the scale found is a deterministic function of the draw, the model and
  its held-out images, so a resumed run finds it again.
- ``label_shuffling``: exactly round(p x N) images get a wrong training label
  (:func:`~auditkit.engine.degrade.noisy_labels`, seeded by ``draw_seed(seed, l)``, the same labels
  for every fold), and the k fold models are retrained on the same folds, with the same training
  seeds, from those labels. Their checkpoints are keyed by a digest of the labels (resume works).

At every level the degraded fold models go through the same explanation pass and scoring as the
clean ones (:func:`auditkit.engine.stages.score_level`): S= and S≠ and the
accuracy are formed with the TRUE labels of the held-out folds, and the bootstrap resamples are the
clean audit's, so the scores of all levels are paired. A randomised fold model keeps the digest of
the clean checkpoint it was copied from; its explanation pass is stored under a key that adds the
level, the draw seed, the scale found and the check's settings, so a rerun reuses it. On an
executor (Ray), the retrainings and the explanation passes of all levels of both checks are
submitted in two waves (:func:`_all_levels_at_once`) before the levels are scored one by one from
the work files.

Verdict, per explainer and gated metric (MeGe, and ReCo tested on its chance-corrected form, so that a
change of the sizes of S= and S≠ alone cannot make it move): :func:`~auditkit.metrics.trend.trend_test`
fits the least-squares slope b of the score over the levels (0, p_1, ..., p_L) on every bootstrap
resample, and the verdict has three values:

- ``pass``: the score falls, one-sided p-value < :data:`ALPHA` (0.05);
- ``fail``: the data show it does not fall: the slope's interval lies above ``-min_fall / p_L``, so
  it excludes every fall of ``min_fall`` (``sanity_checks.min_fall``, score units) or more between
  the clean models and the highest level;
- ``inconclusive``: neither, or the score is undefined at a level (S= or S≠ empty), or no bootstrap
  interval exists; and a would-be ``fail`` where the models of a level are at chance (accuracy
  interval reaching the majority-class rate), since explanations of chance-level models prove
  nothing either way; and a would-be ``fail`` where the models' accuracy did not fall over the
  levels (:func:`accuracy_not_falling`: a label shuffling the models shrug off), since a degradation
  that did not degrade the models proves nothing either. The check records why its degradation is in
  doubt (that, or a target accuracy not reached) as ``degradation``. The reason says why, with the
  numbers (|S=| and |S≠| per level, the smallest fall the test could have detected: 1.645 standard
  errors of the slope, times p_L).

ReCo (raw), ReCo_AUC (appendix D) and muF are reported without a verdict: the paper's Fig. 4 shows
that muF does not react to the degradation (section 4.3), which is the expected outcome, not a
failure. The ``random`` explainer's maps do not depend on the model: its trends are reported, with no
verdict.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import torch

from auditkit.catalog import METRICS, names
from auditkit.data import ImageDataset
from auditkit.engine.chance import chance_rate
from auditkit.engine.crosstrain import FoldModel, cross_train, training_tasks
from auditkit.engine.degrade import WeightNoise, draw_seed, find_scale, noisy_labels, randomise_weights
from auditkit.engine.executor import Executor, Task
from auditkit.engine.keys import digest, keyed_settings
from auditkit.engine.scoring import SCORE_METRICS, ExplainerScores
from auditkit.engine.stages import RunContext, level_tasks, on_fold, sanity_context, score_level
from auditkit.explainers import EXPLAINERS
from auditkit.metrics.trend import Trend, trend_test
from auditkit.models import accuracy as held_out_accuracy
from auditkit.policy import Policy, WeightRandomisationSpec
from auditkit.results import (
    Estimate,
    FoldCalibration,
    SanityCalibration,
    SanityExplainer,
    SanityLevel,
    SanityVerdict,
)
from auditkit.results import SanityCheck as SanityRecord
from auditkit.results import Trend as TrendRecord

__all__ = ["ALPHA", "GATED_METRICS", "UNGATED_EXPLAINERS", "LevelScores", "MetricTrend", "Randomised",
           "SanityCheck", "accuracy_not_falling", "assess_levels", "degradation_doubts",
           "run_sanity_checks", "weight_settings"]

ALPHA = 0.05
"""Significance level of the one-sided trend test: a metric passes when p < ALPHA."""

GATED_METRICS: tuple[str, ...] = names(gated=True)
"""Metrics that must fall for a check to pass; the others are reported only
(:data:`~auditkit.catalog.METRICS`)."""

VERDICTS = ("pass", "fail", "inconclusive")

UNGATED_EXPLAINERS: frozenset[str] = frozenset(name for name, cls in EXPLAINERS.items() if cls.control)
"""The controls (``Explainer.control``), whose maps ignore the model: trends reported, left out of
the verdict."""

SUBSAMPLE_TAG = "sanity_images"
"""Work-file tag of the clean models' passes over the sanity subsample (``sanity_checks.max_images``)."""


@dataclass(frozen=True)
class LevelScores:
    """What was measured on the fold models of one degradation level.

    Attributes:
        level: the degradation share (0 for the clean models).
        accuracy: held-out accuracy against the true labels, with its bootstrap interval.
        explainers: explainer name -> its scores.
        reused: names of the explainer passes loaded from an earlier run.
        calibration: per fold model, the noise scale found for the level's target accuracy
            (weight randomisation with ``levels_by: accuracy``; empty otherwise).
    """

    level: float
    accuracy: Estimate
    explainers: dict[str, ExplainerScores]
    reused: tuple[str, ...] = ()
    calibration: tuple[FoldCalibration, ...] = ()


@dataclass(frozen=True)
class MetricTrend:
    """The trend test of one metric of one explainer, and its verdict.

    Attributes:
        metric: one of :data:`~auditkit.engine.scoring.SCORE_METRICS`.
        trend: slope, its interval and the one-sided p-value.
        verdict: ``pass``, ``fail`` or ``inconclusive`` for a gated metric of a gated explainer;
            None where no verdict applies (raw ReCo, ReCo_AUC, muF, the ``random`` explainer).
        reason: the verdict in words, with its numbers ("" without a verdict).
    """

    metric: str
    trend: Trend
    verdict: str | None
    reason: str = ""

    @property
    def passed(self) -> bool | None:
        """``verdict == "pass"``; None without a verdict."""
        return None if self.verdict is None else self.verdict == "pass"

    def document(self) -> TrendRecord:
        """results.json's record of this trend and its verdict."""
        t = self.trend
        return TrendRecord(t.slope, t.low, t.high, t.sd, t.p_value, t.resamples, self.passed,
                           None if self.verdict is None else SanityVerdict(self.verdict), self.reason)


@dataclass(frozen=True)
class SanityCheck:
    """One sanity check over its levels (level 0 first: the clean audit).

    Attributes:
        name: ``weight_randomisation`` or ``label_shuffling``.
        levels: the measured levels, one :class:`LevelScores` each, level 0 first.
        trends: explainer -> metric -> :class:`MetricTrend`.
        settings: the check's policy settings (std, seed), for the record.
        reused: work loaded from an earlier run, as ``"<level> fold <i>"`` (retrained models) and
            ``"<level> <explainer>"`` (explanation passes).
        chance: the accuracy of always predicting the majority class of the audited images.
        min_fall: the smallest meaningful fall of a gated score (``sanity_checks.min_fall``).
        images: how many images every level explained and was scored on (``sanity_checks.max_images``
            or all the audited images).
        degradation: why the degradation itself is in doubt (:func:`degradation_doubts`); "" if not.
    """

    name: str
    levels: tuple[LevelScores, ...]
    trends: dict[str, dict[str, MetricTrend]]
    settings: dict[str, Any]
    reused: tuple[str, ...]
    chance: float = 0.0
    min_fall: float = 0.05
    images: int = 0
    degradation: str = ""

    def verdict(self, explainer: str, metric: str) -> str | None:
        """``pass``, ``fail`` or ``inconclusive`` of a gated metric; None outside the verdict."""
        return self.trends[explainer][metric].verdict

    def explainer_status(self, explainer: str) -> str | None:
        """``fail`` if a gated metric failed, else ``inconclusive`` if one is, else ``pass``; None
        for an explainer outside the verdict (``random``)."""
        if explainer in UNGATED_EXPLAINERS:
            return None
        verdicts = {self.verdict(explainer, m) for m in GATED_METRICS}
        return next(v for v in ("fail", "inconclusive", "pass") if v in verdicts)

    def explainer_passed(self, explainer: str) -> bool | None:
        """All gated metrics fell; None for an explainer outside the verdict (``random``)."""
        status = self.explainer_status(explainer)
        return None if status is None else status == "pass"

    @property
    def status(self) -> str:
        """``fail`` if any explainer failed, else ``inconclusive`` if any is, else ``pass``."""
        statuses = {self.explainer_status(name) for name in self.trends}
        return next((v for v in ("fail", "inconclusive") if v in statuses), "pass")

    @property
    def passed(self) -> bool:
        """Every gated metric of every explainer in the verdict passed."""
        return self.status == "pass"

    def document(self) -> SanityRecord:
        """results.json's record of this check."""
        calibration = tuple(SanityCalibration(s.level, s.calibration) for s in self.levels
                            if s.calibration)
        return SanityRecord(
            tuple(s.level for s in self.levels), dict(self.settings), ALPHA, self.min_fall, self.chance,
            self.images, self.passed, SanityVerdict(self.status),
            {name: self._explainer_document(name, trends) for name, trends in self.trends.items()},
            calibration or None, self.degradation or None)

    def _explainer_document(self, name: str, trends: dict[str, MetricTrend]) -> SanityExplainer:
        levels = tuple(
            SanityLevel(s.level, {m: s.explainers[name].score(m) for m in SCORE_METRICS},
                        s.explainers[name].reco_chance.document(), s.explainers[name].n_s_eq,
                        s.explainers[name].n_s_neq, s.accuracy)
            for s in self.levels)
        status = self.explainer_status(name)
        return SanityExplainer(levels, {m: t.document() for m, t in trends.items()},
                               name not in UNGATED_EXPLAINERS, self.explainer_passed(name),
                               None if status is None else SanityVerdict(status))


def _at_chance(level: LevelScores, chance: float) -> bool:
    """The level's accuracy cannot be told from the majority-class rate (its interval reaches it)."""
    a = level.accuracy
    bound = a.low if a.low is not None else a.value
    return bound is not None and bound <= chance


def accuracy_not_falling(levels: tuple[LevelScores, ...]) -> str:
    """Why the models' accuracy did not fall over the levels (level 0 first); "" when it fell.

    It fell when the highest level's accuracy interval lies below the clean point estimate (without
    an interval: its point estimate does). A degradation that leaves the accuracy where it was has
    not degraded the models, so a score that does not fall under it is no evidence against an
    explainer.

    >>> from auditkit.results import Estimate as E
    >>> accuracy_not_falling((LevelScores(0, E(0.9, 0.88, 0.92), {}), LevelScores(0.3, E(0.8), {})))
    ''
    >>> accuracy_not_falling((LevelScores(0, E(0.9), {}), LevelScores(0.3, E(0.89, 0.87, 0.91), {})))
    "the models' accuracy did not fall over the levels (0.900, 0.890 at levels 0, 0.3)"
    """
    clean, top = levels[0].accuracy, levels[-1].accuracy
    bound = top.high if top.high is not None else top.value
    if clean.value is None or bound is None or bound < clean.value:
        return ""
    values = ", ".join("undefined" if s.accuracy.value is None else f"{s.accuracy.value:.3f}"
                       for s in levels)
    return (f"the models' accuracy did not fall over the levels ({values} at levels "
            f"{', '.join(f'{s.level:g}' for s in levels)})")


def degradation_doubts(levels: tuple[LevelScores, ...]) -> str:
    """Why a check's degradation is in doubt: :func:`accuracy_not_falling`, and every fold whose
    target accuracy the bisection did not reach (:class:`~auditkit.results.FoldCalibration`);
    "" when neither."""
    missed = [f"level {s.level:g} fold {c.fold}: {c.accuracy:.3f} for {c.target:.3f} at scale "
              f"{c.scale:.3g} after {c.steps} steps" for s in levels for c in s.calibration if not c.reached]
    doubts = [accuracy_not_falling(levels)]
    if missed:
        doubts.append("target accuracy not reached within tolerance (" + "; ".join(missed) + ")")
    return "; ".join(d for d in doubts if d)


def _verdict(name: str, metric: str, trend: Trend, levels: tuple[LevelScores, ...], chance: float,
             min_fall: float, not_falling: str = "") -> tuple[str, str]:
    """The three-valued verdict of one gated metric and its reason (module docstring);
    ``not_falling``: :func:`accuracy_not_falling` of ``levels``."""
    label = METRICS[metric].label
    for s in levels:
        score = s.explainers[name].score(metric)
        if score.value is None:
            return "inconclusive", f"{label} is undefined at level {s.level:g}: {score.undefined}"
    if trend.p_value is None or trend.low is None or trend.sd is None:
        return "inconclusive", "no bootstrap resamples, so no interval and no p-value"
    span = levels[-1].level - levels[0].level
    sizes = ", ".join(f"{s.explainers[name].n_s_eq}/{s.explainers[name].n_s_neq}" for s in levels)
    detectable = 1.645 * trend.sd * span
    slope = f"slope {trend.slope:+.3f} [{trend.low:+.3f}, {trend.high:+.3f}] per unit of level"
    if trend.p_value < ALPHA and trend.slope is not None and trend.slope < 0:
        return "pass", f"{label} falls: {slope}, p = {trend.p_value:.3g}"
    if trend.low > -min_fall / span:
        at_chance = [f"{s.level:g}" for s in levels if _at_chance(s, chance)]
        if at_chance:
            return "inconclusive", (f"{label} did not fall ({slope}), but the models are at chance "
                                    f"(accuracy {chance:.3f}) at level {', '.join(at_chance)}")
        if not_falling:
            return "inconclusive", f"{label} did not fall ({slope}), but {not_falling}"
        return "fail", (f"{label} does not fall: {slope}, p = {trend.p_value:.3g}; the interval "
                        f"excludes a fall of {min_fall:g} over the levels")
    return "inconclusive", (f"{label} neither falls significantly (p = {trend.p_value:.3g}) nor is "
                            f"shown not to fall by {min_fall:g}: {slope}; the smallest fall this "
                            f"test could detect is about {detectable:.3f}; |S=|/|S≠| per level: {sizes}")


def _trends(
    levels: tuple[LevelScores, ...], confidence: float, chance: float, min_fall: float
) -> dict[str, dict[str, MetricTrend]]:
    x = torch.tensor([s.level for s in levels], dtype=torch.float64)
    not_falling = accuracy_not_falling(levels)
    out: dict[str, dict[str, MetricTrend]] = {}
    for name in levels[0].explainers:
        out[name] = {}
        for metric in SCORE_METRICS:
            values = [s.explainers[name].score(metric).value for s in levels]
            point = torch.tensor([torch.nan if v is None else v for v in values], dtype=torch.float64)
            boots = [s.explainers[name].resampled.get(metric) for s in levels]
            resampled = None if any(b is None for b in boots) else torch.stack(boots, dim=1)
            trend = trend_test(point, resampled, x, confidence)
            verdict, reason = None, ""
            if metric in GATED_METRICS and name not in UNGATED_EXPLAINERS:
                verdict, reason = _verdict(name, metric, trend, levels, chance, min_fall, not_falling)
            out[name][metric] = MetricTrend(metric, trend, verdict, reason)
    return out


class Randomised(NamedTuple):
    """The weight-randomised copies of the fold models at one level, as :func:`score_level` takes
    them (models, their ids, the level's tag), and the scales found per fold (``accuracy`` only)."""

    models: list[FoldModel]
    ids: list[str]
    tag: str
    calibration: tuple[FoldCalibration, ...]


def _calibrated(ctx: RunContext, fold: FoldModel, level: float, generator: torch.Generator,
                chance: float) -> tuple[torch.nn.Module, FoldCalibration]:
    """Fold model ``fold`` degraded to its level's target accuracy on its held-out images."""
    spec = ctx.policy.sanity_checks.weight_randomisation
    noise = WeightNoise(fold.model, spec.layers, generator)
    held = ctx.folds_idx[fold.index]
    images, labels = ctx.dataset.images[held], ctx.dataset.labels[held]
    target = fold.accuracy - level * (fold.accuracy - chance)
    found = find_scale(lambda s: held_out_accuracy(noise.at(s), images, labels, device=ctx.device),
                       target, tolerance=spec.tolerance, bounds=spec.scale_bounds,
                       max_steps=spec.max_steps)
    return noise.copy_at(found.scale), FoldCalibration(
        fold.index, fold.accuracy, chance, found.target, found.accuracy, found.scale, found.steps,
        found.reached)


def _randomised(ctx: RunContext, folds: list[FoldModel], li: int, level: float) -> Randomised:
    """The weight-randomised copies of the fold models at level index ``li``.

    ``levels_by: noise``: :func:`randomise_weights` with the level as share; ``accuracy``: each
    fold's scale found on its held-out images of the whole audit (``ctx``, not the sanity
    subsample) by :func:`_calibrated`. A copy's id digests the checkpoint it derives from, the
    level, the draw seed, the scale found and the check's settings.
    """
    spec = ctx.policy.sanity_checks.weight_randomisation
    chance = chance_rate(ctx.dataset.labels)
    noisy, ids, found = [], [], []
    for f in folds:
        seed = draw_seed(spec.seed, li, f.index)
        generator = torch.Generator().manual_seed(seed)
        derived: dict[str, Any] = {"derived_from": f.checkpoint_sha256, "share": level, "draw_seed": seed}
        if spec.levels_by == "noise":
            model = randomise_weights(f.model, level, spec.std, generator, scale=spec.scale,
                                      layers=spec.layers)
        else:
            with ctx.timings.stage("weight_randomisation.calibration"):
                model, calibration = _calibrated(ctx, f, level, generator, chance)
            found.append(calibration)
            derived = {"derived_from": f.checkpoint_sha256, "level": level, "draw_seed": seed,
                       "scale": calibration.scale}
        # No per-fold accuracy of its own: the level's accuracy comes from score_level.
        noisy.append(replace(f, model=model, accuracy=math.nan, reused=False))
        ids.append(digest({**derived, **keyed_settings(spec, without=("levels", "seed"))}))
    return Randomised(noisy, ids, f"weight_randomisation_{level:g}", tuple(found))


def _weight_levels(sctx: RunContext, randomised: Iterable[Randomised]) -> list[LevelScores]:
    """The weight-randomised levels, scored in the sanity context ``sctx`` (:func:`sanity_context`)."""
    out = []
    for level, r in zip(sctx.policy.sanity_checks.weight_randomisation.levels, randomised, strict=True):
        accuracy, scores, reused, _ = score_level(sctx, r.models, r.ids, r.tag)
        found = "".join(f"; fold {c.fold}: target {c.target:.4f}, reached {c.accuracy:.4f} at scale "
                        f"{c.scale:.4g}{'' if c.reached else ' (not reached)'}" for c in r.calibration)
        sctx.log(f"weight randomisation {level:g}: accuracy {accuracy.text(4)}{found}")
        out.append(LevelScores(level, accuracy, scores, tuple(f"{level:g} {n}" for n in reused),
                               r.calibration))
    return out


def _shuffled(policy: Policy, dataset: ImageDataset, li: int,
              level: float) -> tuple[torch.Tensor, str, str]:
    """The training labels at level index ``li``, the tag of the retrained checkpoints and of the
    explanation passes."""
    labels = noisy_labels(dataset.labels, level, dataset.num_classes, torch.Generator().manual_seed(
        draw_seed(policy.sanity_checks.label_shuffling.seed, li)))
    return labels, f"shuffle_{level:g}", f"label_shuffling_{level:g}"


def _label_levels(ctx: RunContext, sctx: RunContext) -> list[LevelScores]:
    """The label-shuffled levels: retrained in ``ctx`` on every training image, scored in ``sctx``."""
    out = []
    dataset = ctx.dataset
    for li, level in enumerate(ctx.policy.sanity_checks.label_shuffling.levels):
        labels, train_tag, tag = _shuffled(ctx.policy, dataset, li, level)
        ctx.log(f"label shuffling {level:g}: {int((labels != dataset.labels).sum())} wrong training labels")
        folds = _retrain(ctx, labels, train_tag, on_fold(ctx, "label-shuffled "))
        ctx.log(f"label shuffling {level:g}: retrained, fold accuracies "
                + ", ".join(f"{f.accuracy:.4f}" for f in folds))
        accuracy, scores, reused, _ = score_level(sctx, folds, [f.checkpoint_sha256 for f in folds], tag)
        ctx.log(f"label shuffling {level:g}: accuracy {accuracy.text(4)}")
        reused_work = [f"{level:g} fold {f.index}" for f in folds if f.reused]
        out.append(LevelScores(level, accuracy, scores,
                               tuple(reused_work + [f"{level:g} {n}" for n in reused])))
    return out


def _retrain(ctx: RunContext, labels: torch.Tensor, tag: str,
             hook: Callable[[int, int], Callable[[int], None]] | None = None) -> list[FoldModel]:
    """The k fold models retrained on ``labels`` (checkpoints tagged ``tag``)."""
    with ctx.timings.stage("label_shuffling.retraining"):
        return cross_train(ctx.policy, ctx.dataset, ctx.folds_idx, ctx.workdir, ctx.device,
                           labels=labels, tag=tag, on_fold=hook, executor=ctx.executor)


def _all_levels_at_once(ctx: RunContext, sctx: RunContext, randomised: list[Randomised],
                        executor: Executor) -> None:
    """Run the tasks of every level of both checks on ``executor`` in two waves, not level by level.

    Wave 1: the label-shuffled retrainings of every level and the explanation passes of every
    weight-randomised level; wave 2: the explanation passes of every label-shuffled level (they
    need the retrained models). The levels are then scored one after the other from the work
    files, exactly as a resumed run scores them, so the numbers do not change; only the waiting
    does (three levels of two checks: 2 waits instead of 9).
    """
    policy, dataset = ctx.policy, ctx.dataset
    s = policy.sanity_checks
    label_levels = list(enumerate(s.label_shuffling.levels)) if s.label_shuffling.enabled else []
    first: list[Task] = []
    for li, level in label_levels:
        labels, train_tag, _ = _shuffled(policy, dataset, li, level)
        first += training_tasks(policy, dataset, ctx.folds_idx, ctx.workdir, executor, labels=labels,
                                tag=train_tag)
    for r in randomised:
        first += level_tasks(sctx, r.models, r.ids, r.tag)
    with ctx.timings.stage("tasks"):
        executor.run(first)
    second: list[Task] = []
    for li, level in label_levels:
        labels, train_tag, tag = _shuffled(policy, dataset, li, level)
        retrained = _retrain(ctx, labels, train_tag)
        second += level_tasks(sctx, retrained, [f.checkpoint_sha256 for f in retrained], tag)
    with ctx.timings.stage("tasks"):
        executor.run(second)


def weight_settings(spec: WeightRandomisationSpec) -> dict[str, Any]:
    """The weight-randomisation settings results.json records (those of its ``levels_by``).

    >>> weight_settings(WeightRandomisationSpec(levels_by="noise"))
    {'levels_by': 'noise', 'layers': ['conv'], 'seed': 0, 'std': 0.5, 'scale': 'absolute'}
    """
    own = (("tolerance", spec.tolerance), ("max_steps", spec.max_steps),
           ("scale_bounds", list(spec.scale_bounds))) if spec.levels_by == "accuracy" else (
        ("std", spec.std), ("scale", spec.scale))
    layers = spec.layers if isinstance(spec.layers, str) else list(spec.layers)
    return {"levels_by": spec.levels_by, "layers": layers, "seed": spec.seed, **dict(own)}


def run_sanity_checks(ctx: RunContext, folds: list[FoldModel], clean: LevelScores) -> tuple[SanityCheck, ...]:
    """Run every enabled check of the policy's ``sanity_checks``; ``()`` when none is enabled.

    Args:
        folds: the clean fold models (left unmodified).
        clean: the clean audit's scores (level 0), with their bootstrap resamples.

    Each level's models go through the audit's own explanation pass and scoring
    (:func:`~auditkit.engine.stages.score_level`), on the images of
    :func:`~auditkit.engine.stages.sanity_context`: with ``sanity_checks.max_images``, a subsample on
    which the clean models are scored again as level 0 (work files ``explainer_sanity_images_*``), so
    that the trend compares the same images at every level. On an executor, the retrainings and
    explanation passes of every level are submitted together first, in two waves
    (:func:`_all_levels_at_once`).
    """
    s = ctx.policy.sanity_checks
    confidence = ctx.policy.metrics.bootstrap.confidence
    sctx = sanity_context(ctx)
    if sctx is not ctx:
        ctx.log(f"sanity checks on a stratified subsample of {len(sctx.dataset)} of the "
                f"{len(ctx.dataset)} images (sanity_checks.max_images)")
        accuracy, scores, reused, _ = score_level(sctx, folds, [f.checkpoint_sha256 for f in folds],
                                                  SUBSAMPLE_TAG)
        clean = LevelScores(0.0, accuracy, scores, tuple(f"0 {n}" for n in reused))
    chance = chance_rate(sctx.dataset.labels)
    w = s.weight_randomisation
    # Level by level (one level's copies in memory at a time), but all at once for an executor.
    randomised: Iterable[Randomised] = (_randomised(ctx, folds, li, level)
                                        for li, level in enumerate(w.levels if w.enabled else ()))
    if ctx.executor is not None:
        randomised = list(randomised)
        _all_levels_at_once(ctx, sctx, randomised, ctx.executor)
    checks = []
    images = len(sctx.dataset)
    if w.enabled:
        levels = (clean, *_weight_levels(sctx, randomised))
        checks.append(assess_levels("weight_randomisation", levels, confidence, weight_settings(w),
                                    chance=chance, min_fall=s.min_fall, images=images))
    if s.label_shuffling.enabled:
        levels = (clean, *_label_levels(ctx, sctx))
        checks.append(assess_levels("label_shuffling", levels, confidence,
                                    {"seed": s.label_shuffling.seed}, chance=chance,
                                    min_fall=s.min_fall, images=images))
    for check in checks:
        ctx.log(f"sanity check {check.name}: {check.status.upper()}")
    return tuple(checks)


def assess_levels(
    name: str, levels: tuple[LevelScores, ...], confidence: float, settings: dict[str, Any],
    *, chance: float = 0.0, min_fall: float = 0.05, images: int = 0,
) -> SanityCheck:
    """The trend tests and verdicts of one check from its measured levels (level 0 first).

    Args:
        chance: the majority-class rate of the audited images (a level whose accuracy interval
            reaches it is at chance).
        min_fall: the smallest meaningful fall of a gated score over the levels.
        images: how many images every level explained (0: not recorded).
    """
    reused = tuple(r for s in levels for r in s.reused)  # level 0's only when it was re-scored
    return SanityCheck(name, levels, _trends(levels, confidence, chance, min_fall), settings, reused,
                       chance, min_fall, images, degradation_doubts(levels))

