"""PAdES levels B-B, B-T (offline TSA), B-LT (DSS in the signed revision), and signing that fails safely."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from auditkit.signing import GeneratedKeys, Signer, SigningError, Status, sign_report, verify_report
from auditkit.signing.keys import load_certificates
from auditkit.signing.pades import FIELD_NAME, REASON, resolve_level, sign_pdf


def reader(path: Path) -> PdfFileReader:
    return PdfFileReader(io.BytesIO(path.read_bytes()))


def test_b_b_signature_names_field_reason_and_signer(signed_dir: Path) -> None:
    (embedded,) = reader(signed_dir / "report.pdf").embedded_regular_signatures
    assert embedded.field_name == FIELD_NAME
    assert embedded.sig_object["/Reason"] == REASON
    assert embedded.sig_object["/Name"] == "Jane Auditor"
    assert embedded.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    assert "/DSS" not in reader(signed_dir / "report.pdf").root


def test_b_t_with_an_offline_tsa(report_dir: Path, signer: Signer, keys: GeneratedKeys, tsa) -> None:
    tsa_cert, timestamper = tsa
    signed = sign_report(report_dir, signer, timestamper=timestamper)
    assert signed.level == "B-T"
    (pdf, *_) = verify_report(report_dir, trust=[keys.ca_cert, tsa_cert]).files
    assert (pdf.status, pdf.level, pdf.timestamped) == (Status.OK, "B-T", True)
    assert pdf.signed_at is not None
    (pdf, *_) = verify_report(report_dir, trust=[keys.ca_cert]).files
    assert pdf.status is Status.UNTRUSTED
    assert "timestamp authority" in pdf.reason


def test_b_lt_embeds_a_dss_in_the_signed_revision(report_dir: Path, signer: Signer, keys: GeneratedKeys,
                                                  tsa) -> None:
    tsa_cert, timestamper = tsa
    with pytest.raises(SigningError, match="self-signed"):  # the TSA's root is not known to the signer
        sign_report(report_dir, signer, level="B-LT", timestamper=timestamper)
    roots = load_certificates(tsa_cert)
    assert sign_report(report_dir, signer, level="B-LT", timestamper=timestamper,
                       extra_roots=roots).level == "B-LT"
    pdf_reader = reader(report_dir / "report.pdf")
    dss = pdf_reader.root["/DSS"]
    assert len(dss["/Certs"]) >= 2  # the signer and its CA
    (pdf, *_) = verify_report(report_dir, trust=[keys.ca_cert, tsa_cert]).files
    assert (pdf.status, pdf.level) == (Status.OK, "B-LT"), pdf.reason
    assert "covers the whole file" in pdf.reason


@pytest.mark.parametrize("level, timestamped, match", [
    ("B-LTA", False, "level must be one of B-B, B-T, B-LT, got 'B-LTA'"),
    ("B-T", False, "PAdES B-T needs a signature timestamp"),
    ("B-LT", False, "PAdES B-LT needs a signature timestamp"),
    ("B-B", True, "PAdES B-B carries no timestamp"),
])
def test_bad_levels_are_refused(level: str, timestamped: bool, match: str) -> None:
    with pytest.raises(SigningError, match=match):
        resolve_level(level, timestamped)


def test_already_signed_pdf_is_refused(signed_dir: Path, signer: Signer) -> None:
    before = (signed_dir / "report.pdf").read_bytes()
    with pytest.raises(SigningError, match="already signed"):
        sign_pdf(signed_dir / "report.pdf", signer)
    assert (signed_dir / "report.pdf").read_bytes() == before


def test_failed_timestamp_leaves_every_file_as_it_was(report_dir: Path, signer: Signer) -> None:
    before = {p.name: p.read_bytes() for p in report_dir.iterdir()}
    with pytest.raises(SigningError, match="timestamp authority did not answer") as info:
        sign_report(report_dir, signer, tsa_url="http://127.0.0.1:9/tsa")  # nothing listens on port 9
    assert info.value.path == report_dir / "report.pdf"
    assert {p.name: p.read_bytes() for p in report_dir.iterdir()} == before


def test_missing_report_file_is_refused(report_dir: Path, signer: Signer) -> None:
    (report_dir / "report.html").unlink()
    with pytest.raises(SigningError, match=r"report\.html to sign it") as info:
        sign_report(report_dir, signer)
    assert info.value.path == report_dir / "report.html"
    assert not (report_dir / "results.json.p7s").exists()
