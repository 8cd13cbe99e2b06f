"""The figures of one decision against hand-computed values, on linear models whose maps are known.

f(x) = W x + b on 1 x 2 x 2 images, 3 classes. Saliency of class c is |W_c|; Integrated Gradients
from the zero baseline is x * W_c exactly, so its completeness gap is 0.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from scipy.stats import spearmanr
from torch import nn

from auditkit.decision.figures import decide, failures, standing
from auditkit.decision.record import Sheet
from auditkit.decision.system import AuditedSystem, certified_methods
from auditkit.policy import policy_from_dict
from auditkit.results import (
    CheckStatus,
    Dataset,
    DecisionReference,
    Estimate,
    Requirement,
    ThresholdCheck,
    _example,
)

X = torch.tensor([0.5, 0.25, 1.0, 0.75])
W = [[1.0, 0, 0, 0], [0, 2.0, 0, 0], [4.0, -3.0, 2.0, 1.0]]
BIAS = [0.0, 0.0, 1.0]
FOLD_ROWS = ({}, {2: [1.0, 4.0, 3.0, 2.0]}, {0: [20.0, 0, 0, 0]})
"""Each fold model is W with these rows replaced: folds 0 and 1 decide class 2 as the deployed model
(logits 5 and 7 against 0.5), fold 2 decides class 0 (logit 10)."""
CONFIDENCE = tuple(0.9 + 0.001 * i for i in range(101))
AGREEMENT = (0.0,) * 30 + (1 / 3,) * 20 + (2 / 3,) * 30 + (1.0,) * 21
CONSISTENCY = {"saliency": tuple(0.005 * i for i in range(101)),
               "integrated_gradients": tuple(0.01 * i for i in range(101))}


def linear(rows: dict[int, list[float]]) -> nn.Module:
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([rows.get(c, W[c]) for c in range(3)]))
        model[1].bias.copy_(torch.tensor(BIAS))
    return model.eval()


def check(explainer: str, threshold: str = "T1", status: CheckStatus = CheckStatus.MET) -> ThresholdCheck:
    return ThresholdCheck(threshold, "mege", ">=", 0.1, "point", explainer, 0.5, status,
                          status is CheckStatus.MET, "")


def document(passed: bool = True):
    base = _example()
    entry = base.explainers["saliency"]
    scores = {"saliency": 0.5, "integrated_gradients": 0.8, "random": 0.9}
    explainers = {n: dataclasses.replace(entry, scores={"mege": Estimate(v, v - 0.1, v + 0.1)})
                  for n, v in scores.items()}
    return dataclasses.replace(
        base, verdict="pass" if passed else "fail",
        dataset=Dataset("digits", "", 3, ("a", "b", "c"), (1, 2, 2), ""), explainers=explainers,
        thresholds=(check("saliency"), check("integrated_gradients"), check("random")),
        requirements=(Requirement("R1", "Explanations generalise", (), ("T1",), passed,
                                  () if passed else ("T1[saliency]",)),),
        decisions=DecisionReference((), CONFIDENCE, AGREEMENT, CONSISTENCY))


@pytest.fixture
def system() -> AuditedSystem:
    torch.manual_seed(0)
    policy = policy_from_dict({
        "version": 1, "name": "t", "dataset": {"kind": "digits"},
        "explainers": [{"name": "saliency"}, {"name": "integrated_gradients", "steps": 4}],
        "metrics": {"agreement": {"top_k": 0.5}}})
    return AuditedSystem(document(), "r" * 64, "p" * 64, policy, linear({}), "c" * 64,
                         tuple(linear(rows) for rows in FOLD_ROWS), "",
                         ("integrated_gradients", "saliency"), {}, torch.device("cpu"))


def test_the_decision_and_its_maps_are_the_hand_computed_ones(system: AuditedSystem) -> None:
    sheet, maps = decide(system, X.reshape(1, 2, 2), decision_id="d1", image_sha256="i" * 64,
                         created="2026-01-01T00:00:00+00:00")
    logits = [0.5, 0.5, 5.0]
    total = sum(math.exp(v) for v in logits)
    top = sheet.decision.top
    assert [(c.label, c.index) for c in top] == [("c", 2), ("a", 0), ("b", 1)]
    assert top[0].probability == pytest.approx(math.exp(5.0) / total)
    assert sheet.decision.margin == pytest.approx((math.exp(5.0) - math.exp(0.5)) / total)
    assert maps["saliency"].reshape(-1).tolist() == [4.0, 3.0, 2.0, 1.0]
    ig = [w * x for w, x in zip(W[2], X.tolist(), strict=True)]
    assert maps["integrated_gradients"].reshape(-1).tolist() == pytest.approx(ig, abs=1e-6)
    methods = {m.name: m for m in sheet.methods}
    assert methods["integrated_gradients"].completeness_gap == pytest.approx(0.0, abs=1e-6)
    assert methods["saliency"].completeness_gap is None  # saliency claims no completeness
    assert methods["saliency"].checks == ("T1",)


def test_the_fold_models_decisions_and_consistency(system: AuditedSystem) -> None:
    sheet, _ = decide(system, X.reshape(1, 2, 2), decision_id="d1", image_sha256="i" * 64,
                      created="2026-01-01T00:00:00+00:00")
    assert sheet.folds.predictions == ("c", "c", "a") and sheet.folds.agreeing == 2
    # share 2/3: 50 quantiles below, 80 at most -> (50 + 80) / 202
    assert sheet.folds.agreement.share_below == pytest.approx(130 / 202)
    methods = {m.name: m for m in sheet.methods}
    # folds 0 and 1 agree: one pair; the distance of their maps of class 2 is 1 - |rho| (scipy)
    for name, maps in (("saliency", ([4, 3, 2, 1], [1, 4, 3, 2])),
                       ("integrated_gradients", ([w * x for w, x in zip(W[2], X.tolist(), strict=True)],
                                                 [w * x for w, x in zip(FOLD_ROWS[1][2], X.tolist(),
                                                                        strict=True)]))):
        expected = 1 - abs(spearmanr(*maps).statistic)
        assert methods[name].pairs == 1
        assert methods[name].consistency.value == pytest.approx(expected, abs=1e-6)
    assert methods["saliency"].consistency.value == pytest.approx(0.8)  # rho = -0.2 by hand
    assert methods["saliency"].consistency.reading == "above_range"  # every audited image below 0.5
    assert methods["integrated_gradients"].consistency.reading in ("typical", "high", "low")
    # p = 0.97826: the quantiles 0.900 ... 0.978 (79 of them) lie below it
    assert sheet.confidence.share_below == pytest.approx(79 / 101)


def test_agreement_between_the_methods_by_hand(system: AuditedSystem) -> None:
    sheet, _ = decide(system, X.reshape(1, 2, 2), decision_id="d1", image_sha256="i" * 64,
                      created="2026-01-01T00:00:00+00:00")
    (pair,) = sheet.pairs
    ig = [w * x for w, x in zip(W[2], X.tolist(), strict=True)]  # [2, -0.75, 2, 0.75]
    assert (pair.first, pair.second) == ("integrated_gradients", "saliency")
    assert pair.rank == pytest.approx(abs(spearmanr(ig, [4, 3, 2, 1]).statistic), abs=1e-6)
    # k = 0.5 x 4 pixels = 2: {0, 2} (|IG|, ties to the lower index) and {0, 1} (saliency) share 1
    assert sheet.top_k == 2 and pair.top_k == pytest.approx(0.5)


def test_without_fold_models_the_sheet_says_why(system: AuditedSystem) -> None:
    alone = dataclasses.replace(system, folds=(), folds_unavailable="not kept")
    sheet, _ = decide(alone, X.reshape(1, 2, 2), decision_id="d1", image_sha256="i" * 64,
                      created="2026-01-01T00:00:00+00:00")
    assert sheet.folds.unavailable == "not kept" and sheet.folds.agreement is None
    assert all(m.consistency is None for m in sheet.methods)


def test_the_sheet_reads_back_to_the_same_bytes(system: AuditedSystem) -> None:
    sheet, _ = decide(system, X.reshape(1, 2, 2), decision_id="d1", image_sha256="i" * 64,
                      created="2026-01-01T00:00:00+00:00")
    data = sheet.to_json()
    assert Sheet.from_json(data) == sheet and Sheet.from_json(data).to_json() == data
    plain = sheet.to_plain()
    assert plain["kind"] == "auditkit-decision-sheet" and plain["sheet_version"] == 1
    assert set(plain["audit"]) == {"audit_id", "history_id", "results_sha256", "report_sha256", "policy",
                                   "verdict"}


def test_certified_methods_are_ordered_by_mege_without_controls() -> None:
    doc = document()
    assert certified_methods(doc) == ["integrated_gradients", "saliency"]
    one_unmet = dataclasses.replace(doc, thresholds=(*doc.thresholds, check("saliency", "T2",
                                                                            CheckStatus.INADMISSIBLE)))
    assert certified_methods(one_unmet) == ["integrated_gradients"]


def test_failures_name_the_unmet_requirement() -> None:
    assert failures(document()) == ()
    (reason,) = failures(document(passed=False))
    assert "R1" in reason and "T1[saliency]" in reason


@pytest.mark.parametrize(("value", "share", "reading"), [
    (0.5, 0.5, "typical"), (0.05, 11 / 202, "low"), (0.0, 0.5 / 101, "low"), (-0.1, 0.0, "below_range"),
    (1.0, 1 - 0.5 / 101, "high"), (1.5, 1.0, "above_range")])
def test_standing_against_quantiles(value: float, share: float, reading: str) -> None:
    q = [i / 100 for i in range(101)]
    assert standing(value, q).share_below == pytest.approx(share)
    assert standing(value, q).reading == reading


def test_standing_counts_ties_half() -> None:
    q = [0.0] * 50 + [1.0] * 51  # a value equal to half the quantiles
    assert standing(0.0, q).share_below == pytest.approx(50 / 202)
    assert standing(1.0, q).share_below == pytest.approx((50 + 101) / 202)
