"""The convergence checks of a tiny audit: what they measure at b is what the audit measured."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from auditkit.engine import AuditOptions, run_audit
from auditkit.engine.convergence import convergence_checks, fold_maps, subsample, subsample_mege
from auditkit.engine.crosstrain import predictions
from auditkit.engine.distances import collect_distances, explained_classes, pair_categories
from auditkit.engine.explain import TrainingImages, make_explainers
from auditkit.engine.stages import build_context, score_level, train
from auditkit.metrics import mege
from auditkit.policy import load_policy
from auditkit.results import AuditDocument, ConvergenceStatus

from .conftest import write_tiny_policy

SAMPLE = 30
"""Images of the subsample, of muF's sample and of the properties' samples: with the same seeds,
the checks' values at b are the audit's own scores."""
CONVERGENCE = f"""\
properties:
  robustness:
    samples: {SAMPLE}
    perturbations: 4
  invariance:
    enabled: false
  completeness:
    samples: {SAMPLE}
convergence:
  enabled: true
  images: {SAMPLE}
"""


@pytest.fixture(scope="module")
def audit(tiny_run, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, AuditDocument]:
    """The tiny audit (its fold models reused) of Saliency, Integrated Gradients with 6 steps,
    SmoothGrad with 4 samples and the random control, with the convergence checks on."""
    folder = tmp_path_factory.mktemp("convergence")
    policy = write_tiny_policy(
        folder, explainers=("saliency", "integrated_gradients", "smoothgrad", "random"),
        settings={"integrated_gradients": {"steps": 6}, "smoothgrad": {"samples": 4}})
    policy.write_text(policy.read_text() + CONVERGENCE)
    out = folder / "out"
    shutil.copytree(tiny_run.out / "work", out / "work")
    run_audit(AuditOptions(load_policy(policy), out, device="cpu", progress=False))
    return policy, AuditDocument.from_json((out / "results.json").read_bytes())


def test_results_json_round_trips_with_every_budget(audit) -> None:
    policy, doc = audit
    raw = (policy.parent / "out" / "results.json").read_bytes()
    assert AuditDocument.from_json(raw).to_json() == raw
    c = doc.convergence
    assert (c.images, c.seed, c.share) == (SAMPLE, 0, 0.5)
    found = {(x.setting, x.explainer, x.score) for x in c.checks}
    audited = ("saliency", "integrated_gradients", "smoothgrad")  # not the random control
    assert found == {
        ("explainers[integrated_gradients].steps", "integrated_gradients", "mege"),
        ("explainers[integrated_gradients].steps", "integrated_gradients", "completeness_error"),
        ("explainers[smoothgrad].samples", "smoothgrad", "mege"),
        *(("metrics.mu_fidelity.n_subsets", e, "mu_fidelity") for e in audited),
        *(("properties.robustness.perturbations", e, m) for e in audited
          for m in ("robustness_distance", "sensitivity_max")),
        ("metrics.bootstrap.resamples", None, "accuracy"),
        *(("metrics.bootstrap.resamples", e, m) for e in audited for m in ("mege", "reco", "mu_fidelity")),
        *(("metrics.reco_chance.permutations", e, m) for e in audited
          for m in ("reco_chance.p_value", "reco_corrected")),
    }
    for x in c.checks:
        assert (x.budget, x.doubled) in {(6, 12), (4, 8), (16, 32), (50, 100), (1000, 1000)}, x
        if x.status is not ConvergenceStatus.UNDETERMINED:
            assert (x.status is ConvergenceStatus.CONVERGED) == (x.change <= x.tolerance), x
        else:
            assert x.reason, x
    assert all(x.map_change is not None and 0 <= x.map_change <= 1
               for x in c.checks if x.setting.startswith("explainers["))


def test_the_values_at_b_are_the_audits_own_scores(audit) -> None:
    """Same images (the seeded sample), same seeds: the checks' completeness error, muF and
    robustness at the policy's budget are the audit's point estimates, computed again."""
    _, doc = audit
    for x in doc.convergence.checks:
        if x.setting.startswith(("properties.", "metrics.mu_fidelity")) or x.score == "completeness_error":
            assert x.value == pytest.approx(doc.score(x.explainer, x.score).value, rel=1e-5, abs=1e-9), x


def test_subsample_mege_pairs_images_as_the_audit_does(audit) -> None:
    """MeGe of the subsample from the checks' own pairing equals MeGe of the audit's distance record
    (:func:`collect_distances`) on the same images."""
    policy_path, _ = audit
    policy = load_policy(policy_path)
    ctx = build_context(policy, policy_path.parent / "out", torch.device("cpu"), None)
    folds = train(ctx)
    sub = subsample(ctx, folds, SAMPLE, 0)
    spec = policy.explainers[1]  # integrated_gradients
    maps, _ = fold_maps(ctx, folds, sub, spec)
    part, fold_of = ctx.dataset.subset(sub.index), ctx.fold_of[sub.index]
    preds = predictions(folds, part, ctx.device)
    record = collect_distances(make_explainers(spec, folds, policy, TrainingImages(ctx.dataset, ctx.fold_of)),
                               part, fold_of, pair_categories(preds, part.labels, fold_of),
                               explained_classes(preds, part.labels, "prediction"), batch_size=64,
                               device=ctx.device)
    assert subsample_mege(maps, sub, False) == pytest.approx(mege(record.s_eq), rel=1e-6)


def test_the_checks_are_the_same_at_every_run(audit) -> None:
    policy_path, doc = audit
    policy = load_policy(policy_path)
    ctx = build_context(policy, policy_path.parent / "out", torch.device("cpu"), None)
    folds = train(ctx)
    clean = score_level(ctx, folds, [f.checkpoint_sha256 for f in folds], "")
    assert convergence_checks(ctx, folds, clean) == doc.convergence


def test_off_by_default(tiny_run) -> None:
    assert AuditDocument.from_json((tiny_run.out / "results.json").read_bytes()).convergence is None
