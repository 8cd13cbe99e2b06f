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
requirements:
  - id: R1
    title: Explanations generalise across retrainings
    articles: ["EU AI Act Art. 15"]
    evidence: [T1]
  - id: R2
    title: Explanations differ when predictions disagree
    articles: ["EU AI Act Art. 13", "GDPR Art. 22"]
    evidence: [T2]
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
    paths = render_report(out)
    assert paths == [out / "report.html", out / "report.pdf"]
    return Rendered(out, paths[0].read_text(encoding="utf-8"), paths[1].read_bytes(), build_context(out))


def fabricate_sanity(results: dict[str, Any], failing: str = "gradcam") -> dict[str, Any]:
    """A label-shuffling check over levels 0 and 0.3 on ``results``' explainers, as the engine writes
    it: every explainer's MeGe and ReCo fall except ``failing``'s ReCo; thresholds on ``failing``
    are voided as :func:`auditkit.engine.verdicts.check_thresholds` voids them."""

    def trend(slope: float, p: float, passed: bool | None) -> dict[str, Any]:
        return {"slope": slope, "ci_low": slope - 0.05, "ci_high": slope + 0.05, "p_value": p,
                "resamples": 30, "passed": passed}

    def lowered(score: dict[str, Any], by: float) -> dict[str, Any]:
        return {k: (v - by if isinstance(v, float) else v) for k, v in score.items()}

    explainers = {}
    for name, e in results["explainers"].items():
        metrics = ("mege", "reco", "reco_auc", "mu_fidelity")
        clean = {m: e[m] for m in metrics} | {"level": 0.0, "accuracy": results["accuracy"]}
        degraded = {m: lowered(e[m], 0.0 if (name == failing and m == "reco") else 0.05)
                    for m in metrics} | {"level": 0.3, "accuracy": results["accuracy"]}
        falls = {m: name != failing or m != "reco" for m in ("mege", "reco")}
        explainers[name] = {
            "levels": [clean, degraded],
            "trend": {"mege": trend(-0.17, 0.03, True),
                      "reco": trend(-0.17, 0.03, True) if falls["reco"] else trend(0.01, 0.6, False),
                      "reco_auc": trend(-0.1, 0.1, None), "mu_fidelity": trend(-0.02, 0.4, None)},
            "in_verdict": True,
            "passed": all(falls.values()),
        }
    results = {**results, "verdict": "fail"}
    results["sanity_checks"] = {"label_shuffling": {"levels": [0.0, 0.3], "seed": 0, "alpha": 0.05,
                                                    "passed": False, "explainers": explainers}}
    results["thresholds"] = [
        t | ({"passed": False, "inadmissible": ["label_shuffling"],
              "reason": "inadmissible: sanity check label_shuffling failed"}
             if t["explainer"] == failing else {})
        for t in results["thresholds"]]
    voided = {t["threshold"] for t in results["thresholds"] if not t["passed"]}
    results["requirements"] = [r | {"met": not set(r["evidence"]) & voided}
                               for r in results["requirements"]]
    return results


def fabricate_history(results: dict[str, Any]) -> dict[str, Any]:
    """The mapping of :func:`auditkit.history.report_data` for two earlier audits with higher scores
    (MeGe of every explainer 0.2 higher at audit #2, so it dropped significantly since)."""
    from auditkit.history.compare import score_changes
    from auditkit.history.report import _point

    def earlier(audit_id: int, rise: float) -> tuple[Any, dict[str, Any]]:
        summary = json.loads(json.dumps(results))
        summary["created"] = f"2026-0{audit_id}-01T10:00:00+00:00"
        for e in summary["explainers"].values():
            e["mege"] = {k: (v + rise if isinstance(v, float) else v) for k, v in e["mege"].items()}
        row = SimpleNamespace(id=audit_id, finished_at=summary["created"], verdict="pass",
                              policy_sha256=summary["policy"]["sha256"])
        return row, summary

    points = [earlier(1, 0.1), earlier(2, 0.2)]
    audits = [_point(row, summary) for row, summary in points]
    return {"previous": audits[-1], "audits": [*audits, _point(None, results)],
            "changes": [c.to_dict() for c in score_changes(points[-1][1], results)]}


@pytest.fixture(scope="session")
def full(audit_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """Both formats of a report with every optional section: a failed sanity check (Grad-CAM
    inadmissible) and "Since the last audit" after two earlier audits."""
    out = Path(shutil.copytree(audit_dir, tmp_path_factory.mktemp("full") / "out"))
    results = fabricate_sanity(json.loads((out / "results.json").read_text()))
    (out / "results.json").write_text(json.dumps(results))
    history = fabricate_history(results)
    paths = render_report(out, history=history)
    return Rendered(out, paths[0].read_text(encoding="utf-8"), paths[1].read_bytes(),
                    build_context(out, history=history))
