"""One real audit of a tiny digits policy per test session, and its report rendered once."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from auditkit.engine import AuditOptions, run_audit
from auditkit.policy import load_policy
from auditkit.report import build_context, render_report
from auditkit.report.inputs import load_document
from auditkit.results import AuditDocument

REPORT_POLICY = """\
version: 1
name: report-tiny
description: Tiny audit for the report tests.
dataset:
  kind: digits
  max_images: 200
model:
  family: small_cnn
training:
  epochs: 15
  batch_size: 8
  optimizer: adam
  learning_rate: 0.003
  seed: 0
cross_validation:
  k: 3
  seed: 0
  max_accuracy_spread: 1.0
explainers:
  - name: saliency
  - name: gradcam
metrics:
  explain_batch_size: 64
  min_pairs: 1  # a tiny audit has few S≠ pairs; these tests are about the mechanics
  mu_fidelity:
    samples: 10
    n_subsets: 8
  bootstrap:
    resamples: 30
sanity_checks:
  weight_randomisation:
    enabled: false
  label_shuffling:
    enabled: false
thresholds:
  - id: T1
    metric: mege
    op: ">="
    value: 0.1
    on: lower_bound
  - id: T2
    metric: reco
    op: ">="
    value: 0.99
    explainers: [gradcam]
  - id: T3
    metric: reco_corrected
    op: ">"
    value: 0.0
    explainers: [gradcam]
requirements:
  - id: R1
    title: Explanations generalise across retrainings
    articles: ["EU AI Act Art. 15"]
    evidence: [T1]
  - id: R2
    title: Explanations differ when predictions disagree
    articles: ["EU AI Act Art. 13", "GDPR Art. 22"]
    evidence: [T2, T3]
"""


@pytest.fixture(scope="session")
def audit_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The out folder of a finished tiny audit (R1 met, R2 not met); do not modify it, copy it."""
    root = tmp_path_factory.mktemp("report_audit")
    policy = root / "policy.yaml"
    policy.write_text(REPORT_POLICY)
    run_audit(AuditOptions(load_policy(policy), root / "out", device="cpu", progress=False))
    return root / "out"


@pytest.fixture
def out_copy(audit_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the audit's out folder, free to modify."""
    return Path(shutil.copytree(audit_dir, tmp_path / "out"))


@dataclass(frozen=True)
class Rendered:
    out: Path
    html: str
    pdf: bytes
    context: dict[str, Any]


@pytest.fixture(scope="session")
def rendered(audit_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """Both formats rendered once from a copy of the audit."""
    out = Path(shutil.copytree(audit_dir, tmp_path_factory.mktemp("rendered") / "out"))
    paths = render_report(load_document(out), out)
    assert paths == [out / "report.html", out / "report.pdf"]
    return Rendered(out, paths[0].read_text(encoding="utf-8"), paths[1].read_bytes(),
                    build_context(load_document(out), out))


def fabricate_sanity(results: dict[str, Any], failing: str | None = "gradcam",
                     unclear: str | None = None) -> dict[str, Any]:
    """A label-shuffling check over levels 0 and 0.3 on ``results``' explainers, as the engine writes
    it: every explainer's MeGe and chance-corrected ReCo fall except ``failing``'s corrected ReCo
    (shown not to fall) and ``unclear``'s MeGe (inconclusive); thresholds are voided as
    :func:`auditkit.engine.verdicts.check_thresholds` voids them (the gate follows the metric)."""

    def trend(slope: float, p: float, verdict: str | None, reason: str = "") -> dict[str, Any]:
        return {"slope": slope, "ci_low": slope - 0.05, "ci_high": slope + 0.05, "sd": 0.025,
                "p_value": p, "resamples": 30, "passed": None if verdict is None else verdict == "pass",
                "verdict": verdict, "reason": reason or None}

    def lowered(score: dict[str, Any], by: float) -> dict[str, Any]:
        return {k: (v - by if isinstance(v, float) else v) for k, v in score.items()}

    explainers = {}
    for name, e in results["explainers"].items():
        verdicts = {"mege": "inconclusive" if name == unclear else "pass",
                    "reco_corrected": "fail" if name == failing else "pass"}
        clean = {"level": 0.0, "scores": e["scores"], "reco_chance": e["reco_chance"],
                 "n_s_eq": e["n_s_eq"], "n_s_neq": e["n_s_neq"], "accuracy": _estimate(results["accuracy"])}
        degraded = {**clean, "level": 0.3, "scores": {
            m: lowered(score, 0.05 if verdicts.get(m, "pass") == "pass" else 0.0)
            for m, score in e["scores"].items()}}
        gated = {
            "mege": trend(-0.17, 0.03, "pass", "MeGe falls") if verdicts["mege"] == "pass" else
            trend(-0.1, 0.2, "inconclusive", "MeGe neither falls significantly nor is shown not to fall"),
            "reco_corrected": trend(-0.17, 0.03, "pass", "falls") if verdicts["reco_corrected"] == "pass"
            else trend(0.01, 0.6, "fail", "chance-corrected ReCo does not fall"),
        }
        status = next(v for v in ("fail", "inconclusive", "pass") if v in verdicts.values())
        explainers[name] = {
            "levels": [clean, degraded],
            "trend": {**gated, "reco": trend(-0.1, 0.1, None), "reco_auc": trend(-0.1, 0.1, None),
                      "mu_fidelity": trend(-0.02, 0.4, None)},
            "in_verdict": True,
            "passed": status == "pass",
            "status": status,
        }
    statuses = {e["status"] for e in explainers.values()}
    status = next((v for v in ("fail", "inconclusive") if v in statuses), "pass")
    results = {**results, "verdict": "fail"}
    results["sanity_checks"] = {"label_shuffling": {
        "levels": [0.0, 0.3], "settings": {"seed": 0}, "alpha": 0.05, "min_fall": 0.05,
        "chance_accuracy": 0.1, "images": results["dataset"]["n_images"], "passed": status == "pass",
        "status": status, "explainers": explainers}}

    def voided(t: dict[str, Any]) -> dict[str, Any]:
        if t["explainer"] == failing and t["metric"] in ("reco", "reco_corrected", "reco_auc"):
            return {"status": "inadmissible", "passed": False, "inadmissible": ["label_shuffling"],
                    "not_evidenced": [], "reason": "inadmissible: sanity check label_shuffling failed "
                                                   "(chance-corrected ReCo did not fall)"}
        if t["explainer"] == unclear and t["metric"] == "mege":
            return {"status": "not_evidenced", "passed": False, "inadmissible": [],
                    "not_evidenced": ["label_shuffling"],
                    "reason": "not evidenced: sanity check label_shuffling inconclusive (MeGe ...)"}
        return {}

    results["thresholds"] = [t | voided(t) for t in results["thresholds"]]
    failed = {t["threshold"] for t in results["thresholds"] if not t["passed"]}
    results["requirements"] = [r | {"met": not set(r["evidence"]) & failed,
                                    "failed_checks": [f"{t['threshold']}[{t['explainer']}]"
                                                      for t in results["thresholds"]
                                                      if t["threshold"] in r["evidence"] and not t["passed"]]}
                               for r in results["requirements"]]
    return results


def _estimate(score: dict[str, Any]) -> dict[str, Any]:
    """The ``value``/``ci_low``/``ci_high``/``undefined`` part of a richer record (the accuracy's)."""
    return {k: score[k] for k in ("value", "ci_low", "ci_high", "undefined")}


def fabricate_history(results: dict[str, Any]) -> dict[str, Any]:
    """The mapping of :func:`auditkit.history.report_data` for two earlier audits with higher scores
    (MeGe of every explainer 0.2 higher at audit #2, so it dropped significantly since)."""
    from auditkit.history.compare import score_changes
    from auditkit.history.report import _point

    def earlier(audit_id: int, rise: float) -> tuple[Any, AuditDocument]:
        summary = json.loads(json.dumps(results))
        summary["created"] = f"2026-0{audit_id}-01T10:00:00+00:00"
        for e in summary["explainers"].values():
            mege = e["scores"]["mege"]
            e["scores"]["mege"] = {k: (v + rise if isinstance(v, float) else v) for k, v in mege.items()}
        row = SimpleNamespace(id=audit_id, finished_at=summary["created"], verdict="pass",
                              policy_sha256=summary["policy"]["sha256"])
        return row, AuditDocument.from_plain(summary)

    current = AuditDocument.from_plain(results)
    points = [earlier(1, 0.1), earlier(2, 0.2)]
    audits = [_point(row, summary) for row, summary in points]
    return {"previous": audits[-1], "audits": [*audits, _point(None, current)],
            "changes": [c.to_dict() for c in score_changes(points[-1][1], current)]}


@pytest.fixture(scope="session")
def unclear(audit_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """The report of an inconclusive sanity check: Saliency's MeGe not evidenced."""
    out = Path(shutil.copytree(audit_dir, tmp_path_factory.mktemp("unclear") / "out"))
    results = fabricate_sanity(json.loads((out / "results.json").read_text()), failing=None,
                               unclear="saliency")
    (out / "results.json").write_text(json.dumps(results))
    paths = render_report(load_document(out), out)
    return Rendered(out, paths[0].read_text(encoding="utf-8"), paths[1].read_bytes(),
                    build_context(load_document(out), out))


SYSTEM = {"name": "Digit triage", "version": "2.4.1", "owner": "Example Health Ltd",
          "intended_purpose": "Sorting scanned digits for manual review", "contact": None}
"""The policy's ``system`` section of the full report (contact left out: absent fields are omitted)."""
DEPLOYED = {"checkpoint": "/models/triage-2.4.1.pt", "sha256": "5e" * 32,
            "accuracy": {"value": 0.9, "ci_low": 0.85, "ci_high": 0.94, "undefined": None, "images": 120,
                         "on": "the audited images", "held_out": False,
                         "note": "not a held-out accuracy"},
            "explainers": {}, "scope": "measured on the deployed checkpoint beside the k fold models"}
"""What results.json records of a deployed checkpoint (the report shows it only when present)."""


@pytest.fixture(scope="session")
def signer_keys(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A demo CA and signer (:func:`auditkit.signing.keygen`) for reports that name their signer."""
    from auditkit.signing import keygen

    return keygen(tmp_path_factory.mktemp("keys"), name="Jane Doe, Head of Model Risk")


@pytest.fixture(scope="session")
def full(audit_dir: Path, tmp_path_factory: pytest.TempPathFactory, signer_keys: Any) -> Rendered:
    """Both formats of a report with every optional section: the system section, a deployed
    checkpoint, a failed sanity check (Grad-CAM's ReCo inadmissible), "Since the last audit" after
    two earlier audits, and the signer of :func:`signer_keys` on page one (the files are not signed)."""
    from auditkit.signing import load_signer

    out = Path(shutil.copytree(audit_dir, tmp_path_factory.mktemp("full") / "out"))
    results = fabricate_sanity(json.loads((out / "results.json").read_text()))
    results |= {"system": SYSTEM, "deployed": DEPLOYED}
    (out / "results.json").write_text(json.dumps(results))
    history = fabricate_history(results)
    signer = load_signer(signer_keys.pkcs12)
    paths = render_report(load_document(out), out, history=history, signer=signer)
    return Rendered(out, paths[0].read_text(encoding="utf-8"), paths[1].read_bytes(),
                    build_context(load_document(out), out, history=history, signer=signer))


def demo_requirements(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The eight requirements of ``policies/digits.yaml`` (titles and articles as shipped), citing the
    tiny audit's thresholds in turn, each judged on the checks it cites as the engine judges them."""
    import yaml

    shipped = yaml.safe_load((Path(__file__).resolve().parents[2] / "policies" / "digits.yaml").read_text())
    ids = sorted({c["threshold"] for c in results["thresholds"]})
    out = []
    for i, req in enumerate(shipped["requirements"]):
        evidence = ids if i == 4 else [ids[i % len(ids)]]  # R5 cites every threshold, as in the demo
        failed = [f"{c['threshold']}[{c['explainer']}]" for c in results["thresholds"]
                  if c["threshold"] in evidence and not c["passed"]]
        out.append({"id": req["id"], "title": req["title"], "articles": req["articles"],
                    "evidence": evidence, "met": not failed, "failed_checks": failed})
    return out


@pytest.fixture(scope="session")
def crowded(audit_dir: Path, tmp_path_factory: pytest.TempPathFactory, signer_keys: Any) -> Rendered:
    """:func:`full` with the demo policy's eight requirements instead of two: page one at its fullest."""
    from auditkit.signing import load_signer

    out = Path(shutil.copytree(audit_dir, tmp_path_factory.mktemp("crowded") / "out"))
    results = fabricate_sanity(json.loads((out / "results.json").read_text()))
    results |= {"system": SYSTEM, "deployed": DEPLOYED}
    results["requirements"] = demo_requirements(results)
    (out / "results.json").write_text(json.dumps(results))
    history = fabricate_history(results)
    signer = load_signer(signer_keys.pkcs12)
    paths = render_report(load_document(out), out, formats=("pdf",), history=history, signer=signer)
    return Rendered(out, "", paths[0].read_bytes(),
                    build_context(load_document(out), out, history=history, signer=signer))
