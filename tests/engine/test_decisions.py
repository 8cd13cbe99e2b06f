"""The decisions' reference (auditkit/engine/decisions.py) against loops over images and pairs."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from auditkit.engine.decisions import (
    consistency,
    decision_reference,
    fold_agreement,
    fold_file,
    held_out_confidence,
    quantiles,
)
from auditkit.engine.distances import DistanceRecord
from auditkit.results import QUANTILES


def _brute_quantile(values: list[float], q: float) -> float:
    """Type 7: the order statistic at position q (M - 1), interpolated linearly."""
    v = sorted(values)
    position = q * (len(v) - 1)
    low = math.floor(position)
    high = min(low + 1, len(v) - 1)
    return v[low] + (position - low) * (v[high] - v[low])


@pytest.mark.parametrize("values", [[0.3, 0.1, 0.2, 0.9], [0.5, 0.5, 0.5, 0.1, 0.7], [0.25]])
def test_quantiles_are_linear_interpolation_of_the_order_statistics(values: list[float]) -> None:
    got = quantiles(torch.tensor(values, dtype=torch.float64))
    assert len(got) == QUANTILES + 1
    expected = [_brute_quantile(values, i / QUANTILES) for i in range(QUANTILES + 1)]
    assert got == pytest.approx(expected, abs=1e-12)
    assert got[0] == min(values) and got[-1] == max(values)


def test_quantiles_of_nothing_is_empty() -> None:
    assert quantiles(torch.empty(0)) == ()


# Three fold models (k = 3), five images. Row n: predictions of f_0, f_1, f_2.
PREDS = torch.tensor([[1, 1, 1],   # held out in 0: all agree
                      [2, 2, 0],   # held out in 1: f_0 agrees, f_2 does not
                      [0, 1, 2],   # held out in 2: nobody agrees
                      [3, 3, 3],   # held out in 0: all agree (labels differ: see target label)
                      [4, 5, 4]])  # held out in 1: nobody agrees with f_1
FOLD_OF = torch.tensor([0, 1, 2, 0, 1])
LABELS = torch.tensor([1, 0, 2, 0, 5])
# Distances to the other folds, j != i in increasing j (as the record keeps them).
DISTANCES = torch.tensor([[0.2, 0.4], [0.6, 0.9], [0.1, 0.3], [0.5, 0.7], [0.8, 0.05]])


def _record() -> DistanceRecord:
    return _of(DISTANCES)


def _of(distances: torch.Tensor) -> DistanceRecord:
    """A distance record of ``distances`` (the other fields unused here)."""
    n = distances.shape[0]
    return DistanceRecord(distances, torch.zeros(n, 2, dtype=torch.uint8),
                          torch.zeros(n, 2, dtype=torch.bool), torch.empty(0),
                          torch.empty(0, dtype=torch.long), torch.empty(0, 3))


def _brute_consistency(targets: torch.Tensor) -> list[float]:
    out = []
    for n in range(PREDS.shape[0]):
        i = int(FOLD_OF[n])
        own = int(PREDS[n, i])
        chosen = []
        for column, j in enumerate(j for j in range(3) if j != i):
            if int(PREDS[n, j]) == own and int(targets[n, j]) == own and int(targets[n, i]) == own:
                chosen.append(float(DISTANCES[n, column]))
        if chosen:
            out.append(sum(chosen) / len(chosen))
    return out


def test_fold_agreement_counts_the_models_predicting_the_held_out_class() -> None:
    expected = [sum(int(PREDS[n, j]) == int(PREDS[n, FOLD_OF[n]]) for j in range(3)) / 3 for n in range(5)]
    assert fold_agreement(PREDS, FOLD_OF).tolist() == pytest.approx(expected)
    assert fold_agreement(PREDS, FOLD_OF).tolist() == pytest.approx([1, 2 / 3, 1 / 3, 1, 1 / 3])


def test_consistency_averages_the_pairs_that_predict_and_explain_the_held_out_class() -> None:
    got = consistency(_record(), PREDS, PREDS, FOLD_OF)  # target: prediction
    assert got.tolist() == pytest.approx(_brute_consistency(PREDS))
    assert got.tolist() == pytest.approx([0.3, 0.6, 0.6])  # images 2 and 4 have no pair: left out


def test_consistency_with_label_targets_keeps_only_maps_of_the_predicted_class() -> None:
    targets = LABELS[:, None].expand_as(PREDS)
    got = consistency(_record(), PREDS, targets, FOLD_OF)
    assert got.tolist() == pytest.approx(_brute_consistency(targets))
    assert got.tolist() == pytest.approx([0.3])  # image 1 predicted 2, label 0; image 3 predicted 3, label 0


def test_consistency_of_no_pair_and_of_one_image() -> None:
    none = consistency(_record(), torch.tensor([[0, 1, 2]] * 5), torch.tensor([[0, 1, 2]] * 5), FOLD_OF)
    assert none.numel() == 0 and quantiles(none) == ()
    got = consistency(_of(DISTANCES[:1]), PREDS[:1], PREDS[:1], FOLD_OF[:1])
    assert quantiles(got) == pytest.approx((0.3,) * (QUANTILES + 1))


@dataclass
class _Fold:
    index: int
    model: nn.Module
    checkpoint_sha256: str


@dataclass
class _Images:
    images: torch.Tensor

    def __len__(self) -> int:
        return self.images.shape[0]


def test_held_out_confidence_is_the_held_out_models_top_softmax_probability() -> None:
    torch.manual_seed(0)
    images = torch.rand(7, 1, 2, 2)
    nets = [nn.Sequential(nn.Flatten(), nn.Linear(4, 3)) for _ in range(2)]
    folds_idx = [torch.tensor([0, 2, 4, 6]), torch.tensor([1, 3, 5])]
    models = [_Fold(i, net, f"{i}" * 64) for i, net in enumerate(nets)]
    got = held_out_confidence(models, _Images(images), folds_idx, torch.device("cpu"), batch_size=2)
    for n in range(7):
        net = nets[0] if n % 2 == 0 else nets[1]
        logits = net(images[n:n + 1])[0].tolist()
        top = max(math.exp(v) for v in logits) / sum(math.exp(v) for v in logits)
        assert float(got[n]) == pytest.approx(top, rel=1e-6)
    reference = decision_reference(models, got, torch.tensor([1.0]), {"saliency": torch.empty(0)})
    assert [(c.fold, c.file, c.sha256) for c in reference.fold_checkpoints] == [
        (1, fold_file(0), "0" * 64), (2, "folds/fold_2.pt", "1" * 64)]
    assert reference.fold_agreement == (1.0,) * (QUANTILES + 1)
    assert reference.consistency == {"saliency": ()}
    assert reference.confidence[0] == pytest.approx(float(got.min()))
