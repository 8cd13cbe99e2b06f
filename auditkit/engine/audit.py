"""The audit: Algorithm 1 of Fel et al. (WACV 2022) end to end, resumable, written to results.json.

Finished work is kept under ``<out>/work/``: one checkpoint per fold model and one distance record
per explainer, each under a key that digests what it depends on. Rerunning the same command after
an interruption reuses every finished fold and explainer pass and gives the same numbers; changing
a setting invalidates exactly the work that depends on it.
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

import auditkit
from auditkit import _atomic
from auditkit.data import ImageDataset, load_dataset, make_folds
from auditkit.engine.crosstrain import FoldModel, cross_train, fresh_model, predictions
from auditkit.engine.distances import (
    DistanceRecord,
    collect_distances,
    explained_classes,
    pair_categories,
)
from auditkit.engine.executor import Executor, Task, make_executor, torch_settings
from auditkit.engine.faithfulness import fidelity_values, sample_images
from auditkit.engine.keys import work_key
from auditkit.engine.preflight import check_setup, declared_resize, describe_model, describe_training
from auditkit.engine.properties import PropertyValues, property_values
from auditkit.engine.sanity import LevelScores, SanityCheck, run_sanity_checks
from auditkit.engine.scoring import (
    PROPERTY_SCORES,
    ExplainerScores,
    Score,
    accuracy_score,
    explainer_scores,
    property_scores,
    random_scores_worst,
)
from auditkit.engine.verdicts import (
    RequirementVerdict,
    ThresholdCheck,
    check_thresholds,
    judge_requirements,
    sanity_gates,
)
from auditkit.engine.workfiles import (
    explanation_finished,
    load_explanation,
    load_properties,
    prepare_workdir,
    save_work,
)
from auditkit.explainers import make_explainer
from auditkit.metrics.bootstrap import resample_weights
from auditkit.metrics.chance import image_permutations
from auditkit.policy import COMPLETE_EXPLAINERS, ExplainerSpec, Policy

RESULTS_SCHEMA_VERSION = 1
N_EXAMPLES = 4


@dataclass(frozen=True)
class AuditOptions:
    """How to run an audit (the policy says what to audit).

    Attributes:
        policy: the loaded policy.
        out_dir: folder for results.json, the summary and the work files.
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        progress: show progress bars on stderr.
        ray: run the fold trainings, retrainings and explanation passes as Ray tasks, configured
            by the policy's ``ray`` section (as when it says ``enabled: true``); the numbers are
            the same (:mod:`auditkit.engine.ray_executor`).
        history: written into results.json as ``history`` when given: the audit's place in the
            history's hash chain (:attr:`auditkit.history.Recording.stamp`).
        fresh: redo all work: ``<out>/work/`` is emptied first (without it, finished work is reused
            once verified, :mod:`auditkit.engine.workfiles`).
    """

    policy: Policy
    out_dir: Path
    device: str = "auto"
    progress: bool = True
    ray: bool = False
    history: Mapping[str, Any] | None = None
    fresh: bool = False


@dataclass(frozen=True)
class AuditResult:
    """The outcome of an audit; ``passed`` is its bottom line."""

    policy: Policy
    dataset: ImageDataset
    folds: tuple[FoldModel, ...]
    accuracy: Score
    accuracy_spread: float
    explainers: dict[str, ExplainerScores]
    checks: tuple[ThresholdCheck, ...]
    requirements: tuple[RequirementVerdict, ...]
    device: str
    seconds: float
    reused: dict[str, list[Any]] = field(default_factory=dict)
    sanity: tuple[SanityCheck, ...] = ()
    history: Mapping[str, Any] | None = None
    created: str = ""
    """UTC time the audit ended (ISO 8601, seconds), set once: results.json's ``created``."""
    environment: dict[str, Any] = field(default_factory=dict)
    """Device and library versions, read once when the audit ended."""
    model: dict[str, Any] = field(default_factory=dict)
    """What built the audited model (:func:`~auditkit.engine.preflight.describe_model`)."""
    training: dict[str, Any] = field(default_factory=dict)
    """How it was trained (:func:`~auditkit.engine.preflight.describe_training`)."""

    @property
    def spread_ok(self) -> bool:
        return self.accuracy_spread <= self.policy.cross_validation.max_accuracy_spread

    @property
    def passed(self) -> bool:
        """All thresholds met, fold accuracies comparable and no sanity check failed.

        A metric whose score does not fall when the models are degraded is not evidence of
        anything, so a failed sanity check fails the audit (see :mod:`auditkit.engine.sanity`). An
        inconclusive one fails the thresholds that rest on its metric (they are not evidenced), and
        nothing else: it says the audit could not tell, not that the method is broken.
        """
        return (self.spread_ok and all(c.passed for c in self.checks)
                and all(s.status != "fail" for s in self.sanity))

    def summary(self) -> dict[str, Any]:
        """Machine-readable summary: the content of results.json (a pure function of the result)."""
        p = self.policy
        return {
            "schema_version": RESULTS_SCHEMA_VERSION,
            "auditkit_version": self.environment.get("auditkit", auditkit.__version__),
            "created": self.created,
            "verdict": "pass" if self.passed else "fail",
            "policy": {"name": p.name, "path": str(p.source), "sha256": p.sha256,
                       "resolved": p.to_dict()},
            "system": p.to_dict()["system"],
            "model": self.model,
            "training": self.training,
            "preprocessing": p.to_dict()["preprocessing"],
            "dataset": {
                "kind": p.dataset.kind,
                "source": self.dataset.source,
                "n_images": len(self.dataset),
                "classes": list(self.dataset.classes),
                "image_shape": [self.dataset.in_channels, *self.dataset.image_size],
                "fingerprint_sha256": self.dataset.fingerprint,
            },
            "folds": [
                {"index": f.index, "n_test": f.n_test, "accuracy": f.accuracy,
                 "checkpoint_sha256": f.checkpoint_sha256}
                for f in self.folds
            ],
            "accuracy": {
                **self.accuracy.to_dict(),
                "spread": self.accuracy_spread,
                "max_spread": p.cross_validation.max_accuracy_spread,
                "comparable": self.spread_ok,
            },
            "explainers": {
                name: {"settings": dict(spec.settings), **self.explainers[name].to_dict()}
                for name, spec in ((s.name, s) for s in p.explainers)
            },
            "thresholds": [c.to_dict() for c in self.checks],
            "requirements": [r.to_dict() for r in self.requirements],
            "sanity_checks": {check.name: check.to_dict() for check in self.sanity},
            "property_checks": {"random_scores_worst": random_scores_worst(self.explainers)}
            if any(s.properties is not None for s in self.explainers.values()) else {},
            "seeds": {
                "folds": p.cross_validation.seed,
                "training": p.training.seed,
                "bootstrap": p.metrics.bootstrap.seed,
            },
            "environment": {k: v for k, v in self.environment.items() if k != "auditkit"},
            "run_seconds": round(self.seconds, 3),
            "reused_from_earlier_run": self.reused,
            **({} if self.history is None else {"history": dict(self.history)}),
        }


def _environment(device: str) -> dict[str, Any]:
    import captum
    import numpy
    import scipy
    import torchvision

    return {
        "device": device,
        "device_name": torch.cuda.get_device_name(device) if device.startswith("cuda") else
        platform.processor() or platform.machine(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "captum": captum.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
    }


def resolve_device(requested: str) -> torch.device:
    """``auto`` is CUDA when present, else CPU; an unavailable CUDA is an error."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise auditkit.errors.AuditError(f"device {requested!r} requested but CUDA is not available")
    return device


def _bar(progress: bool, total: int, desc: str) -> tqdm:
    return tqdm(total=total, desc=desc, unit="img", disable=not progress, file=sys.stderr,
                leave=False, dynamic_ncols=True)


def _explainer_key(spec: ExplainerSpec, model_ids: list[str], policy: Policy) -> str:
    m = policy.metrics
    return work_key({
        "explainer": spec.name,
        "settings": dict(spec.settings),
        "models": model_ids,
        "distance": m.distance,
        "target": m.target,
        "batch_size": m.explain_batch_size,
        "mu_fidelity": policy.to_dict()["metrics"]["mu_fidelity"],
        "seed": policy.cross_validation.seed,
        **({"target_layer": policy.model.target_layer} if policy.model.target_layer is not None else {}),
    })


def _explain_one(
    spec: ExplainerSpec,
    folds: list[FoldModel],
    model_ids: list[str],
    dataset: ImageDataset,
    fold_of: torch.Tensor,
    categories: torch.Tensor,
    targets: torch.Tensor,
    policy: Policy,
    device: torch.device,
    workdir: Path,
    progress: bool,
    tag: str = "",
) -> tuple[DistanceRecord, torch.Tensor, bool]:
    """Distances and muF values of one explainer on ``folds``, from the work folder when already done.

    Args:
        model_ids: one identifier per fold model for the work key (checkpoint digests, or a digest
            of how a degraded copy was derived from one).
        tag: prefix of the work file name (``explainer_[<tag>_]<name>.pt``); ``""`` for the clean audit.
        targets: ``[N, k]`` the class each model explains (:func:`explained_classes`).
    """
    name = f"{tag}_{spec.name}" if tag else spec.name
    path = _explainer_path(workdir, spec, tag)
    key = _explainer_key(spec, model_ids, policy)
    saved = load_explanation(path, key, categories, dataset.image_size, policy.metrics.mu_fidelity.samples)
    if saved is not None:
        return *saved, True
    m = policy.metrics
    seed = policy.cross_validation.seed
    explainers = _make_explainers(spec, folds, policy)
    examples = torch.arange(min(N_EXAMPLES, len(dataset)))
    with _bar(progress, len(dataset), f"explain {name}") as bar:
        record = collect_distances(
            explainers, dataset, fold_of, categories, targets,
            batch_size=m.explain_batch_size, device=device,
            sqrt_distance=m.distance == "sqrt_spearman", example_index=examples,
            progress=bar.update,
        )
    sample = sample_images(len(dataset), m.mu_fidelity.samples, seed)
    mu = fidelity_values(explainers, folds, dataset, fold_of, sample, m.mu_fidelity,
                         _own(targets, fold_of), seed=seed, batch_size=m.explain_batch_size, device=device)
    save_work(path, {"key": key, "record": record.to_state(), "mu": mu})
    return record, mu, False


def _own(targets: torch.Tensor, fold_of: torch.Tensor) -> torch.Tensor:
    """``[N]``: the class image n's own fold model explains, from ``targets [N, k]``."""
    return targets.gather(1, fold_of[:, None])[:, 0]


def _make_explainers(spec: ExplainerSpec, folds: list[FoldModel], policy: Policy) -> list[Any]:
    """One fresh explainer of ``spec`` per fold model, seeded per fold."""
    seed = policy.cross_validation.seed
    return [
        make_explainer(
            spec.name,
            f.model,
            layer=getattr(f.model, "target_layer", None),
            batch_size=policy.metrics.explain_batch_size,
            generator_seed=seed * 1000 + f.index,
            **dict(spec.settings),
        )
        for f in folds
    ]


def _measures_properties(policy: Policy) -> bool:
    p = policy.properties
    return p.robustness.enabled or p.invariance.enabled or p.completeness.enabled


def _properties_key(spec: ExplainerSpec, model_ids: list[str], policy: Policy) -> str:
    return work_key({
        "explainer": spec.name,
        "settings": dict(spec.settings),
        "models": model_ids,
        "batch_size": policy.metrics.explain_batch_size,
        "target": policy.metrics.target,
        "properties": policy.to_dict()["properties"],
        "seed": policy.cross_validation.seed,
    })


def _properties_one(
    spec: ExplainerSpec,
    folds: list[FoldModel],
    model_ids: list[str],
    dataset: ImageDataset,
    fold_of: torch.Tensor,
    targets: torch.Tensor,
    policy: Policy,
    device: torch.device,
    workdir: Path,
) -> tuple[PropertyValues, bool, float]:
    """Robustness, invariance and completeness values of one explainer on the clean fold models.

    Kept in the explainer's work file (written by :func:`_explain_one` first) under ``properties``
    with its own key, so that changing only the properties' settings leaves the distances reused.
    Returns the values, whether they were reused, and the seconds spent computing them.
    """
    path = _explainer_path(workdir, spec, "")
    key = _properties_key(spec, model_ids, policy)
    state, saved = load_properties(path, key, len(dataset), policy.properties, policy.cross_validation.seed)
    if saved is not None:  # state None: unusable, _explain_one rewrites it on the next run
        return saved, True, 0.0
    start = time.perf_counter()
    values = property_values(_make_explainers(spec, folds, policy), folds, dataset, fold_of,
                             policy.properties, _own(targets, fold_of),
                             sample_seed=policy.cross_validation.seed,
                             batch_size=policy.metrics.explain_batch_size, device=device)
    seconds = time.perf_counter() - start
    if state is not None:
        save_work(path, {**state, "properties": {"key": key, "values": values.to_state()}})
    return values, False, seconds


def _explain_finished(spec: ExplainerSpec, model_ids: list[str], policy: Policy, workdir: Path,
                      tag: str) -> bool:
    """Whether :func:`_explain_one` would load this pass from its work file."""
    return explanation_finished(_explainer_path(workdir, spec, tag), _explainer_key(spec, model_ids, policy))


def _explainer_path(workdir: Path, spec: ExplainerSpec, tag: str) -> Path:
    """Work file of one explanation pass: ``explainer_[<tag>_]<name>.pt``."""
    return workdir / f"explainer_{f'{tag}_{spec.name}' if tag else spec.name}.pt"


def explain_pass(
    spec: ExplainerSpec,
    policy: Policy,
    dataset: ImageDataset,
    states: list[dict[str, torch.Tensor]],
    folds: list[tuple[int, float, int, str]],
    model_ids: list[str],
    fold_of: torch.Tensor,
    categories: torch.Tensor,
    targets: torch.Tensor,
    workdir: Path,
    tag: str,
    *,
    device: torch.device,
) -> None:
    """One explainer's pass over the k models of one level, as a task: writes its work file.

    Args:
        states: the k models' state dicts (CPU tensors), in fold order.
        folds: ``(index, accuracy, n_test, checkpoint_sha256)`` of each model.
        model_ids, fold_of, categories, targets, tag: as :func:`_explain_one` takes them.
        device: where to explain.
    """
    models = []
    for state, (index, acc, n_test, sha) in zip(states, folds, strict=True):
        model = fresh_model(policy, dataset)
        model.load_state_dict(state)
        models.append(FoldModel(index, model.to(device).eval(), acc, n_test, sha, False))
    _explain_one(spec, models, model_ids, dataset, fold_of, categories, targets, policy, device,
                 workdir, False, tag)
    if not tag and _measures_properties(policy):
        _properties_one(spec, models, model_ids, dataset, fold_of, targets, policy, device, workdir)


def _explain_tasks(
    executor: Executor, models: list[FoldModel], model_ids: list[str], dataset: ImageDataset,
    fold_of: torch.Tensor, categories: torch.Tensor, targets: torch.Tensor, policy: Policy,
    workdir: Path, tag: str,
) -> list[Task]:
    """The unfinished explanation passes of one level, as ``executor`` tasks (:func:`explain_pass`).

    Once they ran, :func:`_explain_one` loads their work files.
    """
    todo = [s for s in policy.explainers if not _explain_finished(s, model_ids, policy, workdir, tag)]
    if not todo:
        return []
    states = executor.share([{k: v.detach().cpu() for k, v in f.model.state_dict().items()}
                             for f in models])
    meta = [(f.index, f.accuracy, f.n_test, f.checkpoint_sha256) for f in models]
    prefix = f"{tag} " if tag else ""
    return [Task(explain_pass, (spec, policy, executor.share(dataset), states, meta, model_ids, fold_of,
                                categories, targets, workdir, tag),
                 f"explain {prefix}{spec.name}", output=_explainer_path(workdir, spec, tag))
            for spec in todo]


def run_audit(options: AuditOptions, log: Callable[[str], None] = lambda _: None) -> AuditResult:
    """Run the whole audit and write ``results.json`` and ``summary.txt`` into ``options.out_dir``.

    With ``options.ray`` or the policy's ``ray.enabled``, the independent tasks run on Ray
    (:mod:`auditkit.engine.executor`); otherwise Ray is not imported.
    """
    start = time.perf_counter()
    policy = options.policy
    device = resolve_device(options.device)
    torch_settings(device, policy.run.deterministic)
    executor = None
    if options.ray or policy.ray.enabled:
        executor = make_executor(policy.ray, device, deterministic=policy.run.deterministic, log=log,
                                 progress=options.progress)
    try:
        return _audit(options, log, start, device, executor)
    finally:
        if executor is not None:
            executor.close()


def _audit(options: AuditOptions, log: Callable[[str], None], start: float, device: torch.device,
           executor: Executor | None) -> AuditResult:
    policy = options.policy
    out_dir = Path(options.out_dir)
    workdir = prepare_workdir(out_dir, fresh=options.fresh)
    check_setup(policy)  # the operator's model, function and image sizes, before any training
    d = policy.dataset
    dataset = load_dataset(d.kind, d.path, split=d.split, max_images=d.max_images,
                           seed=policy.cross_validation.seed, resize=declared_resize(policy))
    log(f"dataset {d.kind}: {len(dataset)} images, {dataset.num_classes} classes, "
        f"sha256 {dataset.fingerprint[:16]}...")
    cv = policy.cross_validation
    folds_idx = make_folds(dataset.labels, cv.k, cv.seed)
    fold_of = torch.empty(len(dataset), dtype=torch.long)
    for i, idx in enumerate(folds_idx):
        fold_of[idx] = i

    bars: list[tqdm] = []

    def on_fold(label: str) -> Callable[[int, int], Callable[[int], None]]:
        def start_fold(i: int, n_train: int) -> Callable[[int], None]:
            for done in bars:
                done.close()
            bars[:] = [_bar(options.progress, n_train * policy.training.epochs,
                            f"train {label}fold {i + 1}/{cv.k}")]
            return bars[0].update

        return start_fold

    folds = cross_train(policy, dataset, folds_idx, workdir, device, on_fold=on_fold(""),
                        executor=executor)
    accs = [f.accuracy for f in folds]
    log("fold accuracies: " + ", ".join(f"{a:.4f}" for a in accs))

    boot = policy.metrics.bootstrap
    chance = policy.metrics.reco_chance
    perms = image_permutations(len(dataset), chance.permutations,
                               torch.Generator().manual_seed(chance.seed))
    weights = None
    if boot.resamples > 0:
        weights = resample_weights(len(dataset), boot.resamples,
                                   torch.Generator().manual_seed(boot.seed))
    sample = sample_images(len(dataset), policy.metrics.mu_fidelity.samples, cv.seed)

    invariance = policy.to_dict()["properties"]["invariance"]
    transformations = [(t["name"], {k: v for k, v in t.items() if k != "name"})
                       for t in invariance["transformations"]] if invariance["enabled"] else []

    def _with_properties(s: ExplainerScores, spec: ExplainerSpec, models: list[FoldModel],
                         model_ids: list[str], targets: torch.Tensor,
                         produced: set[Path]) -> tuple[ExplainerScores, bool]:
        """``s`` with the explainer's robustness, invariance and completeness (clean audit only),
        and whether these were reused from an earlier run's work file (not one of ``produced``)."""
        values, loaded, seconds = _properties_one(spec, models, model_ids, dataset, fold_of,
                                                  targets, policy, device, workdir)
        by_task = loaded and _explainer_path(workdir, spec, "") in produced
        was_reused = loaded and not by_task
        complete = spec.name in COMPLETE_EXPLAINERS
        p = property_scores(values, transformations, claims_completeness=complete,
                            weights=weights, confidence=boot.confidence)
        log(f"{spec.name}: SENS_max {p.sensitivity_max.text()}  robustness distance "
            f"{p.robustness_distance.text()}  invariance distance {p.invariance_distance.text()}"
            + (f"  completeness error {p.completeness_error.text()}" if complete else "")
            + (" (reused)" if was_reused else "" if by_task else f" ({seconds:.1f} s)"))
        return replace(s, properties=p), was_reused

    def score_models(
        models: list[FoldModel], model_ids: list[str], tag: str
    ) -> tuple[Score, dict[str, ExplainerScores], list[str]]:
        """Accuracy and every explainer's scores on ``models`` (true labels, shared resamples)."""
        for bar in bars:  # the training of these models is over
            bar.close()
        preds = predictions(models, dataset, device)
        categories = pair_categories(preds, dataset.labels, fold_of)
        targets = explained_classes(preds, dataset.labels, policy.metrics.target)
        scores: dict[str, ExplainerScores] = {}
        reused: list[str] = []
        prefix = f"{tag} " if tag else ""
        produced: set[Path] = set()  # work files written by tasks of this run: not reused
        if executor is not None:
            executor.run(_explain_tasks(executor, models, model_ids, dataset, fold_of, categories,
                                        targets, policy, workdir, tag))
            produced = executor.produced
        for spec in policy.explainers:
            record, mu, was_reused = _explain_one(spec, models, model_ids, dataset, fold_of,
                                                  categories, targets, policy, device, workdir,
                                                  options.progress, tag)
            if was_reused and _explainer_path(workdir, spec, tag) not in produced:
                reused.append(spec.name)
            s = scores[spec.name] = explainer_scores(
                spec.name, record, mu, sample, reco_form=policy.metrics.reco_form,
                weights=weights, confidence=boot.confidence,
                permutations=perms,
            )
            band = s.reco_chance.chance
            log(f"{prefix}{spec.name}: MeGe {s.mege.text()}  ReCo {s.reco.text()}"
                + (f" (chance {band.null_mean:.3f}, 95% {band.null_q95:.3f}, p {band.p_value:.3g}; "
                   f"corrected {s.reco_corrected.text()})" if band is not None else "")
                + f"  muF {s.mu_fidelity.text()}")
            if not tag and _measures_properties(policy):
                scores[spec.name], properties_reused = _with_properties(
                    s, spec, models, model_ids, targets, produced)
                if not properties_reused and spec.name in reused:  # reused only when all of it was
                    reused.remove(spec.name)
        correct = preds.gather(1, fold_of[:, None])[:, 0] == dataset.labels
        return accuracy_score(correct, weights, boot.confidence), scores, reused

    def explain_tasks(models: list[FoldModel], model_ids: list[str], tag: str) -> list[Task]:
        """What :func:`score_models` would submit for ``models`` (on an executor only)."""
        if executor is None:
            return []
        preds = predictions(models, dataset, device)
        categories = pair_categories(preds, dataset.labels, fold_of)
        targets = explained_classes(preds, dataset.labels, policy.metrics.target)
        return _explain_tasks(executor, models, model_ids, dataset, fold_of, categories, targets,
                              policy, workdir, tag)

    accuracy, scores, reused_explainers = score_models(
        folds, [f.checkpoint_sha256 for f in folds], "")
    sanity = run_sanity_checks(
        policy, dataset, folds, folds_idx, LevelScores(0.0, accuracy, scores), workdir, device,
        score_models, on_fold=on_fold("label-shuffled "), log=log, executor=executor,
        explain_tasks=explain_tasks,
    )
    spread = max(accs) - min(accs)
    checks = check_thresholds(policy, scores, accuracy, spread, sanity_gates(sanity))
    requirements = judge_requirements(policy, checks)
    reused_work = {
        "folds": [f.index for f in folds if f.reused],
        "explainers": reused_explainers,
        "sanity": [f"{c.name} {item}" for c in sanity for item in c.reused],
    }
    result = AuditResult(
        policy, dataset, tuple(folds), accuracy, spread, scores, tuple(checks), tuple(requirements),
        str(device), time.perf_counter() - start, reused_work, sanity, options.history,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        environment={"auditkit": auditkit.__version__, **_environment(str(device))},
        model=describe_model(policy, folds[0].model), training=describe_training(policy),
    )
    write_results(result, out_dir)
    return result


def summary_text(result: AuditResult) -> str:
    """A plain-text summary of the audit (the report replaces it)."""
    lines = [
        f"auditkit {auditkit.__version__} audit of policy '{result.policy.name}' "
        f"(sha256 {result.policy.sha256})",
        f"verdict: {'PASS' if result.passed else 'FAIL'}",
        f"dataset: {len(result.dataset)} images, fingerprint {result.dataset.fingerprint}",
        "fold accuracies: " + ", ".join(f"{f.accuracy:.4f}" for f in result.folds)
        + f" (spread {result.accuracy_spread:.4f}, allowed "
        f"{result.policy.cross_validation.max_accuracy_spread})",
        "",
        f"explained class: {result.policy.metrics.target}",
        "",
        f"{'explainer':22s} {'MeGe':>24s} {'ReCo':>24s} {'ReCo chance [95%]':>18s} {'p':>7s} "
        f"{'ReCo corrected':>24s} {'ReCo_AUC':>24s} {'muF':>24s}",
    ]
    for name, s in result.explainers.items():
        c = s.reco_chance.chance
        band = "n/a" if c is None else f"{c.null_mean:.3f} [{c.null_q95:.3f}]"
        p_value = "n/a" if c is None else f"{c.p_value:.3g}"
        lines.append(f"{name:22s} {s.mege.text():>24s} {s.reco.text():>24s} {band:>18s} {p_value:>7s} "
                     f"{s.reco_corrected.text():>24s} {s.reco_auc.text():>24s} "
                     f"{s.mu_fidelity.text():>24s}")
    lines.append("")
    if any(s.properties is not None for s in result.explainers.values()):
        lines.append(f"{'explainer':22s} {'SENS_max':>24s} {'robustness distance':>24s} "
                     f"{'invariance distance':>24s} {'completeness error':>24s}")
        for name, s in result.explainers.items():
            cells = [s.score(m) for m in PROPERTY_SCORES]
            lines.append(f"{name:22s} " + " ".join(
                f"{'n/a' if c.value is None else c.text():>24s}" for c in cells))
        lines.append("")
    for check in result.sanity:
        lines.extend(_sanity_lines(check))
    for c in result.checks:
        target = f" [{c.explainer}]" if c.explainer else ""
        lines.append(f"{'PASS' if c.passed else 'FAIL'} {c.threshold}{target}: {c.metric} "
                     f"{c.op} {c.value} on {c.on}: {c.reason}")
    for r in result.requirements:
        lines.append(f"requirement {r.id} ({', '.join(r.articles)}): "
                     f"{'met' if r.met else 'NOT met'}: {r.title}")
    return "\n".join(lines) + "\n"


_SANITY_LABELS = {"mege": "MeGe", "reco": "ReCo", "reco_corrected": "ReCo_c", "mu_fidelity": "muF"}


def _sanity_lines(check: SanityCheck) -> list[str]:
    """One check's table: per explainer, MeGe, ReCo and muF at each level and their trend."""
    levels = " ".join(f"{s.level:g}" for s in check.levels)
    lines = [
        f"sanity check {check.name}: {check.status.upper()} (levels {levels}; "
        f"accuracy {' '.join(Score(s.accuracy.value).text() for s in check.levels)})",
        f"  {'explainer':22s} {'metric':6s} {'score at each level':<{6 * len(check.levels)}s} "
        f"{'slope [CI]':>26s} {'p':>6s}  result",
    ]
    for name, trends in check.trends.items():
        for metric, label in _SANITY_LABELS.items():
            t = trends[metric]
            values = " ".join("  n/a" if s.explainers[name].score(metric).value is None else
                              f"{s.explainers[name].score(metric).value:5.3f}" for s in check.levels)
            slope = Score(t.trend.slope, t.trend.low, t.trend.high).text(2)
            p = "n/a" if t.trend.p_value is None else f"{t.trend.p_value:.3f}"
            verdict = "reported" if t.verdict is None else t.verdict.upper() + f": {t.reason}"
            lines.append(f"  {name:22s} {label:6s} {values:<{6 * len(check.levels)}s} {slope:>26s} "
                         f"{p:>6s}  {verdict}")
    return [*lines, ""]


def write_results(result: AuditResult, out_dir: Path) -> None:
    """Write results.json and summary.txt atomically."""
    import json

    _atomic.write_text(out_dir / "results.json",
                       json.dumps(result.summary(), indent=2, allow_nan=False) + "\n")
    _atomic.write_text(out_dir / "summary.txt", summary_text(result))
