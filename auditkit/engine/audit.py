"""The audit: Algorithm 1 of Fel et al. (WACV 2022) end to end, resumable, written to results.json.

:func:`run_audit` builds the run's context once and runs the stages of :mod:`auditkit.engine.stages`
in order: train the k fold models, explain and score them, run the sanity checks
(:mod:`auditkit.engine.sanity`), test the thresholds and judge the requirements
(:mod:`auditkit.engine.verdicts`), and measure the deployed checkpoint when the policy names one
(:mod:`auditkit.engine.deployed`). Finished work is kept under ``<out>/work/``: one checkpoint per
fold model and one distance record per explainer, each under a key that digests what it depends on.
Rerunning the same command after an interruption reuses every finished fold and explainer pass and
gives the same numbers; changing a setting invalidates exactly the work that depends on it.
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from auditkit import _atomic, _version
from auditkit.data import ImageDataset
from auditkit.engine.agreement import agreement_scores
from auditkit.engine.chance import chance_rate, fold_chance, spread_from_fold_size
from auditkit.engine.convergence import convergence_checks
from auditkit.engine.crosstrain import FoldModel
from auditkit.engine.deployed import deployed_stage
from auditkit.engine.executor import Executor, SerialExecutor, torch_settings
from auditkit.engine.explain import input_sample
from auditkit.engine.preflight import describe_model, describe_training
from auditkit.engine.progress import show_progress
from auditkit.engine.sanity import LevelScores, SanityCheck, run_sanity_checks
from auditkit.engine.scoring import ExplainerScores, random_scores_worst
from auditkit.engine.stages import RunContext, build_context, score_level, train
from auditkit.engine.verdicts import check_thresholds, judge_requirements, sanity_gates
from auditkit.errors import AuditError
from auditkit.policy import Policy, RaySpec
from auditkit.results import (
    SCHEMA_VERSION,
    Accuracy,
    Agreement,
    AuditDocument,
    Convergence,
    CostPlan,
    Dataset,
    DecisionReference,
    Deployed,
    Estimate,
    Fold,
    HistoryLink,
    Model,
    PolicyRecord,
    PropertyChecks,
    Requirement,
    Reused,
    Seeds,
    System,
    ThresholdCheck,
    Training,
)


@dataclass(frozen=True)
class AuditOptions:
    """How to run an audit (the policy says what to audit).

    Attributes:
        policy: the loaded policy.
        out_dir: folder for results.json, the summary and the work files.
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        progress: draw progress bars: ``True``, ``False``, or ``None`` for "when someone is watching"
            (a terminal or a notebook), decided by :func:`~auditkit.engine.progress.bar_class`.
        ray: run the fold trainings, retrainings and explanation passes as Ray tasks, configured
            by the policy's ``ray`` section (as when it says ``enabled: true``); the numbers are
            the same (:mod:`auditkit.engine.ray_executor`).
        history: written into results.json as ``history`` when given: the audit's place in the
            history's hash chain (:attr:`auditkit.history.Recording.stamp`).
        fresh: redo all work: ``<out>/work/`` is emptied first (without it, finished work is reused
            once verified, :mod:`auditkit.engine.workfiles`).
        data: the images of a policy whose dataset is ``kind: python``
            (:func:`~auditkit.data.memory.from_python`, already resized).
        plan: the cost plan estimated before the run (:meth:`auditkit.cost.Plan.record`), written
            into results.json beside the time measured for each stage; None: none.
    """

    policy: Policy
    out_dir: Path
    device: str = "auto"
    progress: bool | None = None
    ray: bool = False
    history: Mapping[str, Any] | None = None
    fresh: bool = False
    data: ImageDataset | None = None
    plan: CostPlan | None = None


@dataclass(frozen=True)
class AuditResult:
    """The outcome of an audit; ``passed`` is its bottom line."""

    policy: Policy
    dataset: ImageDataset
    folds: tuple[FoldModel, ...]
    accuracy: Estimate
    accuracy_spread: float
    explainers: dict[str, ExplainerScores]
    checks: tuple[ThresholdCheck, ...]
    requirements: tuple[Requirement, ...]
    device: str
    seconds: float
    reused: dict[str, list[Any]] = field(default_factory=dict)
    sanity: tuple[SanityCheck, ...] = ()
    history: Mapping[str, Any] | None = None
    created: str = ""
    """UTC time the audit ended (ISO 8601, seconds), set once: results.json's ``created``."""
    environment: dict[str, Any] = field(default_factory=dict)
    """Device and library versions, read once when the audit ended."""
    model: Model | None = None
    """What built the audited model (:func:`~auditkit.engine.preflight.describe_model`)."""
    training: Training | None = None
    """How it was trained (:func:`~auditkit.engine.preflight.describe_training`)."""
    deployed: Deployed | None = None
    """The deployed checkpoint's digest and figures (:func:`~auditkit.engine.deployed.deployed_stage`)."""
    agreement: Agreement | None = None
    """The agreement between the explainers (:func:`~auditkit.engine.agreement.agreement_scores`)."""
    plan: CostPlan | None = None
    """The cost plan estimated before the run (``AuditOptions.plan``)."""
    timings: Mapping[str, float] = field(default_factory=dict)
    """Wall seconds per stage (:mod:`auditkit.engine.timing`)."""
    convergence: Convergence | None = None
    """Whether the sampling budgets suffice (:func:`~auditkit.engine.convergence.convergence_checks`)."""
    decisions: DecisionReference | None = None
    """What a decision sheet compares one image with (:mod:`auditkit.engine.decisions`)."""

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

    def document(self) -> AuditDocument:
        """The typed content of results.json (a pure function of the result)."""
        p, resolved = self.policy, self.policy.to_dict()
        return AuditDocument(
            schema_version=SCHEMA_VERSION,
            auditkit_version=self.environment.get("auditkit", _version.__version__),
            created=self.created,
            verdict="pass" if self.passed else "fail",
            policy=PolicyRecord(p.name, str(p.origin), p.sha256, resolved),
            system=System(**resolved["system"]),
            model=self.model,
            training=self.training,
            preprocessing=resolved["preprocessing"],
            dataset=Dataset(p.dataset.kind, self.dataset.source, len(self.dataset),
                            tuple(self.dataset.classes),
                            (self.dataset.in_channels, *self.dataset.image_size), self.dataset.fingerprint),
            folds=self._folds(),
            accuracy=self._accuracy(),
            explainers={spec.name: self.explainers[spec.name].document(spec.settings)
                        for spec in p.explainers},
            thresholds=self.checks,
            requirements=self.requirements,
            sanity_checks={check.name: check.document() for check in self.sanity},
            property_checks=PropertyChecks(random_scores_worst(self.explainers) if any(
                s.properties is not None for s in self.explainers.values()) else None),
            seeds=Seeds(p.cross_validation.seed, p.training.seed, p.metrics.bootstrap.seed),
            environment={k: v for k, v in self.environment.items() if k != "auditkit"},
            run_seconds=round(self.seconds, 3),
            reused_from_earlier_run=Reused(**{k: tuple(v) for k, v in self.reused.items()}),
            deployed=self.deployed,
            history=None if self.history is None else HistoryLink(**self.history),
            agreement=self.agreement,
            plan=None if self.plan is None else self.plan.measured(self.timings, self.seconds),
            convergence=self.convergence,
            decisions=self.decisions,
        )

    def _chance(self) -> tuple[float, float]:
        return chance_rate(self.dataset.labels), self.policy.metrics.bootstrap.confidence

    def _folds(self) -> tuple[Fold, ...]:
        chance, confidence = self._chance()
        return tuple(Fold(f.index, f.n_test, f.accuracy, f.checkpoint_sha256,
                          fold_chance(f, chance, confidence)) for f in self.folds)

    def _accuracy(self) -> Accuracy:
        chance, confidence = self._chance()
        a, (fold_sd, expected) = self.accuracy, spread_from_fold_size(self.folds)
        return Accuracy(
            a.value, a.low, a.high, a.undefined, spread=self.accuracy_spread,
            max_spread=self.policy.cross_validation.max_accuracy_spread, comparable=self.spread_ok,
            fold_sd=fold_sd, expected_spread=expected, chance=chance,
            at_chance=tuple(f.index for f in self.folds
                            if not fold_chance(f, chance, confidence).above_chance))


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
        raise AuditError(f"device {requested!r} requested but CUDA is not available")
    return device


def make_executor(
    ray: RaySpec | None, device: torch.device, *, deterministic: bool = True,
    log: Callable[[str], None] = lambda _: None, progress: bool = False,
) -> Executor:
    """A :class:`~auditkit.engine.executor.SerialExecutor`, or a Ray executor configured by ``ray``
    when it is not None. Ray is imported here, and only here, when ``ray`` is given."""
    if ray is None:
        return SerialExecutor(device, progress=progress, log=log)
    from auditkit.engine.ray_executor import RayExecutor

    return RayExecutor(ray, device, deterministic=deterministic, log=log, progress=progress)


def run_audit(options: AuditOptions, log: Callable[[str], None] = lambda _: None) -> AuditResult:
    """Run the whole audit and write ``results.json`` into ``options.out_dir``.

    With ``options.ray`` or the policy's ``ray.enabled``, the independent tasks run on Ray
    (:mod:`auditkit.engine.executor`); otherwise Ray is not imported.
    """
    start = time.perf_counter()
    policy = options.policy
    device = resolve_device(options.device)
    torch_settings(device, policy.run.deterministic)
    progress = show_progress(options.progress)
    executor = None
    if options.ray or policy.ray.enabled:
        executor = make_executor(policy.ray, device, deterministic=policy.run.deterministic, log=log,
                                 progress=progress)
    try:
        ctx = build_context(policy, Path(options.out_dir), device, executor, fresh=options.fresh,
                            progress=progress, log=log, data=options.data)
        result = replace(_audit(ctx, options.history, start), plan=options.plan,
                         timings=dict(ctx.timings.seconds))
    finally:
        if executor is not None:
            executor.close()
    write_results(result, Path(options.out_dir))
    return result


def _audit(ctx: RunContext, history: Mapping[str, Any] | None, start: float) -> AuditResult:
    """The stages in order, and the result they add up to."""
    policy = ctx.policy
    folds = train(ctx)
    clean = score_level(ctx, folds, [f.checkpoint_sha256 for f in folds], "")
    sanity = run_sanity_checks(ctx, folds, LevelScores(0.0, clean.accuracy, clean.explainers))
    accs = [f.accuracy for f in folds]
    spread = max(accs) - min(accs)
    sample = input_sample(len(ctx.dataset), policy.cross_validation.seed)  # the maps the passes kept
    agreement = agreement_scores(clean.explainers, sample, ctx.weights, top_k=policy.metrics.agreement.top_k,
                                 confidence=policy.metrics.bootstrap.confidence)
    checks = check_thresholds(policy, clean.explainers, clean.accuracy, spread, sanity_gates(sanity),
                              agreement)
    convergence = convergence_checks(ctx, folds, clean)
    with ctx.timings.stage("deployed") if policy.deployed.checkpoint else nullcontext():
        deployed = deployed_stage(ctx)
    reused_work = {
        "folds": [f.index for f in folds if f.reused],
        "explainers": clean.reused,
        "sanity": [f"{c.name} {item}" for c in sanity for item in c.reused],
    }
    return AuditResult(
        policy, ctx.dataset, tuple(folds), clean.accuracy, spread, clean.explainers, tuple(checks),
        tuple(judge_requirements(policy, checks)), str(ctx.device), time.perf_counter() - start,
        reused_work, sanity, history,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        environment={"auditkit": _version.__version__, **_environment(str(ctx.device))},
        model=describe_model(policy, folds[0].model), training=describe_training(policy), deployed=deployed,
        agreement=agreement, convergence=convergence, decisions=clean.decisions,
    )



def write_results(result: AuditResult, out_dir: Path) -> None:
    """Write results.json atomically (:meth:`AuditDocument.to_json`)."""
    _atomic.write_bytes(out_dir / "results.json", result.document().to_json())
