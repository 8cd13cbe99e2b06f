"""The engine's reduction of explanations to distances against Algorithm 1 written as loops."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from auditkit.engine.distances import (
    IGNORED,
    S_EQ,
    S_NEQ,
    collect_distances,
    explained_classes,
    pair_categories,
)


@dataclass
class FakeDataset:
    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def image_size(self) -> tuple[int, int]:
        return tuple(self.images.shape[2:])

    def x(self, index) -> torch.Tensor:
        return self.images[index]


class TableExplainer:
    """Returns precomputed maps: row = image id stored in pixel [0, 0, 0]."""

    def __init__(self, maps: torch.Tensor) -> None:
        self.maps = maps

    def explain(self, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.maps[x[:, 0, 0, 0].long()]


def make_case(n: int = 23, k: int = 4, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    images = torch.zeros(n, 1, 5, 5)
    images[:, 0, 0, 0] = torch.arange(n, dtype=torch.float32)
    labels = torch.randint(0, 3, (n,), generator=gen)
    preds = torch.where(torch.rand(n, k, generator=gen) < 0.7, labels[:, None],
                        torch.randint(0, 3, (n, k), generator=gen))
    fold_of = torch.randint(0, k, (n,), generator=gen)
    maps = torch.relu(torch.randn(k, n, 2, 5, 5, generator=gen))  # plateaus of zeros
    maps[1, 3] = 0.0  # a constant map: degenerate pairs
    return FakeDataset(images, labels), preds, fold_of, maps


def algorithm_1(dataset, preds, fold_of, maps):
    """Appendix A, Algorithm 1, as loops: S=, S≠ and the ignored pairs of each image."""
    k = preds.shape[1]
    s_eq, s_neq, ignored = [], [], 0
    for x in range(len(dataset)):
        i = int(fold_of[x])
        y = int(dataset.labels[x])
        for j in range(k):
            if j == i:
                continue
            a, b = maps[i, x].numpy().ravel(), maps[j, x].numpy().ravel()
            if np.ptp(a) == 0 or np.ptp(b) == 0:
                delta = 0.0 if np.array_equal(a, b) else 1.0
            else:
                delta = 1 - abs(spearmanr(a, b).statistic)
            ri, rj = int(preds[x, i]) == y, int(preds[x, j]) == y
            if ri and rj:
                s_eq.append(delta)
            elif ri or rj:
                s_neq.append(delta)
            else:
                ignored += 1
    return sorted(s_eq), sorted(s_neq), ignored


@pytest.mark.parametrize("batch_size", [1, 5, 100])
def test_matches_algorithm_1(batch_size: int) -> None:
    dataset, preds, fold_of, maps = make_case()
    categories = pair_categories(preds, dataset.labels, fold_of)
    record = collect_distances(
        [TableExplainer(maps[i]) for i in range(4)], dataset, fold_of, categories, preds,
        batch_size=batch_size, device=torch.device("cpu"), example_index=torch.tensor([0, 2]),
    )
    s_eq, s_neq, ignored = algorithm_1(dataset, preds, fold_of, maps)
    np.testing.assert_allclose(sorted(record.s_eq.tolist()), s_eq, atol=1e-5)
    np.testing.assert_allclose(sorted(record.s_neq.tolist()), s_neq, atol=1e-5)
    assert int((record.category == IGNORED).sum()) == ignored
    # image 3's pairs with fold 1's constant map are the degenerate ones
    expected_degenerate = 3 if int(fold_of[3]) == 1 else 1
    assert int(record.degenerate.sum()) == expected_degenerate
    torch.testing.assert_close(record.examples[1], maps[:, 2].sum(dim=1))


def test_sqrt_distance_form() -> None:
    dataset, preds, fold_of, maps = make_case(seed=1)
    categories = pair_categories(preds, dataset.labels, fold_of)
    args = ([TableExplainer(maps[i]) for i in range(4)], dataset, fold_of, categories, preds)
    plain = collect_distances(*args, batch_size=8, device=torch.device("cpu"))
    rooted = collect_distances(*args, batch_size=8, device=torch.device("cpu"), sqrt_distance=True)
    torch.testing.assert_close(rooted.distances, plain.distances.sqrt())


class TargetRecorder:
    """A constant-free map that records the classes it was asked to explain, by image id."""

    def __init__(self, n: int) -> None:
        self.seen = torch.full((n,), -1, dtype=torch.long)

    def explain(self, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        self.seen[x[:, 0, 0, 0].long()] = targets
        return torch.rand(x.shape)


@pytest.mark.parametrize("target", ["prediction", "label"])
def test_each_model_explains_the_class_the_policy_names(target: str) -> None:
    dataset, preds, fold_of, _ = make_case()
    explainers = [TargetRecorder(len(dataset)) for _ in range(4)]
    targets = explained_classes(preds, dataset.labels, target)
    collect_distances(explainers, dataset, fold_of, pair_categories(preds, dataset.labels, fold_of),
                      targets, batch_size=5, device=torch.device("cpu"))
    for j, e in enumerate(explainers):
        expected = preds[:, j] if target == "prediction" else dataset.labels
        torch.testing.assert_close(e.seen, expected)
    assert not torch.equal(preds[:, 0], dataset.labels)  # the two cases differ on this data


def test_pair_categories_by_hand() -> None:
    labels = torch.tensor([1, 0])
    preds = torch.tensor([[1, 1, 0], [1, 0, 1]])
    fold_of = torch.tensor([0, 2])
    # image 0 (fold 0, right): j=1 right -> S=, j=2 wrong -> S≠
    # image 1 (fold 2, wrong): j=0 wrong -> ignored, j=1 right -> S≠
    assert pair_categories(preds, labels, fold_of).tolist() == [[S_EQ, S_NEQ], [IGNORED, S_NEQ]]


@pytest.mark.parametrize("batch_size", [1, 7, 100])
def test_input_correlation_is_scipys_spearman_with_the_input_map(batch_size: int) -> None:
    dataset, preds, fold_of, maps = make_case()
    dataset.images[:, 0, 1:, :] = torch.rand(23, 4, 5, generator=torch.Generator().manual_seed(1))
    categories = pair_categories(preds, dataset.labels, fold_of)
    sample = torch.tensor([5, 0, 17, 3])
    record = collect_distances(
        [TableExplainer(maps[i]) for i in range(4)], dataset, fold_of, categories, preds,
        batch_size=batch_size, device=torch.device("cpu"), input_index=sample)
    for row, image in enumerate(sample.tolist()):
        control = dataset.images[image].abs().sum(dim=0).numpy().ravel()
        for j in range(4):
            ours = maps[j, image].sum(dim=0).numpy().ravel()
            if np.ptp(ours) == 0:  # fold 1's constant map of image 3
                assert torch.isnan(record.input_rho[row, j])
            else:
                assert float(record.input_rho[row, j]) == pytest.approx(
                    abs(spearmanr(ours, control).statistic), abs=1e-5)


class MaskedTable(TableExplainer):
    """A table explainer with a mask coverage, as RISE has (:meth:`Rise.coverage`)."""

    def __init__(self, maps: torch.Tensor, coverage: torch.Tensor) -> None:
        super().__init__(maps)
        self._coverage = coverage

    def coverage(self, image_size: tuple[int, int], device: torch.device) -> torch.Tensor:
        assert image_size == tuple(self._coverage.shape)
        return self._coverage.to(device)


def test_coverage_correlation_is_scipys_spearman_with_each_models_coverage() -> None:
    """RISE's artefact control (issue 20): |rho| between each model's map and its own explainer's
    mask coverage, on the input-correlation images; NaN for an explainer without masks."""
    dataset, preds, fold_of, maps = make_case()
    categories = pair_categories(preds, dataset.labels, fold_of)
    coverages = torch.rand(4, 5, 5, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    sample = torch.tensor([5, 0, 17, 3])
    explainers = [MaskedTable(maps[i], coverages[i]) for i in range(3)] + [TableExplainer(maps[3])]
    record = collect_distances(explainers, dataset, fold_of, categories, preds, batch_size=7,
                               device=torch.device("cpu"), input_index=sample)
    assert torch.isnan(record.coverage_rho[:, 3]).all()  # no masks
    for row, image in enumerate(sample.tolist()):
        for j in range(3):
            ours = maps[j, image].sum(dim=0).numpy().ravel()
            if np.ptp(ours) == 0:
                assert torch.isnan(record.coverage_rho[row, j])
            else:
                assert float(record.coverage_rho[row, j]) == pytest.approx(
                    abs(spearmanr(ours, coverages[j].numpy().ravel()).statistic), abs=1e-5)


def test_example_images_are_spread_over_classes_and_include_s_neq() -> None:
    from auditkit.engine.explain import example_images

    labels = torch.tensor([0] * 10 + [1] * 10 + [2] * 10)
    categories = torch.ones(30, 2, dtype=torch.uint8)
    categories[[12, 25], 1] = 2  # two images with an S≠ pair
    chosen = example_images(labels, categories, 6)
    assert chosen.tolist() == sorted(set(chosen.tolist())) and chosen.numel() == 6
    assert 12 in chosen.tolist() and 25 in chosen.tolist()
    assert sorted(set(labels[chosen].tolist())) == [0, 1, 2]
    assert example_images(labels[:3], categories[:3], 6).tolist() == [0, 1, 2]  # fewer images than asked
