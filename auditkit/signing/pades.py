"""PAdES signatures (ETSI EN 319 142-1) on ``report.pdf``, with pyHanko, in one incremental update.

Levels:

* ``B-B``: the signer's certificate and chain in a CMS signature (subfilter ``ETSI.CAdES.detached``).
* ``B-T``: B-B plus an RFC 3161 signature timestamp from a timestamp authority (TSA), proving the
  signature existed at that time.
* ``B-LT``: B-T plus validation material in the document security store (DSS), so the signature can
  be checked after the certificates expire. auditkit signs offline: pyHanko validates the signer's and
  the TSA's certificates against the chain's own root (plus ``extra_roots``) with fetching disallowed
  (``allow_fetching=False``), so the DSS holds the certificates (signer, its CAs, the TSA) and no OCSP
  response or CRL. That is all there is for the demo CA of :func:`auditkit.signing.keygen`, which
  publishes no revocation information; for a PKI that does, it is no revocation evidence. The DSS is
  written in the signature's own revision (no VRI entries), so the signature still covers the whole
  file.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.keys.internal import translate_pyca_cryptography_key_to_asn1
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.signers.pdf_signer import DSSContentSettings, SigDSSPlacementPreference
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import PathError, ValidationError
from pyhanko_certvalidator.registry import SimpleCertificateStore

from auditkit import _atomic
from auditkit.signing.errors import SigningError
from auditkit.signing.keys import Signer

LEVELS = ("B-B", "B-T", "B-LT")
"""PAdES baseline levels auditkit signs at."""
FIELD_NAME = "auditkit-signature"
"""Name of the (invisible) signature field."""
REASON = "auditkit compliance report"


def asn1_certificate(cert: x509.Certificate) -> asn1_x509.Certificate:
    """``cert`` as the asn1crypto object pyHanko works with."""
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def pyhanko_signer(signer: Signer) -> signers.SimpleSigner:
    """``signer`` as a pyHanko in-memory signer, its chain registered for embedding."""
    registry = SimpleCertificateStore()
    registry.register_multiple([asn1_certificate(c) for c in signer.chain])
    return signers.SimpleSigner(signing_cert=asn1_certificate(signer.cert),
                                signing_key=translate_pyca_cryptography_key_to_asn1(signer.key),
                                cert_registry=registry)


def resolve_level(level: str | None, timestamped: bool) -> str:
    """The level to sign at: ``level``, or B-T with a timestamper and B-B without when it is ``None``.

    >>> resolve_level(None, False), resolve_level(None, True), resolve_level("B-LT", True)
    ('B-B', 'B-T', 'B-LT')

    Raises:
        SigningError: an unknown level, B-T/B-LT without a timestamp authority, B-B with one.
    """
    if level is None:
        return "B-T" if timestamped else "B-B"
    if level not in LEVELS:
        raise SigningError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    if level != "B-B" and not timestamped:
        raise SigningError(f"PAdES {level} needs a signature timestamp: give a timestamp authority URL "
                           "(--tsa URL)")
    if level == "B-B" and timestamped:
        raise SigningError("PAdES B-B carries no timestamp: drop the timestamp authority or sign at B-T")
    return level


def _validation_context(signer: Signer, extra_roots: Sequence[x509.Certificate]) -> ValidationContext:
    roots = [c for c in signer.chain if c.issuer == c.subject] + list(extra_roots)
    if not roots:
        raise SigningError("PAdES B-LT embeds the validation material of the whole chain: give the root "
                           "CA certificate with the chain (--sign-chain)")
    return ValidationContext(trust_roots=[asn1_certificate(c) for c in roots],
                             other_certs=[asn1_certificate(c) for c in signer.chain],
                             allow_fetching=False)


def sign_pdf_bytes(data: bytes, signer: Signer, *, level: str | None = None, tsa_url: str | None = None,
                   timestamper: TimeStamper | None = None, extra_roots: Sequence[x509.Certificate] = (),
                   reason: str = REASON) -> tuple[bytes, str]:
    """The PDF ``data`` with an invisible PAdES signature appended, and the level signed at.

    Args:
        data: an unsigned PDF.
        signer: key material (:func:`auditkit.signing.load_signer`).
        level: one of :data:`LEVELS`; ``None`` picks B-T when a TSA is given, else B-B.
        tsa_url: RFC 3161 timestamp authority, for B-T and B-LT.
        timestamper: a pyHanko timestamper used instead of ``tsa_url`` (tests use pyHanko's
            ``DummyTimeStamper`` to stay offline).
        extra_roots: trust roots besides the self-signed certificates of ``signer.chain`` for B-LT's
            validation before signing; the TSA's root must be among them.
        reason: the signature's ``/Reason``: what the PDF is.

    Raises:
        SigningError: an unreadable PDF or one already signed, a level that does not match the timestamp
            arguments, a failed timestamp request, or a chain that does not validate for B-LT.
    """
    if tsa_url is not None and timestamper is None:
        timestamper = HTTPTimeStamper(tsa_url)
    level = resolve_level(level, timestamper is not None)
    long_term = level == "B-LT"
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME, reason=reason, name=signer.name, md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES, embed_validation_info=long_term,
        validation_context=_validation_context(signer, extra_roots) if long_term else None,
        dss_settings=DSSContentSettings(placement=SigDSSPlacementPreference.TOGETHER_WITH_SIGNATURE,
                                        include_vri=False),
    )
    pdf_signer = signers.PdfSigner(meta, pyhanko_signer(signer), timestamper=timestamper)
    output = io.BytesIO()
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
        if writer.prev.embedded_signatures:
            raise SigningError("the PDF is already signed: render the report again, then sign it")
        pdf_signer.sign_pdf(writer, output=output)
    except TimestampRequestError as exc:
        cause = f" ({exc.__cause__})" if exc.__cause__ else ""
        raise SigningError(f"the timestamp authority did not answer with a timestamp: {exc}{cause}") from exc
    except (ValidationError, PathError) as exc:
        raise SigningError(f"PAdES B-LT validates the signer's and the TSA's certificates before signing, "
                           f"offline, against the chain's root and the extra roots: {exc}") from exc
    except (PyHankoSigningError, PdfError) as exc:
        raise SigningError(f"cannot sign the PDF: {exc}") from exc
    return output.getvalue(), level


def sign_pdf(path: str | Path, signer: Signer, **options: Any) -> str:
    """Sign the PDF at ``path`` in place (:func:`sign_pdf_bytes` with ``options``); returns the level.

    The signed file is built in memory and replaces ``path`` atomically: a failure (bad key, TSA down)
    leaves the unsigned report as it was.

    Raises:
        SigningError: as :func:`sign_pdf_bytes`, with the path.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningError(f"cannot read {path} to sign it: {exc.strerror or exc}", path=path) from exc
    try:
        signed, level = sign_pdf_bytes(data, signer, **options)
    except SigningError as exc:
        raise SigningError(f"{path}: {exc}", path=path) from exc
    _atomic.write_bytes(path, signed)
    return level
