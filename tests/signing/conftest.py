"""Keys made at test time, a small real report folder (PDF/A-3b by auditkit's PdfWriter), a local TSA."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from unittest import mock

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.keys.internal import translate_pyca_cryptography_key_to_asn1
from pyhanko.sign.timestamps import DummyTimeStamper

from auditkit.report.pdf import PdfAttachment, PdfWriter
from auditkit.signing import GeneratedKeys, Signer, keygen, load_signer, sign_report
from auditkit.signing.pades import asn1_certificate

HTML = "<!doctype html><html><head><title>Audit report</title></head><body><h1>Verdict: PASS</h1>" \
       "<p>R1 met.</p></body></html>"
CREATED = "2024-05-01T12:00:00+00:00"


def _flip(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    at = len(data) // 2 if offset is None else offset
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.fixture
def flip() -> Callable[..., None]:
    """``flip(path, offset=None)`` changes one bit of one byte of ``path`` (the middle one by default)."""
    return _flip


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> GeneratedKeys:
    return keygen(tmp_path_factory.mktemp("keys"), name="Jane Auditor", days=30)


@pytest.fixture(scope="session")
def signer(keys: GeneratedKeys) -> Signer:
    return load_signer(keys.pkcs12)


@pytest.fixture(scope="session")
def other_keys(tmp_path_factory: pytest.TempPathFactory) -> GeneratedKeys:
    """A second, unrelated demo CA and signer."""
    return keygen(tmp_path_factory.mktemp("other_keys"), name="Mallory", days=30)


def write_unsigned(out: Path, created: str = CREATED) -> Path:
    """Write into ``out`` a report folder as `auditkit run` leaves it, unsigned: results.json,
    report.html, report.pdf embedding both (and a policy); ``created`` tells audits apart."""
    results = json.dumps({"schema_version": 1, "verdict": "pass", "created": created}, indent=2) + "\n"
    html = HTML if created == CREATED else HTML.replace("R1 met.", f"R1 met ({created}).")
    (out / "results.json").write_text(results)
    (out / "report.html").write_text(html)
    attachments = [PdfAttachment("results.json", results.encode(), "Data"),
                   PdfAttachment("policy.yaml", b"version: 1\nname: tiny\n", "Source"),
                   PdfAttachment("report.html", html.encode(), "Alternative")]
    with mock.patch("auditkit.report.pdf.render_html", return_value=html):
        (out / "report.pdf").write_bytes(PdfWriter(attachments).render({"created_iso": created}))
    return out


@pytest.fixture(scope="session")
def unsigned_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report folder as `auditkit run` leaves it, unsigned: results.json, report.html, report.pdf."""
    return write_unsigned(tmp_path_factory.mktemp("unsigned"))


@pytest.fixture
def report_dir(unsigned_dir: Path, tmp_path: Path) -> Path:
    """A private unsigned copy of :func:`unsigned_dir`."""
    return Path(shutil.copytree(unsigned_dir, tmp_path / "out"))


@pytest.fixture(scope="session")
def signed_once(unsigned_dir: Path, signer: Signer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = Path(shutil.copytree(unsigned_dir, tmp_path_factory.mktemp("signed") / "out"))
    sign_report(out, signer)
    return out


@pytest.fixture(scope="session")
def other_signed(signer: Signer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another audit's report folder, validly signed by the same signer (read-only)."""
    out = write_unsigned(tmp_path_factory.mktemp("other"), created="2024-06-01T08:00:00+00:00")
    sign_report(out, signer)
    return out


@pytest.fixture
def signed_dir(signed_once: Path, tmp_path: Path) -> Path:
    """A private copy of the report folder signed at PAdES B-B by the ``keys`` signer."""
    return Path(shutil.copytree(signed_once, tmp_path / "out"))


@pytest.fixture(scope="session")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DummyTimeStamper]:
    """A self-signed timestamp authority (its certificate file, the trust anchor) and pyHanko's offline
    timestamper that signs with it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test TSA")])
    now = datetime.now(timezone.utc) - timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now)
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path_factory.mktemp("tsa") / "tsa.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path, DummyTimeStamper(tsa_cert=asn1_certificate(cert),
                                  tsa_key=translate_pyca_cryptography_key_to_asn1(key))
