"""Whether the audit's sampling budgets suffice: the checks of the policy's ``convergence`` section.

On the clean fold models, for each sampling estimator, the score it feeds is measured at the
policy's budget b and at 2b, and judged by :func:`~auditkit.metrics.convergence.budget_verdict`
(converged when it moved by at most ``share`` of the width of the score's interval):

- an explainer's ``budget`` setting (Integrated Gradients' ``steps``, SmoothGrad's ``samples``,
  RISE's ``masks``, KernelSHAP's and LIME's ``samples``, Expected Gradients' ``samples``): the k
  fold models explain a seeded subsample of the images at b and at 2b; MeGe on the subsample's S=
  pairs (as the audit pairs them: each image's own fold model against the others), the mean
  Spearman distance between each map at b and at 2b, and for a method claiming completeness its
  completeness error (own fold model);
- ``metrics.mu_fidelity.n_subsets``: muF of every method's maps (own fold model, at the policy's
  budget) with n and 2n subsets;
- ``properties.robustness.perturbations``: the robustness distance and max-sensitivity with n and
  2n noise draws (max-sensitivity is a maximum over the draws: it can only grow with n);
- ``metrics.bootstrap.resamples``: the interval's ends with the audit's B resamples and with B more
  (drawn with ``bootstrap.seed + 1``), on all audited images;
- ``metrics.reco_chance.permutations``: closed forms, the binomial error of ReCo's p-value and the
  error of its chance level (:mod:`auditkit.metrics.convergence`).

The controls (``random``, ``input``, ``random_smooth``) are yardsticks, not audited: their
budgets are not checked. Every draw at 2b is seeded (per fold: ``convergence.seed + i``), so the
checks give the same numbers at every run; nothing is stored in the work folder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from auditkit.constraints import Constraint, Invalid
from auditkit.engine.crosstrain import FoldModel, predictions
from auditkit.engine.distances import S_EQ, explained_classes, pair_categories
from auditkit.engine.explain import TrainingImages, explain_one, make_explainers
from auditkit.engine.faithfulness import sample_images, subset_size
from auditkit.engine.scoring import CHANCE_ALPHA, ExplainerScores
from auditkit.engine.stages import LevelResult, RunContext
from auditkit.errors import MetricInputError
from auditkit.explainers import EXPLAINERS
from auditkit.metrics import (
    completeness_error,
    mege,
    mu_fidelity,
    pairwise_spearman_distance,
    score_drops,
    sensitivity,
    spearman_distance,
)
from auditkit.metrics.bootstrap import bootstrap_mean, bootstrap_mege, bootstrap_reco, resample_weights
from auditkit.metrics.convergence import budget_verdict, chance_level_error, ends_change, p_value_error
from auditkit.policy import ExplainerSpec, MuFidelitySpec, RobustnessSpec
from auditkit.results import BudgetCheck, Convergence, ConvergenceStatus, Estimate

Interval2 = tuple[float, float] | None


@dataclass(frozen=True)
class Subsample:
    """The seeded subsample the explainers' budgets, muF and robustness are checked on.

    Attributes:
        index: ``[m]`` audited image indices (sorted); x: ``[m, C, H, W]`` on the audit's device.
        own: ``[m]`` the fold each image is held out in; targets: ``[m, k]`` the class model j explains.
        s_eq: ``[m, k]`` bool: the pair (own fold model, model j) of the image is in S= (both right).
    """

    index: torch.Tensor
    x: torch.Tensor
    own: torch.Tensor
    targets: torch.Tensor
    s_eq: torch.Tensor

    def own_targets(self) -> torch.Tensor:
        """``[m]``: the class each image's own fold model explains."""
        return self.targets.gather(1, self.own[:, None])[:, 0]


def subsample(ctx: RunContext, folds: list[FoldModel], images: int, seed: int) -> Subsample:
    """The first ``images`` of a permutation seeded with ``seed`` (all when fewer), with their
    predictions by the k ``folds``."""
    index = sample_images(len(ctx.dataset), images, seed)
    part = ctx.dataset.subset(index)
    preds = predictions(folds, part, ctx.device)
    labels, own = part.labels, ctx.fold_of[index]
    right = preds == labels[:, None]
    s_eq = right & right.gather(1, own[:, None])
    s_eq[torch.arange(index.numel()), own] = False
    targets = explained_classes(preds, labels, ctx.policy.metrics.target)
    return Subsample(index, part.x(slice(None)).to(ctx.device), own, targets, s_eq)


def convergence_checks(ctx: RunContext, folds: list[FoldModel], clean: LevelResult) -> Convergence | None:
    """Every check of the module docstring on the clean fold models ``folds`` and their scores
    ``clean``; None when the policy's ``convergence`` section is disabled."""
    spec = ctx.policy.convergence
    if not spec.enabled:
        return None
    sub = subsample(ctx, folds, spec.images, spec.seed)
    ctx.log(f"convergence: checking the sampling budgets on {sub.index.numel()} images")
    checks: list[BudgetCheck] = []
    maps: dict[str, torch.Tensor] = {}
    for e in audited(ctx.policy.explainers):
        rows, maps[e.name] = explainer_checks(ctx, folds, sub, e, clean.explainers[e.name])
        checks += rows
    checks += fidelity_checks(ctx, folds, sub, maps, clean.explainers)
    checks += robustness_checks(ctx, folds, sub, clean.explainers)
    checks += bootstrap_checks(ctx, folds, clean)
    checks += permutation_checks(ctx, clean.explainers)
    counts = {s: sum(c.status == s for c in checks) for s in ConvergenceStatus}
    ctx.log("convergence: " + ", ".join(f"{n} {s.value.replace('_', ' ')}" for s, n in counts.items()))
    return Convergence(int(sub.index.numel()), spec.seed, spec.share, tuple(checks))


def audited(specs: tuple[ExplainerSpec, ...]) -> list[ExplainerSpec]:
    """The methods under audit among ``specs`` (the controls are yardsticks, not checked)."""
    return [s for s in specs if not EXPLAINERS[s.name].control]


def check(setting: str, explainer: str | None, score: str, budgets: tuple[int, int], measure: str,
          value: float | None, change: float | None, interval: Interval2, share: float,
          map_change: float | None = None) -> BudgetCheck:
    """One :class:`~auditkit.results.BudgetCheck` judged by ``budget_verdict``, with the reason of an
    undetermined verdict."""
    verdict = budget_verdict(change, interval, share)
    status = {True: ConvergenceStatus.CONVERGED, False: ConvergenceStatus.NOT_CONVERGED,
              None: ConvergenceStatus.UNDETERMINED}[verdict.converged]
    reason = ("" if verdict.converged is not None else
              "the score is undefined at b or 2b" if verdict.change is None else
              "the score has no interval (no bootstrap, or the score is undefined)")
    return BudgetCheck(setting, explainer, score, budgets[0], budgets[1], measure, value,
                       verdict.change, verdict.tolerance, status, reason, map_change)


def beyond(setting: str, explainer: str | None, scores: tuple[str, ...], budget: int) -> list[BudgetCheck]:
    """Undetermined checks of a budget whose double the setting does not accept."""
    return [BudgetCheck(setting, explainer, score, budget, 2 * budget, "change", None, None, None,
                        ConvergenceStatus.UNDETERMINED, f"{setting} does not accept 2b = {2 * budget}")
            for score in scores]


def doubled(constraint: Constraint, budget: int) -> int | None:
    """``2 budget`` where ``constraint`` accepts it, else None."""
    try:
        return int(constraint.check(2 * budget))
    except Invalid:
        return None


def _change(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else abs(b - a)


def _interval(scores: ExplainerScores, metric: str) -> Interval2:
    return scores.score(metric).interval


def nanmean(values: torch.Tensor) -> float | None:
    """Mean of the defined values of ``values``; None where none is."""
    defined = values[~torch.isnan(values)]
    return float(defined.mean()) if defined.numel() else None


def per_fold(sub: Subsample, k: int, measure: Callable[[int, torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """``[m]`` float64: ``measure(i, positions)`` of the images held out in fold i (positions in the
    subsample), for each of the ``k`` folds, gathered in subsample order."""
    out = torch.full((sub.index.numel(),), torch.nan, dtype=torch.float64)
    for i in range(k):
        mine = (sub.own == i).nonzero()[:, 0]
        if mine.numel():
            out[mine] = measure(i, mine).double().cpu()
    return out


def fold_maps(ctx: RunContext, folds: list[FoldModel], sub: Subsample,
              spec: ExplainerSpec) -> tuple[torch.Tensor, list[Any]]:
    """Maps ``[m, k, C', H, W]`` of the subsample by the k fold models, and the k (fresh) explainers."""
    explainers = make_explainers(spec, folds, ctx.policy, TrainingImages(ctx.dataset, ctx.fold_of))
    maps = torch.stack([e.explain(sub.x, sub.targets[:, j]) for j, e in enumerate(explainers)], dim=1)
    return maps, explainers


def own_maps(maps: torch.Tensor, sub: Subsample) -> torch.Tensor:
    """``[m, ...]``: row ``own[n]`` of image n of ``maps`` ``[m, k, ...]`` (its own fold model's)."""
    return maps[torch.arange(maps.shape[0], device=maps.device), sub.own.to(maps.device)]


def subsample_mege(maps: torch.Tensor, sub: Subsample, sqrt_distance: bool) -> float | None:
    """MeGe (eq. 5) over the subsample's S= pairs of ``maps`` ``[m, k, ...]``; None where S= is empty."""
    rows = own_maps(pairwise_spearman_distance(maps), sub)  # [m, k]: own model against each
    rows = rows.sqrt() if sqrt_distance else rows
    try:
        return float(mege(rows[sub.s_eq.to(rows.device)].double().cpu()))
    except MetricInputError:
        return None


def completeness(folds: list[FoldModel], sub: Subsample, maps: torch.Tensor,
                 explainers: list[Any]) -> float | None:
    """Mean completeness error of the own fold models' maps (:func:`~auditkit.metrics.completeness_error`)."""
    own, classes = own_maps(maps, sub), sub.own_targets()

    def measure(i: int, mine: torch.Tensor) -> torch.Tensor:
        x = sub.x[mine]
        return completeness_error(folds[i].model, x, own[mine], classes[mine].to(x.device),
                                  baseline=explainers[i].reference(x))

    return nanmean(per_fold(sub, len(folds), measure))


def explainer_checks(ctx: RunContext, folds: list[FoldModel], sub: Subsample, spec: ExplainerSpec,
                     scores: ExplainerScores) -> tuple[list[BudgetCheck], torch.Tensor]:
    """The checks of ``spec``'s budget setting (none for a method without one) on the subsample, and
    its maps by the own fold models at the policy's budget ``[m, C', H, W]`` (for muF's check)."""
    cls = EXPLAINERS[spec.name]
    maps, explainers = fold_maps(ctx, folds, sub, spec)
    if cls.budget is None:
        return [], own_maps(maps, sub)
    b, setting = spec.settings[cls.budget], f"explainers[{spec.name}].{cls.budget}"
    scored = ("mege", "completeness_error") if cls.completeness_baseline is not None else ("mege",)
    twice = doubled(cls.settings[cls.budget], b)
    if twice is None:
        return beyond(setting, spec.name, scored, b), own_maps(maps, sub)
    bigger = ExplainerSpec(spec.name, {**spec.settings, cls.budget: twice})
    maps2, explainers2 = fold_maps(ctx, folds, sub, bigger)
    moved = float(spearman_distance(maps.flatten(0, 1), maps2.flatten(0, 1)).mean())
    sqrt, share = ctx.policy.metrics.distance == "sqrt_spearman", ctx.policy.convergence.share
    values = {"mege": (subsample_mege(maps, sub, sqrt), subsample_mege(maps2, sub, sqrt))}
    if "completeness_error" in scored:
        values["completeness_error"] = (completeness(folds, sub, maps, explainers),
                                        completeness(folds, sub, maps2, explainers2))
    rows = [check(setting, spec.name, metric, (b, twice), "change", at_b, _change(at_b, at_2b),
                  _interval(scores, metric), share, moved) for metric, (at_b, at_2b) in values.items()]
    return rows, own_maps(maps, sub)


def fidelity_values(ctx: RunContext, folds: list[FoldModel], sub: Subsample,
                    maps: Mapping[str, torch.Tensor], n_subsets: int) -> dict[str, float | None]:
    """Mean muF of each method's own maps with ``n_subsets`` subsets, drawn per fold with
    ``convergence.seed + i`` (the score drops computed once per fold, shared by the methods)."""
    mf, seed = ctx.policy.metrics.mu_fidelity, ctx.policy.convergence.seed
    kw = {"subset_size": subset_size(mf, ctx.dataset.image_size), "baseline": mf.baseline,
          "n_subsets": n_subsets, "batch_size": ctx.policy.metrics.explain_batch_size,
          "cell_size": mf.cell_size if mf.subset_unit == "cell" else 1}
    classes = sub.own_targets()
    drops = {}
    for i, f in enumerate(folds):
        mine = (sub.own == i).nonzero()[:, 0]
        if mine.numel():
            drops[i] = score_drops(f.model, sub.x[mine], classes[mine].to(sub.x.device),
                                   generator=torch.Generator().manual_seed(seed + i), **kw)

    def of(own: torch.Tensor) -> Callable[[int, torch.Tensor], torch.Tensor]:
        return lambda i, mine: mu_fidelity(folds[i].model, sub.x[mine], own[mine],
                                           classes[mine].to(sub.x.device), drops=drops[i],
                                           generator=torch.Generator().manual_seed(seed + i), **kw)

    return {name: nanmean(per_fold(sub, len(folds), of(own))) for name, own in maps.items()}


def fidelity_checks(ctx: RunContext, folds: list[FoldModel], sub: Subsample, maps: Mapping[str, torch.Tensor],
                    scores: Mapping[str, ExplainerScores]) -> list[BudgetCheck]:
    """muF of each audited method with ``n_subsets`` and twice as many."""
    n, setting = ctx.policy.metrics.mu_fidelity.n_subsets, "metrics.mu_fidelity.n_subsets"
    twice = doubled(MuFidelitySpec.constraints["n_subsets"], n)
    if twice is None:
        return [row for name in maps for row in beyond(setting, name, ("mu_fidelity",), n)]
    at_b, at_2b = (fidelity_values(ctx, folds, sub, maps, budget) for budget in (n, twice))
    return [check(setting, name, "mu_fidelity", (n, twice), "change", at_b[name],
                  _change(at_b[name], at_2b[name]), _interval(scores[name], "mu_fidelity"),
                  ctx.policy.convergence.share) for name in maps]


def robustness_values(ctx: RunContext, folds: list[FoldModel], sub: Subsample, spec: ExplainerSpec,
                      draws: int) -> tuple[float | None, float | None]:
    """Mean max-sensitivity and robustness distance of ``spec`` with ``draws`` noise draws per image,
    fold i drawing with ``convergence.seed + i`` (fresh explainers: the same draws at every budget)."""
    r, seed = ctx.policy.properties.robustness, ctx.policy.convergence.seed
    explainers = make_explainers(spec, folds, ctx.policy, TrainingImages(ctx.dataset, ctx.fold_of))
    classes = sub.own_targets()
    measured: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def part(which: int) -> Callable[[int, torch.Tensor], torch.Tensor]:
        def measure(i: int, mine: torch.Tensor) -> torch.Tensor:
            if i not in measured:
                measured[i] = sensitivity(explainers[i].explain, sub.x[mine], classes[mine].to(sub.x.device),
                                          r.radius, draws, generator=torch.Generator().manual_seed(seed + i))
            return measured[i][which]
        return measure

    return nanmean(per_fold(sub, len(folds), part(0))), nanmean(per_fold(sub, len(folds), part(1)))


def robustness_checks(ctx: RunContext, folds: list[FoldModel], sub: Subsample,
                      scores: Mapping[str, ExplainerScores]) -> list[BudgetCheck]:
    """The robustness distance and max-sensitivity of each audited method with the policy's noise
    draws and twice as many (none when robustness is not measured)."""
    r, setting = ctx.policy.properties.robustness, "properties.robustness.perturbations"
    if not r.enabled:
        return []
    metrics = ("robustness_distance", "sensitivity_max")
    twice = doubled(RobustnessSpec.constraints["perturbations"], r.perturbations)
    rows: list[BudgetCheck] = []
    for spec in audited(ctx.policy.explainers):
        if twice is None:
            rows += beyond(setting, spec.name, metrics, r.perturbations)
            continue
        (sens, dist), (sens2, dist2) = (robustness_values(ctx, folds, sub, spec, n)
                                        for n in (r.perturbations, twice))
        rows += [check(setting, spec.name, metric, (r.perturbations, twice), "change", a, _change(a, b),
                       _interval(scores[spec.name], metric), ctx.policy.convergence.share)
                 for metric, a, b in (("robustness_distance", dist, dist2), ("sensitivity_max", sens, sens2))]
    return rows


def bootstrap_checks(ctx: RunContext, folds: list[FoldModel], clean: LevelResult) -> list[BudgetCheck]:
    """The interval ends of the accuracy and of each audited method's MeGe, ReCo and muF with the
    audit's B resamples and with B more (drawn with ``bootstrap.seed + 1``), on every audited image."""
    boot, policy = ctx.policy.metrics.bootstrap, ctx.policy
    if ctx.weights is None:
        return []
    extra = resample_weights(len(ctx.dataset), boot.resamples, torch.Generator().manual_seed(boot.seed + 1))
    labels = ctx.dataset.labels
    preds = predictions(folds, ctx.dataset, ctx.device)
    correct = (preds.gather(1, ctx.fold_of[:, None])[:, 0] == labels).double()
    categories = pair_categories(preds, labels, ctx.fold_of)
    targets = explained_classes(preds, labels, policy.metrics.target)
    rows = [ends_check(ctx, "accuracy", None, torch.cat([bootstrap_mean(correct, ctx.weights),
                                                          bootstrap_mean(correct, extra)]), clean.accuracy)]
    for spec in audited(policy.explainers):
        record, mu, _ = explain_one(spec, folds, [f.checkpoint_sha256 for f in folds], ctx.dataset,
                                    ctx.fold_of, categories, targets, policy, ctx.device, ctx.workdir, False)
        s = clean.explainers[spec.name]
        more = {"mege": bootstrap_mege(record.distances, record.category == S_EQ, extra),
                "reco": bootstrap_reco(record.distances, record.category, extra,
                                       form=policy.metrics.reco_form)[0],
                "mu_fidelity": bootstrap_mean(mu, extra[:, ctx.sample])}
        rows += [ends_check(ctx, metric, spec.name, None if s.score(metric).interval is None else
                            torch.cat([s.resampled[metric], values]), s.score(metric))
                 for metric, values in more.items()]
    return rows


def ends_check(ctx: RunContext, metric: str, explainer: str | None, resampled: torch.Tensor | None,
               estimate: Estimate) -> BudgetCheck:
    """How far the ends of ``estimate``'s interval move from the audit's B resamples to the 2B of
    ``resampled`` (None: the score has no interval)."""
    boot = ctx.policy.metrics.bootstrap
    change = None
    if resampled is not None:
        try:
            change = ends_change(resampled, boot.resamples, boot.confidence)
        except MetricInputError:  # undefined on every resample of the first B
            change = None
    return check("metrics.bootstrap.resamples", explainer, metric, (boot.resamples, 2 * boot.resamples),
                 "ends", estimate.value, change, estimate.interval, ctx.policy.convergence.share)


def permutation_checks(ctx: RunContext, scores: Mapping[str, ExplainerScores]) -> list[BudgetCheck]:
    """Closed forms for ReCo's R permutations, per audited method: the binomial error of the p-value
    against half its distance to the decision level alpha, and the error the chance level E0 puts on
    the corrected ReCo against ``share`` of its interval (:mod:`auditkit.metrics.convergence`)."""
    setting, share = "metrics.reco_chance.permutations", ctx.policy.convergence.share
    rows: list[BudgetCheck] = []
    for spec in audited(ctx.policy.explainers):
        band = scores[spec.name].reco_chance.chance
        r = ctx.policy.metrics.reco_chance.permutations
        if band is None:
            rows += [check(setting, spec.name, score, (r, r), "standard_error", None, None, None, share)
                     for score in ("reco_chance.p_value", "reco_corrected")]
            continue
        p, r = band.p_value, band.permutations
        rows.append(check(setting, spec.name, "reco_chance.p_value", (r, r), "standard_error", p,
                          p_value_error(p, r), (min(p, CHANCE_ALPHA), max(p, CHANCE_ALPHA)), 0.5))
        rows.append(check(setting, spec.name, "reco_corrected", (r, r), "standard_error", band.corrected,
                          chance_level_error(band.null_sd, r, band.observed, band.null_mean),
                          _interval(scores[spec.name], "reco_corrected"), share))
    return rows


__all__ = ["Subsample", "convergence_checks", "subsample"]
