"""How many model evaluations an audit makes, phase by phase, from its policy alone (torch-free).

An audit's time goes into evaluating models: training images (a forward pass, a backward pass to
the weights and an optimiser step each), forward passes without autograd (predictions, RISE's masked
copies, muF's subsets) and forward passes with a backward to the input (gradient methods, Grad-CAM).
:func:`count_phases` counts them for every phase of the audit :mod:`auditkit.engine` runs, and the
CPU work that makes none (a scoring: one explainer's bootstrap and ReCo's permutation null at one
level). Each count follows the engine's code (N images, k folds, k models per level):

- training: ``N (k - 1) epochs`` training images (each fold trains on the other folds' images), and
  N forward passes for the folds' held-out accuracies; each label-shuffling level retrains as much;
- a level's pass of an explainer with per-image cost ``e`` (:class:`MethodCost`, the explainer's
  :meth:`~auditkit.explainers.Explainer.evaluations_per_image`): ``N_l k e`` (every image by every
  model), plus ``S e`` for muF's maps of S = ``min(mu_fidelity.samples, N_l)`` images; the level's
  first explainer also pays muF's score drops, ``S (1 + n_subsets)`` forward passes, which the
  level's other explainers reuse; the level's predictions are ``k N_l`` forward passes;
- properties (clean level only): robustness ``R (perturbations + 1) e``; invariance ``I T (2 e + 2)``
  for T transformations (two maps and two predictions per image and transformation, every image
  counted as kept); completeness ``C (e + 2)`` for a method that claims it;
- weight randomisation (``levels_by: accuracy``): the bisection evaluates each fold's held-out
  images :data:`EXPECTED_BISECTION_STEPS` times per level (at most ``max_steps``), N forward passes
  a step for the k folds together;
- the deployed checkpoint: 2 N predictions, and per explainer muF (its own score drops, not
  shared) and the robustness and invariance counts above, on one model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from auditkit.policy import ExplainerSpec, Policy

EXPECTED_BISECTION_STEPS = 9
"""Held-out accuracy evaluations the weight-randomisation bisection makes per fold and level,
expected (capped by ``max_steps``): the demo's 15 calibrations took 3 to 11, 8.6 on average."""

GROUPS = ("clean", "sanity_images", "weight_randomisation", "label_shuffling")
"""The levels an explanation pass belongs to, as stage names start (:func:`level_group`)."""


@dataclass(frozen=True)
class MethodCost:
    """What one explainer's map of one image costs, and the facts the counts need about it.

    Attributes:
        forward, grad: model evaluations per map (:class:`~auditkit.explainers.base.Evaluations`).
        driver: the settings they grow with, named in the plan (``"steps"``; ``""``: fixed).
        complete: the method claims completeness (its property is measured).
        control: a control (its smooth control is not measured).
    """

    forward: int = 0
    grad: int = 0
    driver: str = ""
    complete: bool = False
    control: bool = False


@dataclass(frozen=True)
class Count:
    """Work of one phase: model evaluations by kind (images) and scorings (CPU).

    >>> Count(forward=2) + Count(grad=1).times(3)
    Count(train=0, forward=2, grad=3, scorings=0)
    """

    train: int = 0
    forward: int = 0
    grad: int = 0
    scorings: int = 0

    def __add__(self, other: Count) -> Count:
        return Count(self.train + other.train, self.forward + other.forward, self.grad + other.grad,
                     self.scorings + other.scorings)

    def times(self, factor: int) -> Count:
        return Count(self.train * factor, self.forward * factor, self.grad * factor,
                     self.scorings * factor)


def _maps(cost: MethodCost, count: int) -> Count:
    """The evaluations of ``count`` maps."""
    return Count(forward=cost.forward * count, grad=cost.grad * count)


@dataclass(frozen=True)
class Phase:
    """One phase of the audit: its name, the stage the engine times it in, its work and the policy
    settings its size grows with.

    Attributes:
        name: ``properties.robustness.smoothgrad``, ``weight_randomisation.rise``, ``training``, ...
        stage: what the engine times (:mod:`auditkit.engine.timing`): the name, but for the
            properties of one method, timed together as ``properties.<method>``.
        count: its work. drivers: the settings its size is a product of, in words.
    """

    name: str
    stage: str
    count: Count
    drivers: str


def level_group(tag: str) -> str:
    """The level group of a work-file tag: ``""`` is ``clean``, ``weight_randomisation_0.25`` is
    ``weight_randomisation``.

    >>> level_group(""), level_group("label_shuffling_0.05"), level_group("sanity_images")
    ('clean', 'label_shuffling', 'sanity_images')
    """
    return next((g for g in GROUPS if tag.startswith(g)), "clean") if tag else "clean"


def count_phases(policy: Policy, n_images: int, costs: Mapping[str, MethodCost], *,
                 smooth_control: bool = False) -> tuple[Phase, ...]:
    """The phases of the audit ``policy`` describes on ``n_images`` images, ``costs`` giving each
    listed explainer's :class:`MethodCost`; phases without work left out. ``smooth_control``: the
    policy lists the smooth random control, so every method but the controls gets one more scoring
    at the clean level (its matched control, whose maps and muF need no model evaluation).

    Counts follow the module docstring; an operator's ``training.function`` is counted as
    auditkit's loop would train for ``training.epochs``.
    """
    s = policy.sanity_checks
    n_sanity = n_images if s.max_images is None else min(s.max_images, n_images)
    phases = [*_training(policy, n_images), *_pass(policy, "clean", n_images, 1, costs, smooth_control)]
    phases += _properties(policy, n_images, costs, "properties")
    if n_sanity < n_images and (s.weight_randomisation.enabled or s.label_shuffling.enabled):
        phases += _pass(policy, "sanity_images", n_sanity, 1, costs)
    if s.weight_randomisation.enabled:
        phases += _calibration(policy, n_images)
        phases += _pass(policy, "weight_randomisation", n_sanity, len(s.weight_randomisation.levels), costs)
    if s.label_shuffling.enabled:
        levels = len(s.label_shuffling.levels)
        phases += _training(policy, n_images, levels)
        phases += _pass(policy, "label_shuffling", n_sanity, levels, costs)
    if policy.deployed.checkpoint is not None:
        phases += _deployed(policy, n_images, costs)
    return tuple(_merged(p for p in phases if p.count != Count()))


def _merged(phases: Iterable[Phase]) -> list[Phase]:
    """Phases of the same name summed (predictions and scorings of every level), first place kept."""
    out: dict[str, Phase] = {}
    for p in phases:
        if p.name in out:
            q = out[p.name]
            p = Phase(q.name, q.stage, q.count + p.count, q.drivers)
        out[p.name] = p
    return list(out.values())


def _training(policy: Policy, n: int, levels: int = 0) -> list[Phase]:
    """The clean trainings (``levels`` 0) or the label-shuffled retrainings of ``levels`` levels."""
    k, epochs = policy.cross_validation.k, policy.training.epochs
    work = Count(train=n * (k - 1) * epochs, forward=n)
    if not levels:
        return [Phase("training", "training", work, "cross_validation.k x training.epochs x images")]
    return [Phase("label_shuffling.retraining", "label_shuffling.retraining", work.times(levels),
                  "sanity_checks.label_shuffling.levels x cross_validation.k x training.epochs x images")]


def _pass(policy: Policy, group: str, n: int, levels: int, costs: Mapping[str, MethodCost],
          smooth_control: bool = False) -> list[Phase]:
    """The explanation passes, predictions and scorings of ``levels`` levels of ``group`` on ``n``
    images (muF's score drops with the first explainer, which computes them)."""
    k, mu = policy.cross_validation.k, policy.metrics.mu_fidelity
    sample = min(mu.samples, n)
    where = "" if group == "clean" else f"{group} levels ({levels}) x "
    phases = []
    for i, spec in enumerate(policy.explainers):
        cost = costs[spec.name]
        work = _maps(cost, n * k + sample)
        drivers = f"{where}images x cross_validation.k x {_driver(spec, cost)}"
        if i == 0:
            work += Count(forward=sample * (1 + mu.n_subsets))
            drivers += " (and muF's mu_fidelity.samples x n_subsets)"
        phases.append(Phase(f"{group}.{spec.name}", f"{group}.{spec.name}", work.times(levels), drivers))
    matched = sum(not costs[s.name].control for s in policy.explainers) if smooth_control else 0
    scorings = len(policy.explainers) + matched
    phases.append(Phase("predictions", "predictions", Count(forward=k * n * levels),
                        "cross_validation.k x images, per level"))
    phases.append(Phase("scoring", "scoring", Count(scorings=scorings * levels),
                        "metrics.bootstrap.resamples and metrics.reco_chance.permutations, per explainer "
                        "and level"))
    return phases


def _driver(spec: ExplainerSpec, cost: MethodCost) -> str:
    return f"{spec.name}.{cost.driver}" if cost.driver else f"1 map of {spec.name}"


def _properties(policy: Policy, n: int, costs: Mapping[str, MethodCost], prefix: str,
                completeness: bool = True) -> list[Phase]:
    """Robustness, invariance and completeness of every explainer (on one model for ``deployed``)."""
    p = policy.properties
    r, inv, comp = p.robustness, p.invariance, p.completeness
    phases = []
    for spec in policy.explainers:
        cost, name = costs[spec.name], spec.name
        stage = f"{prefix}.{name}"
        driver = _driver(spec, cost)
        if r.enabled:
            phases.append(Phase(f"{prefix}.robustness.{name}", stage,
                                _maps(cost, min(r.samples, n) * (r.perturbations + 1)),
                                f"properties.robustness.samples x (perturbations + 1) x {driver}"))
        if inv.enabled:
            times = min(inv.samples, n) * len(inv.transformations) * 2
            phases.append(Phase(f"{prefix}.invariance.{name}", stage,
                                _maps(cost, times) + Count(forward=times),
                                f"properties.invariance.samples x transformations x 2 x {driver}"))
        if comp.enabled and completeness and cost.complete:
            sample = min(comp.samples, n)
            phases.append(Phase(f"{prefix}.completeness.{name}", stage,
                                _maps(cost, sample) + Count(forward=2 * sample),
                                f"properties.completeness.samples x {driver}"))
    return phases


def _calibration(policy: Policy, n: int) -> list[Phase]:
    """The weight-randomisation bisection's accuracy evaluations (``levels_by: accuracy``)."""
    w = policy.sanity_checks.weight_randomisation
    if w.levels_by != "accuracy":
        return []
    steps = min(w.max_steps, EXPECTED_BISECTION_STEPS)
    return [Phase("weight_randomisation.calibration", "weight_randomisation.calibration",
                  Count(forward=len(w.levels) * steps * n),
                  f"sanity_checks.weight_randomisation.levels x bisection steps (about {steps}) x images")]


def _deployed(policy: Policy, n: int, costs: Mapping[str, MethodCost]) -> list[Phase]:
    """The deployed checkpoint's predictions, muF (its own score drops) and properties, one phase."""
    mu = policy.metrics.mu_fidelity
    sample = min(mu.samples, n)
    work = Count(forward=2 * n)
    for spec in policy.explainers:
        work += _maps(costs[spec.name], sample) + Count(forward=sample * (1 + mu.n_subsets))
    for phase in _properties(policy, n, costs, "deployed", completeness=False):
        work += phase.count
    return [Phase("deployed", "deployed", work, "explainers x (muF and properties) on one model")]


__all__ = ["EXPECTED_BISECTION_STEPS", "GROUPS", "Count", "MethodCost", "Phase", "count_phases",
           "level_group"]
