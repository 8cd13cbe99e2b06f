"""An audit's cost before it runs: :func:`make_plan` (``auditkit plan``, :func:`auditkit.plan`).

It counts the model evaluations of every phase from the policy (:func:`~auditkit.cost.counts.count_phases`,
each explainer's cost per image from its class:
:meth:`~auditkit.explainers.Explainer.evaluations_per_image`), measures this device's rates on the
policy's own model and image size (:func:`~auditkit.cost.calibrate.calibrate`),
and gives the estimated seconds of each phase, largest first, naming the settings that drive the
largest, and whether the evidence will be measurable (:mod:`auditkit.cost.measurable`).

seconds(phase) = train / train rate + forward / forward rate + grad / grad rate + scorings x scoring s.

What it leaves out: the report, signature and history of ``auditkit run`` (seconds), the CPU work
of a method beside its model evaluations (SLIC superpixels of KernelSHAP and LIME, captum's
bookkeeping: a few % on the demo), and a resumed run's reuse of finished work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from auditkit._format import duration
from auditkit.constraints import Interval, Nullable, must
from auditkit.cost.calibrate import Rates, calibrate
from auditkit.cost.counts import MethodCost, Phase, count_phases
from auditkit.cost.measurable import Measurability, measurability
from auditkit.data import ImageDataset, load_dataset
from auditkit.engine import resolve_device
from auditkit.engine.chance import chance_rate
from auditkit.engine.executor import torch_settings
from auditkit.engine.preflight import check_setup, declared_resize
from auditkit.engine.smooth import lists_smooth_control
from auditkit.errors import AuditError
from auditkit.explainers import EXPLAINERS
from auditkit.policy import ExplainerSpec, Policy
from auditkit.results import CostPlan, PlanStage

ACCURACY = Nullable(Interval(float, 0, 1))
"""What ``accuracy`` accepts."""

HEADLINE = 3
"""Phases named with their drivers at the top of the plan."""

KINDS = (("train", "training images"), ("forward", "forward"), ("grad", "with input gradient"))
"""The kinds of model evaluation, and their column in the table."""


class PlanError(AuditError, ValueError):
    """A plan asked for with an argument it cannot take (an accuracy outside [0, 1])."""


@dataclass(frozen=True)
class Estimate:
    """One phase and its estimated seconds."""

    phase: Phase
    seconds: float


@dataclass(frozen=True)
class Plan:
    """The cost plan of one audit (module docstring): phases largest first."""

    policy: str
    images: int
    image_shape: tuple[int, int, int]
    classes: int
    k: int
    rates: Rates
    estimates: tuple[Estimate, ...]
    measurable: Measurability

    @property
    def seconds(self) -> float:
        """The estimated total."""
        return sum(e.seconds for e in self.estimates)

    def headline(self) -> list[str]:
        """The total, the :data:`HEADLINE` largest phases with their drivers and the warnings."""
        total = self.seconds or 1.0
        c, h, w = self.image_shape
        out = [f"plan of '{self.policy}': {self.images:,} images of {c}x{h}x{w}, {self.classes} classes, "
               f"k = {self.k}, on {self.rates.device}: about {duration(self.seconds)} "
               f"({self.seconds:,.0f} s, an estimate)"]
        out += [f"  {e.phase.name}: {e.seconds / total:.0%} of the audit; {e.phase.drivers}"
                for e in self.estimates[:HEADLINE]]
        return out + [f"  warning: {w}" for w in self.measurable.warnings()]

    def lines(self) -> list[str]:
        """The whole plan in words and a table, as ``auditkit plan`` prints it."""
        r = self.rates
        rates = (f"rates measured now on a fresh model: training {r.train:,.0f} images/s (batch "
                 f"{r.train_batch}), forward {r.forward:,.0f} and with input gradient {r.grad:,.0f} "
                 f"images/s (batch {r.explain_batch}), {r.scoring:.2f} s per scoring")
        width = max(len(e.phase.name) for e in self.estimates)
        head = f"  {'phase':<{width}}  {'training':>12}  {'forward':>12}  {'gradient':>12}  {'scorings':>8}" \
               f"  {'seconds':>9}  share"
        total = self.seconds or 1.0
        rows = [f"  {e.phase.name:<{width}}  {e.phase.count.train:>12,}  {e.phase.count.forward:>12,}  "
                f"{e.phase.count.grad:>12,}  {e.phase.count.scorings:>8,}  {e.seconds:>9,.1f}  "
                f"{e.seconds / total:>5.1%}" for e in self.estimates]
        return [*self.headline(), rates, head, *rows, *self.measurable.lines()]

    def to_dict(self) -> dict[str, Any]:
        """``auditkit plan --json``."""
        r = self.rates
        return {
            "policy": self.policy, "images": self.images, "image_shape": list(self.image_shape),
            "classes": self.classes, "k": self.k, "device": r.device,
            "estimated_seconds": round(self.seconds, 3),
            "rates": _rates(r),
            "phases": [{"phase": e.phase.name, "stage": e.phase.stage, "seconds": round(e.seconds, 3),
                        "share": round(e.seconds / (self.seconds or 1.0), 4), "drivers": e.phase.drivers,
                        "train_images": e.phase.count.train, "forward": e.phase.count.forward,
                        "grad": e.phase.count.grad, "scorings": e.phase.count.scorings}
                       for e in self.estimates],
            "measurability": _measurability(self.measurable),
        }

    def record(self) -> CostPlan:
        """results.json's ``plan``: the estimate per stage, to be completed by the run's times."""
        stages: dict[str, list[Estimate]] = {}
        for e in self.estimates:
            stages.setdefault(e.phase.stage, []).append(e)
        rows = [PlanStage(stage, round(sum(e.seconds for e in parts), 3), None,
                          sum(e.phase.count.train for e in parts), sum(e.phase.count.forward for e in parts),
                          sum(e.phase.count.grad for e in parts)) for stage, parts in stages.items()]
        rows.sort(key=lambda s: -(s.estimated_seconds or 0.0))
        return CostPlan(self.rates.device, _rates(self.rates), round(self.seconds, 3), None, tuple(rows))


def _rates(r: Rates) -> dict[str, float]:
    return {"train": round(r.train, 3), "forward": round(r.forward, 3), "grad": round(r.grad, 3),
            "scoring_seconds": round(r.scoring, 6)}


def _measurability(m: Measurability) -> dict[str, Any]:
    return {"min_pairs": m.min_pairs, "accuracy": m.accuracy, "highest_accuracy": m.highest,
            "levels": [{"check": p.check, "level": p.level, "images": p.images, "accuracy": p.accuracy,
                        "s_eq": round(p.s_eq, 1), "s_neq": round(p.s_neq, 1)} for p in m.levels],
            "needed": [{"accuracy": a, "images": n, "s_neq": round(s, 1)} for a, n, s in m.needed],
            "warnings": m.warnings()}


def method_cost(spec: ExplainerSpec, image_size: tuple[int, int]) -> MethodCost:
    """The counts' facts of one listed explainer, from its class."""
    cls = EXPLAINERS[spec.name]
    e = cls.evaluations_per_image(spec.settings, image_size)
    return MethodCost(e.forward, e.grad, e.driver, cls.completeness_baseline is not None, cls.control)


def plan_for(policy: Policy, dataset: ImageDataset, device: torch.device,
             accuracy: float | None = None) -> Plan:
    """The plan of ``policy`` on the loaded ``dataset``, its rates measured on ``device``."""
    costs: Mapping[str, MethodCost] = {s.name: method_cost(s, dataset.image_size) for s in policy.explainers}
    phases = count_phases(policy, len(dataset), costs, smooth_control=lists_smooth_control(policy))
    used = {kind for kind, _ in KINDS for p in phases if getattr(p.count, kind)}
    users = {kind: ", ".join(p.name for p in phases if getattr(p.count, kind))[:200] for kind, _ in KINDS}
    rates = calibrate(policy, dataset, device, frozenset(used | {"scoring"}), users)
    estimates = sorted((Estimate(p, rates.seconds(p.count.train, p.count.forward, p.count.grad,
                                                  p.count.scorings)) for p in phases),
                       key=lambda e: -e.seconds)
    return Plan(policy.name, len(dataset), (dataset.in_channels, *dataset.image_size), dataset.num_classes,
                policy.cross_validation.k, rates, tuple(estimates),
                measurability(policy, len(dataset), chance_rate(dataset.labels), accuracy))


def make_plan(policy: Policy, *, device: str = "auto", accuracy: float | None = None,
              data: ImageDataset | None = None) -> Plan:
    """The plan of ``policy``: its setup checked (:func:`~auditkit.engine.preflight.check_setup`), its
    images loaded as the audit loads them, its rates measured on ``device`` (``auto``: CUDA when
    present). ``accuracy``: the clean fold models' accuracy expected, in [0, 1]; ``data``: the
    images of a ``python`` dataset.

    Raises:
        PolicyError: as ``auditkit validate``. CalibrationError: a batch that does not fit.
        PlanError: ``accuracy`` outside [0, 1].
    """
    accuracy = must(accuracy, "accuracy", ACCURACY, PlanError)
    check_setup(policy, data)
    d = policy.dataset
    dataset = load_dataset(d.kind, d.path, split=d.split, max_images=d.max_images,
                           seed=policy.cross_validation.seed, resize=declared_resize(policy), given=data)
    where = resolve_device(device)
    torch_settings(where, policy.run.deterministic)
    return plan_for(policy, dataset, where, accuracy)


__all__ = ["ACCURACY", "Estimate", "Plan", "PlanError", "make_plan", "method_cost", "plan_for"]
