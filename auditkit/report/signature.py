"""Who signs the report, on page one: read from the signer's certificate before the PDF is signed.

``auditkit run --sign-key`` loads the key material first, renders the report with these facts and
then signs the PDF with the same key (:func:`auditkit.signing.sign_report`), so the page names the
certificate that the PAdES signature carries. The exact signing time is the signature's own;
``auditkit verify`` prints it.
"""

from __future__ import annotations

from datetime import datetime

from auditkit.signing.keys import Signer, common_name, signer_fingerprint

PDF_NAME = "report.pdf"
"""The file a verifier checks; the one-liner names it."""


def _day(moment: datetime) -> str:
    return f"{moment.day} {moment:%B %Y}"


def signature_facts(signer: Signer | None) -> dict[str, str] | None:
    """Page one's signature block for ``signer``; None for an unsigned report.

    Returns:
        ``name`` (the subject's common name), ``subject`` (RFC 4514), ``issuer`` (RFC 4514),
        ``fingerprint`` (SHA-256 of the certificate's DER bytes, hex, as ``openssl x509 -fingerprint
        -sha256`` prints it without colons), ``valid_until`` (a date) and ``verify`` (the command
        that checks the signatures, with the issuing CA's certificate as the trust anchor).
    """
    if signer is None:
        return None
    cert = signer.cert
    return {
        "name": common_name(cert),
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "fingerprint": signer_fingerprint(signer),
        "valid_until": _day(cert.not_valid_after_utc),
        "verify": f"auditkit verify {PDF_NAME} --trust CA.pem",
    }
