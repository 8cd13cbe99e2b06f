"""A signed audit with a deployed checkpoint, recorded without training, and decision sheets made
from hand-written sheet.json bytes (no explanation computed): what the dossier tests sign, record
and verify."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

import pytest

from auditkit import results as r

ROOT = Path(__file__).resolve().parents[3]
POLICY = b"version: 1\nname: sheets\n"
CHECKPOINT = "c" * 64
"""The deployed checkpoint's SHA-256 the audit records."""


def _history_conftest() -> ModuleType:
    """tests/history/conftest.py, for ``results_document`` (a results.json without an audit)."""
    spec = importlib.util.spec_from_file_location("_history_conftest_for_sheets",
                                                  ROOT / "tests" / "history" / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    spec.loader.exec_module(module)
    return module


def pdf(attachments: dict[str, bytes], html: str, created: str) -> bytes:
    """A PDF/A-3b as auditkit's PdfWriter makes it, showing ``html`` and embedding ``attachments``."""
    from auditkit.report.pdf import PdfAttachment, PdfWriter

    files = [PdfAttachment(name, data, "Data") for name, data in attachments.items()]
    with mock.patch("auditkit.report.pdf.render_html", return_value=html):
        return PdfWriter(files).render({"created_iso": created})


def record_audit(out: Path, signer: Any, created: str, *, verdict: str = "pass") -> None:
    """One signed audit with a deployed checkpoint, recorded and kept as ``auditkit run`` does."""
    from auditkit.history import record_audit as recording_of
    from auditkit.history.archive import keep_dossier
    from auditkit.signing import sign_report

    (out.parent / "policy.yaml").write_bytes(POLICY)
    sha = hashlib.sha256(POLICY).hexdigest()
    out.mkdir(exist_ok=True)
    deployed = r.Deployed("deployed.pt", CHECKPOINT, r.DeployedAccuracy(0.9, 0.8, 0.95), {}, "all")
    with recording_of(out / "history.sqlite", "sheets", sha, out) as recording:
        document = _history_conftest().results_document(
            created=created, policy="sheets", policy_path=str(out.parent / "policy.yaml"),
            policy_sha256=sha, history=recording.stamp)
        results = dataclasses.replace(document, deployed=deployed, verdict=verdict).to_json()
        html = f"<!doctype html><html><head><title>Audit</title></head><body><p>{created}</p></body></html>"
        (out / "results.json").write_bytes(results)
        (out / "report.html").write_text(html)
        (out / "summary.txt").write_text(f"verdict {verdict}\n")
        (out / "report.pdf").write_bytes(pdf({"results.json": results, "policy.yaml": POLICY,
                                              "report.html": html.encode()}, html, created))
        signed = sign_report(out, signer)
        dossier = [out / "results.json", out / "summary.txt", out / "report.html", out / "report.pdf",
                   *signed.signatures]
        copies = keep_dossier(out, recording.head.audits + 1, dossier)
        recording.finish(dossier[0], [*dossier[1:], *copies], signer=signed.signer)


def sheet_json(out: Path, decision_id: str, **changes: Any) -> bytes:
    """sheet.json of a decision explained under the audit at the top of ``out``; ``changes``
    replace top-level keys, or ``audit`` keys when named ``audit_<key>``."""
    results = (out / "results.json").read_bytes()
    document = r.AuditDocument.from_json(results)
    assert document.history is not None
    audit = {"audit_id": document.history.audit_id, "history_id": document.history.history_id,
             "results_sha256": hashlib.sha256(results).hexdigest(),
             "report_sha256": hashlib.sha256((out / "report.pdf").read_bytes()).hexdigest(),
             "policy": document.policy.name, "verdict": document.verdict}
    sheet = {"kind": "auditkit-decision-sheet", "sheet_version": 1, "decision_id": decision_id,
             "created": "2026-04-01T09:00:00+00:00", "audit": audit, "checkpoint_sha256": CHECKPOINT,
             "image_sha256": "e" * 64, "decision": {"class": "3", "probability": 0.97}}
    for key, value in changes.items():
        if key.startswith("audit_"):
            audit[key.removeprefix("audit_")] = value
        else:
            sheet[key] = value
    return json.dumps(sheet, indent=2).encode() + b"\n"


def sheet_files(data: bytes) -> dict[str, bytes]:
    """sheet.json ``data``, a sheet.html naming the decision, and sheet.pdf embedding both."""
    head = json.loads(data)
    html = f"<!doctype html><html><head><title>Decision</title></head><body><h1>Decision " \
           f"{head['decision_id']}</h1></body></html>"
    return {"sheet.json": data, "sheet.html": html.encode(),
            "sheet.pdf": pdf({"sheet.json": data, "sheet.html": html.encode()}, html, head["created"])}


@dataclass(frozen=True)
class Audited:
    """``out``: a signed audit (#1, kept in ``out/audits/``) with its history; ``ca``: the anchor;
    ``key``: the signer's PKCS#12 file."""

    out: Path
    ca: Path
    key: Path

    @property
    def db(self) -> Path:
        return self.out / "history.sqlite"


@pytest.fixture(scope="session")
def audited_once(tmp_path_factory: pytest.TempPathFactory) -> Audited:
    from auditkit.signing import keygen, load_signer

    keys = keygen(tmp_path_factory.mktemp("keys"), name="Decision Officer", days=30)
    out = tmp_path_factory.mktemp("audited") / "out"
    record_audit(out, load_signer(keys.pkcs12), "2026-03-01T02:00:00+00:00")
    return Audited(out, keys.ca_cert, keys.pkcs12)


@pytest.fixture
def audited(audited_once: Audited, tmp_path: Path) -> Audited:
    """A private copy of :func:`audited_once`."""
    shutil.copytree(audited_once.out.parent, tmp_path / "audit")
    return Audited(tmp_path / "audit" / "out", audited_once.ca, audited_once.key)
