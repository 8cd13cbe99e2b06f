"""Sign a report folder: PAdES inside ``report.pdf``, detached CMS beside ``report.html`` and results.json."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from pyhanko.sign.timestamps import TimeStamper

from auditkit import _atomic
from auditkit.signing.cms import sign_detached, signature_path
from auditkit.signing.errors import SigningError
from auditkit.signing.keys import Signer, signer_fingerprint
from auditkit.signing.pades import sign_pdf_bytes

PDF = "report.pdf"
DETACHED = ("report.html", "results.json")
"""The files signed by a ``.p7s`` beside them (the PDF also embeds them; see auditkit.report.pdf)."""


def remove_signatures(out_dir: str | Path) -> list[Path]:
    """Delete the detached signatures at the top of ``out_dir``, before a run writes new content that
    they do not sign (kept dossiers keep theirs); return the deleted paths."""
    removed = []
    for name in DETACHED:
        path = signature_path(Path(out_dir) / name)
        if path.is_file() or path.is_symlink():
            path.unlink()
            removed.append(path)
    return removed


@dataclass(frozen=True)
class SignedReport:
    """What :func:`sign_report` wrote.

    Attributes:
        pdf: the signed PDF.
        signatures: the ``.p7s`` files, in :data:`DETACHED` order.
        level: the PAdES level of the PDF's signature.
        signer_fingerprint: SHA-256 (hex) of the signer certificate's DER bytes.
        signer: the key material that signed, so the run's history row can be signed with it too.
    """

    pdf: Path
    signatures: tuple[Path, ...]
    level: str
    signer_fingerprint: str
    signer: Signer | None = field(default=None, repr=False, compare=False)


def sign_report(out_dir: str | Path, signer: Signer, *, level: str | None = None, tsa_url: str | None = None,
                timestamper: TimeStamper | None = None,
                extra_roots: Sequence[x509.Certificate] = ()) -> SignedReport:
    """Sign the report in ``out_dir``: ``report.pdf`` with PAdES, ``report.html`` and results.json with
    detached CMS signatures (``.p7s``, DER).

    Everything is signed in memory first, then each file is replaced atomically; a failure while
    signing (e.g. the timestamp authority is down) leaves every file as it was.

    Args:
        out_dir: an audit's out folder holding the rendered, unsigned report.
        signer: key material (:func:`auditkit.signing.load_signer`).
        level: PAdES level, ``B-B``, ``B-T`` or ``B-LT`` (:mod:`auditkit.signing.pades`); ``None``
            picks B-T when a timestamp authority is given, else B-B.
        tsa_url: RFC 3161 timestamp authority URL, needed for B-T and B-LT.
        timestamper: a pyHanko timestamper to use instead of ``tsa_url`` (offline tests).
        extra_roots: for B-LT, trust roots besides the signer chain's own root, against which the
            certificates are validated before signing: the TSA's root CA.

    Raises:
        SigningError: a report file is missing or unreadable, the PDF is already signed, the level
            and timestamp arguments disagree, or signing fails.
    """
    out = Path(out_dir)
    contents: dict[Path, bytes] = {}
    for name in (PDF, *DETACHED):
        path = out / name
        try:
            contents[path] = path.read_bytes()
        except OSError as exc:
            raise SigningError(f"cannot read {path} to sign it ({exc.strerror or exc}): render the report "
                               "first (auditkit run)", path=path) from exc
    pdf = out / PDF
    try:
        signed_pdf, used = sign_pdf_bytes(contents[pdf], signer, level=level, tsa_url=tsa_url,
                                          timestamper=timestamper, extra_roots=extra_roots)
    except SigningError as exc:
        raise SigningError(f"{pdf}: {exc}", path=pdf) from exc
    detached = {signature_path(out / name): sign_detached(contents[out / name], signer) for name in DETACHED}
    _atomic.write_bytes(pdf, signed_pdf)
    for path, der in detached.items():
        _atomic.write_bytes(path, der)
    return SignedReport(pdf, tuple(detached), used, signer_fingerprint(signer), signer)
