"""muF (eq. 7) of each explainer, on a seeded sample of the audited images.

Image x of fold V_i is explained by f_i (the model that did not train on x) and its muF computed
on f_i, so muF speaks of the same predictor-explanation pairs as MeGe and ReCo; the class c of
f_c is the one f_i's map explains (``metrics.target``: f_i's prediction, or the true label).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from auditkit.metrics import ScoreDrops, mu_fidelity, score_drops

if TYPE_CHECKING:
    from auditkit.data import ImageDataset
    from auditkit.engine.crosstrain import FoldModel
    from auditkit.explainers import Explainer
    from auditkit.policy import MuFidelitySpec


def subset_size(spec: MuFidelitySpec, image_size: tuple[int, int]) -> int:
    """|S| = round(subset_fraction x number of positions), at least 1 and below the total."""
    cell = spec.cell_size if spec.subset_unit == "cell" else 1
    positions = -(-image_size[0] // cell) * -(-image_size[1] // cell)
    return min(max(1, round(spec.subset_fraction * positions)), positions - 1)


def sample_images(n: int, samples: int, seed: int) -> torch.Tensor:
    """The images muF is computed on: the first ``samples`` of a seeded permutation, sorted."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[: min(samples, n)].sort().values


def fidelity_values(
    explainers: list[Explainer],
    models: list[FoldModel],
    dataset: ImageDataset,
    fold_of: torch.Tensor,
    sample: torch.Tensor,
    spec: MuFidelitySpec,
    targets: torch.Tensor,
    *,
    seed: int,
    batch_size: int,
    device: torch.device,
    drops: dict[int, ScoreDrops] | None = None,
) -> torch.Tensor:
    """muF of each sampled image, ``Tensor[len(sample)]`` (float64, NaN where undefined).

    ``targets [N]``: the class explained for image n by the model of its fold. ``drops``: the score
    drops of each fold model on its sampled images, by fold index, shared by the explainers of one
    level: found there, they are reused; else computed (:func:`~auditkit.metrics.score_drops`) and
    put there. The drops depend on the model, the images, their classes and the subsets, never on
    the map, so the values are the same to the bit either way; sharing saves all but one
    explainer's muF forward passes (``samples x n_subsets`` per explainer and level).
    """
    out = torch.full((sample.numel(),), torch.nan, dtype=torch.float64)
    size = subset_size(spec, dataset.image_size)
    cell = spec.cell_size if spec.subset_unit == "cell" else 1
    for i, fold_model in enumerate(models):
        mine = (fold_of[sample] == i).nonzero().squeeze(1)
        if mine.numel() == 0:
            continue
        index = sample[mine]
        x = dataset.x(index).to(device)
        y = targets[index].to(device)
        maps = explainers[i].explain(x, y)
        subsets = {"subset_size": size, "baseline": spec.baseline, "n_subsets": spec.n_subsets,
                   "batch_size": batch_size, "cell_size": cell}
        if drops is not None and i not in drops:
            drops[i] = score_drops(fold_model.model, x, y, **subsets,
                                   generator=torch.Generator().manual_seed(seed + i))
        values = mu_fidelity(fold_model.model, x, maps, y, **subsets,
                             drops=None if drops is None else drops[i],
                             generator=torch.Generator().manual_seed(seed + i))
        out[mine] = values.double().cpu()
    return out
