"""Thresholds and requirements on fabricated scores: a metric that failed its sanity check is
inadmissible evidence, one whose check was inconclusive is not evidenced, whatever the scores; the
gate follows the metric; the random control is exempt."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditkit.engine.sanity import MetricTrend, SanityCheck
from auditkit.engine.scoring import SCORE_METRICS, ChanceLevel, ExplainerScores
from auditkit.engine.verdicts import (
    check_thresholds,
    inadmissible_explainers,
    inadmissible_reason,
    judge_requirements,
    sanity_gates,
)
from auditkit.metrics.trend import Trend
from auditkit.policy import load_policy
from auditkit.results import CheckStatus, Estimate, _to_plain

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
  - id: T3
    metric: mu_fidelity
    op: ">"
    value: 0.0
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
    s = Estimate(value, value - 0.01, value + 0.01)
    return ExplainerScores(name=name, **dict.fromkeys(SCORE_METRICS, s),
                           reco_chance=ChanceLevel(None, "not needed"), n_s_eq=100, n_s_neq=100,
                           n_ignored=0, n_degenerate=0, mu_images=10, mu_undefined=0)


VERDICT = {True: "pass", False: "fail", None: "inconclusive"}


def check(name: str, mege: dict[str, bool | None], reco: dict[str, bool | None] | None = None
          ) -> SanityCheck:
    """A sanity check with each explainer's MeGe and corrected-ReCo verdicts: True pass, False fail,
    None inconclusive; ``reco`` defaults to ``mege``'s."""
    reco = mege if reco is None else reco
    trends = {}
    for e in mege:
        gated = e != "random"
        trends[e] = {
            m: MetricTrend(m, Trend(-0.1, -0.2, 0.1, 0.3, 50, 0.05),
                           VERDICT[v] if gated else None, f"{m} of {e} said {VERDICT[v]}" if gated else "")
            for m, v in (("mege", mege[e]), ("reco_corrected", reco[e]))
        }
        trends[e].update({m: MetricTrend(m, Trend(0.0, -0.1, 0.1, 0.5, 50, 0.05), None)
                          for m in ("reco", "reco_auc", "mu_fidelity")})
    return SanityCheck(name, (), trends, {}, ())


@pytest.fixture
def policy(tmp_path: Path):
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return load_policy(path)


def test_failed_sanity_check_voids_the_thresholds_on_the_failed_metric(policy) -> None:
    sanity = [check("weight_randomisation", {"saliency": True, "gradcam": False, "random": False}),
              check("label_shuffling", {"saliency": True, "gradcam": False, "random": False})]
    assert inadmissible_explainers(sanity) == {"gradcam": ("weight_randomisation", "label_shuffling")}
    explainers = {n: scores(n) for n in ("saliency", "gradcam", "random")}
    checks = check_thresholds(policy, explainers, Estimate(0.9, 0.8, 1.0), 0.0, sanity_gates(sanity))
    by = {(c.threshold, c.explainer): c for c in checks}
    assert set(by) == {("T1", "saliency"), ("T1", "gradcam"), ("T1", "random"), ("T2", "gradcam"),
                       ("T3", "gradcam")}
    for key, metric in ((("T1", "gradcam"), "MeGe"), (("T2", "gradcam"), "chance-corrected ReCo")):
        c = by[key]
        assert c.measured == pytest.approx(0.9)  # the value is kept, the check still fails
        assert not c.passed
        assert c.reason == ("inadmissible: sanity checks weight_randomisation, label_shuffling failed "
                            f"({metric} did not fall)")
        assert c.inadmissible == ("weight_randomisation", "label_shuffling")
        assert c.status is CheckStatus.INADMISSIBLE
        assert _to_plain(c)["inadmissible"] == ["weight_randomisation", "label_shuffling"]
        assert _to_plain(c)["status"] == "inadmissible"
    assert by["T3", "gradcam"].passed  # muF is not gated
    for key in (("T1", "saliency"), ("T1", "random")):
        assert by[key].passed and by[key].inadmissible == () and by[key].reason.endswith(": met")
    assert all(c.passed is (c.status is CheckStatus.MET) for c in checks)
    verdicts = {r.id: r for r in judge_requirements(policy, checks)}
    assert not verdicts["R1"].met and verdicts["R1"].failed_checks == ("T1[gradcam]",)
    assert not verdicts["R2"].met and verdicts["R2"].failed_checks == ("T2[gradcam]",)


def test_the_gate_follows_the_metric(policy) -> None:
    # gradcam's MeGe passes and its ReCo fails: its MeGe threshold is evidence, its ReCo one is not.
    sanity = [check("weight_randomisation", {"saliency": True, "gradcam": True, "random": True},
                    reco={"saliency": True, "gradcam": False, "random": True})]
    explainers = {n: scores(n) for n in ("saliency", "gradcam", "random")}
    by = {(c.threshold, c.explainer): c for c in
          check_thresholds(policy, explainers, Estimate(0.9), 0.0, sanity_gates(sanity))}
    assert by["T1", "gradcam"].passed and by["T1", "gradcam"].inadmissible == ()
    assert by["T1", "gradcam"].status is CheckStatus.MET
    assert not by["T2", "gradcam"].passed and by["T2", "gradcam"].status is CheckStatus.INADMISSIBLE
    assert by["T2", "gradcam"].reason == ("inadmissible: sanity check weight_randomisation failed "
                                          "(chance-corrected ReCo did not fall)")


def test_an_inconclusive_check_leaves_the_metric_not_evidenced(policy) -> None:
    sanity = [check("label_shuffling", {"saliency": None, "gradcam": True, "random": None})]
    explainers = {n: scores(n) for n in ("saliency", "gradcam", "random")}
    assert inadmissible_explainers(sanity) == {}
    by = {(c.threshold, c.explainer): c for c in
          check_thresholds(policy, explainers, Estimate(0.9), 0.0, sanity_gates(sanity))}
    c = by["T1", "saliency"]
    assert not c.passed and c.inadmissible == () and c.not_evidenced == ("label_shuffling",)
    assert c.status is CheckStatus.NOT_EVIDENCED
    assert c.reason == ("not evidenced: sanity check label_shuffling inconclusive "
                        "(mege of saliency said inconclusive)")
    assert by["T1", "random"].passed and by["T1", "gradcam"].passed
    assert not {r.id: r for r in judge_requirements(policy, list(by.values()))}["R1"].met


def test_one_failed_check_is_named(policy) -> None:
    sanity = [check("weight_randomisation", {"saliency": False, "gradcam": True, "random": True})]
    explainers = {n: scores(n) for n in ("saliency", "gradcam", "random")}
    checks = check_thresholds(policy, explainers, Estimate(0.9), 0.0, sanity_gates(sanity))
    (voided,) = [c for c in checks if not c.passed]
    assert voided.explainer == "saliency" and voided.status is CheckStatus.INADMISSIBLE
    assert voided.reason == "inadmissible: sanity check weight_randomisation failed (MeGe did not fall)"
    assert inadmissible_reason(["x"], "MeGe") == voided.reason.replace("weight_randomisation", "x")


def test_without_sanity_checks_every_score_is_admissible(policy) -> None:
    explainers = {n: scores(n) for n in ("saliency", "gradcam", "random")}
    assert inadmissible_explainers([]) == {} and sanity_gates([]) == {}
    checks = check_thresholds(policy, explainers, Estimate(0.9), 0.0)
    assert all(c.passed and c.inadmissible == () and c.status is CheckStatus.MET for c in checks)
    assert all(r.met for r in judge_requirements(policy, checks))


def test_each_check_carries_its_status_code(policy) -> None:
    """``met`` / ``not_met`` on the measured value, ``undefined`` for an undefined score or a missing
    bound; ``passed`` is ``status is met`` whatever the outcome."""
    import dataclasses

    explainers = {"saliency": scores("saliency", 0.2),  # under T1's 0.5
                  "gradcam": dataclasses.replace(scores("gradcam"),
                                                 reco=Estimate(None, undefined="no pair")),
                  "random": scores("random")}
    by = {(c.threshold, c.explainer): c for c in
          check_thresholds(policy, explainers, Estimate(0.9), 0.0)}
    assert by["T1", "saliency"].status is CheckStatus.NOT_MET
    assert by["T1", "saliency"].measured == pytest.approx(0.2)
    assert by["T1", "saliency"].reason.endswith(": not met")
    assert by["T2", "gradcam"].status is CheckStatus.UNDEFINED and by["T2", "gradcam"].measured is None
    assert by["T2", "gradcam"].reason == "undefined: no pair"
    assert by["T1", "random"].status is CheckStatus.MET and by["T3", "gradcam"].status is CheckStatus.MET
    assert all(c.passed is (c.status is CheckStatus.MET) for c in by.values())
    assert by["T1", "saliency"].subject == "T1[saliency]"
    verdicts = {r.id: r for r in judge_requirements(policy, list(by.values()))}
    assert verdicts["R1"].failed_checks == ("T1[saliency]",)
    assert verdicts["R2"].failed_checks == ("T2[gradcam]",)


def test_a_bound_without_an_interval_is_undefined(policy) -> None:
    bound = _t1_on_lower_bound(policy)
    explainers = {n: scores(n) for n in ("saliency", "gradcam", "random")}
    explainers["saliency"] = ExplainerScores(
        name="saliency", **dict.fromkeys(SCORE_METRICS, Estimate(0.9)),
        reco_chance=ChanceLevel(None, "not needed"), n_s_eq=100, n_s_neq=100, n_ignored=0,
        n_degenerate=0, mu_images=10, mu_undefined=0)
    by = {(c.threshold, c.explainer): c for c in check_thresholds(bound, explainers, Estimate(0.9), 0.0)}
    c = by["T1", "saliency"]
    assert c.estimate == "lower_bound" and c.measured is None and not c.passed
    assert c.status is CheckStatus.UNDEFINED
    assert c.reason == "no confidence interval (bootstrap resamples = 0)"
    assert by["T1", "gradcam"].status is CheckStatus.MET
    assert by["T1", "gradcam"].measured == pytest.approx(0.89)  # the lower bound


def _t1_on_lower_bound(policy):
    """:data:`POLICY` with T1 on the interval's lower bound."""
    import dataclasses

    thresholds = tuple(dataclasses.replace(t, estimate="lower_bound") if t.id == "T1" else t
                       for t in policy.thresholds)
    return dataclasses.replace(policy, thresholds=thresholds)
