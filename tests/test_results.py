"""The helpers of :mod:`auditkit.results` on small hand-built records: the JSON keys, ``null_empty``,
``omit_none``, the enums, the schema-1 upgrade of a threshold check, and the accessors."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from auditkit.results import (
    SCHEMA_VERSION,
    Agreement,
    AgreementPair,
    AuditDocument,
    CheckStatus,
    Correlation,
    Estimate,
    ExplainerEntry,
    Model,
    RecoChance,
    ResultsError,
    Reused,
    SanityVerdict,
    ThresholdCheck,
    Trend,
    _example,
    _from_plain,
    _threshold_v1,
    _to_plain,
    pair_name,
    upgrade,
)


def test_an_estimate_writes_its_interval_keys_and_an_empty_reason_as_null() -> None:
    assert _to_plain(Estimate(0.5, 0.4, 0.6)) == {"value": 0.5, "ci_low": 0.4, "ci_high": 0.6,
                                                  "undefined": None}
    assert _from_plain(Estimate, {"value": 0.5, "ci_low": 0.4, "ci_high": 0.6, "undefined": None},
                       "x") == Estimate(0.5, 0.4, 0.6, "")
    why = Estimate(None, undefined="no pair")
    assert _to_plain(why)["undefined"] == "no pair" and _from_plain(Estimate, _to_plain(why), "x") == why


def test_null_empty_is_a_reason_of_a_trend_too() -> None:
    trend = Trend(-0.1, -0.2, 0.0, 0.05, 0.01, 50, None, None)
    plain = _to_plain(trend)
    assert plain["reason"] is None and plain["ci_low"] == -0.2 and "low" not in plain
    assert _from_plain(Trend, plain, "t") == trend and _from_plain(Trend, plain, "t").reason == ""
    gated = replace(trend, passed=True, verdict=SanityVerdict.PASS, reason="falls")
    assert _to_plain(gated)["verdict"] == "pass" and _to_plain(gated)["reason"] == "falls"
    assert _from_plain(Trend, _to_plain(gated), "t").verdict is SanityVerdict.PASS


def test_omit_none_leaves_an_absent_section_out_and_reads_it_back_as_none() -> None:
    entry = _example().explainers["saliency"]
    plain = _to_plain(entry)
    assert "coverage_correlation" not in plain and "properties" not in plain
    assert _from_plain(ExplainerEntry, plain, "e") == entry
    rise = replace(entry, coverage_correlation=Correlation(0.9, 4, 0))
    assert _to_plain(rise)["coverage_correlation"] == {"mean_abs_rho": 0.9, "images": 4,
                                                       "undefined_maps": 0}
    assert _to_plain(RecoChance(undefined="no S≠ pair")) == {"undefined": "no S≠ pair"}
    defined = RecoChance(0.1, 0.02, 0.14, 0.01, 99, 0.05, True)
    assert "undefined" not in _to_plain(defined)
    assert _from_plain(RecoChance, _to_plain(defined), "c") == defined


def test_a_field_without_omit_none_is_written_as_null() -> None:
    model = Model("family", "small_cnn", "x.SmallCNN", "d", 1, {}, None, None, None, None)
    plain = _to_plain(model)
    assert plain["factory"] is None and plain["normalize"] is None and plain["class"] == "x.SmallCNN"
    assert "cls" not in plain and _from_plain(Model, plain, "m") == model
    with pytest.raises(ResultsError, match="m: missing key 'factory'"):
        _from_plain(Model, {k: v for k, v in plain.items() if k != "factory"}, "m")
    with pytest.raises(ResultsError, match="m: unexpected key 'cls'"):
        _from_plain(Model, {**plain, "cls": "x"}, "m")


def test_the_example_round_trips_and_is_deterministic() -> None:
    doc = _example()
    data = doc.to_json()
    assert AuditDocument.from_json(data) == doc and AuditDocument.from_json(data).to_json() == data
    assert data.endswith(b"}\n") and json.loads(data)["schema_version"] == SCHEMA_VERSION
    assert json.loads(data)["accuracy"]["at_chance"] == [] and json.loads(data)["folds"] == []


def test_nan_is_refused() -> None:
    with pytest.raises(ValueError):
        replace(_example(), run_seconds=float("nan")).to_json()


def _check(**changes) -> ThresholdCheck:
    base = ThresholdCheck("T1", "mege", ">=", 0.5, "point", "saliency", 0.7, CheckStatus.MET, True,
                          "estimate 0.7000 >= 0.5: met")
    return replace(base, **changes)


def _v1(check: ThresholdCheck) -> dict:
    plain = _to_plain(check)
    return {("on" if k == "estimate" else k): v for k, v in plain.items() if k != "status"}


@pytest.mark.parametrize("check", [
    _check(),
    _check(measured=0.3, status=CheckStatus.NOT_MET, passed=False, reason="not met"),
    _check(measured=None, status=CheckStatus.UNDEFINED, passed=False, reason="undefined: no pair"),
    _check(status=CheckStatus.INADMISSIBLE, passed=False, inadmissible=("label_shuffling",)),
    _check(measured=None, status=CheckStatus.INADMISSIBLE, passed=False, inadmissible=("a",),
           not_evidenced=("b",)),
    _check(status=CheckStatus.NOT_EVIDENCED, passed=False, not_evidenced=("weight_randomisation",)),
    _check(measured=None, status=CheckStatus.NOT_EVIDENCED, passed=False, not_evidenced=("b",)),
])
def test_a_schema_1_threshold_check_gets_its_status_back(check: ThresholdCheck) -> None:
    old = _v1(check)
    assert "status" not in old and old["on"] == "point"
    upgraded = _threshold_v1(old)
    assert upgraded == _to_plain(check)
    assert list(upgraded) == list(_to_plain(check))  # the status right after measured, as written
    assert _from_plain(ThresholdCheck, upgraded, "t") == check


def test_upgrade_keeps_a_current_document_and_refuses_an_unknown_version() -> None:
    plain = _example().to_plain()
    same = upgrade(plain)
    assert same == plain and same is not plain
    for version in (0, 3, None, "1"):
        with pytest.raises(ResultsError, match=f"schema_version {version!r} is not one"):
            upgrade({**plain, "schema_version": version})


def test_a_minimal_schema_1_document_upgrades() -> None:
    doc = replace(_example(), thresholds=(_check(),))
    plain = doc.to_plain()
    entry = plain["explainers"]["saliency"]
    old = {**plain, "schema_version": 1, "thresholds": [_v1(c) for c in doc.thresholds],
           "explainers": {"saliency": {
               "settings": entry["settings"], **entry["scores"],
               **{k: v for k, v in entry.items() if k not in ("settings", "scores")}}}}
    upgraded = AuditDocument.from_plain(old)
    assert upgraded == doc and upgraded.to_json() == doc.to_json()


def test_the_accessors() -> None:
    doc = _example()
    assert doc.passed and not replace(doc, verdict="fail").passed
    assert doc.score("saliency", "reco") is None  # not measured in the example
    assert doc.score("gradcam", "mege") is None and doc.score(None, "mege") is None
    assert doc.score("saliency", "sensitivity_max") is None  # no properties
    assert doc.score(None, "accuracy") is doc.accuracy
    assert doc.score(None, "accuracy_spread") == Estimate(0.05)
    assert doc.estimates(("mege", "reco")) == {(None, "accuracy"): doc.accuracy,
                                               ("saliency", "mege"): Estimate(0.7, 0.6, 0.8)}
    e = Estimate(0.5, 0.4, 0.6)
    assert (e.bound("point"), e.bound("low"), e.bound("high")) == (0.5, 0.4, 0.6)
    assert e.interval == (0.4, 0.6) and Estimate(0.5).interval is None and Estimate(None).interval is None
    assert not Reused((), (), ()) and Reused((0,), (), ()) and Reused((), (), ("x",))
    assert _check().subject == "T1[saliency]" and _check(explainer=None).subject == "T1"
    assert CheckStatus("not_evidenced") is CheckStatus.NOT_EVIDENCED and CheckStatus.MET == "met"


def _agreement() -> Agreement:
    pairs = (AgreementPair("saliency", "gradcam", {"rank_agreement": Estimate(0.4, 0.35, 0.45),
                                                   "agreement": Estimate(0.3, 0.25, 0.35)}, 2),
             AgreementPair("saliency", "random", {"rank_agreement": Estimate(0.1, 0.09, 0.11),
                                                  "agreement": Estimate(0.1, None, None)}, 0))
    return Agreement(0.1, 6, 64, 6 / 64, 40, pairs)


def test_the_agreement_round_trips_and_an_older_document_reads_without_it() -> None:
    doc = replace(_example(), agreement=_agreement())
    data = doc.to_json()
    assert AuditDocument.from_json(data) == doc and AuditDocument.from_json(data).to_json() == data
    plain = json.loads(data)["agreement"]
    assert plain["pairs"][0]["scores"]["agreement"] == {"value": 0.3, "ci_low": 0.25, "ci_high": 0.35,
                                                         "undefined": None}
    assert "agreement" not in _example().to_plain()  # absent: a schema-2 document without it reads
    assert AuditDocument.from_json(_example().to_json()).agreement is None


def test_a_pair_score_is_found_by_its_pair_name_in_either_order() -> None:
    doc = replace(_example(), agreement=_agreement())
    assert pair_name("saliency", "gradcam") == "saliency vs gradcam"
    assert doc.score("saliency vs gradcam", "agreement") == Estimate(0.3, 0.25, 0.35)
    assert doc.score("gradcam vs saliency", "rank_agreement") == Estimate(0.4, 0.35, 0.45)
    assert doc.score("gradcam vs random", "agreement") is None
    assert _example().score("saliency vs gradcam", "agreement") is None
    assert doc.agreement.pairs[0].name == "saliency vs gradcam"
    assert _check(explainer="saliency vs gradcam").subject == "T1[saliency vs gradcam]"


def test_a_sanity_checks_calibration_and_doubts_round_trip_and_are_omitted_when_absent() -> None:
    from auditkit.results import FoldCalibration, SanityCalibration, SanityCheck

    bare = SanityCheck((0.0, 0.25), {"levels_by": "noise", "layers": ["conv"]}, 0.05, 0.05, 0.1, 40,
                       True, SanityVerdict.PASS, {})
    plain = _to_plain(bare)
    assert "calibration" not in plain and "degradation" not in plain  # schema-2 documents still read
    assert _from_plain(SanityCheck, plain, "s") == bare
    found = FoldCalibration(0, 0.95, 0.1, 0.7375, 0.74, 0.31, 7, True)
    graded = replace(bare, calibration=(SanityCalibration(0.25, (found,)),),
                     degradation="target accuracy not reached")
    plain = _to_plain(graded)
    assert plain["calibration"] == [{"level": 0.25, "folds": [{
        "fold": 0, "clean": 0.95, "chance": 0.1, "target": 0.7375, "accuracy": 0.74, "scale": 0.31,
        "steps": 7, "reached": True}]}]
    assert json.loads(json.dumps(plain)) == plain and _from_plain(SanityCheck, plain, "s") == graded
