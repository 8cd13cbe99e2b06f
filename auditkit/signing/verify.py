"""Verify a signed report: the PAdES signature of ``report.pdf`` and the ``.p7s`` of the other files.

Trust is explicit. Signatures are checked against the CA certificates the caller names (``--trust``),
never against a ``ca.pem`` lying beside the report (whoever could alter the report could replace it)
nor against the operating system's TLS roots (web-server anchors, not document-signing ones). Without a
trust anchor the signatures are still checked for integrity, but a file whose signature is intact is
reported ``untrusted`` ("integrity ok, signer not checked against a trust anchor"), so the overall
verdict fails until ``--trust`` is given.

Each file gets one :class:`Status`, the first of these checks that fails deciding it:

* ``missing signature``: no signature (no ``.p7s``, a PDF without a signature field), or the file
  itself is absent from the report folder;
* ``invalid``: the ``.p7s`` or the PDF cannot be parsed (a damaged xref, bytes after the ``.p7s``'s
  CMS structure, a PDF ``/Contents`` whose padding after the signature is not zeros or whose hex
  digits are not as the signer wrote them), or its signature cannot be evaluated;
* ``modified``: the signed bytes changed (their digest differs from the signed one);
* ``invalid``: the signature value does not verify with the signer's public key;
* ``appended``: the PDF's signature is intact but does not cover the whole file: an incremental
  update was appended after signing (pyHanko's ``coverage`` is not ``ENTIRE_FILE``, even for updates
  its diff policy would allow, such as a later DSS or annotation);
* ``invalid``: the signature timestamp does not verify;
* ``untrusted``: the signer's (or the TSA's) chain does not lead to a trust anchor, none was given,
  or the certificate is expired, revoked or lacks the non-repudiation key usage pyHanko requires;
* ``invalid``: pyHanko's overall verdict (``bottom_line``) is negative for another reason, or the
  unsigned parts of the CMS structure look altered: a certificate that is not byte for byte the
  signer's or one of its validated chain, ``digestAlgorithms`` other than the signer's;
* ``not of this dossier``: (a folder only) the signature is intact, but ``report.html`` or results.json
  is not byte for byte the copy ``report.pdf`` embeds (each file validly signed, but by different
  audits), or the policy ``report.pdf`` embeds is not the one results.json names;
* ``ok``: intact, valid, trusted and (PDF) covering the whole file. A PDF with several signatures
  needs every one to pass and the newest to cover the whole file.

A kept dossier (``<out>/audits/<id>-<digest>/``) of an audit with a deployed checkpoint also holds
the k fold checkpoints in ``folds/``; signed only through the SHA-256 its results.json names for each
(``decisions.fold_checkpoints``), each is held to it (:func:`kept_checkpoints`): ``ok``, ``modified``
or ``missing file``. A folder without ``folds/`` (the top of an out folder, an older audit) has none
to check.

A dossier is one audit: results.json (with its ``created`` time, policy digest and ``history`` stamp,
the audit's place in the history's hash chain) and ``report.html`` are embedded in the signed PDF, so
the detached files must be those copies. Another audit's whole dossier signed by the same key
verifies as well, so the report names the audit it verified (:class:`AuditIdentity`: number, policy,
time); ``auditkit verify`` also holds it to the history beside it. A malformed file is a verdict
(``invalid`` with the reason), never an exception: whatever pyHanko or asn1crypto raise while
parsing one is caught.

Validation is offline (``allow_fetching=False``) and at the current time: no OCSP response or CRL is
fetched and revocation is not checked (pyHanko's soft-fail mode without revocation information); the
DSS of a B-LT PDF is not consulted (as auditkit signs it holds certificates only, see
:mod:`auditkit.signing.pades`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import hashlib
import io
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from asn1crypto import cms as asn1_cms
from asn1crypto import parser as asn1_parser
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.generic_cms import async_validate_detached_cms
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import (
    PdfSignatureStatus,
    SignatureCoverageLevel,
    StandardCMSSignatureStatus,
)
from pyhanko_certvalidator import ValidationContext

from auditkit.results import AuditDocument, ResultsError
from auditkit.signing.cms import SUFFIX, signature_path
from auditkit.signing.errors import KeyLoadError, VerificationInputError
from auditkit.signing.keys import load_certificates
from auditkit.signing.pades import asn1_certificate

REPORT_FILES = ("report.pdf", "report.html", "results.json")
"""The files of a report folder that are verified: the PDF by PAdES, the others by their ``.p7s``."""
EMBEDDED = ("report.html", "results.json")
"""The detached files that must be byte-identical to the copies ``report.pdf`` embeds."""


class Status(str, enum.Enum):
    """The verdict on one file's signature."""

    OK = "ok"
    MODIFIED = "modified"
    APPENDED = "appended"
    UNTRUSTED = "untrusted"
    INVALID = "invalid"
    MISSING = "missing signature"
    FOREIGN = "not of this dossier"
    MISSING_FILE = "missing file"


@dataclass(frozen=True)
class FileVerdict:
    """The signature check of one file.

    Attributes:
        path: the file checked (the signed file, not its ``.p7s``).
        kind: ``"pades"`` (signature inside the PDF), ``"cms"`` (detached ``.p7s``) or ``"sha256"``
            (a file whose digest the signed results.json names).
        status: the verdict.
        reason: one line saying why.
        signer: common name of the signing certificate, when a signature could be read.
        signer_fingerprint: SHA-256 (hex) of the signing certificate's DER bytes.
        signed_at: ISO 8601 signing time: the timestamp's when timestamped, else the one the signer
            claims.
        timestamped: whether an RFC 3161 signature timestamp is present.
        level: PAdES level found (``B-B``, ``B-T``, ``B-LT``); ``None`` for CMS.
    """

    path: Path
    kind: str
    status: Status
    reason: str
    signer: str | None = None
    signer_fingerprint: str | None = None
    signed_at: str | None = None
    timestamped: bool = False
    level: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    def summary(self) -> dict[str, Any]:
        """The verdict as plain JSON values."""
        return {"path": str(self.path), "kind": self.kind, "status": self.status.value,
                "reason": self.reason, "signer": self.signer, "signer_fingerprint": self.signer_fingerprint,
                "signed_at": self.signed_at, "timestamped": self.timestamped, "level": self.level}


@dataclass(frozen=True)
class AuditIdentity:
    """Which audit a verified dossier is: signatures prove who signed it, not that it is the audit
    the reader expects (another audit's dossier signed by the same key verifies too), so ``verify``
    names it.

    Attributes:
        audit_id: its number in the history (results.json's ``history.audit_id``); ``None`` when
            it names none.
        policy: the policy's name; policy_sha256: its SHA-256.
        created: the ISO 8601 time the audit ended (results.json's ``created``).
        history_id: the history database it was recorded in (``None``: not named).
    """

    audit_id: int | None
    policy: str
    policy_sha256: str
    created: str
    history_id: str | None = None

    def text(self) -> str:
        """One line, e.g. ``audit #3 of policy 'digits' (sha256 0a1b2c3d4e5f), created 2026-...``."""
        number = "an audit recorded in no history" if self.audit_id is None else f"audit #{self.audit_id}"
        return (f"{number} of policy '{self.policy}' (sha256 {self.policy_sha256[:12]}), "
                f"created {self.created}")

    def summary(self) -> dict[str, Any]:
        """The identity as plain JSON values."""
        return {"id": self.audit_id, "policy": self.policy, "policy_sha256": self.policy_sha256,
                "created": self.created, "history_id": self.history_id}


@dataclass(frozen=True)
class VerificationReport:
    """The verdicts on every signed file of a report.

    Attributes:
        path: the folder or file given.
        files: one verdict per file, in :data:`REPORT_FILES` order for a folder.
        trust_anchors: SHA-256 fingerprints of the trust anchors used (empty: none given).
        audit: which audit the dossier is, read from the results.json the signed PDF embeds (else
            the results.json file); ``None`` when no readable results.json is at hand.
        whose: what a folder's files are, together: one ``audit``'s (or one ``decision sheet``'s).
        binding: why they are: the signed file that embeds the others.
        checkpoints: the kept fold checkpoints held to their digests (:func:`kept_checkpoints`).
    """

    path: Path
    files: tuple[FileVerdict, ...]
    trust_anchors: tuple[str, ...] = field(default=())
    audit: AuditIdentity | None = None
    checkpoints: tuple[FileVerdict, ...] = field(default=(), kw_only=True)
    whose: str = field(default="audit", kw_only=True)
    binding: str = field(default="report.pdf embeds results.json and report.html", kw_only=True)

    @property
    def bottom_line(self) -> bool:
        """True only when there is at least one file and every file's and checkpoint's status is ``ok``."""
        return bool(self.files) and all(f.ok for f in (*self.files, *self.checkpoints))

    def summary_line(self) -> str:
        """One line for humans: what was checked and the outcome, e.g. ``"OK: 3 of 3 signatures ..."``,
        ``"FAILED: 1 of 3 ... (modified)"``, or without a trust anchor what was and was not checked."""
        good = sum(f.ok for f in self.files)
        dossier = len(self.files) == len(REPORT_FILES)
        kept = f"; {len(self.checkpoints)} kept fold checkpoints as results.json names them" \
            if self.checkpoints else ""
        if self.bottom_line:
            one = f"; the files are one {self.whose}'s ({self.binding})" if dossier else ""
            return (f"OK: {good} of {len(self.files)} signatures valid, trusted and covering their "
                    f"whole file{one}{kept}")
        bad_kept = [f.path.name for f in self.checkpoints if not f.ok]
        if bad_kept:
            return (f"FAILED: kept fold checkpoint(s) {', '.join(bad_kept)} not as results.json names them "
                    "(changed or missing)")
        statuses = {f.status for f in self.files}
        if not self.trust_anchors and statuses == {Status.UNTRUSTED}:
            one = f", the files are one {self.whose}'s" if dossier else ""
            return (f"NOT VERIFIED: checked: {len(self.files)} of {len(self.files)} signatures intact"
                    f"{one}; not checked: who signed (no trust anchor: give --trust CA_CERT)")
        bad = sorted({f.status.value for f in self.files if not f.ok})
        failed = len(self.files) - good
        unchecked = "" if self.trust_anchors else "; signers not checked (no --trust)"
        return f"FAILED: {failed} of {len(self.files)} signature checks failed ({', '.join(bad)}){unchecked}"

    def summary(self) -> dict[str, Any]:
        """The report as plain JSON values (``auditkit verify --json``)."""
        return {"path": str(self.path), "ok": self.bottom_line, "summary": self.summary_line(),
                "audit": None if self.audit is None else self.audit.summary(),
                "trust_anchors": list(self.trust_anchors), "files": [f.summary() for f in self.files],
                "checkpoints": [f.summary() for f in self.checkpoints]}


def _fingerprint_der(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def trust_roots(trust: Iterable[str | Path | x509.Certificate] | None) -> list[x509.Certificate]:
    """The certificates of ``trust`` (files or certificates), loaded.

    Raises:
        VerificationInputError: a trust anchor file cannot be read.
    """
    roots: list[x509.Certificate] = []
    for item in trust or ():
        if isinstance(item, x509.Certificate):
            roots.append(item)
            continue
        try:
            roots.extend(load_certificates(item))
        except KeyLoadError as exc:
            raise VerificationInputError(f"trust anchor: {exc}", path=item) from exc
    return roots


def _context(roots: Sequence[x509.Certificate]) -> ValidationContext:
    """Offline validation against exactly ``roots`` (an empty list trusts nothing, not the OS store)."""
    return ValidationContext(trust_roots=[asn1_certificate(c) for c in roots], allow_fetching=False)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _signer_fields(status: StandardCMSSignatureStatus) -> dict[str, Any]:
    ts = status.timestamp_validity
    cert = status.signing_cert
    return {"signer": cert.subject.native.get("common_name") or cert.subject.human_friendly,
            "signer_fingerprint": _fingerprint_der(cert.dump()),
            "signed_at": _iso(ts.timestamp if ts is not None else status.signer_reported_dt),
            "timestamped": ts is not None}


def _untrusted_reason(status: StandardCMSSignatureStatus, roots: Sequence[x509.Certificate],
                      signer: str) -> str:
    if not roots:
        return (f"integrity ok, signer {signer!r} not checked against a trust anchor: give the CA "
                "certificate to trust (--trust CA_CERT)")
    problem = status.trust_problem_indic
    detail = f" ({problem.name})" if problem is not None else ""
    return f"signer {signer!r} does not validate against the given trust anchor(s){detail}"


def _unsigned_part_problem(status: StandardCMSSignatureStatus, signed: asn1_cms.SignedData) -> str:
    """Why the parts of the CMS structure the signature does not cover look altered; ``""`` if not.

    Checked: the certificates carried are the signer's or, byte for byte, its validated chain (the
    trust anchor included; not checked without one), and ``digestAlgorithms`` lists exactly the
    signer's digest algorithm. Other unsigned bytes of a PDF's ``/Contents`` are left to
    ``verify --strict`` (the recorded digest of the whole file).
    """
    path = status.validation_path
    if path is not None:
        known = {status.signing_cert.dump(), *(c.dump() for c in path.iter_certs(include_root=True))}
        if any(choice.chosen.dump() not in known for choice in signed["certificates"] or ()):
            return "carries a certificate that is not on the signer's validated chain (an altered or " \
                   "added copy)"
    listed = {algorithm["algorithm"].native for algorithm in signed["digest_algorithms"]}
    used = {info["digest_algorithm"]["algorithm"].native for info in signed["signer_infos"]}
    if listed != used:
        return f"lists digest algorithms {sorted(listed)}, but its signer uses {sorted(used)}"
    return ""


def _judge(status: StandardCMSSignatureStatus, roots: Sequence[x509.Certificate], what: str,
           whole_file: bool | None, signed: asn1_cms.SignedData) -> tuple[Status, str]:
    """Status and reason from a pyHanko status; ``whole_file`` is None for CMS (no coverage)."""
    signer = _signer_fields(status)["signer"]
    if not status.intact:
        return Status.MODIFIED, f"{what} changed after signing: its digest differs from the signed one"
    if not status.valid:
        return Status.INVALID, f"the signature value of {what} does not verify with the signer's key"
    if whole_file is False:
        level = getattr(status, "modification_level", None)
        detail = f"; pyHanko modification level {level.name}" if level is not None else ""
        return Status.APPENDED, f"content was appended to {what} after signing (incremental update{detail})"
    ts = status.timestamp_validity
    if ts is not None and not (ts.intact and ts.valid):
        return Status.INVALID, f"the signature timestamp of {what} does not verify"
    if not status.trusted or (ts is not None and not ts.trusted):
        if status.trusted:
            return Status.UNTRUSTED, ("the timestamp authority does not validate against the given "
                                      "trust anchor(s)")
        return Status.UNTRUSTED, _untrusted_reason(status, roots, signer)
    if not status.bottom_line:
        return Status.INVALID, f"pyHanko rejects the signature of {what}: {status.summary()}"
    problem = _unsigned_part_problem(status, signed)
    if problem:
        return Status.INVALID, f"the signature of {what} {problem}"
    return Status.OK, f"signed by {signer!r}: intact, valid, trusted" + (
        ", covers the whole file" if whole_file else "")


def quiet_pyhanko() -> None:
    """Keep pyHanko's loggers off stderr (Python's last-resort handler): it logs problems it caught,
    with tracebacks, that the verdicts already give in one line. A handler the caller configures
    still receives them. Called by every verification, so the CLI and a notebook behave alike."""
    for name in ("pyhanko", "pyhanko_certvalidator"):
        logger = logging.getLogger(name)
        if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            logger.addHandler(logging.NullHandler())


def _pades_level(reader: PdfFileReader, timestamped: bool) -> str:
    if not timestamped:
        return "B-B"
    return "B-LT" if "/DSS" in reader.root else "B-T"


def _der_length(data: bytes) -> int:
    """How many bytes the DER element at the start of ``data`` spans (header, content, trailer)."""
    _, _, _, header, content, trailer = asn1_parser.parse(data)
    return len(header) + len(content) + len(trailer)


def _contents_problem(embedded: EmbeddedPdfSignature, data: bytes) -> str:
    """Why the signature's ``/Contents`` is not exactly what a signer writes; ``""`` when it is.

    The bytes between the two ``/ByteRange`` segments are outside the signed digest, so they are
    checked here: one hex string, ``<`` the CMS structure then zero padding ``>``, in one letter case
    (pyHanko writes upper case). Anything else (a changed padding digit, a flipped letter case) would
    alter the file without touching what is signed.
    """
    content = embedded.pkcs7_content
    used = _der_length(content)
    if content[used:].strip(b"\0"):
        return "the padding after the CMS signature in /Contents is not zeros"
    byte_range = list(embedded.byte_range)
    if len(byte_range) == 4 and byte_range[0] == 0:
        gap = data[byte_range[1]:byte_range[2]]
        digits = content.hex().encode("ascii")
        if gap not in (b"<" + digits.upper() + b">", b"<" + digits + b">"):
            return "the /Contents hex string between the signed byte ranges is not as a signer writes it"
    return ""


def verify_pdf(path: Path, roots: Sequence[x509.Certificate]) -> FileVerdict:
    """The verdict on the PAdES signature(s) of the PDF at ``path`` (see the module's status order)."""
    quiet_pyhanko()
    try:
        data = path.read_bytes()
        reader = PdfFileReader(io.BytesIO(data), strict=True)  # a damaged xref is not repaired
        signatures = reader.embedded_regular_signatures
    except Exception as exc:  # a damaged file is a verdict, whatever the parser raises
        return FileVerdict(path, "pades", Status.INVALID,
                           f"{path.name} cannot be read as a PDF: {_exc_text(exc)}")
    if not signatures:
        return FileVerdict(path, "pades", Status.MISSING, f"{path.name} carries no PDF signature")
    verdicts: list[FileVerdict] = []
    for index, embedded in enumerate(signatures):
        try:
            problem = _contents_problem(embedded, data)
            status: PdfSignatureStatus = validate_pdf_signature(embedded, _context(roots))
            last = index == len(signatures) - 1
            whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE if last else None
            verdict_status, reason = _judge(status, roots, path.name, whole, embedded.signed_data)
            fields = _signer_fields(status)
            level = _pades_level(reader, fields["timestamped"])
        except Exception as exc:  # as above
            return FileVerdict(path, "pades", Status.INVALID,
                               f"signature {embedded.field_name!r} of {path.name} cannot be validated: "
                               f"{_exc_text(exc)}")
        if problem:
            return FileVerdict(path, "pades", Status.INVALID,
                               f"signature {embedded.field_name!r} of {path.name}: {problem}", **fields)
        verdicts.append(FileVerdict(path, "pades", verdict_status, reason, **fields, level=level))
        if not verdicts[-1].ok:
            break
    return verdicts[-1]


def _exc_text(exc: BaseException) -> str:
    """``exc`` in one line: its message, or its type when the message is empty."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def verify_detached(data: bytes, signature: bytes, roots: Sequence[x509.Certificate], *, path: Path,
                    what: str, signature_name: str) -> FileVerdict:
    """The verdict on the detached CMS ``signature`` (DER) over ``data``.

    The signature must be exactly one DER ``ContentInfo`` of type signed-data without encapsulated
    content: trailing bytes make it ``invalid``.

    Args:
        path: the file the verdict is about (the signed file, or the database of a history row).
        what: how reasons name the signed data, e.g. ``"results.json"``.
        signature_name: how reasons name the signature, e.g. ``"results.json.p7s"``.
    """
    quiet_pyhanko()
    try:
        info = asn1_cms.ContentInfo.load(signature, strict=True)
        if info["content_type"].native != "signed_data":
            raise ValueError(f"content type is {info['content_type'].native}, not signed_data")
        signed = info["content"]
        if signed["encap_content_info"]["content"].native is not None:
            raise ValueError("the signature is not detached (it encapsulates content)")
        status = asyncio.run(async_validate_detached_cms(data, signed,
                                                         signer_validation_context=_context(roots)))
        verdict_status, reason = _judge(status, roots, what, None, signed)
        fields = _signer_fields(status)
    except Exception as exc:  # a damaged signature is a verdict, whatever is raised
        return FileVerdict(path, "cms", Status.INVALID,
                           f"{signature_name} cannot be read as a CMS signature: {_exc_text(exc)}")
    return FileVerdict(path, "cms", verdict_status, reason, **fields)


def verify_cms(path: Path, roots: Sequence[x509.Certificate]) -> FileVerdict:
    """The verdict on ``path`` against its detached signature ``path.p7s``."""
    sig_path = signature_path(path)
    if not sig_path.is_file():
        return FileVerdict(path, "cms", Status.MISSING,
                           f"{sig_path.name} is absent: {path.name} is not signed")
    try:
        data, signature = path.read_bytes(), sig_path.read_bytes()
    except OSError as exc:
        return FileVerdict(path, "cms", Status.INVALID, f"{path.name} or {sig_path.name} cannot be read: "
                                                        f"{exc.strerror or exc}")
    return verify_detached(data, signature, roots, path=path, what=path.name, signature_name=sig_path.name)


def embedded_files(pdf: Path) -> dict[str, bytes] | None:
    """Name -> bytes of every file embedded in the PDF at ``pdf``; ``None`` when it cannot be read."""
    try:
        root = PdfFileReader(io.BytesIO(pdf.read_bytes()), strict=False).root
        names = root["/Names"]["/EmbeddedFiles"]["/Names"]
        found = {}
        for index in range(0, len(names), 2):
            spec = names[index + 1]
            found[str(spec["/UF"] if "/UF" in spec else spec["/F"])] = spec["/EF"]["/F"].data
        return found
    except Exception:  # no readable dossier; the PDF's own verdict says why
        return None


def _document(data: bytes) -> AuditDocument | None:
    """The results.json ``data`` read; ``None`` when it is no document of a schema this auditkit reads."""
    try:
        return AuditDocument.from_json(data)
    except ResultsError:
        return None


def _stamp(data: bytes) -> str:
    """What identifies the audit of a results.json, for a reason: created time, policy, history place."""
    try:
        results = json.loads(data)
        history = results.get("history") or {}
        place = f", audit #{history['audit_id']}" if "audit_id" in history else ""
        return f"created {results.get('created')}, policy sha256 " \
               f"{str((results.get('policy') or {}).get('sha256'))[:12]}{place}"
    except (ValueError, AttributeError, TypeError):
        return "not a readable results.json"


def audit_identity(path: Path) -> AuditIdentity | None:
    """Which audit the report folder or file ``path`` is: from the results.json ``report.pdf``
    embeds (what its signature covers), else from the results.json file; ``None`` when neither
    reads."""
    folder = path if path.is_dir() else path.parent
    pdf = path if path.suffix.lower() == ".pdf" else folder / "report.pdf"
    data = (embedded_files(pdf) or {}).get("results.json") if pdf.is_file() else None
    if data is None and (path.is_dir() or path.name in (*EMBEDDED, "results.json" + SUFFIX)):
        try:
            data = (folder / "results.json").read_bytes()
        except OSError:
            return None
    document = None if data is None else _document(data)
    if document is None:
        return None
    link = document.history
    return AuditIdentity(None if link is None else link.audit_id, document.policy.name,
                         document.policy.sha256, document.created,
                         None if link is None else link.history_id)


def _dossier_verdicts(verdicts: list[FileVerdict]) -> list[FileVerdict]:
    """``verdicts`` (in :data:`REPORT_FILES` order) with the files that are not the copies the
    signed PDF embeds marked ``not of this dossier``."""
    pdf = verdicts[0]
    if pdf.status in (Status.MISSING, Status.INVALID):
        return verdicts
    embedded = embedded_files(pdf.path)
    if embedded is None:
        return verdicts
    out = list(verdicts)
    results = embedded.get("results.json")
    document = None if results is None or not pdf.ok else _document(results)
    if document is not None:
        policy_copy = embedded.get(Path(document.policy.path).name)
        if policy_copy is not None and hashlib.sha256(policy_copy).hexdigest() != document.policy.sha256:
            out[0] = dataclasses.replace(pdf, status=Status.FOREIGN, reason=(
                f"{pdf.path.name} embeds a policy whose SHA-256 is not the one its results.json names"))
    for index, verdict in enumerate(verdicts):
        name = verdict.path.name
        if name not in EMBEDDED or verdict.status not in (Status.OK, Status.UNTRUSTED):
            continue
        copy = embedded.get(name)
        if copy is None:
            reason = f"{pdf.path.name} embeds no {name}: nothing ties {name} to it"
        else:
            detached = verdict.path.read_bytes()
            if detached == copy:
                continue
            reason = f"{name} is not the copy {pdf.path.name} embeds: both are signed, but by different " \
                     "audits"
            if name == "results.json":
                reason += f" ({name}: {_stamp(detached)}; embedded: {_stamp(copy)})"
        out[index] = dataclasses.replace(verdict, status=Status.FOREIGN, reason=reason)
    return out


def kept_checkpoints(folder: Path) -> tuple[FileVerdict, ...]:
    """The fold checkpoints the results.json of the dossier ``folder`` names
    (``decisions.fold_checkpoints``), each held to the SHA-256 named there; none when it names none
    or none of their folders is there (the top of an out folder, an audit from before they were kept).
    """
    try:
        document = _document((folder / "results.json").read_bytes())
    except OSError:
        return ()
    named = () if document is None or document.decisions is None else document.decisions.fold_checkpoints
    if not any((folder / c.file).parent.is_dir() for c in named if _inside(c.file)):
        return ()
    return tuple(_digest_verdict(folder, c.file, c.sha256) for c in named)


def _inside(name: str) -> bool:
    """Whether ``name`` is a relative path that stays inside its folder."""
    path = Path(name)
    return bool(path.parts) and not path.is_absolute() and ".." not in path.parts


def _digest_verdict(folder: Path, name: str, sha256: str) -> FileVerdict:
    """``name`` (relative to ``folder``) held to ``sha256``."""
    path = folder / name
    if not _inside(name):
        return FileVerdict(path, "sha256", Status.INVALID, f"results.json names {name!r}, outside its folder")
    try:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        return FileVerdict(path, "sha256", Status.MISSING_FILE, f"{name} is absent; results.json names it")
    except OSError as exc:
        return FileVerdict(path, "sha256", Status.INVALID, f"{name} cannot be read: {exc.strerror or exc}")
    if digest.hexdigest() != sha256:
        return FileVerdict(path, "sha256", Status.MODIFIED, f"{name} was changed: sha256 "
                           f"{digest.hexdigest()[:16]}..., results.json names {sha256[:16]}...")
    return FileVerdict(path, "sha256", Status.OK, f"{name} has the SHA-256 results.json names")


def _verify_file(path: Path, roots: Sequence[x509.Certificate]) -> FileVerdict:
    if path.suffix.lower() == ".pdf":
        return verify_pdf(path, roots)
    return verify_cms(path, roots)


def verify_report(path: str | Path, trust: Iterable[str | Path | x509.Certificate] | None = None
                  ) -> VerificationReport:
    """Verify the signatures of a report folder or of one file.

    A folder is checked for every file of :data:`REPORT_FILES`: ``report.pdf`` by its embedded PAdES
    signature, ``report.html`` and ``results.json`` by their detached ``.p7s`` and against the copies
    the PDF embeds (``not of this dossier`` when they differ); a file of the list that is absent is
    ``missing signature``. A single file is checked by its kind: a ``.pdf`` by PAdES, a
    ``.p7s`` as the signature of the file it names, any other file by its ``.p7s``.

    Args:
        path: a report folder (``auditkit run --out``) or one file of it.
        trust: CA certificate files (PEM, may hold several, or DER) or certificates to trust; ``None``
            or empty checks integrity only and reports intact signatures ``untrusted`` (see the module).

    Returns:
        The verdicts; :attr:`VerificationReport.bottom_line` is the overall answer.

    Raises:
        VerificationInputError: ``path`` does not exist, a folder holds none of the report files, or a
            trust anchor cannot be read.
    """
    path = Path(path)
    roots = trust_roots(trust)
    anchors = tuple(_fingerprint_der(c.public_bytes(Encoding.DER)) for c in roots)
    if path.is_dir():
        if not any((path / name).exists() for name in REPORT_FILES):
            raise VerificationInputError(f"{path} holds none of {', '.join(REPORT_FILES)}: give the out "
                                         "folder of `auditkit run` or one of its files", path=path)
        verdicts = [
            _verify_file(path / name, roots) if (path / name).is_file()
            else FileVerdict(path / name, "pades" if name.endswith(".pdf") else "cms", Status.MISSING,
                             f"{name} is absent from the report folder")
            for name in REPORT_FILES]
        return VerificationReport(path, tuple(_dossier_verdicts(verdicts)), anchors, audit_identity(path),
                                  checkpoints=kept_checkpoints(path))
    if not path.is_file():
        raise VerificationInputError(f"{path} does not exist: give a report folder or one of its files",
                                     path=path)
    if path.name.endswith(SUFFIX):
        content = path.with_name(path.name[: -len(SUFFIX)])
        if not content.is_file():
            raise VerificationInputError(f"{content} (the file {path.name} signs) does not exist",
                                         path=content)
        path = content
    return VerificationReport(path, (_verify_file(path, roots),), anchors, audit_identity(path))

