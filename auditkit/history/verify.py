"""``auditkit history --check`` and ``auditkit verify --strict``: the chain, its signatures, the files.

What :func:`check_history` checks:

- every ``row_hash`` recomputed from its row (a changed row names its audit id);
- every ``prev_hash`` equal to the ``row_hash`` of the row before (a removed or inserted row names
  the audit after the gap); the stored hash is what the next row is linked to, so one changed row
  is reported once, not for every row after it;
- every ``chain_signature`` (signed runs): a detached CMS signature over the row's id and
  ``row_hash`` that verifies, by the certificate the row's ``signer_fingerprint`` names, and with
  ``--trust`` one that chains to a given CA. A chain recomputed without the key fails here. After
  the first signed row every finished row must be signed too: an unsigned one cannot be told from
  a forged row appended by someone without the key (failed audits are never signed). Without
  ``--trust`` the signer may not change along the chain (a key rotation needs ``--trust``), and the
  newest results.json's ``.p7s`` on disk must be by the signer its row names;
- every stored JSON column parses (``summary_json`` as a results.json of a schema version this
  auditkit reads, ``report_files_json``, ``model_digests_json``), and a results.json's ``history``
  stamp names its own row's place;
- every report file recorded by an audit still exists with the recorded SHA-256. Only the newest
  audit that recorded a given path is held to it: reruns into the same output folder overwrite
  results.json by design, and an older audit's results.json stays in the database
  (``summary_json``, under the chain). Such files are counted as *superseded*;
- each recorded results.json on disk is the one its ``history`` stamp's row stores: a results.json
  of an audit the database lacks means the newest audits were removed or the database replaced;
  files at the top of an out folder that a run with another database (another ``history_id``)
  replaced since are counted as superseded: this history's copies are kept in ``audits/``;
- every kept dossier (``<out>/audits/*/results.json`` of the history's out folders) of this history
  is an audit the chain lists. Its signed stamp states the chain's length and head when it was
  appended (:class:`HistoryLink`, a signed tree head): a dossier beyond the chain's end (audits
  removed from it), extending another head (the chain rewritten) or stored otherwise is one problem
  naming the audit. Dossiers of other databases are counted; those from before history ids are
  judged only beyond the chain's end (an audit #1 of another database cannot be told apart);
- every recorded decision sheet (``decisions``, :func:`check_decisions`): its folder still holds
  each file with the SHA-256 recorded (``sheet.json`` first), and every sheet found in the
  ``decisions/`` folder of the history's out folders that names an audit of this history is
  recorded (a row removed after dropping the triggers, or a sheet never recorded);
- ``PRAGMA integrity_check`` and ``foreign_key_check``.

:func:`check_dossier` (``verify --strict``) holds one report folder to the history: the chain and
its signatures as above, the row its results.json's stamp names (present, storing that exact
results.json, signed by the report's signer) and the digests that row recorded for the files.

What no check can catch: someone holding the signing key and write access can write any history;
without an external copy of the head (a signed dossier, a ticket), removing the newest audits *and*
their report files and kept dossiers leaves a shorter history that verifies.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509

from auditkit.history.chain import GENESIS, ChainHead, row_hash, signed_message
from auditkit.history.errors import RowDataError
from auditkit.history.store import AuditRow, DecisionRow, HistoryStore
from auditkit.results import AuditDocument, HistoryLink, ResultsError

RESULTS = "results.json"
DOSSIER = ("report.pdf", "report.html", "results.json", "report.html.p7s", "results.json.p7s")
"""The files of a report folder ``verify --strict`` holds to the digests its audit recorded."""
KEPT = (*DOSSIER, "summary.txt")
"""The files of a dossier, by name (kept in ``<out>/audits/<id>-<digest>/``)."""
AUDITS = "audits"
"""The folder of kept dossiers, inside the out folder (:mod:`auditkit.history.archive`)."""
DECISIONS = "decisions"
"""The folder of decision sheets, inside the out folder: ``<out>/decisions/<decision_id>/``."""
SHEET = "sheet.json"
"""A decision sheet's figures, the file of its folder its history row names by digest."""


def history_link(data: bytes) -> HistoryLink | None:
    """The ``history`` stamp of the results.json ``data``: the place in the chain its audit took;
    ``None`` when it has none (written before the history existed) or is no results.json this
    auditkit reads.
    """
    try:
        link = AuditDocument.from_json(data).history
    except ResultsError:
        return None
    return link if link is not None and isinstance(link.audit_id, int) else None


@dataclass(frozen=True)
class Problem:
    """One finding; ``audit_id`` is ``None`` for a problem of the database as a whole."""

    audit_id: int | None
    message: str
    file: str | None = None

    def __str__(self) -> str:
        return ("database" if self.audit_id is None else f"audit #{self.audit_id}") + \
            f": {self.message}"


@dataclass(frozen=True)
class CheckReport:
    """The outcome of :func:`check_history`; ``head`` is the newest audit (``None`` when empty).

    Attributes:
        signed: audits whose chain signature verified.
        signers: SHA-256 fingerprints of the certificates that signed them, in order of appearance.
        trusted: whether the signers were checked against trust anchors (``--trust``).
        kept_listed: kept dossiers (``<out>/audits/*/``) whose results.json the chain stores.
        kept_foreign: kept dossiers of another history database (another ``history_id``).
        decisions: recorded decision sheets checked.
    """

    path: Path
    audits: int
    head: AuditRow | None
    files_checked: int
    files_superseded: int
    problems: tuple[Problem, ...]
    signed: int = 0
    signers: tuple[str, ...] = ()
    trusted: bool = False
    kept_listed: int = 0
    kept_foreign: int = 0
    decisions: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "db": str(self.path),
            "ok": self.ok,
            "audits": self.audits,
            "head": None if self.head is None else {"id": self.head.id,
                                                    "row_hash": self.head.row_hash},
            "signed": self.signed,
            "signers": list(self.signers),
            "signers_trusted": self.trusted,
            "files_checked": self.files_checked,
            "files_superseded": self.files_superseded,
            "kept_dossiers": {"listed": self.kept_listed, "of_other_histories": self.kept_foreign},
            "decisions": self.decisions,
            "problems": [{"audit_id": p.audit_id, "file": p.file, "message": p.message}
                         for p in self.problems],
        }


@dataclass(frozen=True)
class _Chain:
    problems: list[Problem]
    signed: int
    signers: tuple[str, ...]


def _signature_problem(store: HistoryStore, row: AuditRow, signature: bytes,
                       roots: Sequence[x509.Certificate]) -> str:
    """Why ``signature`` (``row``'s chain signature) does not vouch for it; ``""`` when it does."""
    from auditkit.signing.verify import Status, verify_detached

    verdict = verify_detached(signed_message(row.id, row.row_hash), bytes(signature), roots,
                              path=store.path, what=f"the chain hash of audit #{row.id}",
                              signature_name=f"the chain signature of audit #{row.id}")
    if not (verdict.ok or (not roots and verdict.status is Status.UNTRUSTED)):
        return f"chain signature {verdict.status.value}: {verdict.reason}"
    if verdict.signer_fingerprint != row.signer_fingerprint:
        return (f"chain signature made by certificate {str(verdict.signer_fingerprint)[:16]}..., but the "
                f"row names signer {str(row.signer_fingerprint)[:16]}...")
    return ""


def stamp_of(link: HistoryLink) -> dict[str, object]:
    """``link`` as :meth:`ChainHead.stamp` writes it (no ``history_id`` key when it has none)."""
    return {k: v for k, v in dataclasses.asdict(link).items() if k != "history_id" or v is not None}


def _json_problems(row: AuditRow, history_id: str | None) -> list[Problem]:
    problems = []
    for read in (lambda: row.document, lambda: row.report_files, lambda: row.model_digests):
        try:
            read()
        except RowDataError as exc:
            problems.append(Problem(row.id, f"{exc.column} {exc.problem}"))
    link = None if problems or row.document is None else row.document.history
    if link is not None:
        named = None if link.history_id is None else history_id
        expected = ChainHead(row.id - 1, row.prev_hash, named).stamp()
        if stamp_of(link) != expected:
            problems.append(Problem(row.id, f"its results.json says it is {stamp_of(link)}, "
                                            f"not its place in the chain {expected}"))
    return problems


def _chain(store: HistoryStore, chain: Sequence[AuditRow], roots: Sequence[x509.Certificate]) -> _Chain:
    problems: list[Problem] = []
    history_id = store.history_id
    expected, before = GENESIS, "the start of the chain"
    signed, first_signed, signers, last_signer = 0, None, dict[str, None](), None
    for row in chain:
        if row_hash(row.hashed_columns()) != row.row_hash:
            problems.append(Problem(row.id, "row_hash does not match the row: it was changed after "
                                            "it was recorded"))
        if row.prev_hash != expected:
            problems.append(Problem(row.id, f"prev_hash does not link to {before}: an audit was "
                                            "removed or inserted before this one"))
        expected, before = row.row_hash, f"audit #{row.id}"
        problems += _json_problems(row, history_id)
        if row.chain_signature is not None:
            problem = _signature_problem(store, row, row.chain_signature, roots)
            if not problem and not roots and last_signer not in (None, row.signer_fingerprint):
                problem = (f"is signed by certificate {str(row.signer_fingerprint)[:16]}..., the audit "
                           f"before it by {str(last_signer)[:16]}...: without a trust anchor (--trust "
                           "CA_CERT) a new signer cannot be told from a forger")
            if problem:
                problems.append(Problem(row.id, problem))
            else:
                signed += 1
                signers[str(row.signer_fingerprint)] = None
            first_signed, last_signer = first_signed or row.id, row.signer_fingerprint
        elif first_signed is not None and row.status == "finished":
            problems.append(Problem(row.id, f"is not signed although audit #{first_signed} before it "
                                            "is: an unsigned row after signed ones cannot be told "
                                            "from one forged without the key"))
    return _Chain(problems, signed, tuple(signers))


def _files(row: AuditRow) -> dict[str, str]:
    try:
        return row.report_files
    except RowDataError:
        return {}


def _stamp_problem(store: HistoryStore, chain: Sequence[AuditRow], key: str) -> str:
    """Whether the results.json at ``key`` is the one the row its ``history`` stamp names stores."""
    try:
        data = store.file_path(key).read_bytes()
    except OSError:
        return ""  # missing: the digest check says so
    link = history_link(data)
    if link is None or link.history_id not in (None, store.history_id):
        return ""  # changed: the digest check says so; no stamp: an older auditkit; another history's
    audit_id = link.audit_id
    rows = {row.id: row for row in chain}
    newest = chain[-1].id if chain else 0
    if audit_id not in rows:
        return (f"{key} on disk is audit #{audit_id}'s, which the history lacks (its newest is "
                f"#{newest}): audits were removed from its end, or the database was replaced")
    if (rows[audit_id].summary_json or "").encode("utf-8") != data:
        return (f"{key} on disk is audit #{audit_id}'s, but the history's audit #{audit_id} stores "
                "another results.json: the database was replaced or rewritten")
    return ""


def _signature_file_problem(store: HistoryStore, row: AuditRow, key: str) -> str:
    """Whether the ``.p7s`` beside the results.json at ``key`` was made by the signer ``row`` names
    (a history re-signed throughout with another key is caught here while the files are at hand)."""
    from auditkit.signing.cms import SUFFIX
    from auditkit.signing.verify import verify_cms

    if row.signer_fingerprint is None or key + SUFFIX not in _files(row):
        return ""
    verdict = verify_cms(store.file_path(key), [])
    if verdict.signer_fingerprint not in (None, row.signer_fingerprint):
        return (f"{key}{SUFFIX} on disk is signed by certificate {verdict.signer_fingerprint[:16]}..., "
                f"but audit #{row.id} names signer {row.signer_fingerprint[:16]}...")
    return ""


def check_history(store: HistoryStore, trust: Iterable[str | Path | x509.Certificate] = ()
                  ) -> CheckReport:
    """Verify the whole history in ``store`` (see the module).

    Args:
        trust: CA certificates (files or objects) the signers of signed rows must chain to; empty:
            signatures are checked against the certificates they carry only.

    Raises:
        VerificationInputError: a trust anchor cannot be read.
    """
    from auditkit.signing.verify import trust_roots

    roots = trust_roots(trust)
    problems = [Problem(None, message) for message in store.integrity_problems()]
    chain = store.chain()
    checked_chain = _chain(store, chain, roots)
    problems += checked_chain.problems
    newest_owner: dict[str, int] = {}
    for row in chain:
        for key in _files(row):
            newest_owner[key] = row.id
    replaced = _replaced_tops(store, newest_owner)
    checked = superseded = 0
    for row in chain:
        for key, recorded in _files(row).items():
            if newest_owner[key] != row.id or key in replaced:
                superseded += 1
                continue
            checked += 1
            problem = _file_problem(store.file_path(key), recorded)
            if problem:
                problems.append(Problem(row.id, f"report file {key} {problem}", key))
    flagged = {p.file for p in problems}
    for key in newest_owner:
        if Path(key).name == RESULTS:
            problem = _stamp_problem(store, chain, key)
            if problem and (key not in flagged or "lacks" in problem):
                problems.append(Problem(None, problem, key))
            owner = next(row for row in chain if row.id == newest_owner[key])
            problem = _signature_file_problem(store, owner, key)
            if problem and key + ".p7s" not in flagged:
                problems.append(Problem(owner.id, problem, key + ".p7s"))
    kept = _kept_dossiers(store, chain, set(newest_owner))
    decisions = store.decisions()
    return CheckReport(store.path, len(chain), chain[-1] if chain else None, checked, superseded,
                       tuple(problems + kept.problems + check_decisions(store, decisions)),
                       checked_chain.signed, checked_chain.signers, bool(roots), kept.listed,
                       kept.foreign, len(decisions))


def check_decisions(store: HistoryStore, rows: Sequence[DecisionRow]) -> list[Problem]:
    """Hold each recorded sheet of ``rows`` (every row of ``store``) to the digests of its row, then
    look for sheets of this history's audits in the ``decisions/`` folders of its out folders that no
    row records."""
    problems = _sheet_problems(store, rows)
    recorded = {row.folder for row in rows}
    for folder in sorted(out_folders(store)):
        for path in sorted((folder / DECISIONS).glob(f"*/{SHEET}")):
            key = store.file_key(path.parent)
            if key not in recorded:
                problems += _unrecorded(store, path, key)
    return problems


def _sheet_problems(store: HistoryStore, rows: Sequence[DecisionRow]) -> list[Problem]:
    """Each sheet of ``rows`` whose folder does not hold the files with the digests recorded."""
    problems = []
    for row in rows:
        folder = store.file_path(row.folder)
        files = row.files
        if files.get(SHEET) != row.sheet_sha256:
            problems.append(Problem(row.audit_id, f"decision {row.decision_id!r}: files_json of its row "
                                                  f"does not hold its {SHEET} digest: the row was damaged"))
        for name, digest in files.items():
            problem = _file_problem(folder / name, digest)
            if problem:
                key = f"{row.folder}/{name}"
                problems.append(Problem(row.audit_id, f"decision {row.decision_id!r}: sheet file {key} "
                                                      f"{problem}", key))
    return problems


def _unrecorded(store: HistoryStore, path: Path, key: str) -> list[Problem]:
    """A problem when the sheet at ``path`` (not recorded) names an audit of this history."""
    try:
        audit = json.loads(path.read_bytes())["audit"]
        audit_id, history_id = int(audit["audit_id"]), audit["history_id"]
    except (OSError, ValueError, TypeError, KeyError):
        return []  # not a sheet this history can place
    if history_id != store.history_id:
        return []
    return [Problem(audit_id, f"the decision sheet {key}/ names this audit but no row records it: "
                              "its row was removed, or it was never recorded", f"{key}/{SHEET}")]


def out_folders(store: HistoryStore) -> set[Path]:
    """The out folders of the history: the database's folder and those its audits recorded files
    in (found by the recorded files, which move with a copied folder, not by ``runs.out_dir``)."""
    folders = {store.path.resolve().parent}
    for row in store.chain():
        for key in _files(row):
            path = store.file_path(key).resolve()
            kept = next((p for p in path.parents if p.parent.name == AUDITS), None)  # in a kept dossier
            folders.add(path.parent if kept is None else kept.parent.parent)
    return folders


def _replaced_tops(store: HistoryStore, recorded: Iterable[str]) -> set[str]:
    """The recorded files at the top of an out folder whose results.json is now another history's:
    a run with another database wrote there later (this history's copies are kept in ``audits/``)."""
    replaced, history_id = set(), store.history_id
    for key in recorded:
        path = store.file_path(key)
        if path.name not in KEPT:
            continue
        try:
            link = history_link((path.parent / RESULTS).read_bytes())
        except OSError:
            continue
        if link is not None and link.history_id not in (None, history_id):
            replaced.add(key)
    return replaced


@dataclass(frozen=True)
class _Kept:
    problems: list[Problem]
    listed: int
    foreign: int


def _kept_dossiers(store: HistoryStore, chain: Sequence[AuditRow], recorded: set[str]) -> _Kept:
    """Hold every kept dossier of this history's out folders to the chain: each must be an audit
    the chain lists. Its results.json is signed with the report and names the chain's length and
    head when it was appended (:class:`HistoryLink`): a dossier beyond the chain's end means audits
    were removed from it; one extending another head, that the chain was rewritten. Dossiers of
    other histories (another ``history_id``) are counted, not judged; those written before history
    ids are judged only beyond the chain's end."""
    from auditkit.history.archive import kept_results

    rows = {row.id: row for row in chain}
    history_id, problems, listed, foreign = store.history_id, [], 0, 0
    for folder in sorted(out_folders(store)):
        for path, data in kept_results(folder):
            link = history_link(data)
            if link is None:
                continue
            if link.history_id not in (None, history_id):
                foreign += 1
                continue
            row = rows.get(link.audit_id)
            if row is not None and (row.summary_json or "").encode("utf-8") == data:
                listed += 1
                continue
            key = store.file_key(path)
            if key in recorded or (link.history_id is None and row is not None):
                continue  # the digest check judges it; before history ids: maybe another history's
            problems.append(Problem(link.audit_id, _unlisted(link, rows, key), key))
    return _Kept(problems, listed, foreign)


def _unlisted(link: HistoryLink, rows: dict[int, AuditRow], key: str) -> str:
    """Why the kept results.json at ``key`` (of audit ``link.audit_id``) is not in the chain."""
    newest = max(rows, default=0)
    claim = (f"its kept dossier {Path(key).parent.as_posix()}/ says it was appended to a history of "
             f"{link.previous_audits} audit(s) with head {link.previous_row_hash[:16]}...")
    if link.audit_id > newest:
        return (f"{claim}, but the history ends at audit #{newest}: audits were removed from its end, "
                "or the database was replaced")
    before = rows.get(link.audit_id - 1)
    head = GENESIS if link.audit_id == 1 else None if before is None else before.row_hash
    if head != link.previous_row_hash:
        return f"{claim}, but the history's head there is {str(head)[:16]}...: the history was rewritten"
    return f"{claim}, but the history's audit #{link.audit_id} stores another results.json"


def check_decision(store: HistoryStore, folder: Path) -> list[Problem]:
    """Hold the decision sheet in ``folder`` to its row (``verify`` of a sheet): recorded, and each
    file with the digest recorded; a folder no row records is one problem."""
    key = store.file_key(folder)
    rows = [row for row in store.decisions() if row.folder == key]
    if not rows:
        return [Problem(None, f"no decision sheet is recorded in {store.path} for {key}/")]
    return _sheet_problems(store, rows)


def check_recorded_files(store: HistoryStore, paths: list[Path]) -> list[Problem]:
    """Hold each of ``paths`` to the SHA-256 the newest audit that recorded it wrote down.

    A signature proves who signed and that the signed bytes are intact, but a PDF may legally grow by
    incremental updates that a validator tolerates; the recorded digest admits only the exact bytes
    written by the audit. A file no audit recorded is a problem too (``audit_id`` None).
    """
    newest: dict[str, tuple[int, str]] = {}
    for row in store.chain():
        for key, digest in _files(row).items():
            newest[key] = (row.id, digest)
    return _held_to(store, paths, newest)


def _held_to(store: HistoryStore, paths: Iterable[Path], recorded: dict[str, tuple[int, str]]
             ) -> list[Problem]:
    problems = []
    for path in paths:
        key = store.file_key(path)
        if key not in recorded:
            problems.append(Problem(None, f"no audit in {store.path} recorded {key}", key))
            continue
        audit_id, digest = recorded[key]
        problem = _file_problem(store.file_path(key), digest)
        if problem:
            problems.append(Problem(audit_id, f"{key} {problem}", key))
    return problems


def check_dossier(store: HistoryStore, path: Path, *, trust: Iterable[str | Path | x509.Certificate] = (),
                  signer_fingerprint: str | None = None) -> list[Problem]:
    """Hold the report folder ``path`` (or one file of it) to the history (``verify --strict``).

    Checked: the chain, its signatures and stored JSON (as :func:`check_history`, without the other
    folders' files); the row results.json's ``history`` stamp names exists, stores that exact
    results.json, is chain-signed and (given ``signer_fingerprint``, the report's signer) by the
    report's signer; the files hold the digests that row recorded.

    Args:
        path: a report folder, or one of its files (then only that file's digest, plus the row).
        trust: CA certificates the chain signatures must chain to.
        signer_fingerprint: SHA-256 of the certificate that signed the report, when it verified.

    Raises:
        VerificationInputError: a trust anchor cannot be read.
    """
    from auditkit.signing.verify import trust_roots

    roots = trust_roots(trust)
    folder = path if path.is_dir() else path.parent
    files = [folder / name for name in DOSSIER] if path.is_dir() else [path]
    chain = store.chain()
    problems = _chain(store, chain, roots).problems
    results = folder / RESULTS
    try:
        data = results.read_bytes()
    except OSError:
        data = b""
    link = history_link(data)
    if link is None:
        return [*problems, Problem(None, f"{results} names no place in the history (missing, unreadable "
                                         "or without a history stamp): the dossier cannot be located "
                                         "in it"), *check_recorded_files(store, files)]
    audit_id = link.audit_id
    if link.history_id not in (None, store.history_id):
        return [*problems, Problem(audit_id, f"this dossier is of another history (id "
                                             f"{link.history_id}), not of {store.path} (id "
                                             f"{store.history_id}): give its database with --db")]
    row = next((row for row in chain if row.id == audit_id), None)
    if row is None:
        newest = chain[-1].id if chain else 0
        return [*problems, Problem(audit_id, f"this dossier's audit is not in the history (its newest "
                                             f"is #{newest}): it was removed or the database replaced")]
    if (row.summary_json or "").encode("utf-8") != data:
        problems.append(Problem(audit_id, "the history stores another results.json for this audit: "
                                          "the database was replaced or rewritten"))
    if row.prev_hash != link.previous_row_hash:
        problems.append(Problem(audit_id, "follows another chain head than the one its signed "
                                          "results.json names"))
    if row.chain_signature is None:
        problems.append(Problem(audit_id, "its row is not signed, so its chain hash does not prove "
                                          "the signer recorded it"))
    elif signer_fingerprint is not None and row.signer_fingerprint != signer_fingerprint:
        problems.append(Problem(audit_id, f"its row is signed by certificate "
                                          f"{str(row.signer_fingerprint)[:16]}..., the report by "
                                          f"{signer_fingerprint[:16]}..."))
    recorded = {key: (audit_id, digest) for key, digest in _files(row).items()}
    present = [f for f in files if f.exists() or store.file_key(f) in recorded]
    return problems + _held_to(store, present, recorded)


def _file_problem(path: Path, recorded: str) -> str:
    """Why ``path`` does not hold the file with SHA-256 ``recorded``; ``""`` when it does."""
    try:
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return f"is missing ({path})"
    except OSError as exc:
        return f"cannot be read ({path}: {exc.strerror})"
    if actual != recorded:
        return f"was changed (sha256 recorded {recorded[:16]}..., now {actual[:16]}...)"
    return ""
