"""Signing and verification of the compliance report (EU AI Act Annex IV 2(g): "dated and signed").

``report.pdf`` (PDF/A-3b embedding results.json, the policy and report.html) carries a PAdES signature
(:mod:`auditkit.signing.pades`); ``report.html`` and results.json get detached CMS signatures
(:mod:`auditkit.signing.cms`) that plain ``openssl cms -verify`` checks. :func:`verify_report` checks
them all offline against explicitly given trust anchors (:mod:`auditkit.signing.verify`).
"""

from auditkit._imports import quiet_imports

with quiet_imports():  # pyHanko's import warns (cryptography 51: DSA deprecated); logged, not shown
    import pyhanko.sign  # noqa: F401

from auditkit.signing.errors import KeyLoadError, SigningError, VerificationInputError
from auditkit.signing.keys import GeneratedKeys, Signer, keygen, load_signer, signer_fingerprint
from auditkit.signing.pades import LEVELS
from auditkit.signing.sign import SignedReport, sign_report
from auditkit.signing.verify import FileVerdict, Status, VerificationReport, verify_report

__all__ = [
    "LEVELS",
    "FileVerdict",
    "GeneratedKeys",
    "KeyLoadError",
    "SignedReport",
    "Signer",
    "SigningError",
    "Status",
    "VerificationInputError",
    "VerificationReport",
    "keygen",
    "load_signer",
    "sign_report",
    "signer_fingerprint",
    "verify_report",
]
