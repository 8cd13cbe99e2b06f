"""A decision sheet as a dossier of its own: written atomically, signed as an audit's report is,
recorded in the history, and verified together with the audit it names.

A sheet is the folder ``<out>/decisions/<decision_id>/``: ``sheet.json`` (the figures),
``sheet.html`` and ``sheet.pdf``, which embeds both, as an audit's report.pdf embeds results.json
and report.html. Signed, ``sheet.pdf`` carries a PAdES signature and ``sheet.json`` and
``sheet.html`` detached CMS signatures (``sheet.json.p7s``, ``sheet.html.p7s``), made by the same
functions that sign an audit (:mod:`auditkit.signing`), so the same tools check them.

- :func:`write_sheet`: the folder appears whole or not at all (built beside it, then renamed into
  place); a folder already holding other bytes is refused, never overwritten.
- :func:`record_sheet`: its row in the history's ``decisions`` table (:mod:`auditkit.history.schema`).
- :func:`verify_sheet`: its signatures, and that the audit it names (by the SHA-256 of its
  results.json, among the kept dossiers ``<out>/audits/*/``) verifies and is the audit its figures
  say: id, history, policy, verdict, report.pdf and deployed checkpoint digests.

Torch-free: the light verifier (``auditkit-verify``) packages this module.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from auditkit import _atomic
from auditkit.errors import AuditError
from auditkit.history.archive import kept_results
from auditkit.history.verify import DECISIONS, RESULTS, SHEET
from auditkit.results import AuditDocument, ResultsError
from auditkit.signing.cms import sign_detached, signature_path
from auditkit.signing.options import SigningOptions, SigningPlan, plan_signing
from auditkit.signing.verify import (
    FileVerdict,
    Status,
    VerificationReport,
    embedded_files,
    trust_roots,
    verify_cms,
    verify_pdf,
    verify_report,
)

KIND = "auditkit-decision-sheet"
"""sheet.json's ``kind``."""
SHEET_HTML, SHEET_PDF = "sheet.html", "sheet.pdf"
SIGNED = (SHEET_PDF, SHEET_HTML, SHEET)
"""The files of a sheet that are signed and verified: the PDF by PAdES, the others by their ``.p7s``."""
EMBEDDED = (SHEET_HTML, SHEET)
"""The files sheet.pdf embeds: the detached copies must be byte for byte these."""
REPORT_PDF = "report.pdf"
"""The audit's file whose SHA-256 a sheet names (``audit.report_sha256``)."""
REASON = "auditkit decision sheet"
"""The ``/Reason`` of sheet.pdf's signature."""


class SheetError(AuditError, ValueError):
    """A sheet cannot be written or recorded as asked: a bad file name, no sheet.json first, a
    sheet.json without the keys of a decision sheet, signing without sheet.pdf.

    Attributes:
        path: the folder or file at fault.
    """

    def __init__(self, message: str, *, path: str | Path) -> None:
        super().__init__(message)
        self.path = Path(path)


class SheetExistsError(AuditError, FileExistsError):
    """The sheet's folder already holds another sheet (other bytes, or other files); nothing was
    written.

    Attributes:
        path: the folder, left as it is.
    """

    def __init__(self, path: str | Path, detail: str) -> None:
        super().__init__(f"{path} holds another decision sheet ({detail}): auditkit never overwrites "
                         "a sheet; give another decision id or move that folder away")
        self.path = Path(path)


@dataclass(frozen=True)
class SheetHead:
    """What the dossier reads of sheet.json: the decision and the audit it names (the contract's
    top-level keys; the whole sheet is the explain command's typed record)."""

    decision_id: str
    created: str
    audit_id: int | None
    history_id: str | None
    results_sha256: str
    report_sha256: str
    policy: str
    verdict: str
    checkpoint_sha256: str

    def text(self) -> str:
        """One line, e.g. ``decision 'd-17' of 2026-..., under audit #3 of policy 'digits' (pass)``."""
        audit = "an audit recorded in no history" if self.audit_id is None else f"audit #{self.audit_id}"
        return (f"decision {self.decision_id!r} of {self.created}, under {audit} of policy "
                f"{self.policy!r} ({self.verdict}), results.json sha256 {self.results_sha256[:16]}...")


def read_head(data: bytes, path: Path) -> SheetHead:
    """The :class:`SheetHead` of the sheet.json ``data`` (read from ``path``).

    Raises:
        SheetError: not JSON, not a decision sheet (``kind``), or a key missing or of another type.
    """
    try:
        sheet = json.loads(data)
        if not isinstance(sheet, dict) or sheet.get("kind") != KIND:
            raise ValueError(f"its kind is not {KIND!r}")
        audit = sheet["audit"]
        head = SheetHead(sheet["decision_id"], sheet["created"], audit["audit_id"], audit["history_id"],
                         audit["results_sha256"], audit["report_sha256"], audit["policy"],
                         audit["verdict"], sheet["checkpoint_sha256"])
    except (ValueError, TypeError, KeyError) as exc:
        what = f"no {exc}" if isinstance(exc, KeyError) else str(exc)
        raise SheetError(f"{path} is not a decision sheet's sheet.json: {what}", path=path) from None
    wrong = [name for name, value, kind in (
        ("decision_id", head.decision_id, str), ("created", head.created, str),
        ("audit.results_sha256", head.results_sha256, str), ("audit.report_sha256", head.report_sha256, str),
        ("audit.policy", head.policy, str), ("audit.verdict", head.verdict, str),
        ("checkpoint_sha256", head.checkpoint_sha256, str),
        ("audit.audit_id", head.audit_id, (int, type(None))),
        ("audit.history_id", head.history_id, (str, type(None)))) if not isinstance(value, kind)]
    if wrong:
        raise SheetError(f"{path} is not a decision sheet's sheet.json: {wrong[0]} is of the wrong type",
                         path=path)
    return head


# Writing ---------------------------------------------------------------------------------------

def write_sheet(folder: str | Path, files: Mapping[str, bytes],
                signing: SigningOptions | SigningPlan | None = None) -> list[Path]:
    """Write the sheet ``files`` (name -> bytes, ``sheet.json`` first) into ``folder``, signed as
    ``signing`` says; return the paths written, in order (the ``.p7s`` last).

    The folder is built beside itself (``.<name>.*.tmp``) and renamed into place, so a reader or a
    crash never sees half a sheet. A folder already holding exactly these files is left as it is
    (an unsigned sheet written again); any other existing folder is refused.

    Args:
        folder: ``<out>/decisions/<decision_id>/``.
        files: plain file names; ``sheet.json`` first, a decision sheet's (:func:`read_head`).
        signing: the key (:class:`SigningOptions`, or a :class:`SigningPlan` loaded once for many
            sheets); ``None`` or no key: unsigned. Signing needs ``sheet.pdf`` and ``sheet.html``.

    Raises:
        SheetError: a bad file name, sheet.json missing or not first or not a sheet's, signing
            without sheet.pdf or sheet.html; SigningError: the key cannot be loaded or sign;
        SheetExistsError: ``folder`` holds another sheet (nothing is written).
    """
    folder = Path(folder)
    contents = _checked(folder, files)
    plan = signing if isinstance(signing, SigningPlan) else \
        None if signing is None else plan_signing(signing)
    if plan is not None:
        contents = _signed(folder, contents, plan)
    _place(folder, contents)
    return [folder / name for name in contents]


def _checked(folder: Path, files: Mapping[str, bytes]) -> dict[str, bytes]:
    names = list(files)
    if not names or names[0] != SHEET:
        raise SheetError(f"{folder}: a sheet's files begin with {SHEET}, got {names[:1] or 'none'}",
                         path=folder)
    for name in names:
        if not isinstance(name, str) or name in ("", ".", "..") or name.startswith(".") or \
                "/" in name or "\\" in name or not name.isprintable():
            raise SheetError(f"{folder}: {name!r} is not a plain file name (no folder, no leading dot, "
                             "no control character)", path=folder)
        if not isinstance(files[name], bytes):
            raise SheetError(f"{folder}: {name} must be bytes, got {type(files[name]).__name__}",
                             path=folder)
    read_head(files[SHEET], folder / SHEET)
    return dict(files)


def _signed(folder: Path, contents: dict[str, bytes], plan: SigningPlan) -> dict[str, bytes]:
    """``contents`` with sheet.pdf signed (PAdES) and the ``.p7s`` of sheet.html and sheet.json
    appended, all in memory (a failure writes nothing)."""
    from auditkit.signing.pades import sign_pdf_bytes

    absent = [name for name in SIGNED if name not in contents]
    if absent:
        raise SheetError(f"{folder}: a signed sheet needs {', '.join(SIGNED)}; {absent[0]} is missing",
                         path=folder)
    pdf, _ = sign_pdf_bytes(contents[SHEET_PDF], plan.signer, level=plan.level, tsa_url=plan.tsa_url,
                            extra_roots=plan.extra_roots, reason=REASON)
    signatures = {signature_path(name).name: sign_detached(contents[name], plan.signer)
                  for name in (SHEET, SHEET_HTML)}
    return {**contents, SHEET_PDF: pdf, **signatures}


def _place(folder: Path, contents: Mapping[str, bytes]) -> None:
    """Build the sheet in a private folder beside ``folder``, then rename it into place; when
    ``folder`` exists, leave it if it holds exactly ``contents``, else refuse."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        for name, data in contents.items():  # sheet.json first
            _atomic.write_bytes(staging / name, data)
        try:
            os.rename(staging, folder)  # onto nothing or an empty folder only
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            _same_sheet(folder, contents)
            return
        _sync(folder.parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _sync(folder: Path) -> None:
    """Make a rename in ``folder`` durable (fsync of the folder), where the platform allows it."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _same_sheet(folder: Path, contents: Mapping[str, bytes]) -> None:
    """Refuse ``folder`` unless it holds exactly the files ``contents``, with their bytes."""
    for path in sorted(folder.iterdir()):
        if path.name not in contents:
            raise SheetExistsError(folder, f"{path.name} is not a file of this sheet")
    for name, data in contents.items():
        path = folder / name
        if not path.is_file():
            raise SheetExistsError(folder, f"{name} is missing")
        if path.read_bytes() != data:
            raise SheetExistsError(folder, f"{name} holds other bytes")


# Recording -------------------------------------------------------------------------------------

def record_sheet(database: str | Path, sheet_json: bytes, folder: str | Path | None = None) -> int:
    """Record the sheet whose sheet.json is ``sheet_json``, written in ``folder`` (default
    ``<database's folder>/decisions/<decision_id>/``), in the history ``database``; return its row.

    The row holds the SHA-256 of every file of the folder. Recording the same sheet again returns
    the same row (a resumed batch). The audit the sheet names must be in this history and store the
    results.json the sheet names.

    Raises:
        SheetError: ``sheet_json`` is not a sheet's, names an audit recorded in no history, or is not
            the sheet.json of ``folder``; HistoryError: no history at ``database``, or it lacks the
            audit, or ``folder`` was recorded with another sheet.
    """
    from auditkit.history.store import HistoryStore

    database = Path(database)
    head = read_head(sheet_json, Path(SHEET))
    folder = Path(folder) if folder is not None else database.parent / DECISIONS / head.decision_id
    if head.audit_id is None:
        raise SheetError(f"decision {head.decision_id!r} names an audit recorded in no history: there "
                         "is no audit to record it under", path=folder)
    try:
        on_disk = (folder / SHEET).read_bytes()
    except OSError as exc:
        raise SheetError(f"{folder / SHEET} cannot be read ({exc.strerror or exc}): write the sheet "
                         "(write_sheet) before recording it", path=folder) from exc
    if on_disk != sheet_json:
        raise SheetError(f"{folder / SHEET} is another sheet.json than the one to record", path=folder)
    files = {path.name: hashlib.sha256(path.read_bytes()).hexdigest()
             for path in sorted(folder.iterdir()) if path.is_file()}
    with HistoryStore.open(database, create=False) as store:
        row = store.record_decision(head.decision_id, head.created, folder, files,
                                    sheet_sha256=files[SHEET], audit_id=head.audit_id,
                                    results_sha256=head.results_sha256, history_id=head.history_id)
    return row.id


# Verifying -------------------------------------------------------------------------------------

def is_sheet(path: str | Path) -> bool:
    """Whether ``path`` is a decision sheet's folder (it holds sheet.json)."""
    return Path(path).is_dir() and (Path(path) / SHEET).is_file()


@dataclass(frozen=True)
class SheetVerification:
    """What :func:`verify_sheet` found.

    Attributes:
        path: the sheet's folder.
        signatures: the verdicts on sheet.pdf, sheet.html and sheet.json.
        head: what sheet.json says (``None``: it does not read as a sheet).
        audit_folder: the audit's dossier the sheet names, where found.
        audit: the verdicts on that dossier's signatures.
        problems: why the audit found is not (or no audit is) the one the sheet names, one line each.
    """

    path: Path
    signatures: VerificationReport
    head: SheetHead | None
    audit_folder: Path | None
    audit: VerificationReport | None
    problems: tuple[str, ...]

    @property
    def bottom_line(self) -> bool:
        """The sheet's signatures verify, and so does the audit it names, which is the one it says."""
        return self.signatures.bottom_line and self.audit is not None and self.audit.bottom_line \
            and not self.problems

    def summary_line(self) -> str:
        """One line: ``OK: ...`` or ``FAILED: ...`` naming what failed."""
        if self.bottom_line:
            return ("OK: the decision sheet's signatures verify, and it names an audit whose dossier "
                    "verifies and is the one its figures say")
        failed = [what for what, bad in (
            ("the sheet's signatures", not self.signatures.bottom_line),
            ("the audit's signatures", self.audit is not None and not self.audit.bottom_line),
            ("the audit it names", bool(self.problems))) if bad]
        return f"FAILED: {', '.join(failed)}"

    def summary(self) -> dict[str, Any]:
        """Plain JSON values (``auditkit verify --json`` of a sheet)."""
        head = None if self.head is None else {
            "decision_id": self.head.decision_id, "created": self.head.created,
            "audit_id": self.head.audit_id, "history_id": self.head.history_id,
            "results_sha256": self.head.results_sha256, "report_sha256": self.head.report_sha256,
            "policy": self.head.policy, "verdict": self.head.verdict,
            "checkpoint_sha256": self.head.checkpoint_sha256}
        return {"path": str(self.path), "kind": KIND, "ok": self.bottom_line,
                "summary": self.summary_line(), "sheet": head, "signatures": self.signatures.summary(),
                "audit": {"folder": None if self.audit_folder is None else str(self.audit_folder),
                          "signatures": None if self.audit is None else self.audit.summary(),
                          "problems": list(self.problems)}}


def verify_sheet(folder: str | Path, trust: Iterable[str | Path | x509.Certificate] | None = None, *,
                 audit: str | Path | None = None) -> SheetVerification:
    """Verify the decision sheet in ``folder`` and the audit it names.

    Args:
        folder: ``<out>/decisions/<decision_id>/``.
        trust: CA certificates, as :func:`auditkit.signing.verify_report` takes them.
        audit: the audit's dossier folder; default: the kept dossier of ``<out>/audits/`` whose
            results.json has the SHA-256 the sheet names.

    Raises:
        VerificationInputError: ``folder`` is no sheet's folder, or a trust anchor cannot be read.
    """
    from auditkit.signing.errors import VerificationInputError

    folder = Path(folder)
    if not is_sheet(folder):
        raise VerificationInputError(f"{folder} holds no {SHEET}: give a decision sheet's folder",
                                     path=folder)
    roots = trust_roots(trust)
    signatures = _sheet_signatures(folder, roots)
    try:
        head = read_head((folder / SHEET).read_bytes(), folder / SHEET)
    except (SheetError, OSError) as exc:
        return SheetVerification(folder, signatures, None, None, None,
                                 (f"the audit it names is unknown: {exc}",))
    found, problems = _find_audit(folder, head, None if audit is None else Path(audit))
    if found is None:
        return SheetVerification(folder, signatures, head, None, None, problems)
    report = verify_report(found, roots)
    return SheetVerification(folder, signatures, head, found, report,
                             tuple(_audit_problems(found, head)))


def _sheet_signatures(folder: Path, roots: list[x509.Certificate]) -> VerificationReport:
    """The verdicts on the sheet's signed files, those sheet.pdf does not embed byte for byte marked
    ``not of this dossier``."""
    verdicts = [(verify_pdf if name == SHEET_PDF else verify_cms)(folder / name, roots)
                if (folder / name).is_file() else
                FileVerdict(folder / name, "pades" if name == SHEET_PDF else "cms", Status.MISSING,
                            f"{name} is absent from the sheet's folder") for name in SIGNED]
    embedded = embedded_files(folder / SHEET_PDF) if verdicts[0].status not in (
        Status.MISSING, Status.INVALID) else None
    if embedded is not None:
        verdicts = [_bound(verdict, embedded) for verdict in verdicts]
    anchors = tuple(hashlib.sha256(c.public_bytes(Encoding.DER)).hexdigest() for c in roots)
    return VerificationReport(folder, tuple(verdicts), anchors, whose="decision sheet",
                              binding=f"{SHEET_PDF} embeds {SHEET} and {SHEET_HTML}")


def _bound(verdict: FileVerdict, embedded: Mapping[str, bytes]) -> FileVerdict:
    """``verdict``, marked ``not of this dossier`` when its file is not the copy sheet.pdf embeds."""
    name = verdict.path.name
    if name not in EMBEDDED or verdict.status not in (Status.OK, Status.UNTRUSTED):
        return verdict
    copy = embedded.get(name)
    if copy is None:
        reason = f"{SHEET_PDF} embeds no {name}: nothing ties {name} to it"
    elif copy != verdict.path.read_bytes():
        reason = f"{name} is not the copy {SHEET_PDF} embeds: both are signed, but they are two sheets"
    else:
        return verdict
    return FileVerdict(verdict.path, verdict.kind, Status.FOREIGN, reason, verdict.signer,
                       verdict.signer_fingerprint, verdict.signed_at, verdict.timestamped, verdict.level)


def _find_audit(folder: Path, head: SheetHead, given: Path | None) -> tuple[Path | None, tuple[str, ...]]:
    """The audit dossier the sheet names: ``given``, else the kept dossier of the sheet's out folder
    whose results.json has the SHA-256 the sheet names; else ``None`` and why."""
    if given is not None:
        try:
            data = (given / RESULTS).read_bytes()
        except OSError as exc:
            return None, (f"{given / RESULTS} cannot be read: {exc.strerror or exc}",)
        if hashlib.sha256(data).hexdigest() != head.results_sha256:
            return None, (f"{given} is not the audit the sheet names: its results.json sha256 is "
                          f"{hashlib.sha256(data).hexdigest()[:16]}..., the sheet names "
                          f"{head.results_sha256[:16]}...",)
        return given, ()
    if folder.parent.name != DECISIONS:
        return None, (f"{folder} is not in an out folder's {DECISIONS}/: give the audit's dossier "
                      "(--audit DIR)",)
    out = folder.parent.parent
    for path, data in kept_results(out):
        if hashlib.sha256(data).hexdigest() == head.results_sha256:
            return path.parent, ()
    return None, (f"no kept dossier in {out / 'audits'} has the results.json the sheet names (sha256 "
                  f"{head.results_sha256[:16]}...): its audit was removed, or give it (--audit DIR)",)


def _audit_problems(found: Path, head: SheetHead) -> list[str]:
    """Why the dossier ``found`` (its results.json has the digest the sheet names) is not the audit
    the sheet's other figures say."""
    try:
        document = AuditDocument.from_json((found / RESULTS).read_bytes())
        report = hashlib.sha256((found / REPORT_PDF).read_bytes()).hexdigest()
    except (OSError, ResultsError) as exc:
        return [f"{found} cannot be read: {exc}"]
    link = document.history
    deployed = None if document.deployed is None else document.deployed.sha256
    named = {"audit id": (head.audit_id, None if link is None else link.audit_id),
             "history id": (head.history_id, None if link is None else link.history_id),
             "policy": (head.policy, document.policy.name), "verdict": (head.verdict, document.verdict),
             "report.pdf sha256": (head.report_sha256, report),
             "deployed checkpoint sha256": (head.checkpoint_sha256, deployed)}
    return [f"the sheet names {what} {said!r}, the audit's is {actual!r}"
            for what, (said, actual) in named.items() if said != actual]


__all__ = ["KIND", "SIGNED", "SheetError", "SheetExistsError", "SheetHead", "SheetVerification",
           "is_sheet", "read_head", "record_sheet", "verify_sheet", "write_sheet"]
