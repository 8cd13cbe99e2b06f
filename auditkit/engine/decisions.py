"""What a decision sheet compares one image with: results.json's ``decisions``
(:class:`~auditkit.results.DecisionReference`), measured at the clean level from what the audit
already has (the k models' predictions, the distance records), plus one forward pass of each image
through the fold model that did not train on it. Nothing is explained again.

For an audited image n held out in fold i = ``fold_of[n]``, with p_j the class model f_j predicts
and t_j the class its map explains (``metrics.target``: p_j, or the true label):

- confidence: ``max_c softmax(f_i(x_n))_c``, the top-class probability of its held-out model;
- fold agreement: ``|{j : p_j = p_i}| / k`` (f_i itself counted, so in [1/k, 1]);
- consistency of an explainer: the mean of the audit's MeGe distances δ(i, j) (the distance
  record, :mod:`auditkit.engine.distances`) over the j != i with ``p_j = p_i = t_j = t_i``: both
  models predict the class the held-out model predicts and both maps explain it (with ``target:
  label``, only images the held-out model gets right). Pairs with a constant map count, as in
  MeGe. An image with no such pair is left out. Algorithm 1 keeps the distances of the pairs
  (i, j) with the held-out model only, so these are the pairs measured: the MeGe pairs, not every
  pair of agreeing models.

Each distribution is kept as its :data:`~auditkit.results.QUANTILES` + 1 quantiles at q = 0, 1/100,
..., 1, linear interpolation between order statistics (numpy's ``method="linear"``, Hyndman and
Fan's type 7): the minimum, the maximum and, between, the values a reader compares one image with.
A distribution of no value is the empty tuple; of one value, that value 101 times.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from auditkit._batching import batch_slices
from auditkit._tensors import as_float_images
from auditkit.engine.distances import others
from auditkit.results import QUANTILES, DecisionReference, FoldCheckpoint

if TYPE_CHECKING:
    from auditkit.data import ImageDataset
    from auditkit.engine.crosstrain import FoldModel
    from auditkit.engine.distances import DistanceRecord

FOLDS = "folds"
"""The folder of a kept dossier holding the fold checkpoints (``folds/fold_1.pt``, ...)."""


def fold_file(fold: int) -> str:
    """The kept checkpoint of fold model f_i (``fold``: i, 0-based), relative to the dossier folder.

    >>> fold_file(0)
    'folds/fold_1.pt'
    """
    return f"{FOLDS}/fold_{fold + 1}.pt"


def quantiles(values: torch.Tensor) -> tuple[float, ...]:
    """The :data:`~auditkit.results.QUANTILES` + 1 quantiles of ``values`` ``[M]`` (linear
    interpolation); ``()`` when M = 0.

    >>> quantiles(torch.tensor([0.0, 1.0]))[:3], len(quantiles(torch.tensor([2.0])))
    ((0.0, 0.01, 0.02), 101)
    """
    if values.numel() == 0:
        return ()
    levels = np.linspace(0.0, 1.0, QUANTILES + 1)
    data = values.detach().cpu().to(torch.float64).numpy()
    return tuple(float(v) for v in np.quantile(data, levels, method="linear"))


def fold_agreement(preds: torch.Tensor, fold_of: torch.Tensor) -> torch.Tensor:
    """Share of the k models predicting the held-out model's class, ``[N]`` float64.

    Args:
        preds: ``[N, k]`` predicted classes; fold_of: ``[N]`` each image's held-out fold.

    >>> fold_agreement(torch.tensor([[1, 1, 2], [0, 1, 2]]), torch.tensor([0, 2])).tolist()
    [0.6666666666666666, 0.3333333333333333]
    """
    own = preds.gather(1, fold_of[:, None])
    return (preds == own).double().mean(dim=1)


def consistency(record: DistanceRecord, preds: torch.Tensor, targets: torch.Tensor,
                fold_of: torch.Tensor) -> torch.Tensor:
    """Per image, the mean distance of the pairs (held-out model, j) that both predict the held-out
    model's class and whose maps both explain it; ``[M]`` float64 over the M images with such a pair.

    Args:
        record: the explainer's distances ``[N, k - 1]`` (column order: j != i, increasing).
        preds, targets: ``[N, k]`` predicted and explained classes; fold_of: ``[N]``.
    """
    own = preds.gather(1, fold_of[:, None])
    same = (preds == own) & (targets == own)  # [N, k]; f_i's own column drops out below
    keep = others(same, fold_of) & same.gather(1, fold_of[:, None])
    distances = record.distances.to(torch.float64)
    count = keep.sum(dim=1)
    total = torch.where(keep, distances, torch.zeros_like(distances)).sum(dim=1)
    has = count > 0
    return total[has] / count[has]


@torch.no_grad()
def held_out_confidence(models: Sequence[FoldModel], dataset: ImageDataset, folds_idx: Sequence[torch.Tensor],
                        device: torch.device, batch_size: int) -> torch.Tensor:
    """Top-class softmax probability of each image by its held-out model, ``[N]`` float32 (CPU):
    one forward pass of each fold's images through its model."""
    out = torch.empty(len(dataset), dtype=torch.float32)
    for model, index in zip(models, folds_idx, strict=True):
        net = model.model.eval()
        parts = [net(as_float_images(dataset.images[index[s]].to(device))).softmax(dim=1).amax(dim=1)
                 for s in batch_slices(int(index.numel()), batch_size)]
        if parts:
            out[index] = torch.cat(parts).float().cpu()
    return out


def decision_reference(models: Sequence[FoldModel], confidence: torch.Tensor, agreement: torch.Tensor,
                       consistencies: Mapping[str, torch.Tensor]) -> DecisionReference:
    """results.json's ``decisions``: the k fold checkpoints (kept as :func:`fold_file`, with the
    digests of their work files) and the quantiles of each distribution."""
    kept = tuple(FoldCheckpoint(m.index + 1, fold_file(m.index), m.checkpoint_sha256) for m in models)
    return DecisionReference(kept, quantiles(confidence), quantiles(agreement),
                             {name: quantiles(values) for name, values in consistencies.items()})


__all__ = ["FOLDS", "consistency", "decision_reference", "fold_agreement", "fold_file",
           "held_out_confidence", "quantiles"]
