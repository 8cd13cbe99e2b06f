"""The stages of an audit as functions of one frozen :class:`RunContext`, built once per run.

:func:`build_context` loads the data and draws what every stage shares (the folds, the bootstrap
resamples, the permutations of ReCo's null, the muF sample); :func:`train` cross-trains the k models
(Algorithm 1); :func:`score_level` explains and scores the k models of one level (the clean audit,
or a degraded level of a sanity check), with the properties on the clean level; :func:`level_tasks`
is what :func:`score_level` would submit to an executor, so the sanity checks can submit every
level at once. :func:`auditkit.engine.audit.run_audit` runs them in order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import torch
from tqdm import tqdm

from auditkit.data import ImageDataset, load_dataset, make_folds
from auditkit.data.sampling import stratified_subsample
from auditkit.engine.crosstrain import FoldModel, cross_train, predictions
from auditkit.engine.decisions import consistency, decision_reference, fold_agreement, held_out_confidence
from auditkit.engine.distances import DistanceRecord, explained_classes, pair_categories
from auditkit.engine.executor import Executor, Task
from auditkit.engine.explain import (
    explain_one,
    explain_tasks,
    explainer_path,
    measures_properties,
    properties_one,
)
from auditkit.engine.faithfulness import sample_images
from auditkit.engine.preflight import check_setup, declared_resize
from auditkit.engine.progress import progress_bar
from auditkit.engine.scoring import (
    ExplainerScores,
    SmoothControlScores,
    accuracy_score,
    explainer_scores,
    property_scores,
)
from auditkit.engine.smooth import lists_smooth_control, matched_control
from auditkit.engine.timing import Timings, stage_of
from auditkit.engine.workfiles import prepare_workdir
from auditkit.explainers import EXPLAINERS
from auditkit.metrics import ScoreDrops
from auditkit.metrics.bootstrap import resample_weights
from auditkit.metrics.chance import image_permutations
from auditkit.policy import COMPLETE_EXPLAINERS, ExplainerSpec, Policy
from auditkit.results import DecisionReference, Estimate


@dataclass(frozen=True)
class RunContext:
    """What every stage of one audit reads; built once by :func:`build_context`, never changed.

    Attributes:
        folds_idx: held-out image indices of each fold; fold_of: ``[N]`` the fold of each image.
        weights: ``[R, N]`` bootstrap resample weights, shared by every score (None: no intervals).
        permutations: ``[P, N]`` image permutations of ReCo's null, shared by every explainer.
        sample: the images muF is measured on.
        transformations: the declared invariance transformations as ``(name, setting)``.
        bars: the open training progress bar (a holder the stages close).
        timings: the wall time of each stage (:mod:`auditkit.engine.timing`), filled as they run.
    """

    policy: Policy
    dataset: ImageDataset
    folds_idx: list[torch.Tensor]
    fold_of: torch.Tensor
    workdir: Path
    device: torch.device
    executor: Executor | None
    weights: torch.Tensor | None
    permutations: torch.Tensor
    sample: torch.Tensor
    transformations: list[tuple[str, dict[str, Any]]]
    progress: bool = False
    log: Callable[[str], None] = lambda _: None
    bars: list[tqdm] = field(default_factory=list, compare=False, repr=False)
    timings: Timings = field(default_factory=Timings, compare=False, repr=False)


class LevelResult(NamedTuple):
    """The scores of the k models of one level."""

    accuracy: Estimate
    explainers: dict[str, ExplainerScores]
    reused: list[str]
    """Explainers whose whole pass was read from an earlier run's work files."""
    decisions: DecisionReference | None = None
    """What a decision sheet compares one image with (the clean level of a policy with a deployed
    checkpoint only, :mod:`auditkit.engine.decisions`)."""


def build_context(policy: Policy, out_dir: Path, device: torch.device, executor: Executor | None, *,
                  fresh: bool = False, progress: bool = False,
                  log: Callable[[str], None] = lambda _: None,
                  data: ImageDataset | None = None) -> RunContext:
    """Check the setup, load the data, split it into folds and draw what the scores share
    (``fresh``: the work folder is emptied first, :func:`~auditkit.engine.workfiles.prepare_workdir`;
    ``data``: the images of a ``python`` dataset)."""
    workdir = prepare_workdir(out_dir, fresh=fresh)
    check_setup(policy, data)  # the operator's model, function and image sizes, before any training
    d, cv = policy.dataset, policy.cross_validation
    dataset = audited_images(policy, data)
    log(f"dataset {d.kind}: {len(dataset)} images, {dataset.num_classes} classes, "
        f"sha256 {dataset.fingerprint[:16]}...")
    folds_idx = make_folds(dataset.labels, cv.k, cv.seed)
    fold_of = torch.empty(len(dataset), dtype=torch.long)
    for i, idx in enumerate(folds_idx):
        fold_of[idx] = i
    invariance = policy.to_dict()["properties"]["invariance"]
    return RunContext(
        policy, dataset, folds_idx, fold_of, workdir, device, executor, *_draws(policy, len(dataset)),
        [(t["name"], {k: v for k, v in t.items() if k != "name"}) for t in invariance["transformations"]]
        if invariance["enabled"] else [],
        progress, log,
    )


def audited_images(policy: Policy, data: ImageDataset | None = None) -> ImageDataset:
    """The images the policy audits: its dataset (``max_images``: a stratified subsample seeded by
    ``cross_validation.seed``) resized as it declares; ``data``: the images of a ``python`` dataset."""
    d = policy.dataset
    return load_dataset(d.kind, d.path, split=d.split, max_images=d.max_images,
                        seed=policy.cross_validation.seed, resize=declared_resize(policy), given=data)


def _draws(policy: Policy, n: int) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]:
    """What the scores of ``n`` images share: bootstrap weights, ReCo's permutations, muF's sample."""
    boot, chance = policy.metrics.bootstrap, policy.metrics.reco_chance
    weights = None if boot.resamples == 0 else resample_weights(
        n, boot.resamples, torch.Generator().manual_seed(boot.seed))
    return (weights,
            image_permutations(n, chance.permutations, torch.Generator().manual_seed(chance.seed)),
            sample_images(n, policy.metrics.mu_fidelity.samples, policy.cross_validation.seed))


def sanity_context(ctx: RunContext) -> RunContext:
    """The context the sanity levels are explained and scored in: ``ctx`` itself, or, with
    ``sanity_checks.max_images`` below the number of audited images, the same audit restricted to a
    stratified, seeded subsample of them (:func:`~auditkit.data.sampling.stratified_subsample`,
    seeded by ``cross_validation.seed``) with its own bootstrap weights, permutations and muF sample,
    drawn as :func:`build_context` draws them. Training always uses ``ctx``: a label-shuffled model is
    retrained on every training image of its fold, as the clean one was.
    """
    n = ctx.policy.sanity_checks.max_images
    if n is None or n >= len(ctx.dataset):
        return ctx
    index = stratified_subsample(ctx.dataset.labels, n, ctx.policy.cross_validation.seed)
    weights, permutations, sample = _draws(ctx.policy, len(index))
    return replace(ctx, dataset=ctx.dataset.subset(index), fold_of=ctx.fold_of[index], weights=weights,
                   permutations=permutations, sample=sample)


def on_fold(ctx: RunContext, label: str) -> Callable[[int, int], Callable[[int], None]]:
    """The progress hook of a cross-training: one bar per fold, ``label`` naming the level."""
    def start_fold(i: int, n_train: int) -> Callable[[int], None]:
        close_bars(ctx)
        ctx.bars.append(progress_bar(ctx.progress, n_train * ctx.policy.training.epochs,
                                     f"train {label}fold {i + 1}/{ctx.policy.cross_validation.k}"))
        return ctx.bars[0].update

    return start_fold


def close_bars(ctx: RunContext) -> None:
    """Close the training bar, if one is open."""
    for bar in ctx.bars:
        bar.close()
    ctx.bars.clear()


def _phase(ctx: RunContext, line: str) -> None:
    """Log that a phase starts, when no progress bar is drawn (a bar names its phase itself)."""
    if not ctx.progress:
        ctx.log(line)


def train(ctx: RunContext) -> list[FoldModel]:
    """The k fold models of Algorithm 1, from the work folder where already trained."""
    k, epochs = ctx.policy.cross_validation.k, ctx.policy.training.epochs
    _phase(ctx, f"training {k} fold models (epochs: {epochs}; those already in the work folder are reused)")
    with ctx.timings.stage("training"):
        folds = cross_train(ctx.policy, ctx.dataset, ctx.folds_idx, ctx.workdir, ctx.device,
                            on_fold=on_fold(ctx, ""), executor=ctx.executor)
    ctx.log("fold accuracies: " + ", ".join(f"{f.accuracy:.4f}" for f in folds))
    return folds


def _level_inputs(ctx: RunContext, models: list[FoldModel]) -> tuple[torch.Tensor, ...]:
    """Predictions ``[N, k]``, pair categories and explained classes of one level's models."""
    preds = predictions(models, ctx.dataset, ctx.device)
    categories = pair_categories(preds, ctx.dataset.labels, ctx.fold_of)
    return preds, categories, explained_classes(preds, ctx.dataset.labels, ctx.policy.metrics.target)


def level_tasks(ctx: RunContext, models: list[FoldModel], model_ids: list[str], tag: str) -> list[Task]:
    """The explanation passes :func:`score_level` would submit for ``models`` (none without executor)."""
    if ctx.executor is None:
        return []
    _, categories, targets = _level_inputs(ctx, models)
    return explain_tasks(ctx.executor, models, model_ids, ctx.dataset, ctx.fold_of, categories, targets,
                         ctx.policy, ctx.workdir, tag)


def score_level(ctx: RunContext, models: list[FoldModel], model_ids: list[str], tag: str) -> LevelResult:
    """Accuracy and every explainer's scores on ``models`` (true labels, the shared resamples).

    Args:
        model_ids: one identifier per model for the work keys (checkpoint digests, or a digest of how
            a degraded copy was derived from one).
        tag: the level's prefix of work file names; ``""`` for the clean audit, which alone gets the
            properties and, with a deployed checkpoint, the decisions' reference.
    """
    close_bars(ctx)  # the training of these models is over
    policy, boot = ctx.policy, ctx.policy.metrics.bootstrap
    with ctx.timings.stage("predictions"):
        preds, categories, targets = _level_inputs(ctx, models)
    produced: set[Path] = set()  # work files written by tasks of this run: not reused
    if ctx.executor is not None:
        with ctx.timings.stage("tasks"):
            ctx.executor.run(explain_tasks(ctx.executor, models, model_ids, ctx.dataset, ctx.fold_of,
                                           categories, targets, policy, ctx.workdir, tag))
        produced = ctx.executor.produced
    scores: dict[str, ExplainerScores] = {}
    reused: list[str] = []
    drops: dict[int, ScoreDrops] = {}  # muF's model evaluations, shared by this level's passes
    refer = not tag and policy.deployed.checkpoint is not None
    consistencies: dict[str, torch.Tensor] = {}  # per explainer, for the decisions' reference
    for spec in policy.explainers:
        if ctx.executor is None:
            _phase(ctx, f"{f'{tag} ' if tag else ''}{spec.name}: explaining {len(ctx.dataset)} images "
                   f"with {len(models)} models, then muF")
        with ctx.timings.stage(stage_of(tag, spec.name)):
            record, mu, loaded = explain_one(spec, models, model_ids, ctx.dataset, ctx.fold_of, categories,
                                             targets, policy, ctx.device, ctx.workdir, ctx.progress, tag,
                                             drops)
        was_reused = loaded and explainer_path(ctx.workdir, spec, tag) not in produced
        with ctx.timings.stage("scoring"):
            s = explainer_scores(spec.name, record, mu, ctx.sample, reco_form=policy.metrics.reco_form,
                                 weights=ctx.weights, confidence=boot.confidence,
                                 permutations=ctx.permutations, min_pairs=policy.metrics.min_pairs)
        _log_scores(ctx, s, tag)
        if refer:
            consistencies[spec.name] = consistency(record, preds, targets, ctx.fold_of)
        if not tag and measures_properties(policy):
            with ctx.timings.stage(f"properties.{spec.name}"):
                s, properties_reused = _with_properties(ctx, s, spec, models, model_ids, targets, produced)
            was_reused = was_reused and properties_reused  # reused only when all of it was
        if not tag and lists_smooth_control(policy) and not EXPLAINERS[spec.name].control:
            with ctx.timings.stage("scoring"):
                s = _with_smooth_control(ctx, s, record, models, model_ids, (categories, targets), drops)
        scores[spec.name] = s
        if was_reused:
            reused.append(spec.name)
    correct = preds.gather(1, ctx.fold_of[:, None])[:, 0] == ctx.dataset.labels
    return LevelResult(accuracy_score(correct, ctx.weights, boot.confidence), scores, reused,
                       _decisions(ctx, models, preds, consistencies) if refer else None)


def _decisions(ctx: RunContext, models: list[FoldModel], preds: torch.Tensor,
               consistencies: dict[str, torch.Tensor]) -> DecisionReference:
    """results.json's ``decisions`` from the clean level's predictions ``[N, k]`` and per-image
    consistencies, and one forward pass of each image through its held-out model."""
    confidence = held_out_confidence(models, ctx.dataset, ctx.folds_idx, ctx.device,
                                     ctx.policy.metrics.explain_batch_size)
    return decision_reference(models, confidence, fold_agreement(preds, ctx.fold_of), consistencies)


def _log_scores(ctx: RunContext, s: ExplainerScores, tag: str) -> None:
    ctx.log(f"{f'{tag} ' if tag else ''}{s.name}: " + _scores_text(s))


def _scores_text(s: ExplainerScores) -> str:
    band = s.reco_chance.chance
    return (f"MeGe {s.mege.text()}  ReCo {s.reco.text()}"
            + (f" (chance {band.null_mean:.3f}, 95% {band.null_q95:.3f}, p {band.p_value:.3g}; "
               f"corrected {s.reco_corrected.text()})" if band is not None else "")
            + f"  muF {s.mu_fidelity.text()}")


def _with_smooth_control(ctx: RunContext, s: ExplainerScores, record: DistanceRecord,
                         models: list[FoldModel], model_ids: list[str],
                         pairs: tuple[torch.Tensor, torch.Tensor],
                         drops: dict[int, ScoreDrops]) -> ExplainerScores:
    """``s`` with the smooth random control at its method's width (:mod:`auditkit.engine.smooth`);
    ``pairs``: the level's pair categories and explained classes."""
    policy, boot = ctx.policy, ctx.policy.metrics.bootstrap
    sigma, control, mu, _ = matched_control(s.name, record, models, model_ids, ctx.dataset, ctx.fold_of,
                                            *pairs, policy, ctx.device, ctx.workdir, drops)
    c = explainer_scores(f"random_smooth[{s.name}]", control, mu, ctx.sample,
                         reco_form=policy.metrics.reco_form, weights=ctx.weights,
                         confidence=boot.confidence, permutations=ctx.permutations,
                         min_pairs=policy.metrics.min_pairs)
    ctx.log(f"{s.name}: width {sigma:.2f} px; " + _scores_text(c))
    return replace(s, smooth_control=SmoothControlScores(sigma, c))


def _with_properties(ctx: RunContext, s: ExplainerScores, spec: ExplainerSpec, models: list[FoldModel],
                     model_ids: list[str], targets: torch.Tensor,
                     produced: set[Path]) -> tuple[ExplainerScores, bool]:
    """``s`` with the explainer's robustness, invariance and completeness (clean audit only), and
    whether these were reused from an earlier run's work file (not one of ``produced``)."""
    if ctx.executor is None:
        _phase(ctx, f"{spec.name}: measuring robustness, invariance and completeness")
    values, loaded, seconds = properties_one(spec, models, model_ids, ctx.dataset, ctx.fold_of, targets,
                                             ctx.policy, ctx.device, ctx.workdir, ctx.progress)
    by_task = loaded and explainer_path(ctx.workdir, spec, "") in produced
    was_reused = loaded and not by_task
    complete = spec.name in COMPLETE_EXPLAINERS
    boot = ctx.policy.metrics.bootstrap
    p = property_scores(values, ctx.transformations, claims_completeness=complete,
                        weights=ctx.weights, confidence=boot.confidence)
    ctx.log(f"{spec.name}: SENS_max {p.sensitivity_max.text()}  robustness distance "
            f"{p.robustness_distance.text()}  invariance distance {p.invariance_distance.text()}"
            + (f"  completeness error {p.completeness_error.text()}" if complete else "")
            + (" (reused)" if was_reused else "" if by_task else f" ({seconds:.1f} s)"))
    return replace(s, properties=p), was_reused


__all__ = ["LevelResult", "RunContext", "audited_images", "build_context", "close_bars", "level_tasks",
           "on_fold",
           "score_level", "train"]
