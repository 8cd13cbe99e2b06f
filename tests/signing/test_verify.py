"""verify_report: ok, modified, appended, untrusted, invalid, missing signature; trust must be explicit."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from auditkit.errors import AuditError
from auditkit.signing import (
    GeneratedKeys,
    Signer,
    Status,
    VerificationInputError,
    load_signer,
    sign_report,
    verify_report,
)


def statuses(report) -> dict[str, Status]:
    return {f.path.name: f.status for f in report.files}


def test_signed_report_verifies(signed_dir: Path, keys: GeneratedKeys, signer: Signer) -> None:
    report = verify_report(signed_dir, trust=[keys.ca_cert])
    assert report.bottom_line, report.summary()
    assert statuses(report) == {"report.pdf": Status.OK, "report.html": Status.OK, "results.json": Status.OK}
    assert {f.signer for f in report.files} == {"Jane Auditor"}
    assert {f.signer_fingerprint for f in report.files} == {keys.fingerprint}
    pdf = report.files[0]
    assert (pdf.kind, pdf.level, pdf.timestamped) == ("pades", "B-B", False)
    assert "covers the whole file" in pdf.reason
    assert report.summary_line().startswith("OK: 3 of 3")
    assert report.trust_anchors and len(report.trust_anchors[0]) == 64


@pytest.mark.parametrize("name", ["results.json", "report.html"])
def test_flipped_byte_in_a_detached_file_is_modified(flip, signed_dir: Path, keys: GeneratedKeys,
                                                     name: str) -> None:
    flip(signed_dir / name)
    report = verify_report(signed_dir, trust=[keys.ca_cert])
    assert not report.bottom_line
    assert statuses(report)[name] is Status.MODIFIED
    assert [f.path.name for f in report.files if not f.ok] == [name]
    assert "changed after signing" in report.files[[f.path.name for f in report.files].index(name)].reason


def test_flipped_byte_in_the_pdf_is_modified(flip, signed_dir: Path, keys: GeneratedKeys) -> None:
    pdf = signed_dir / "report.pdf"
    offset = pdf.read_bytes().index(b"/CreationDate (D:2024") + len(b"/CreationDate (D:20")
    flip(pdf, offset)  # a digit of an attachment's date: the file still parses
    (verdict,) = verify_report(pdf, trust=[keys.ca_cert]).files
    assert verdict.status is Status.MODIFIED, verdict.reason


def test_incremental_update_after_signing_is_appended(signed_dir: Path, keys: GeneratedKeys) -> None:
    pdf = signed_dir / "report.pdf"
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf.read_bytes()))
    info = writer.trailer["/Info"]
    info["/Title"] = generic.TextStringObject("Audit report: PASS (edited)")
    writer.update_container(info)
    out = io.BytesIO()
    writer.write(out)
    pdf.write_bytes(out.getvalue())
    (verdict,) = verify_report(pdf, trust=[keys.ca_cert]).files
    assert verdict.status is Status.APPENDED, verdict.reason
    assert "appended" in verdict.reason


def test_report_signed_by_another_ca_is_untrusted(report_dir: Path, keys: GeneratedKeys,
                                                  other_keys: GeneratedKeys) -> None:
    sign_report(report_dir, load_signer(other_keys.pkcs12))
    report = verify_report(report_dir, trust=[keys.ca_cert])
    assert set(statuses(report).values()) == {Status.UNTRUSTED}
    assert all("'Mallory' does not validate against the given trust anchor" in f.reason for f in report.files)
    assert verify_report(report_dir, trust=[other_keys.ca_cert]).bottom_line


def test_without_trust_anchor_integrity_is_checked_but_the_verdict_fails(flip, signed_dir: Path) -> None:
    report = verify_report(signed_dir)
    assert not report.bottom_line
    assert set(statuses(report).values()) == {Status.UNTRUSTED}
    assert all("integrity ok, signer 'Jane Auditor' not checked against a trust anchor" in f.reason
               for f in report.files)
    assert report.trust_anchors == ()
    flip(signed_dir / "results.json")
    assert statuses(verify_report(signed_dir))["results.json"] is Status.MODIFIED


def test_ca_pem_beside_the_report_is_not_trusted(signed_dir: Path, keys: GeneratedKeys) -> None:
    shutil.copy(keys.ca_cert, signed_dir / "ca.pem")
    assert not verify_report(signed_dir).bottom_line


def test_missing_p7s_is_missing_signature(signed_dir: Path, keys: GeneratedKeys) -> None:
    (signed_dir / "report.html.p7s").unlink()
    report = verify_report(signed_dir, trust=[keys.ca_cert])
    assert statuses(report)["report.html"] is Status.MISSING
    assert statuses(report)["results.json"] is Status.OK
    assert "report.html.p7s is absent" in report.files[1].reason


def test_unsigned_pdf_is_missing_signature(report_dir: Path, keys: GeneratedKeys) -> None:
    (verdict,) = verify_report(report_dir / "report.pdf", trust=[keys.ca_cert]).files
    assert verdict.status is Status.MISSING
    assert verdict.reason == "report.pdf carries no PDF signature"


def test_missing_report_file_is_missing(signed_dir: Path, keys: GeneratedKeys) -> None:
    (signed_dir / "report.pdf").unlink()
    report = verify_report(signed_dir, trust=[keys.ca_cert])
    assert statuses(report)["report.pdf"] is Status.MISSING
    assert "report.pdf is absent" in report.files[0].reason


def test_swapped_p7s_is_modified(signed_dir: Path, keys: GeneratedKeys) -> None:
    shutil.copy(signed_dir / "report.html.p7s", signed_dir / "results.json.p7s")
    assert statuses(verify_report(signed_dir, trust=[keys.ca_cert]))["results.json"] is Status.MODIFIED


@pytest.mark.parametrize("garbage", [b"", b"not a signature", b"\x30\x03\x02\x01\x01"])
def test_unreadable_p7s_is_invalid(signed_dir: Path, keys: GeneratedKeys, garbage: bytes) -> None:
    (signed_dir / "results.json.p7s").write_bytes(garbage)
    report = verify_report(signed_dir / "results.json", trust=[keys.ca_cert])
    assert statuses(report) == {"results.json": Status.INVALID}
    assert "cannot be read as a CMS signature" in report.files[0].reason


def test_truncated_pdf_is_not_ok(signed_dir: Path, keys: GeneratedKeys) -> None:
    pdf = signed_dir / "report.pdf"
    pdf.write_bytes(pdf.read_bytes()[:1000])
    (verdict,) = verify_report(pdf, trust=[keys.ca_cert]).files
    assert verdict.status is Status.INVALID
    assert verdict.reason.startswith("report.pdf cannot be read as a PDF")


@pytest.mark.parametrize("name", ["report.pdf", "results.json", "results.json.p7s", "report.html"])
def test_single_files_verify(signed_dir: Path, keys: GeneratedKeys, name: str) -> None:
    report = verify_report(signed_dir / name, trust=[keys.ca_cert])
    assert report.bottom_line
    assert [f.path.name for f in report.files] == [name.removesuffix(".p7s")]


def test_summary_is_plain_json(signed_dir: Path, keys: GeneratedKeys) -> None:
    import json

    summary = json.loads(json.dumps(verify_report(signed_dir, trust=[keys.ca_cert]).summary()))
    assert summary["ok"] is True
    assert [f["status"] for f in summary["files"]] == ["ok", "ok", "ok"]
    assert set(summary["files"][0]) == {"path", "kind", "status", "reason", "signer", "signer_fingerprint",
                                        "signed_at", "timestamped", "level"}


def test_bad_input_raises(tmp_path: Path, signed_dir: Path) -> None:
    with pytest.raises(VerificationInputError, match="does not exist") as info:
        verify_report(tmp_path / "nowhere")
    assert isinstance(info.value, AuditError) and isinstance(info.value, ValueError)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(VerificationInputError, match=r"holds none of report\.pdf"):
        verify_report(empty)
    with pytest.raises(VerificationInputError, match="trust anchor"):
        verify_report(signed_dir, trust=[signed_dir / "results.json"])
    (signed_dir / "results.json").unlink()
    with pytest.raises(VerificationInputError, match=r"results\.json \(the file results\.json\.p7s signs"):
        verify_report(signed_dir / "results.json.p7s")
