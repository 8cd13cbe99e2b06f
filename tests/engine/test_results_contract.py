"""The results.json the engine writes is :class:`auditkit.results.AuditDocument`, byte for byte: every
metric of the catalog is found where the readers look, the document reads back to itself, a schema-1
document upgrades to the same document, a malformed one is refused naming the key, and every threshold
check's status agrees with its outcome."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from auditkit.catalog import METRICS
from auditkit.engine import AuditOptions, AuditResult, run_audit
from auditkit.policy import load_policy
from auditkit.results import SCHEMA_VERSION, AuditDocument, CheckStatus, Estimate, ResultsError, _threshold_v1

from .conftest import write_tiny_policy


def _load(path: Path) -> AuditDocument:
    return AuditDocument.from_json(path.read_bytes())


def test_every_catalog_metric_is_where_the_readers_look(tiny_run) -> None:
    written = (tiny_run.out / "results.json").read_bytes()
    doc = AuditDocument.from_json(written)
    assert doc.schema_version == SCHEMA_VERSION
    assert doc.to_json() == written  # the round trip, byte for byte, on the CLI's audit too
    assert tuple(doc.explainers) == tuple(e["name"] for e in doc.policy.resolved["explainers"])
    for name, metric in METRICS.items():
        if metric.scope == "model":
            found = doc.score(None, name)
            assert isinstance(found, Estimate) and found.value is not None, name
            continue
        if metric.scope == "pair":
            assert doc.agreement is not None and doc.agreement.pairs, name
            for pair in doc.agreement.pairs:
                found = doc.score(pair.name, name)
                assert isinstance(found, Estimate), (pair.name, name)
                assert found.value is not None or found.undefined, (pair.name, name)
            continue
        for explainer in doc.explainers:
            found = doc.score(explainer, name)
            if metric.scope == "property" and doc.explainers[explainer].properties is None:
                assert found is None, (explainer, name)  # the tiny policy measures no property
                continue
            assert isinstance(found, Estimate), (explainer, name)
            assert found.value is not None or found.undefined, (explainer, name)
    spread = doc.score(None, "accuracy_spread").value
    assert spread == doc.accuracy.spread and 0 <= spread <= 1


def test_each_fold_is_compared_with_chance_and_the_spread_with_fold_size(tiny_run) -> None:
    import torch
    from scipy.stats import binomtest

    from auditkit.data import load_dataset
    from auditkit.metrics.binomial import expected_range

    doc = _load(tiny_run.out / "results.json")
    labels = load_dataset("digits", None, max_images=doc.dataset.n_images, seed=0).labels
    chance = float(torch.bincount(labels).max()) / labels.numel()
    acc = doc.accuracy
    assert acc.chance == chance
    confidence = doc.policy.resolved["metrics"]["bootstrap"]["confidence"]
    for fold in doc.folds:
        c = fold.chance
        ci = binomtest(round(fold.accuracy * fold.n_test), fold.n_test).proportion_ci(
            confidence_level=confidence, method="wilson")
        assert (c.low, c.high) == pytest.approx((ci.low, ci.high), abs=1e-12)
        assert c.chance == chance and c.above_chance == (c.low > chance)
    assert acc.at_chance == tuple(f.index for f in doc.folds if not f.chance.above_chance)
    n = sum(f.n_test for f in doc.folds)
    p = sum(f.accuracy * f.n_test for f in doc.folds) / n
    sds = [(p * (1 - p) / f.n_test) ** 0.5 for f in doc.folds]
    assert acc.fold_sd == tuple(sds) and acc.expected_spread == expected_range(sds) > 0


def test_every_explainer_has_its_input_correlation(tiny_run) -> None:
    doc = _load(tiny_run.out / "results.json")
    for name, e in doc.explainers.items():
        found = e.input_correlation
        assert found.images == min(256, doc.dataset.n_images), name
        assert 0 <= found.mean_abs_rho <= 1, name


# An audit through the engine alone (no report): models barely trained (3 epochs), so the sanity
# checks fail or are inconclusive and the thresholds' checks end in several statuses.
EXTRA_THRESHOLDS = """\
  - id: T2
    metric: reco
    op: ">="
    value: 0.0
    explainers: [saliency, gradient_input]
  - id: T3
    metric: mu_fidelity
    op: ">="
    value: 0.99
    explainers: [saliency, random]
  - id: T4
    metric: mege
    op: ">="
    value: 0.0
    explainers: [random]
  - id: T5
    metric: accuracy
    op: ">="
    value: 0.0
    estimate: lower_bound
"""


@dataclass(frozen=True)
class EngineRun:
    result: AuditResult
    out: Path

    @property
    def written(self) -> bytes:
        return (self.out / "results.json").read_bytes()


@pytest.fixture(scope="module")
def engine_run(tmp_path_factory: pytest.TempPathFactory) -> EngineRun:
    folder = tmp_path_factory.mktemp("contract")
    policy = write_tiny_policy(folder, epochs=3, explainers=("saliency", "gradient_input", "random"),
                               sanity_levels=(0.3,))
    policy.write_text(policy.read_text().replace("thresholds:\n", "thresholds:\n" + EXTRA_THRESHOLDS))
    out = folder / "out"
    result = run_audit(AuditOptions(load_policy(policy), out, device="cpu", progress=False))
    return EngineRun(result, out)


def test_the_document_round_trips_byte_for_byte(engine_run: EngineRun) -> None:
    written = engine_run.written
    assert engine_run.result.document().to_json() == written
    doc = AuditDocument.from_json(written)
    assert doc.to_json() == written
    assert AuditDocument.from_json(written.decode("utf-8")).to_json() == written
    assert doc.to_plain() == engine_run.result.document().to_plain() == json.loads(written)
    assert doc.thresholds == tuple(engine_run.result.checks)
    assert doc.requirements == tuple(engine_run.result.requirements)
    assert doc.sanity_checks == {c.name: c.document() for c in engine_run.result.sanity}
    assert written.endswith(b"}\n") and written.startswith(b'{\n  "schema_version": 2,')


def test_every_status_agrees_with_its_outcome(engine_run: EngineRun) -> None:
    doc = AuditDocument.from_json(engine_run.written)
    for c in doc.thresholds:
        assert isinstance(c.status, CheckStatus), c.subject
        assert c.passed is (c.status is CheckStatus.MET), c.subject
        assert (c.status is CheckStatus.INADMISSIBLE) is bool(c.inadmissible), c.subject
        assert (c.status is CheckStatus.NOT_EVIDENCED) is bool(c.not_evidenced and not c.inadmissible)
        assert (c.measured is None) is (c.status is CheckStatus.UNDEFINED) or c.status in (
            CheckStatus.INADMISSIBLE, CheckStatus.NOT_EVIDENCED), c.subject
        assert json.loads(engine_run.written)["thresholds"][doc.thresholds.index(c)]["status"] == \
            c.status.value
    statuses = {c.subject: c.status for c in doc.thresholds}
    # what the 3-epoch audit gives (deterministic): each kind of outcome at least once
    assert statuses["T4[random]"] is CheckStatus.MET  # the control is outside the sanity gate
    assert statuses["T5"] is CheckStatus.MET
    assert statuses["T3[saliency]"] is CheckStatus.NOT_MET  # muF is not gated
    assert CheckStatus.INADMISSIBLE in statuses.values()
    for r in doc.requirements:
        cited = [c for c in doc.thresholds if c.threshold in r.evidence]
        assert r.met is all(c.passed for c in cited)
        assert r.failed_checks == tuple(c.subject for c in cited if not c.passed)
    assert doc.passed is engine_run.result.passed and doc.verdict == ("pass" if doc.passed else "fail")


def test_a_schema_1_document_upgrades_to_the_same_document(engine_run: EngineRun, to_schema_1) -> None:
    plain = json.loads(engine_run.written)
    v1 = to_schema_1(plain)
    assert '"scores"' not in json.dumps(v1["explainers"]) and all("status" not in c for c in v1["thresholds"])
    assert "mege" in v1["explainers"]["saliency"]
    assert "levels_by" in v1["sanity_checks"]["weight_randomisation"]
    upgraded = AuditDocument.from_json(json.dumps(v1, indent=2))
    assert upgraded == AuditDocument.from_json(engine_run.written)
    assert upgraded.to_json() == engine_run.written  # in the same key order, too
    for old, check in zip(v1["thresholds"], upgraded.thresholds, strict=True):
        assert check.status.value == _threshold_v1(old)["status"]
        assert check.estimate == old["on"]


@pytest.mark.parametrize("damage, message", [
    (lambda d: d["explainers"]["saliency"]["scores"]["mege"].update(extra=1),
     "results.json.explainers.saliency.scores.mege: unexpected key 'extra'"),
    (lambda d: d.update(surprise=True), "results.json: unexpected key 'surprise'"),
    (lambda d: d["thresholds"][0].pop("status"), "results.json.thresholds[0]: missing key 'status'"),
    (lambda d: d["folds"][1]["chance"].pop("ci_low"), "results.json.folds[1].chance: missing key 'ci_low'"),
    (lambda d: d["explainers"]["random"]["scores"]["reco"].pop("value"),
     "results.json.explainers.random.scores.reco: missing key 'value'"),
    (lambda d: d.pop("accuracy"), "results.json: missing key 'accuracy'"),
    (lambda d: d["sanity_checks"]["label_shuffling"].update(status="maybe"),
     "results.json.sanity_checks.label_shuffling.status: 'maybe' is not one of"),
    (lambda d: d["thresholds"][0].update(status="passed"), "results.json.thresholds[0].status: 'passed'"),
    (lambda d: d.update(folds={}), "results.json.folds: expected a JSON array"),
    (lambda d: d.update(schema_version=3), "schema_version 3 is not one this auditkit reads"),
    (lambda d: d.update(schema_version="2"), "schema_version '2' is not one"),
    (lambda d: d.pop("schema_version"), "schema_version None is not one"),
])
def test_a_malformed_document_is_refused_naming_the_key(engine_run: EngineRun, damage, message) -> None:
    plain = json.loads(engine_run.written)
    damage(plain)
    with pytest.raises(ResultsError) as caught:
        AuditDocument.from_json(json.dumps(plain))
    assert message in str(caught.value)


def test_not_a_json_object_is_refused() -> None:
    with pytest.raises(ResultsError, match="not JSON"):
        AuditDocument.from_json(b'{"schema_version": 2,')
    with pytest.raises(ResultsError, match="not a JSON object"):
        AuditDocument.from_json(b"[]")
