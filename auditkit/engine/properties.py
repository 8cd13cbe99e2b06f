"""Robustness, invariance and completeness of an explainer, per image, on a seeded sample.

As for muF (:mod:`auditkit.engine.faithfulness`), image x of fold V_i is explained by f_i, the model
that did not train on x, for the class ``metrics.target`` names (f_i's prediction on the clean x, or
the true label; a noisy or transformed copy is explained for the same class); the values speak of
the same predictor-explanation pairs as MeGe and ReCo. The three properties share one seeded sample of images
(:func:`~auditkit.engine.faithfulness.sample_images` with the cross-validation seed, so the first
``samples`` images of muF's permutation); each takes as many as its ``samples`` says.

- robustness: :func:`~auditkit.metrics.sensitivity` (max-sensitivity and mean Spearman distance on
  the same draws), fold i drawing its noise from a CPU generator seeded ``seed + i``;
- invariance: :func:`~auditkit.metrics.invariance_distance` per declared transformation, NaN for an
  image whose prediction the transformation changes (left out);
- completeness: :func:`~auditkit.metrics.completeness_error`, for an explainer whose class declares a
  ``completeness_baseline`` (an empty tensor for the others), against the explainer's own baseline
  (:meth:`~auditkit.explainers.Explainer.reference`: Integrated Gradients' ``baseline`` setting).

Distances here are always ``1 - |rho|``, whatever ``metrics.distance`` says for MeGe and ReCo.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from auditkit._batching import batch_slices
from auditkit.engine.faithfulness import sample_images
from auditkit.metrics import completeness_error, invariance_distance, sensitivity

if TYPE_CHECKING:
    from auditkit.data import ImageDataset
    from auditkit.engine.crosstrain import FoldModel
    from auditkit.explainers import Explainer
    from auditkit.policy import PropertiesSpec, TransformationSpec

Transform = Callable[[torch.Tensor], torch.Tensor]


def transformation(spec: TransformationSpec) -> tuple[Transform, bool]:
    """The batch transform ``[N, C, H, W] -> [N, C, H, W]`` of ``spec`` and whether it is geometric.

    >>> from auditkit.policy import TransformationSpec
    >>> flip, geometric = transformation(TransformationSpec(name="hflip"))
    >>> flip(torch.tensor([[[[1.0, 2.0]]]])).tolist(), geometric
    ([[[[2.0, 1.0]]]], True)
    """
    from torchvision.transforms.v2 import InterpolationMode  # torchvision's import costs seconds
    from torchvision.transforms.v2 import functional as tvf

    a = spec.amount
    if spec.name == "hflip":
        return tvf.horizontal_flip, True
    if spec.name == "translate":
        return (lambda t: tvf.affine(t, angle=0.0, translate=[a, 0], scale=1.0, shear=[0.0, 0.0])), True
    if spec.name == "rotate":
        return (lambda t: tvf.rotate(t, a, interpolation=InterpolationMode.BILINEAR)), True
    if spec.name == "brightness":
        return (lambda t: tvf.adjust_brightness(t, 1.0 + a)), False
    raise ValueError(f"unknown transformation {spec.name!r}")  # the policy schema lists the names


@dataclass(frozen=True)
class PropertyValues:
    """Per-image values of one explainer (float64, NaN where undefined or left out).

    Attributes:
        robust_sample: ``[S_r]`` image indices; sensitivity, robust_distance: ``[S_r]``.
        invariance_sample: ``[S_i]``; invariance: ``[T, S_i]``, one row per declared transformation.
        completeness_sample: ``[S_c]``; completeness: ``[S_c]`` (both empty where the method makes
            no completeness claim or the property is disabled).
    """

    robust_sample: torch.Tensor
    sensitivity: torch.Tensor
    robust_distance: torch.Tensor
    invariance_sample: torch.Tensor
    invariance: torch.Tensor
    completeness_sample: torch.Tensor
    completeness: torch.Tensor

    def to_state(self) -> dict[str, torch.Tensor]:
        """Plain dict of tensors, loadable with ``torch.load(weights_only=True)``."""
        return dict(self.__dict__)

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor]) -> PropertyValues:
        return cls(**state)


def _empty(*shape: int) -> torch.Tensor:
    return torch.empty(shape, dtype=torch.float64)


def property_values(
    explainers: list[Explainer],
    models: list[FoldModel],
    dataset: ImageDataset,
    fold_of: torch.Tensor,
    spec: PropertiesSpec,
    targets: torch.Tensor,
    *,
    sample_seed: int,
    batch_size: int,
    device: torch.device,
    progress: Callable[[int], None] | None = None,
) -> PropertyValues:
    """Robustness, invariance and completeness values of one explainer (one instance per fold model).

    Args:
        explainers: one explainer per fold model, in fold order, fresh (a seeded explainer's draws
            then do not depend on what it explained before).
        targets: ``[N]`` the class explained for image n by the model of its fold.
        sample_seed: seed of the image sample (the cross-validation seed, as muF).
        batch_size: images explained per call; robustness explains ``batch_size // (n + 1)`` images
            (and their n noisy copies) per call. The noise does not depend on it.
        progress: called after each batch with its number of images (they sum to the sizes of
            the three samples, :func:`property_samples`).
    """
    r, inv = spec.robustness, spec.invariance
    robust_sample, inv_sample, comp_sample = property_samples(
        len(dataset), spec, type(explainers[0]).completeness_baseline is not None, sample_seed)
    transforms = [transformation(t) for t in inv.transformations] if inv.enabled else []
    sens = torch.full((robust_sample.numel(),), torch.nan, dtype=torch.float64)
    rdist = sens.clone()
    inv_values = torch.full((len(transforms), inv_sample.numel()), torch.nan, dtype=torch.float64)
    comp_values = torch.full((comp_sample.numel(),), torch.nan, dtype=torch.float64)
    chunk = max(1, batch_size // (r.perturbations + 1))
    for i, fold_model in enumerate(models):
        explain, model = explainers[i].explain, fold_model.model
        mine = (fold_of[robust_sample] == i).nonzero().squeeze(1)
        gen = torch.Generator().manual_seed(r.seed + i)
        for part in _counted(mine.numel(), chunk, progress):
            where = mine[part]
            x, y = _images(dataset, targets, robust_sample[where], device)
            s, d = sensitivity(explain, x, y, r.radius, r.perturbations, generator=gen)
            sens[where], rdist[where] = s.double().cpu(), d.double().cpu()
        mine = (fold_of[inv_sample] == i).nonzero().squeeze(1)
        for part in _counted(mine.numel(), batch_size, progress):
            where = mine[part]
            x, y = _images(dataset, targets, inv_sample[where], device)
            for t, (fn, geometric) in enumerate(transforms):
                inv_values[t, where] = invariance_distance(model, explain, x, y, fn, geometric).cpu()
        mine = (fold_of[comp_sample] == i).nonzero().squeeze(1)
        for part in _counted(mine.numel(), batch_size, progress):
            where = mine[part]
            x, y = _images(dataset, targets, comp_sample[where], device)
            maps = explain(x, y)
            comp_values[where] = completeness_error(model, x, maps, y,
                                                    baseline=explainers[i].reference(x)).cpu()
    return PropertyValues(robust_sample, sens, rdist, inv_sample, inv_values, comp_sample, comp_values)


def property_samples(n: int, spec: PropertiesSpec, claims_completeness: bool,
                     seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The images of robustness, invariance and completeness among ``n`` (empty where disabled, or
    for completeness where the method makes no claim): the first ``samples`` of muF's permutation."""
    r, inv, comp = spec.robustness, spec.invariance, spec.completeness
    empty = torch.empty(0, dtype=torch.long)
    return (sample_images(n, r.samples, seed) if r.enabled else empty,
            sample_images(n, inv.samples, seed) if inv.enabled else empty,
            sample_images(n, comp.samples, seed) if comp.enabled and claims_completeness else empty)


def _counted(n: int, size: int, progress: Callable[[int], None] | None) -> Iterator[slice]:
    """:func:`~auditkit._batching.batch_slices`, calling ``progress`` with each slice's length after it."""
    for part in batch_slices(n, size):
        yield part
        if progress is not None:
            progress(part.stop - part.start)


def _images(dataset: ImageDataset, targets: torch.Tensor, index: torch.Tensor,
            device: torch.device) -> tuple[torch.Tensor, ...]:
    return dataset.x(index).to(device), targets[index].to(device)
