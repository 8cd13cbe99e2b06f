"""One real audit of a tiny digits policy per test session, and its report rendered once."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
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
