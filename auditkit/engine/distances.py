"""Steps 2-3 of Algorithm 1: explain every image with the k fold models and keep only distances.

For a batch of images, the k explanations of each image are computed, reduced at once to the
distances of Algorithm 1 with one :func:`pairwise_spearman_distance` call, and dropped: memory
holds one batch of maps plus k - 1 distances per image, whatever the data set's size.

For an image x in fold V_i the record keeps, for every j != i (in increasing j),
δ(i, j) = d(φ_x^(i), φ_x^(j)) and its category: S= when f_i and f_j are both right, S≠ when exactly
one is, ignored when both are wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from auditkit._batching import batch_slices
from auditkit.explainers.input_control import InputControl
from auditkit.metrics import constant_maps, pairwise_spearman_distance, spearman_distance
from auditkit.results import IGNORED, S_EQ, S_NEQ

if TYPE_CHECKING:
    from auditkit.data import ImageDataset
    from auditkit.explainers import Explainer

__all__ = ["IGNORED", "RECORD_FIELDS", "S_EQ", "S_NEQ", "DistanceRecord", "collect_distances",
           "explained_classes", "others", "pair_categories"]


RECORD_FIELDS = ("distances", "category", "degenerate", "examples", "example_index", "input_rho",
                 "coverage_rho", "own_maps")
"""The tensors of a distance record's work file, in :class:`DistanceRecord`'s order."""


@dataclass(frozen=True)
class DistanceRecord:
    """The distances of one explainer over the audited images.

    Attributes:
        distances: ``[N, k - 1]`` float32: image n's distances to the other folds' maps.
        category: ``[N, k - 1]`` uint8: ``IGNORED`` (0), ``S_EQ`` (1) or ``S_NEQ`` (2).
        degenerate: ``[N, k - 1]`` bool: the pair contains a constant map.
        examples: ``[E, k, H, W]`` maps of a few example images (channels summed), for the report.
        example_index: ``[E]`` int64: which audited images the examples are.
        input_rho: ``[M, k]`` float32: ``|rho|`` (Spearman) between each fold model's map (channels
            summed) and the input control's map ``sum_c |x_c|`` (:class:`InputControl`) of M sampled
            images; NaN where either map is constant.
        coverage_rho: ``[M, k]`` float32: ``|rho|`` between each map and its RISE explainer's mask
            coverage (:meth:`~auditkit.explainers.rise.Rise.coverage`) on the same M images; all NaN
            for a method without masks.
        own_maps: ``[M, H, W]`` float32: the map (channels summed) of each of the same M images by
            its own fold model, the one that did not train on it; the agreement between methods
            (:mod:`auditkit.engine.agreement`) compares them.
    """

    distances: torch.Tensor
    category: torch.Tensor
    degenerate: torch.Tensor
    examples: torch.Tensor
    example_index: torch.Tensor
    input_rho: torch.Tensor
    coverage_rho: torch.Tensor = field(default_factory=lambda: torch.empty(0, 0))
    own_maps: torch.Tensor = field(default_factory=lambda: torch.empty(0, 0, 0))

    def to_state(self) -> dict[str, torch.Tensor]:
        """Plain dict of tensors, loadable with ``torch.load(weights_only=True)``."""
        return {name: getattr(self, name) for name in RECORD_FIELDS}

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor]) -> DistanceRecord:
        return cls(*(state[name] for name in RECORD_FIELDS))

    @property
    def s_eq(self) -> torch.Tensor:
        return self.distances[self.category == S_EQ]

    @property
    def s_neq(self) -> torch.Tensor:
        return self.distances[self.category == S_NEQ]


def pair_categories(preds: torch.Tensor, labels: torch.Tensor, fold_of: torch.Tensor) -> torch.Tensor:
    """Category of each (i, j != i) pair of every image, ``[N, k - 1]`` uint8.

    Args:
        preds: ``[N, k]`` predictions of the k fold models.
        labels: ``[N]`` true labels.
        fold_of: ``[N]`` the fold i each image is held out in.
    """
    right = preds == labels[:, None]
    own_right = right.gather(1, fold_of[:, None])
    other_right = others(right, fold_of)
    both, one = own_right & other_right, own_right ^ other_right
    return (both * S_EQ + one * S_NEQ).to(torch.uint8)


def explained_classes(preds: torch.Tensor, labels: torch.Tensor, target: str) -> torch.Tensor:
    """The class each of the k models explains for each image, ``[N, k]`` int64.

    ``target="prediction"``: model j explains the class it predicts (eq. 2: an S≠ pair holds the
    explanations of two different decisions); ``"label"``: every model explains the true label.

    >>> explained_classes(torch.tensor([[1, 2]]), torch.tensor([1]), "label").tolist()
    [[1, 1]]
    """
    if target == "prediction":
        return preds
    if target == "label":
        return labels[:, None].expand_as(preds)
    raise ValueError(f"target must be 'prediction' or 'label', got {target!r}")  # the policy checks it


def others(values: torch.Tensor, fold_of: torch.Tensor) -> torch.Tensor:
    """Drop column ``fold_of[n]`` from row n of ``values`` ``[N, k, ...]`` -> ``[N, k - 1, ...]``."""
    n, k = values.shape[:2]
    keep = torch.arange(k, device=values.device)[None, :] != fold_of[:, None]
    return values[keep].view(n, k - 1, *values.shape[2:])


def collect_distances(
    explainers: list[Explainer],
    dataset: ImageDataset,
    fold_of: torch.Tensor,
    categories: torch.Tensor,
    targets: torch.Tensor,
    *,
    batch_size: int,
    device: torch.device,
    sqrt_distance: bool = False,
    example_index: torch.Tensor | None = None,
    input_index: torch.Tensor | None = None,
    progress: Callable[[int], None] | None = None,
) -> DistanceRecord:
    """Explain all images with the k fold explainers and reduce them to distances, batch by batch.

    Args:
        explainers: one explainer per fold model, in fold order.
        fold_of: ``[N]`` held-out fold of each image.
        categories: ``[N, k - 1]`` from :func:`pair_categories`.
        targets: ``[N, k]`` the class model j explains for image n (its prediction, eq. 2, or the
            true label: ``metrics.target``).
        sqrt_distance: use ``sqrt(1 - |rho|)`` (the authors' library) instead of ``1 - |rho|``.
        example_index: indices of images whose maps are kept for the report.
        input_index: indices of images whose maps are compared with the input (``input_rho``).
    """
    n = len(dataset)
    buffers = _Buffers.allocate(explainers, dataset, device, example_index, input_index)
    for part in batch_slices(n, batch_size):
        x = dataset.x(part).to(device)
        y = targets[part].to(device)
        maps = torch.stack([e.explain(x, y[:, j]) for j, e in enumerate(explainers)], dim=1)
        own = fold_of[part].to(device)
        buffers.add_distances(part, maps, own, sqrt_distance)
        buffers.add_examples(part, maps)
        buffers.add_input_rho(part, maps, x, own)
        if progress is not None:
            progress(part.stop - part.start)
    return DistanceRecord(buffers.distances.cpu(), categories, buffers.degenerate.cpu(), buffers.examples,
                          buffers.example_index, buffers.input_rho, buffers.coverage_rho, buffers.own_maps)


@dataclass(frozen=True)
class _Buffers:
    """The tensors :func:`collect_distances` fills batch by batch (shapes as in :class:`DistanceRecord`).

    ``distances`` and ``degenerate`` are filled on ``device`` and moved to the host once: no transfer
    (and no sync) per batch. ``coverages`` holds each explainer's mask coverage ``[H, W]`` on
    ``device``, ``None`` for a method without masks.
    """

    device: torch.device
    distances: torch.Tensor
    degenerate: torch.Tensor
    examples: torch.Tensor
    example_index: torch.Tensor
    input_index: torch.Tensor
    input_rho: torch.Tensor
    coverage_rho: torch.Tensor
    coverages: list[torch.Tensor | None]
    own_maps: torch.Tensor

    @classmethod
    def allocate(
        cls,
        explainers: list[Explainer],
        dataset: ImageDataset,
        device: torch.device,
        example_index: torch.Tensor | None,
        input_index: torch.Tensor | None,
    ) -> _Buffers:
        """Buffers for ``dataset`` and its k ``explainers``; ``None`` indices select no image."""
        n, k = len(dataset), len(explainers)
        distances = torch.empty((n, k - 1), dtype=torch.float32, device=device)
        degenerate = torch.empty((n, k - 1), dtype=torch.bool, device=device)
        example_index = torch.empty(0, dtype=torch.long) if example_index is None else example_index
        examples = torch.zeros((example_index.numel(), k, *dataset.image_size))
        input_index = torch.empty(0, dtype=torch.long) if input_index is None else input_index
        input_rho = torch.full((input_index.numel(), k), torch.nan)
        coverage_rho = torch.full((input_index.numel(), k), torch.nan)
        own_maps = torch.zeros((input_index.numel(), *dataset.image_size))
        coverages = [e.coverage(dataset.image_size, device) if hasattr(e, "coverage") else None
                     for e in explainers]
        return cls(device, distances, degenerate, examples, example_index, input_index, input_rho,
                   coverage_rho, coverages, own_maps)

    def add_distances(self, part: slice, maps: torch.Tensor, own: torch.Tensor, sqrt_distance: bool) -> None:
        """Fill ``part`` of ``distances`` and ``degenerate``: for image b of ``maps`` ``[B, k, C, H, W]``,
        row ``own[b]`` of its pairwise distances, without column ``own[b]``."""
        dist = pairwise_spearman_distance(maps)
        rows = dist[torch.arange(dist.shape[0], device=self.device), own]  # [B, k]
        constant = constant_maps(maps, sample_dims=2)
        pair_constant = constant | constant.gather(1, own[:, None])
        if sqrt_distance:
            rows = rows.sqrt()
        self.distances[part] = others(rows, own).float()
        self.degenerate[part] = others(pair_constant, own)

    def add_examples(self, part: slice, maps: torch.Tensor) -> None:
        """Keep the maps (channels summed) of the example images in ``part``."""
        hit = (self.example_index >= part.start) & (self.example_index < part.stop)
        if bool(hit.any()):
            local = (self.example_index[hit] - part.start).to(self.device)
            self.examples[hit] = maps[local].sum(dim=2).float().cpu()

    def add_input_rho(self, part: slice, maps: torch.Tensor, x: torch.Tensor, own: torch.Tensor) -> None:
        """``input_rho``, ``coverage_rho`` and ``own_maps`` of the sampled images in ``part``; ``own``:
        ``[B]`` the fold of each image of ``part``."""
        hit = (self.input_index >= part.start) & (self.input_index < part.stop)
        if not bool(hit.any()):
            return
        local = (self.input_index[hit] - part.start).to(self.device)
        sampled = maps[local]
        by_own = sampled[torch.arange(local.numel(), device=self.device), own[local]]  # [b, C, H, W]
        self.own_maps[hit] = by_own.sum(dim=1).float().cpu()
        self.input_rho[hit] = input_correlation(sampled, x[local]).cpu()
        for j, coverage in enumerate(self.coverages):
            if coverage is not None:  # a map [B, 1, ...] against its masks' coverage as a 1-channel image
                plane = coverage[None, None].expand(local.numel(), 1, *coverage.shape)
                self.coverage_rho[hit, j] = input_correlation(sampled[:, j:j + 1], plane)[:, 0].cpu()


def input_correlation(maps: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``|rho|`` between maps ``[B, k, C', H, W]`` (channels summed) and the input control's map of
    ``x`` ``[B, C, H, W]``, ``[B, k]`` float32; NaN where either is constant.

    >>> x = torch.tensor([[[[0.0, 1.0, 2.0]]]])
    >>> input_correlation(torch.tensor([[[[[3.0, 2.0, 1.0]]]]]), x).round(decimals=4).tolist()
    [[1.0]]
    """
    b, k = maps.shape[:2]
    ours = maps.sum(dim=2).reshape(b * k, -1)
    control = InputControl.of(x).reshape(b, 1, -1).expand(b, k, -1).reshape(b * k, -1)
    rho = 1.0 - spearman_distance(ours, control.to(ours.dtype))
    flat = constant_maps(ours) | constant_maps(control)
    return torch.where(flat, torch.nan, rho).reshape(b, k).float()
