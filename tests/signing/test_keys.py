"""keygen's demo CA and signer certificate; loading PKCS#12 and PEM key material; clear key errors."""

from __future__ import annotations

import hashlib
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from auditkit.errors import AuditError
from auditkit.signing import (
    GeneratedKeys,
    KeyLoadError,
    SigningError,
    keygen,
    load_signer,
    signer_fingerprint,
)
from auditkit.signing.keys import DOCUMENT_SIGNING, load_certificates


@pytest.fixture(scope="session")
def locked_keys(tmp_path_factory: pytest.TempPathFactory) -> GeneratedKeys:
    return keygen(tmp_path_factory.mktemp("locked"), name="Locked Signer", days=1, passphrase="s3cret")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_keygen_writes_the_files_keys_private(keys: GeneratedKeys) -> None:
    assert [p.name for p in (keys.ca_cert, keys.pkcs12, keys.key, keys.cert)] == [
        "ca.pem", "signer.p12", "signer-key.pem", "signer-cert.pem"]
    assert mode(keys.pkcs12) == mode(keys.key) == 0o600
    assert mode(keys.ca_cert) == mode(keys.cert) == 0o644
    assert not list(keys.ca_cert.parent.glob("*.tmp"))
    assert b"PRIVATE KEY" not in keys.ca_cert.read_bytes() + keys.cert.read_bytes()


def test_signer_cert_chains_to_the_ca_and_is_not_self_signed(keys: GeneratedKeys) -> None:
    (ca,) = load_certificates(keys.ca_cert)
    (cert,) = load_certificates(keys.cert)
    assert cert.issuer == ca.subject != cert.subject
    cert.verify_directly_issued_by(ca)
    ca.verify_directly_issued_by(ca)
    basic = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.content_commitment
    assert not usage.value.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING]
    common = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert common == "Jane Auditor"


def test_openssl_verifies_the_chain(keys: GeneratedKeys) -> None:
    done = subprocess.run(["openssl", "verify", "-CAfile", str(keys.ca_cert), str(keys.cert)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(": OK")


def test_pkcs12_and_pem_load_the_same_signer(keys: GeneratedKeys) -> None:
    from_p12 = load_signer(keys.pkcs12)
    from_pem = load_signer(keys.key, cert=keys.cert, chain=[keys.ca_cert])
    assert from_p12.cert == from_pem.cert and from_p12.chain == from_pem.chain == tuple(
        load_certificates(keys.ca_cert))
    assert from_p12.name == "Jane Auditor"
    der = from_p12.cert.public_bytes(serialization.Encoding.DER)
    assert signer_fingerprint(from_p12) == signer_fingerprint(from_pem) == keys.fingerprint
    assert keys.fingerprint == hashlib.sha256(der).hexdigest()


def test_pem_cert_file_with_its_chain_appended(keys: GeneratedKeys, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(keys.cert.read_bytes() + keys.ca_cert.read_bytes())
    signer = load_signer(keys.key, cert=bundle)
    assert [c.subject for c in signer.chain] == [c.subject for c in load_certificates(keys.ca_cert)]


def test_encrypted_key_material_loads_with_its_passphrase(locked_keys: GeneratedKeys) -> None:
    assert load_signer(locked_keys.pkcs12, passphrase="s3cret").name == "Locked Signer"
    assert load_signer(locked_keys.key, cert=locked_keys.cert, passphrase="s3cret").name == "Locked Signer"
    assert b"ENCRYPTED PRIVATE KEY" in locked_keys.key.read_bytes()


@pytest.mark.parametrize("form", ["pkcs12", "pem"])
@pytest.mark.parametrize("passphrase, match", [
    ("wrong", "wrong passphrase"),
    (None, "encrypted"),
])
def test_wrong_or_missing_passphrase_is_a_clear_error(locked_keys: GeneratedKeys, form: str,
                                                      passphrase: str | None, match: str) -> None:
    path = locked_keys.pkcs12 if form == "pkcs12" else locked_keys.key
    cert = None if form == "pkcs12" else locked_keys.cert
    with pytest.raises(KeyLoadError, match=match) as info:
        load_signer(path, cert=cert, passphrase=passphrase)
    assert info.value.path == path
    assert isinstance(info.value, AuditError) and isinstance(info.value, ValueError)


def test_key_of_another_certificate_is_refused(keys: GeneratedKeys, other_keys: GeneratedKeys) -> None:
    with pytest.raises(KeyLoadError, match="does not belong to the certificate"):
        load_signer(other_keys.key, cert=keys.cert)


def test_unreadable_files_are_key_errors(tmp_path: Path, keys: GeneratedKeys) -> None:
    with pytest.raises(KeyLoadError, match="cannot read the PKCS#12 file"):
        load_signer(tmp_path / "absent.p12")
    with pytest.raises(KeyLoadError, match="cannot be opened as PKCS#12"):
        load_signer(keys.cert)
    with pytest.raises(KeyLoadError, match=r"holds no readable X\.509 certificate"):
        load_signer(keys.key, cert=keys.key)


@pytest.mark.parametrize("kwargs, match", [
    ({"name": ""}, "name must be a non-empty string"),
    ({"name": "x", "days": 0}, "days must be an integer >= 1"),
    ({"name": "x", "days": 1.5}, "days must be an integer >= 1"),
])
def test_bad_keygen_arguments(tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(SigningError, match=match):
        keygen(tmp_path, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_keygen_never_overwrites_without_being_asked(keys: GeneratedKeys) -> None:
    before = keys.pkcs12.read_bytes()
    with pytest.raises(SigningError, match="already exists"):
        keygen(keys.pkcs12.parent, name="Someone Else")
    assert keys.pkcs12.read_bytes() == before
