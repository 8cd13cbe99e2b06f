"""Significance (disjoint CIs), regressions and n/a cases of the score comparison; audits of
results.json schema 1 and 2 compared."""

from __future__ import annotations

import json

import pytest

from auditkit.cli import main
from auditkit.history import HistoryStore, ScoreChange, check_history, regressions, score_changes
from auditkit.results import AuditDocument, Estimate


def scores(document, mege: tuple[float | None, float | None, float | None],
           explainer: str = "saliency") -> AuditDocument:
    """An audit with the accuracy 0.9 [0.8, 1.0] and ``explainer``'s MeGe ``(value, low, high)``."""
    return document(accuracy=Estimate(0.9, 0.8, 1.0), explainers={explainer: {"mege": Estimate(*mege)}})


@pytest.mark.parametrize(("a", "b", "significant", "regression"), [
    ((0.8, 0.7, 0.9), (0.5, 0.4, 0.6), True, True),     # disjoint, lower: a regression
    ((0.5, 0.4, 0.6), (0.8, 0.7, 0.9), True, False),    # disjoint, higher: an improvement
    ((0.8, 0.7, 0.9), (0.7, 0.6, 0.75), False, False),  # overlapping: not significant
    ((0.8, 0.7, 0.9), (0.6, 0.5, 0.7), False, False),   # touching bounds overlap
    ((0.8, None, None), (0.5, 0.4, 0.6), None, False),  # no CI on one side: n/a
    ((None, None, None), (0.5, 0.4, 0.6), None, False),  # undefined score: n/a
])
def test_significance_is_disjoint_intervals(document, a, b, significant, regression) -> None:
    change = score_changes(scores(document, a), scores(document, b))[1]
    assert change.label == "saliency mege"
    assert change.significant is significant
    assert change.regression is regression
    assert [c.label for c in regressions(scores(document, a), scores(document, b))] == \
        (["saliency mege"] if regression else [])


def test_scores_of_one_side_only_are_listed_without_change(document) -> None:
    changes = score_changes(scores(document, (0.8, 0.7, 0.9)),
                            scores(document, (0.5, 0.4, 0.6), explainer="gradcam"))
    assert [(c.label, c.a is None, c.b is None) for c in changes] == [
        ("accuracy", False, False), ("saliency mege", False, True), ("gradcam mege", True, False)]
    assert changes[1].change is None and changes[1].significant is None


def test_to_dict() -> None:
    change = ScoreChange("saliency", "reco", Estimate(0.8, 0.7, 0.9), Estimate(0.5, 0.4, 0.6))
    assert change.to_dict() == {
        "explainer": "saliency", "metric": "reco",
        "a": {"value": 0.8, "ci_low": 0.7, "ci_high": 0.9},
        "b": {"value": 0.5, "ci_low": 0.4, "ci_high": 0.6},
        "change": pytest.approx(-0.3), "significant": True, "regression": True}


def _schema_1(recorded, to_schema_1) -> dict:
    """Audit #1's results.json as an auditkit of schema 1 wrote it (the history stores schema 2)."""
    with HistoryStore.open(recorded.db, create=False) as store:
        v2 = json.loads(store.audit(1).summary_json or "")
    assert v2["schema_version"] == 2
    return to_schema_1(v2)


def test_schema_1_and_2_of_one_audit_compare_equal(recorded, to_schema_1) -> None:
    v1 = _schema_1(recorded, to_schema_1)
    v2 = AuditDocument.from_plain(v1).to_plain()
    assert v2["schema_version"] == 2
    changes = score_changes(AuditDocument.from_plain(v1), AuditDocument.from_plain(v2))
    assert len(changes) == 1 + 2 * 5  # accuracy, and five scores of each explainer
    for change in changes:
        assert change.a == change.b and change.change in (0.0, None), change.label
    assert changes[0].a is not None and changes[0].a.value == v1["accuracy"]["value"]
    mu = v1["explainers"]["saliency"]["mu_fidelity"]
    assert next(c.a for c in changes if c.label == "saliency mu_fidelity") == \
        Estimate(mu["value"], mu["ci_low"], mu["ci_high"], mu["undefined"] or "")


def test_diff_of_a_schema_1_row_and_a_schema_2_row(history_copy, capsys: pytest.CaptureFixture[str],
                                                   to_schema_1) -> None:
    """A history whose first row holds schema 1 (written before the upgrade) and a later row schema 2."""
    with HistoryStore.open(history_copy.db, create=False) as store:
        v2 = json.loads(store.audit(1).summary_json or "")
    del v2["history"]  # audit #1's stamp; these rows are audits #3 and #4
    v1 = to_schema_1(v2)
    fidelity = v2["explainers"]["saliency"]["scores"]["mu_fidelity"]
    for bound in ("value", "ci_low", "ci_high"):
        fidelity[bound] += 1.0  # far above audit #1's interval
    with HistoryStore.open(history_copy.db) as store:
        for document, audit_id in ((v1, 3), (v2, 4)):
            run = store.start_run("history-tiny", v2["policy"]["sha256"], history_copy.out)
            assert store.finish_run(run, json.dumps(document, indent=2) + "\n", {}).id == audit_id
        assert check_history(store).ok  # rows of schema 1 and 2 in one chain
    capsys.readouterr()
    assert main(["diff", "3", "4", "--db", str(history_copy.db)]) == 0
    lines = {line[:28].strip(): line[28:].split() for line in capsys.readouterr().out.splitlines()[5:]}
    assert len(lines) == 1 + 2 * 5
    assert lines["saliency mu_fidelity"][-2:] == ["+1.000", "yes"]
    assert all(line[-2:] in (["+0.000", "no"], ["n/a", "n/a"])
               for label, line in lines.items() if label != "saliency mu_fidelity")
    assert main(["diff", "4", "3", "--db", str(history_copy.db), "--json"]) == 0
    (regression,) = [s for s in json.loads(capsys.readouterr().out)["scores"] if s["regression"]]
    assert (regression["explainer"], regression["metric"]) == ("saliency", "mu_fidelity")
