"""An explainer's ReCo with its chance level: the corrected score and its interval, undefined cases."""

from __future__ import annotations

import pytest
import torch

from auditkit.engine.distances import DistanceRecord
from auditkit.engine.scoring import explainer_scores
from auditkit.metrics import reco
from auditkit.metrics.bootstrap import resample_weights
from auditkit.metrics.chance import image_permutations, reco_chance
from auditkit.results import RecoChance, _to_plain


def _record(n: int, separation: float, seed: int, p_eq: float = 0.8) -> DistanceRecord:
    g = torch.Generator().manual_seed(seed)
    category = torch.where(torch.rand(n, 2, generator=g) < p_eq, 1, 2).to(torch.uint8)
    distances = torch.rand(n, 2, generator=g) * 0.5 + torch.where(category == 2, separation, 0.0)
    return DistanceRecord(distances, category, torch.zeros(n, 2, dtype=torch.bool), torch.zeros(0, 3, 4, 4),
                          torch.zeros(0, dtype=torch.long), torch.zeros(0, 3))


def _scores(record: DistanceRecord, resamples: int = 50):
    n = record.distances.shape[0]
    return explainer_scores(
        "saliency", record, torch.rand(5, dtype=torch.float64), torch.arange(5), reco_form="youden",
        weights=resample_weights(n, resamples, torch.Generator().manual_seed(1)), confidence=0.95,
        permutations=image_permutations(n, 300, torch.Generator().manual_seed(2)))


def test_corrected_reco_is_reco_against_its_chance_level() -> None:
    record = _record(150, 0.3, 0)
    s = _scores(record)
    chance = reco_chance(record.distances.double(), record.category.long(), 300,
                         torch.Generator().manual_seed(2))
    assert s.reco.value == pytest.approx(reco(record.s_eq, record.s_neq))
    c = s.reco_chance.chance
    assert c is not None and c.null_mean == pytest.approx(chance.null_mean)
    assert c.p_value == pytest.approx(chance.p_value) and s.reco_chance.distinguishable
    e0 = c.null_mean
    assert s.reco_corrected.value == pytest.approx((s.reco.value - e0) / (1 - e0))
    # The interval maps ReCo's resamples through the same affine correction.
    assert s.reco_corrected.low == pytest.approx((s.reco.low - e0) / (1 - e0))
    assert s.reco_corrected.high == pytest.approx((s.reco.high - e0) / (1 - e0))
    torch.testing.assert_close(s.resampled["reco_corrected"], (s.resampled["reco"] - e0) / (1 - e0))
    out = s.document({})
    assert out.reco_chance.permutations == 300 and out.reco_chance.distinguishable is True
    assert out.scores["reco_corrected"].value == s.reco_corrected.value
    assert "undefined" not in _to_plain(out)["reco_chance"]  # an absent field is left out


def test_no_separation_is_rarely_distinguishable_from_chance() -> None:
    runs = [_scores(_record(150, 0.0, seed), resamples=20) for seed in range(10)]
    # About 5% of such draws are significant at 5%; 3 or more of 10 happens with probability 1%.
    assert sum(bool(s.reco_chance.distinguishable) for s in runs) <= 2
    assert abs(sum(s.reco_corrected.value for s in runs) / len(runs)) < 0.1


def test_empty_s_neq_leaves_reco_and_its_chance_level_undefined() -> None:
    s = _scores(_record(40, 0.3, 4, p_eq=1.0))
    assert s.reco.value is None and s.reco_corrected.value is None
    assert s.reco_chance.chance is None and s.reco_chance.distinguishable is None
    assert "S≠" in s.reco_corrected.undefined
    assert s.document({}).reco_chance == RecoChance(undefined=s.reco_chance.undefined)
    assert _to_plain(s.document({}).reco_chance) == {"undefined": s.reco_chance.undefined}


def test_fewer_pairs_than_the_minimum_leave_the_scores_undefined() -> None:
    record = _record(40, 0.3, 5, p_eq=0.1)  # about 8 S= pairs of 80
    n_eq = int((record.category == 1).sum())
    assert 0 < n_eq < 30
    n = record.distances.shape[0]
    s = explainer_scores(
        "saliency", record, torch.rand(5, dtype=torch.float64), torch.arange(5), reco_form="youden",
        weights=resample_weights(n, 20, torch.Generator().manual_seed(1)), confidence=0.95,
        permutations=image_permutations(n, 50, torch.Generator().manual_seed(2)), min_pairs=30)
    why = f"not enough pairs (n = {n_eq} in S=, at least 30 needed)"
    assert s.mege.value is None and s.mege.undefined == why
    for metric in ("reco", "reco_auc", "reco_corrected"):
        assert s.score(metric).value is None and s.score(metric).undefined == why
    assert s.reco_chance.chance is None and s.document({}).scores["mege"].undefined == why
    assert _to_plain(s.document({}).scores["mege"])["undefined"] == why
    assert torch.isnan(s.resampled["mege"]).all() and s.mu_fidelity.value is not None
    # The same record with a minimum it meets gives numbers.
    met = explainer_scores(
        "saliency", record, torch.rand(5, dtype=torch.float64), torch.arange(5), reco_form="youden",
        weights=None, confidence=0.95, permutations=image_permutations(n, 50, torch.Generator()),
        min_pairs=n_eq)
    assert met.mege.value is not None and met.reco.value is not None
