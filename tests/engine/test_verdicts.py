"""Thresholds and requirements on fabricated scores: an explainer that failed a sanity check is
inadmissible evidence, whatever its scores; the random control is exempt."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditkit.engine.sanity import ALPHA, MetricTrend, SanityCheck
from auditkit.engine.scoring import ExplainerScores, Score
from auditkit.engine.verdicts import (
    check_thresholds,
    inadmissible_explainers,
    inadmissible_reason,
    judge_requirements,
)
from auditkit.metrics.trend import Trend
from auditkit.policy import load_policy

POLICY = """\
version: 1
name: verdicts
dataset:
  kind: digits
explainers:
  - name: saliency
  - name: gradcam
  - name: random
thresholds:
  - id: T1
    metric: mege
    op: ">="
    value: 0.5
    explainers: all
  - id: T2
    metric: reco
    op: ">="
    value: 0.1
    explainers: [gradcam]
requirements:
  - id: R1
    title: generalises
    articles: ["EU AI Act Art. 15"]
    evidence: [T1]
  - id: R2
    title: consistent
    articles: ["EU AI Act Art. 13"]
    evidence: [T2]
"""


def scores(name: str, value: float = 0.9) -> ExplainerScores:
    """Scores far above every threshold of :data:`POLICY`."""
    s = Score(value, value - 0.01, value + 0.01)
    return ExplainerScores(name, s, s, s, s, 100, 100, 0, 0, 10, 0)


def trend(falls: bool, gated: bool) -> MetricTrend:
    p = 0.01 if falls else 0.4
    return MetricTrend("mege", Trend(-0.1 if falls else 0.05, -0.2, 0.1, p, 50),
                       (p < ALPHA) if gated else None)


def check(name: str, falls: dict[str, bool]) -> SanityCheck:
    """A sanity check in which each explainer's MeGe and ReCo fall (or not) as ``falls`` says."""
    trends = {e: {m: trend(f, e != "random") for m in ("mege", "reco", "reco_auc", "mu_fidelity")}
              for e, f in falls.items()}
    return SanityCheck(name, (), trends, {}, ())


@pytest.fixture
def policy(tmp_path: Path):
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return load_policy(path)


def test_failed_sanity_check_voids_every_threshold_on_the_explainer(policy) -> None:
    sanity = [check("weight_randomisation", {"saliency": True, "gradcam": False, "random": False}),
              check("label_shuffling", {"saliency": True, "gradcam": False, "random": False})]
    inadmissible = inadmissible_explainers(sanity)
    assert inadmissible == {"gradcam": ("weight_randomisation", "label_shuffling")}  # random exempt
    explainers = {n: scores(n) for n in ("saliency", "gradcam", "random")}
    checks = check_thresholds(policy, explainers, Score(0.9, 0.8, 1.0), 0.0, inadmissible)
    by = {(c.threshold, c.explainer): c for c in checks}
    assert set(by) == {("T1", "saliency"), ("T1", "gradcam"), ("T1", "random"), ("T2", "gradcam")}
    for key in (("T1", "gradcam"), ("T2", "gradcam")):
        c = by[key]
        assert c.measured == pytest.approx(0.9)  # the value is kept, the check still fails
        assert not c.passed
        assert c.reason == "inadmissible: sanity checks weight_randomisation, label_shuffling failed"
        assert c.inadmissible == ("weight_randomisation", "label_shuffling")
        assert c.to_dict()["inadmissible"] == ["weight_randomisation", "label_shuffling"]
    for key in (("T1", "saliency"), ("T1", "random")):
        assert by[key].passed and by[key].inadmissible == () and by[key].reason.endswith(": met")
    verdicts = {r.id: r for r in judge_requirements(policy, checks)}
    assert not verdicts["R1"].met and verdicts["R1"].failed_checks == ("T1[gradcam]",)
    assert not verdicts["R2"].met and verdicts["R2"].failed_checks == ("T2[gradcam]",)


def test_one_failed_check_is_named(policy) -> None:
    sanity = [check("weight_randomisation", {"saliency": False, "gradcam": True, "random": True})]
    explainers = {n: scores(n) for n in ("saliency", "gradcam", "random")}
    checks = check_thresholds(policy, explainers, Score(0.9), 0.0, inadmissible_explainers(sanity))
    (voided,) = [c for c in checks if not c.passed]
    assert voided.explainer == "saliency"
    assert voided.reason == "inadmissible: sanity check weight_randomisation failed"
    assert inadmissible_reason(["x"]) == voided.reason.replace("weight_randomisation", "x")


def test_without_sanity_checks_every_score_is_admissible(policy) -> None:
    explainers = {n: scores(n) for n in ("saliency", "gradcam", "random")}
    assert inadmissible_explainers([]) == {}
    checks = check_thresholds(policy, explainers, Score(0.9), 0.0)
    assert all(c.passed and c.inadmissible == () for c in checks)
    assert all(r.met for r in judge_requirements(policy, checks))
