"""Signing keys: a demo CA and signer made at run time, and the loading of an operator's key material.

:func:`keygen` is for trying the signing workflow and for tests. A regulator should trust a certificate
from the operator's real PKI; a demo CA proves only that whoever holds ``signer.p12`` signed the report.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from auditkit import _atomic
from auditkit.signing.errors import KeyLoadError, SigningError

PrivateKey = (rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
              | ed448.Ed448PrivateKey)
"""The private keys auditkit signs with."""

CA_CERT = "ca.pem"
SIGNER_P12 = "signer.p12"
SIGNER_KEY = "signer-key.pem"
SIGNER_CERT = "signer-cert.pem"
KEY_BITS = 3072
"""RSA modulus of the demo keys (NIST SP 800-57: 128-bit security, acceptable beyond 2030)."""
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")
"""id-kp-documentSigning (RFC 9336)."""


@dataclass(frozen=True)
class Signer:
    """Key material that signs a report.

    Attributes:
        key: the private key.
        cert: the signer's certificate; its public key is ``key``'s.
        chain: the certificates above ``cert`` (issuing CAs, possibly the root), nearest first.
    """

    key: PrivateKey
    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()

    @property
    def name(self) -> str:
        """The common name of the certificate's subject, or its whole subject when it has none."""
        return common_name(self.cert)


@dataclass(frozen=True)
class GeneratedKeys:
    """The files :func:`keygen` wrote.

    Attributes:
        ca_cert: the demo CA's certificate (PEM), the trust anchor to give verifiers.
        pkcs12: the signer's key, certificate and chain (PKCS#12, mode 0600).
        key: the signer's private key (PKCS#8 PEM, mode 0600).
        cert: the signer's certificate (PEM).
        fingerprint: SHA-256 (hex) of the signer certificate's DER bytes.
    """

    ca_cert: Path
    pkcs12: Path
    key: Path
    cert: Path
    fingerprint: str


def common_name(cert: x509.Certificate) -> str:
    """The subject's common name, or the RFC 4514 subject when it has none."""
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()


def signer_fingerprint(signer: Signer) -> str:
    """SHA-256 (lowercase hex) of the signer certificate's DER bytes, as ``openssl x509 -fingerprint``."""
    return hashlib.sha256(signer.cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "auditkit demo PKI")])


def _key_usage(*, signing: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signing, content_commitment=signing, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=not signing, crl_sign=not signing,
        encipher_only=False, decipher_only=False)


def _demo_pair(name: str, days: int) -> tuple[rsa.RSAPrivateKey, x509.Certificate, x509.Certificate]:
    """A fresh CA key (discarded by the caller) and certificate, and a signer key and certificate."""
    start = datetime.now(timezone.utc) - timedelta(minutes=5)  # tolerate clocks slightly behind
    end = start + timedelta(days=days, minutes=5)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    ca_name = _name(f"{name} demo CA")
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signing=False), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name)).issuer_name(ca_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signing=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING]),
                       critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert, ca_cert


def keygen(out_dir: str | Path, *, name: str, days: int = 365, passphrase: str | None = None,
           overwrite: bool = False) -> GeneratedKeys:
    """Create a demo CA and a signer certificate it issued, and write them to ``out_dir``.

    The CA certificate (``ca.pem``) is self-signed, ``CA:true`` with ``keyCertSign``/``cRLSign``. The
    signer certificate (``signer-cert.pem``) has ``digitalSignature`` and ``nonRepudiation`` (critical)
    and the extended key usages ``emailProtection`` (so ``openssl cms -verify`` accepts it with its
    default S/MIME purpose) and ``documentSigning``. Keys are RSA-3072, certificates SHA-256. The CA's
    private key is never written: nobody can issue another certificate under this CA.

    Args:
        out_dir: folder to write into; created if missing.
        name: the signer's common name (the responsible person or role), non-empty.
        days: validity of both certificates, from now, >= 1.
        passphrase: encrypts ``signer.p12`` and ``signer-key.pem``; ``None`` leaves them unencrypted
            (protected only by their file mode, 0600).
        overwrite: replace existing files instead of refusing.

    Returns:
        The written paths and the signer certificate's fingerprint.

    Raises:
        SigningError: an empty name, ``days`` < 1, or files already there without ``overwrite``.
    """
    if not isinstance(name, str) or not name.strip():
        raise SigningError(f"name must be a non-empty string (the signer's common name), got {name!r}")
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise SigningError(f"days must be an integer >= 1 (certificate validity), got {days!r}")
    out = Path(out_dir)
    paths = GeneratedKeys(out / CA_CERT, out / SIGNER_P12, out / SIGNER_KEY, out / SIGNER_CERT, "")
    existing = [p for p in (paths.ca_cert, paths.pkcs12, paths.key, paths.cert) if p.exists()]
    if existing and not overwrite:
        raise SigningError(f"{existing[0]} already exists: choose another folder or allow overwriting "
                           "(auditkit keygen --force)", path=existing[0])
    key, cert, ca_cert = _demo_pair(name.strip(), days)
    secret = passphrase.encode("utf-8") if passphrase else None
    encryption = (serialization.BestAvailableEncryption(secret) if secret
                  else serialization.NoEncryption())
    p12 = pkcs12.serialize_key_and_certificates(name.strip().encode("utf-8"), key, cert, [ca_cert],
                                                encryption)
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    # _atomic creates its temporary file with mode 0600, which the rename keeps: right for keys.
    _atomic.write_bytes(paths.pkcs12, p12)
    _atomic.write_bytes(paths.key, pem_key)
    for path, certificate in ((paths.ca_cert, ca_cert), (paths.cert, cert)):
        _atomic.write_bytes(path, certificate.public_bytes(serialization.Encoding.PEM))
        os.chmod(path, 0o644)
    fingerprint = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    return GeneratedKeys(paths.ca_cert, paths.pkcs12, paths.key, paths.cert, fingerprint)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KeyLoadError(f"cannot read the {what} {path}: {exc.strerror or exc}", path=path) from exc


def load_certificates(path: str | Path) -> list[x509.Certificate]:
    """Every certificate in a PEM file (one or more blocks) or a DER file.

    Raises:
        KeyLoadError: the file is unreadable or holds no certificate.
    """
    path = Path(path)
    data = _read(path, "certificate file")
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise KeyLoadError(f"{path} holds no readable X.509 certificate (PEM or DER): {exc}",
                           path=path) from exc


def _check_key(key: object, cert: x509.Certificate, path: Path) -> PrivateKey:
    if not isinstance(key, PrivateKey):
        raise KeyLoadError(f"{path}: a {type(key).__name__} cannot sign reports; use an RSA, EC or "
                           "Ed25519/Ed448 key", path=path)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if (key.public_key().public_bytes(serialization.Encoding.DER, spki)
            != cert.public_key().public_bytes(serialization.Encoding.DER, spki)):
        raise KeyLoadError(f"{path}: the private key does not belong to the certificate "
                           f"{cert.subject.rfc4514_string()}", path=path)
    return key


def load_signer(key: str | Path, *, cert: str | Path | None = None, chain: Sequence[str | Path] = (),
                passphrase: str | None = None) -> Signer:
    """Load an operator's key material.

    Two forms: a PKCS#12 file (``cert`` omitted; it holds key, certificate and chain), or a PEM/DER
    private key with its PEM/DER certificate in ``cert``. ``chain`` adds issuing CA certificates to
    either (a file may hold several PEM blocks).

    Args:
        key: PKCS#12 file, or private key file when ``cert`` is given.
        cert: the signer's certificate file, for the key-file form.
        chain: files with the certificates above the signer's, nearest first.
        passphrase: decrypts the PKCS#12 file or the private key; ``None`` for unencrypted ones.

    Raises:
        KeyLoadError: a file is unreadable, the passphrase is wrong or missing, the PKCS#12 file lacks
            a key or certificate, or the key does not belong to the certificate.
    """
    key_path = Path(key)
    data = _read(key_path, "PKCS#12 file" if cert is None else "private key")
    secret = passphrase.encode("utf-8") if passphrase is not None else None
    extra = [c for path in chain for c in load_certificates(path)]
    if cert is None:
        try:
            private, certificate, others = pkcs12.load_key_and_certificates(data, secret)
        except ValueError as exc:
            hint = "wrong passphrase" if secret else "it is encrypted: give its passphrase"
            raise KeyLoadError(f"{key_path} cannot be opened as PKCS#12 ({hint}, or not a PKCS#12 "
                               f"file): {exc}", path=key_path) from exc
        if private is None or certificate is None:
            raise KeyLoadError(f"{key_path} must hold a private key and its certificate", path=key_path)
        return Signer(_check_key(private, certificate, key_path), certificate, tuple(others) + tuple(extra))
    try:
        if b"-----BEGIN" in data:
            private = serialization.load_pem_private_key(data, secret)
        else:
            private = serialization.load_der_private_key(data, secret)
    except TypeError as exc:  # encrypted without a passphrase, or a passphrase for a plain key
        raise KeyLoadError(f"{key_path}: {exc}", path=key_path) from exc
    except ValueError as exc:
        hint = "wrong passphrase, or " if secret else ""
        raise KeyLoadError(f"{key_path} cannot be loaded as a private key ({hint}not a PEM/DER key): "
                           f"{exc}", path=key_path) from exc
    certificates = load_certificates(cert)
    return Signer(_check_key(private, certificates[0], key_path), certificates[0],
                  tuple(certificates[1:]) + tuple(extra))
