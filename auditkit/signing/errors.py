"""The errors of :mod:`auditkit.signing`: key material, signing and verification input.

A signature that fails verification is not an error: it is a verdict
(:class:`auditkit.signing.verify.VerificationReport`). These are raised when there is nothing to judge:
a key that cannot be loaded, a report that cannot be signed, a path or trust anchor that cannot be read.
"""

from __future__ import annotations

from pathlib import Path

from auditkit.errors import AuditError


class SigningError(AuditError, ValueError):
    """A report cannot be signed: a missing file, an unknown PAdES level, a failed timestamp request.

    Attributes:
        path: the file at fault, or ``None`` when the problem is an argument.
    """

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        super().__init__(message)
        self.path = None if path is None else Path(path)


class KeyLoadError(SigningError):
    """Key material cannot be loaded: unreadable file, wrong passphrase, key and certificate that differ.

    Attributes:
        path: the key, certificate or PKCS#12 file at fault.
    """


class VerificationInputError(AuditError, ValueError):
    """Nothing to verify: a path that does not exist or holds no report file, an unreadable trust anchor.

    Attributes:
        path: the path at fault.
    """

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        super().__init__(message)
        self.path = None if path is None else Path(path)
