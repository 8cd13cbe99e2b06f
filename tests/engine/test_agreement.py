"""The agreement between methods, from the maps the explanation passes keep: no new explanation."""

from __future__ import annotations

import pytest
import torch

from auditkit.engine.agreement import agreement_scores
from auditkit.engine.distances import collect_distances, pair_categories
from auditkit.engine.scoring import explainer_scores
from auditkit.engine.verdicts import check_thresholds
from auditkit.metrics.agreement import pairwise_agreement, top_k_count
from auditkit.metrics.bootstrap import resample_weights
from auditkit.metrics.chance import image_permutations
from auditkit.policy import policy_from_dict
from auditkit.results import CheckStatus
from tests.engine.test_distances import TableExplainer, make_case

METHODS = ("saliency", "gradient_input", "random")


class CountingTable(TableExplainer):
    """A table explainer that counts the images it explains."""

    calls = 0

    def explain(self, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        CountingTable.calls += x.shape[0]
        return super().explain(x, targets)


def _passes(sample: torch.Tensor, batch_size: int = 5):
    """Three methods' passes over the same images and folds, each keeping ``own_maps`` of ``sample``."""
    dataset, preds, fold_of, _ = make_case()
    categories = pair_categories(preds, dataset.labels, fold_of)
    gen = torch.Generator().manual_seed(11)
    tables = torch.relu(torch.randn(len(METHODS), 4, len(dataset), 2, 5, 5, generator=gen))
    tables[1] += 0.5 * tables[0]  # gradient_input shares part of saliency's maps
    scores = {}
    for name, method in zip(METHODS, tables, strict=True):
        record = collect_distances([CountingTable(method[j]) for j in range(4)], dataset, fold_of, categories,
                                   preds, batch_size=batch_size, device=torch.device("cpu"),
                                   input_index=sample)
        scores[name] = explainer_scores(name, record, torch.zeros(3), torch.arange(3), reco_form="youden",
                                        weights=None, confidence=0.95,
                                        permutations=image_permutations(len(dataset), 99))
    return dataset, fold_of, tables, scores


@pytest.mark.parametrize("batch_size", [1, 5, 100])
def test_own_maps_are_each_images_map_by_its_own_fold_model(batch_size: int) -> None:
    sample = torch.tensor([0, 3, 8, 21])
    _, fold_of, tables, scores = _passes(sample, batch_size)
    for m, name in enumerate(METHODS):
        expected = tables[m, fold_of[sample], sample].sum(dim=1)  # [M, H, W], channels summed
        torch.testing.assert_close(scores[name].own_maps, expected)


def test_the_matrix_is_computed_from_the_kept_maps_without_explaining_again() -> None:
    sample = torch.tensor([1, 2, 4, 8, 16, 22])
    dataset, fold_of, tables, scores = _passes(sample)
    CountingTable.calls = 0
    weights = resample_weights(len(dataset), 300, torch.Generator().manual_seed(0))
    a = agreement_scores(scores, sample, weights, top_k=0.1, confidence=0.9)
    assert CountingTable.calls == 0
    assert a is not None and (a.k, a.features, a.images) == (top_k_count(0.1, 25), 25, 6)
    own = tables[:, fold_of[sample], sample].sum(dim=2).transpose(0, 1)  # [M, methods, H, W]
    rank, top = pairwise_agreement(own, a.k)
    assert [(p.first, p.second) for p in a.pairs] == [(METHODS[0], METHODS[1]), (METHODS[0], METHODS[2]),
                                                       (METHODS[1], METHODS[2])]
    for p, (i, j) in zip(a.pairs, [(0, 1), (0, 2), (1, 2)], strict=True):
        rank_score, top_score = p.scores["rank_agreement"], p.scores["agreement"]
        assert rank_score.value == pytest.approx(float(rank[:, i, j].double().mean()))
        assert top_score.value == pytest.approx(float(top[:, i, j].double().mean()))
        for s in (rank_score, top_score):
            assert s.low <= s.value <= s.high
    again = agreement_scores(scores, sample, weights, top_k=0.1, confidence=0.9)
    assert again == a  # seeded: the same resamples give the same intervals
    assert a.pair("gradient_input vs saliency") is a.pairs[0]
    assert agreement_scores({"saliency": scores["saliency"]}, sample, weights, top_k=0.1,
                            confidence=0.9) is None


def test_a_pair_threshold_is_checked_for_every_pair_but_the_controls() -> None:
    sample = torch.arange(23)
    _, _, _, scores = _passes(sample)
    a = agreement_scores(scores, sample, None, top_k=0.2, confidence=0.95)
    policy = policy_from_dict({
        "version": 1, "name": "p", "dataset": {"kind": "digits"},
        "explainers": [{"name": n} for n in METHODS],
        "thresholds": [{"id": "A", "metric": "agreement", "op": ">=", "value": 0.0},
                       {"id": "B", "metric": "rank_agreement", "op": ">", "value": 1.0,
                        "explainers": ["saliency", "random"]}],
    })
    checks = check_thresholds(policy, scores, None, 0.0, {}, a)  # type: ignore[arg-type]
    assert [(c.threshold, c.explainer, c.status) for c in checks] == [
        ("A", "saliency vs gradient_input", CheckStatus.MET),
        ("B", "saliency vs random", CheckStatus.NOT_MET),
    ]
    assert checks[0].measured == a.pairs[0].scores["agreement"].value
    unmeasured = check_thresholds(policy, scores, None, 0.0, {}, None)  # type: ignore[arg-type]
    assert {c.status for c in unmeasured} == {CheckStatus.UNDEFINED}
