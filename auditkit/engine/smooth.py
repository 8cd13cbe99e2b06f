"""The smooth random control matched to each method: :func:`matched_control`.

When the policy lists ``random_smooth``, every other method of the clean audit is compared with
random maps of its own smoothness (:class:`~auditkit.explainers.random_smooth.RandomSmooth`):
its width is measured on the method's example maps (the ``[E, k, H, W]`` maps of
:data:`~auditkit.engine.explain.N_EXAMPLES` images by each fold model that every pass keeps,
:func:`~auditkit.explainers.random_smooth.smoothness_width`), rounded to :data:`SIGMA_STEP` pixels,
and the control is explained and scored at that width like any method, in a work file of its own
keyed by the width. Its maps need no model evaluation; its muF reuses the level's score drops.
"""

from __future__ import annotations

from pathlib import Path

import torch

from auditkit.data import ImageDataset
from auditkit.engine.crosstrain import FoldModel
from auditkit.engine.distances import DistanceRecord
from auditkit.engine.explain import explain_one
from auditkit.explainers.random_smooth import RandomSmooth, smoothness_width
from auditkit.metrics import ScoreDrops
from auditkit.policy import ExplainerSpec, Policy

SIGMA_STEP = 0.01
"""Pixels the measured width is rounded to, so that a rerun whose maps differ by rounding reuses
the control's work file."""


def lists_smooth_control(policy: Policy) -> bool:
    """Whether the policy lists the smooth random control (and so asks for the matched ones)."""
    return any(s.name == RandomSmooth.name for s in policy.explainers)


def matched_width(record: DistanceRecord) -> float:
    """The width in pixels of a method's maps: :func:`smoothness_width` of its example maps ``[E, k,
    H, W]``, rounded to :data:`SIGMA_STEP`."""
    e, k, h, w = record.examples.shape
    sigma = smoothness_width(record.examples.reshape(e * k, 1, h, w))
    return round(round(sigma / SIGMA_STEP) * SIGMA_STEP, 6)


def matched_control(
    method: str,
    record: DistanceRecord,
    folds: list[FoldModel],
    model_ids: list[str],
    dataset: ImageDataset,
    fold_of: torch.Tensor,
    categories: torch.Tensor,
    targets: torch.Tensor,
    policy: Policy,
    device: torch.device,
    workdir: Path,
    drops: dict[int, ScoreDrops] | None,
) -> tuple[float, DistanceRecord, torch.Tensor, bool]:
    """The width of ``method``'s maps (``record``: its distance record) and the distances and muF
    values of the smooth random control at that width (work file ``explainer_smooth_<method>_
    random_smooth.pt``), as :func:`~auditkit.engine.explain.explain_one` returns them."""
    sigma = matched_width(record)
    declared = next(s for s in policy.explainers if s.name == RandomSmooth.name)
    spec = ExplainerSpec(RandomSmooth.name, {**declared.settings, "sigma": sigma})
    control, mu, loaded = explain_one(spec, folds, model_ids, dataset, fold_of, categories, targets,
                                      policy, device, workdir, False, f"smooth_{method}", drops)
    return sigma, control, mu, loaded


__all__ = ["SIGMA_STEP", "lists_smooth_control", "matched_control", "matched_width"]
