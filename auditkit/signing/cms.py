"""Detached CMS signatures (``FILE.p7s``, DER) over the exact bytes of a report file.

The signature is an RFC 5652 SignedData without encapsulated content, SHA-256, with the signer's
certificate and chain embedded, made in binary mode (no S/MIME line-ending canonicalisation). Any CMS
tool checks it, e.g.::

    openssl cms -verify -binary -inform DER -in results.json.p7s -content results.json \\
        -CAfile ca.pem -purpose any -out /dev/null
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from auditkit import _atomic
from auditkit.signing.errors import SigningError
from auditkit.signing.keys import Signer

SUFFIX = ".p7s"


def signature_path(path: str | Path) -> Path:
    """Where the detached signature of ``path`` lives: ``path`` with ``.p7s`` appended.

    >>> signature_path("out/results.json").as_posix()
    'out/results.json.p7s'
    """
    path = Path(path)
    return path.with_name(path.name + SUFFIX)


def sign_detached(data: bytes, signer: Signer) -> bytes:
    """The DER-encoded detached CMS signature of ``data`` by ``signer``.

    Raises:
        SigningError: the key is neither RSA nor EC (the only kinds CMS signing supports here).
    """
    if not isinstance(signer.key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise SigningError(f"detached CMS signatures need an RSA or EC key, got {type(signer.key).__name__}")
    builder = pkcs7.PKCS7SignatureBuilder().set_data(data).add_signer(signer.cert, signer.key,
                                                                      hashes.SHA256())
    for cert in signer.chain:
        builder = builder.add_certificate(cert)
    options = [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]
    return builder.sign(serialization.Encoding.DER, options)


def write_detached(path: str | Path, signer: Signer) -> Path:
    """Sign the bytes of ``path`` and write ``path.p7s`` atomically; returns the signature's path.

    Raises:
        SigningError: ``path`` cannot be read, or the key cannot make CMS signatures.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningError(f"cannot read {path} to sign it: {exc.strerror or exc}", path=path) from exc
    target = signature_path(path)
    _atomic.write_bytes(target, sign_detached(data, signer))
    return target
