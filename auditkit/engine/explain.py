"""One explanation pass: an explainer over the k models of one level, kept in a work file.

:func:`explain_one` computes (or reloads) the distances of every image pair and the muF values of one
explainer on the k fold models of one level; :func:`properties_one` adds robustness, invariance and
completeness on the clean models; :func:`explain_tasks` makes the unfinished passes of a level into
executor tasks (:func:`explain_pass`), whose work files :func:`explain_one` then loads. Each work
file is stored under a key (:func:`~auditkit.engine.keys.work_key`) that digests what the pass
depends on, so a rerun reuses exactly the passes whose inputs did not change.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from auditkit.data import ImageDataset
from auditkit.engine.crosstrain import FoldModel, fresh_model
from auditkit.engine.distances import S_NEQ, DistanceRecord, collect_distances
from auditkit.engine.executor import Executor, Task
from auditkit.engine.faithfulness import fidelity_values, sample_images
from auditkit.engine.keys import keyed_settings, work_key
from auditkit.engine.progress import progress_bar
from auditkit.engine.properties import PropertyValues, property_samples, property_values
from auditkit.engine.workfiles import explanation_finished, load_explanation, load_properties, save_work
from auditkit.explainers import EXPLAINERS, make_explainer
from auditkit.metrics import ScoreDrops
from auditkit.policy import ExplainerSpec, Policy

N_EXAMPLES = 6
"""Images whose maps each pass keeps as examples for the report (:func:`example_images`)."""
INPUT_SAMPLE = 256
"""Images whose maps are compared with the input control's (``DistanceRecord.input_rho``) and between
methods (``DistanceRecord.own_maps``): the first of the seeded muF permutation (:func:`input_sample`)."""


def _explaining(spec: ExplainerSpec, model_ids: list[str], policy: Policy, images: str) -> dict[str, Any]:
    """What every explanation of ``model_ids`` on ``images`` depends on: the method and its settings,
    and the policy sections that shape the explained models and the seeds (:func:`keyed_settings`)."""
    return {
        "explainer": keyed_settings(spec),
        "models": model_ids,
        "images": images,
        **{name: keyed_settings(getattr(policy, name))
           for name in ("cross_validation", "model", "preprocessing", "run")},
    }


def explainer_key(spec: ExplainerSpec, model_ids: list[str], policy: Policy, images: str) -> str:
    """The work key of one explanation pass: the method and its settings, the models (``model_ids``),
    the images explained (``images``: their dataset fingerprint) and the policy sections it reads,
    ``metrics`` whole (:func:`~auditkit.engine.keys.keyed_settings`)."""
    return work_key({**_explaining(spec, model_ids, policy, images),
                     "metrics": keyed_settings(policy.metrics)})


def explain_one(
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
    drops: dict[int, ScoreDrops] | None = None,
) -> tuple[DistanceRecord, torch.Tensor, bool]:
    """Distances and muF values of one explainer on ``folds``, from the work folder when already done.

    Args:
        model_ids: one identifier per fold model for the work key (checkpoint digests, or a digest
            of how a degraded copy was derived from one).
        tag: prefix of the work file name (``explainer_[<tag>_]<name>.pt``); ``""`` for the clean audit.
        targets: ``[N, k]`` the class each model explains (:func:`explained_classes`).
        drops: muF's score drops of these models, shared by the passes of one level
            (:func:`~auditkit.engine.faithfulness.fidelity_values`); ``None``: not shared.
    """
    name = f"{tag}_{spec.name}" if tag else spec.name
    path = explainer_path(workdir, spec, tag)
    key = explainer_key(spec, model_ids, policy, dataset.fingerprint)
    saved = load_explanation(path, key, categories, dataset.image_size, policy.metrics.mu_fidelity.samples)
    if saved is not None:
        return *saved, True
    m = policy.metrics
    seed = policy.cross_validation.seed
    explainers = make_explainers(spec, folds, policy, TrainingImages(dataset, fold_of))
    examples = example_images(dataset.labels, categories, N_EXAMPLES)
    with progress_bar(progress, len(dataset), f"explain {name}") as bar:
        record = collect_distances(
            explainers, dataset, fold_of, categories, targets,
            batch_size=m.explain_batch_size, device=device,
            sqrt_distance=m.distance == "sqrt_spearman", example_index=examples,
            input_index=input_sample(len(dataset), seed), progress=bar.update,
        )
    sample = sample_images(len(dataset), m.mu_fidelity.samples, seed)
    mu = fidelity_values(explainers, folds, dataset, fold_of, sample, m.mu_fidelity,
                         own_classes(targets, fold_of), seed=seed, batch_size=m.explain_batch_size,
                         device=device, drops=drops)
    save_work(path, {"key": key, "record": record.to_state(), "mu": mu})
    return record, mu, False


def input_sample(n: int, seed: int) -> torch.Tensor:
    """The :data:`INPUT_SAMPLE` images of ``n`` whose maps a pass keeps for the input control and the
    agreement between methods (``DistanceRecord.input_rho``, ``own_maps``), sorted; all of them when
    ``n`` is smaller."""
    return sample_images(n, INPUT_SAMPLE, seed)


def example_images(labels: torch.Tensor, categories: torch.Tensor, count: int) -> torch.Tensor:
    """``count`` example images, sorted: a third (at least one) with an S≠ pair, then one per class
    not yet shown, then the first others; the first image of each class in index order.

    >>> cat = torch.tensor([[1], [1], [2], [1], [1]])
    >>> example_images(torch.tensor([0, 0, 0, 1, 2]), cat, 3).tolist()
    [2, 3, 4]
    """
    n = labels.numel()
    neq = (categories == S_NEQ).any(dim=1)
    picked = _first_per_class(labels, neq)[:max(1, count // 3)]
    for _ in range(2):  # classes not yet shown; then any class again
        left = torch.ones(n, dtype=torch.bool)
        left[picked] = False
        shown = torch.isin(labels, labels[picked])
        more = _first_per_class(labels, left & ~shown) if _ == 0 else left.nonzero()[:, 0]
        picked = torch.cat([picked, more[:count - picked.numel()]])
    return picked.sort().values


def _first_per_class(labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The first index of each class among the images of ``mask``, in index order."""
    index = mask.nonzero()[:, 0]
    classes, inverse = torch.unique(labels[index], return_inverse=True)
    first = torch.full((classes.numel(),), index.numel()).scatter_reduce(
        0, inverse, torch.arange(index.numel()), "amin")
    return index[first.sort().values]


def own_classes(targets: torch.Tensor, fold_of: torch.Tensor) -> torch.Tensor:
    """``[N]``: the class image n's own fold model explains, from ``targets [N, k]``."""
    return targets.gather(1, fold_of[:, None])[:, 0]


def make_explainers(spec: ExplainerSpec, folds: list[FoldModel], policy: Policy,
                    training: TrainingImages) -> list[Any]:
    """One fresh explainer of ``spec`` per fold model, seeded per fold; a method that draws baselines
    from the model's training images (``background_size``) gets them from ``training``."""
    seed = policy.cross_validation.seed
    size = EXPLAINERS[spec.name].background_size
    return [
        make_explainer(
            spec.name,
            f.model,
            layer=getattr(f.model, "target_layer", None),
            batch_size=policy.metrics.explain_batch_size,
            generator_seed=seed * 1000 + f.index,
            background=training.of(f.index, size, seed * 1000 + f.index) if size else None,
            **dict(spec.settings),
        )
        for f in folds
    ]


@dataclass(frozen=True)
class TrainingImages:
    """The images each fold model was trained on: those of ``dataset`` held out by another fold
    (``fold_of[n] != i`` for model i); ``fold_of`` ``None``: every image (a model not trained by the
    audit, such as the deployed checkpoint, is given the audited images as its distribution)."""

    dataset: ImageDataset
    fold_of: torch.Tensor | None

    def of(self, fold: int, count: int, seed: int) -> torch.Tensor:
        """At most ``count`` training images of model ``fold``, float32 ``[M, C, H, W]`` in [0, 1],
        chosen by a permutation seeded with ``seed``."""
        n = len(self.dataset)
        index = torch.arange(n) if self.fold_of is None else (self.fold_of != fold).nonzero()[:, 0]
        order = torch.randperm(index.numel(), generator=torch.Generator().manual_seed(seed))
        return self.dataset.x(index[order[:count]].sort().values)


def measures_properties(policy: Policy) -> bool:
    p = policy.properties
    return p.robustness.enabled or p.invariance.enabled or p.completeness.enabled


def properties_key(spec: ExplainerSpec, model_ids: list[str], policy: Policy, images: str) -> str:
    """The work key of one explainer's properties: as :func:`explainer_key`'s, with ``properties``
    whole and ``metrics`` but muF's settings and the distance (properties always use 1 - |rho|), so
    that changing those leaves the properties reused, and changing ``properties`` the distances."""
    return work_key({**_explaining(spec, model_ids, policy, images),
                     "properties": keyed_settings(policy.properties),
                     "metrics": keyed_settings(policy.metrics, without=("mu_fidelity", "distance"))})


def properties_one(
    spec: ExplainerSpec,
    folds: list[FoldModel],
    model_ids: list[str],
    dataset: ImageDataset,
    fold_of: torch.Tensor,
    targets: torch.Tensor,
    policy: Policy,
    device: torch.device,
    workdir: Path,
    progress: bool = False,
) -> tuple[PropertyValues, bool, float]:
    """Robustness, invariance and completeness values of one explainer on the clean fold models.

    Kept in the explainer's work file (written by :func:`explain_one` first) under ``properties``
    with its own key, so that changing only the properties' settings leaves the distances reused.
    Returns the values, whether they were reused, and the seconds spent computing them.
    """
    path = explainer_path(workdir, spec, "")
    key = properties_key(spec, model_ids, policy, dataset.fingerprint)
    state, saved = load_properties(path, key, len(dataset), policy.properties, policy.cross_validation.seed)
    if saved is not None:  # state None: unusable, explain_one rewrites it on the next run
        return saved, True, 0.0
    start = time.perf_counter()
    explainers = make_explainers(spec, folds, policy, TrainingImages(dataset, fold_of))
    seed = policy.cross_validation.seed
    total = sum(s.numel() for s in property_samples(
        len(dataset), policy.properties, type(explainers[0]).completeness_baseline is not None, seed))
    with progress_bar(progress, total, f"properties {spec.name}") as bar:
        values = property_values(explainers, folds, dataset, fold_of,
                                 policy.properties, own_classes(targets, fold_of), sample_seed=seed,
                                 batch_size=policy.metrics.explain_batch_size, device=device,
                                 progress=bar.update)
    seconds = time.perf_counter() - start
    if state is not None:
        save_work(path, {**state, "properties": {"key": key, "values": values.to_state()}})
    return values, False, seconds


def explain_finished(spec: ExplainerSpec, model_ids: list[str], policy: Policy, workdir: Path,
                      tag: str, images: str) -> bool:
    """Whether :func:`explain_one` would load this pass from its work file (``images``: the explained
    dataset's fingerprint)."""
    return explanation_finished(explainer_path(workdir, spec, tag),
                                explainer_key(spec, model_ids, policy, images))


def explainer_path(workdir: Path, spec: ExplainerSpec, tag: str) -> Path:
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
        model_ids, fold_of, categories, targets, tag: as :func:`explain_one` takes them.
        device: where to explain.
    """
    models = []
    for state, (index, acc, n_test, sha) in zip(states, folds, strict=True):
        model = fresh_model(policy, dataset)
        model.load_state_dict(state)
        models.append(FoldModel(index, model.to(device).eval(), acc, n_test, sha, False))
    explain_one(spec, models, model_ids, dataset, fold_of, categories, targets, policy, device,
                 workdir, False, tag)
    if not tag and measures_properties(policy):
        properties_one(spec, models, model_ids, dataset, fold_of, targets, policy, device, workdir)


def explain_tasks(
    executor: Executor, models: list[FoldModel], model_ids: list[str], dataset: ImageDataset,
    fold_of: torch.Tensor, categories: torch.Tensor, targets: torch.Tensor, policy: Policy,
    workdir: Path, tag: str,
) -> list[Task]:
    """The unfinished explanation passes of one level, as ``executor`` tasks (:func:`explain_pass`).

    Once they ran, :func:`explain_one` loads their work files.
    """
    todo = [s for s in policy.explainers
            if not explain_finished(s, model_ids, policy, workdir, tag, dataset.fingerprint)]
    if not todo:
        return []
    states = executor.share([{k: v.detach().cpu() for k, v in f.model.state_dict().items()}
                             for f in models])
    meta = [(f.index, f.accuracy, f.n_test, f.checkpoint_sha256) for f in models]
    prefix = f"{tag} " if tag else ""
    return [Task(explain_pass, (spec, policy, executor.share(dataset), states, meta, model_ids, fold_of,
                                categories, targets, workdir, tag),
                 f"explain {prefix}{spec.name}", output=explainer_path(workdir, spec, tag))
            for spec in todo]
