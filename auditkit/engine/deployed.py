"""The deployed model: the one checkpoint the operator runs in production, measured beside the k
fold models.

The k fold models of Algorithm 1 measure the *learning algorithm* (the architecture and recipe,
retrained k times); the deployed checkpoint is one trained model, and its figures speak of that model
alone. :func:`deployed_stage` records its SHA-256 and measures on it:

- accuracy on the test images the policy names (``deployed.test_path`` / ``test_split``): a held-out
  accuracy as far as the operator kept those images out of its training. Without them it is the
  accuracy on the audited images, which auditkit cannot know were held out, and results.json says so
  (``held_out: false``);
- per explainer, muF (eq. 7), robustness and invariance over the audited images, with the same
  samples, settings, seeds and bootstrap resamples as the fold models, every image explained by the
  deployed model (the property and fidelity code of the folds run on a one-model list).

MeGe and ReCo compare models and so are not defined for one model; completeness is left to the folds.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from auditkit.catalog import METRICS
from auditkit.engine.crosstrain import FoldModel, fresh_model
from auditkit.engine.explain import TrainingImages, make_explainers
from auditkit.engine.faithfulness import fidelity_values
from auditkit.engine.properties import property_values
from auditkit.engine.scoring import accuracy_score, mean_score, property_scores
from auditkit.metrics.bootstrap import resample_weights
from auditkit.models import ModelError, predict
from auditkit.models.operator import load_deployed
from auditkit.results import Deployed, DeployedAccuracy, DeployedExplainer

if TYPE_CHECKING:
    from auditkit.data import ImageDataset
    from auditkit.engine.stages import RunContext

SCOPE = ("The {k} fold models measure the learning algorithm (the architecture and training recipe, "
         "retrained {k} times); the deployed checkpoint's figures measure the one model that runs in "
         "production.")
"""The sentence the report gives for what each set of figures measures (``{k}``: the folds)."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _test_images(ctx: RunContext) -> ImageDataset | None:
    """The deployed model's test images the policy names (``None``: it names none)."""
    from auditkit.data import load_dataset
    from auditkit.engine.preflight import declared_resize

    dep, d = ctx.policy.deployed, ctx.policy.dataset
    if not dep.held_out:
        return None
    test = load_dataset(d.kind, dep.test_path or d.path, split=dep.test_split or "all",
                        resize=declared_resize(ctx.policy))
    if test.classes != ctx.dataset.classes:
        raise ModelError(f"the deployed model's test images have the classes {list(test.classes)[:5]}, the "
                         f"audited ones {list(ctx.dataset.classes)[:5]}", parameter="checkpoint")
    return test


def _accuracy(ctx: RunContext, model: nn.Module) -> DeployedAccuracy:
    """results.json's ``deployed.accuracy``: on the named test images, or on the audited ones."""
    test = _test_images(ctx)
    images = test if test is not None else ctx.dataset
    boot = ctx.policy.metrics.bootstrap
    correct = predict(model, images.images, device=ctx.device).cpu() == images.labels
    weights = None if boot.resamples == 0 else resample_weights(
        len(images), boot.resamples, torch.Generator().manual_seed(boot.seed))
    dep = ctx.policy.deployed
    on = (f"{dep.test_path or ctx.policy.dataset.path} (split {dep.test_split or 'all'})"
          if test is not None else "the audited images")
    note = ("held out from the deployed model's training, as the policy declares (deployed.test_path / "
            "test_split)" if test is not None else "not a held-out accuracy: the policy names no test "
            "split held out from the deployed model's training (deployed.test_path / test_split), so "
            "these images may be ones it was trained on")
    score = accuracy_score(correct, weights, boot.confidence)
    return DeployedAccuracy(score.value, score.low, score.high, score.undefined, images=len(images), on=on,
                            held_out=test is not None, note=note)


def _explainer_figures(ctx: RunContext, deployed: FoldModel, targets: torch.Tensor
                       ) -> dict[str, DeployedExplainer]:
    """muF, robustness and invariance of each explainer's maps of the deployed model."""
    policy, m = ctx.policy, ctx.policy.metrics
    seed, boot = policy.cross_validation.seed, m.bootstrap
    one_fold = torch.zeros(len(ctx.dataset), dtype=torch.long)  # every image explained by it
    props = policy.properties
    props = dataclasses.replace(props, completeness=dataclasses.replace(props.completeness, enabled=False))
    figures: dict[str, DeployedExplainer] = {}
    training = TrainingImages(ctx.dataset, None)
    for spec in policy.explainers:
        explainers = make_explainers(spec, [deployed], policy, training)
        mu = fidelity_values(explainers, [deployed], ctx.dataset, one_fold, ctx.sample, m.mu_fidelity,
                             targets, seed=seed, batch_size=m.explain_batch_size, device=ctx.device)
        mu_score, _ = mean_score(mu, ctx.sample, ctx.weights, boot.confidence, "no image sampled")
        entry = DeployedExplainer({"mu_fidelity": mu_score}, int(mu.numel()), int(torch.isnan(mu).sum()))
        if props.robustness.enabled or props.invariance.enabled:
            values = property_values(make_explainers(spec, [deployed], policy, training), [deployed],
                                     ctx.dataset, one_fold, props, targets, sample_seed=seed,
                                     batch_size=m.explain_batch_size, device=ctx.device)
            p = property_scores(values, ctx.transformations, claims_completeness=False,
                                weights=ctx.weights, confidence=boot.confidence).document()
            entry = dataclasses.replace(
                entry, scores={**entry.scores, **{k: v for k, v in p.scores.items()
                                                  if METRICS[k].deployed}},
                robustness_images=p.robustness_images, sensitivity_undefined=p.sensitivity_undefined,
                invariance_images=p.invariance_images, invariance_left_out=p.invariance_left_out,
                invariance_transformations=p.invariance_transformations)
        figures[spec.name] = entry
        ctx.log(f"deployed {spec.name}: muF {mu_score.text()}")
    return figures


def deployed_stage(ctx: RunContext) -> Deployed | None:
    """results.json's ``deployed`` (``None`` when the policy names no deployed checkpoint): the
    checkpoint's path and SHA-256, its accuracy and each explainer's muF, robustness and invariance.

    Raises:
        ModelError: the checkpoint does not fit the architecture, or its test images the dataset.
    """
    path = ctx.policy.deployed.checkpoint
    if path is None:
        return None
    model = fresh_model(ctx.policy, ctx.dataset)
    load_deployed(path, model)
    model = model.to(ctx.device).eval()
    digest = _sha256(path)
    deployed = FoldModel(0, model, float("nan"), 0, digest, False)
    preds = predict(model, ctx.dataset.images, device=ctx.device).cpu()
    targets = preds if ctx.policy.metrics.target == "prediction" else ctx.dataset.labels
    accuracy = _accuracy(ctx, model)
    ctx.log(f"deployed checkpoint {Path(path).name} sha256 {digest[:16]}...: accuracy "
            f"{accuracy.value:.4f} on {accuracy.on}" + ("" if accuracy.held_out else " (not held out)"))
    return Deployed(str(path), digest, accuracy, _explainer_figures(ctx, deployed, targets),
                    SCOPE.format(k=ctx.policy.cross_validation.k))


__all__ = ["SCOPE", "deployed_stage"]
