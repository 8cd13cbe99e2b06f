"""Recording one ``auditkit run`` in the history: :func:`record_audit` around the audit.

Order of events: take the run locks (of the database, then of the out folder); open (and migrate)
the database; mark the dead runs of this host failed; register this run as ``running`` (committed,
so a kill leaves it to be found); run the audit inside the block (its results.json carries
:attr:`Recording.stamp`, the place its row will take); then, in one transaction, append the
finished audit with the digests of the files it wrote, its chain hash signed by the report's key
when it was signed, and close the run. Any exception escaping the block, Ctrl-C included, appends
a failed audit with the reason instead and is re-raised. A kill (SIGKILL, power loss) leaves the
run ``running`` and no audit row; the next run finds it.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from auditkit.history.chain import ChainHead
from auditkit.history.errors import HistoryError
from auditkit.history.lock import hold_lock
from auditkit.history.store import AuditRow, HistoryStore, RunRow

if TYPE_CHECKING:
    from auditkit.signing import Signer


@dataclass
class Recording:
    """The run being recorded; ``audit`` is its appended row once :meth:`finish` was called.

    Attributes:
        head: the chain's head when the run started (after failing dead runs); the run holds the
            lock, so its audit is appended right after it.
    """

    store: HistoryStore
    run: RunRow
    head: ChainHead
    audit: AuditRow | None = None

    @property
    def stamp(self) -> dict[str, object]:
        """results.json's ``history``: this audit's id and the head it is appended to, so the
        signed report names its place in the chain (:meth:`ChainHead.stamp`)."""
        return self.head.stamp()

    def finish(self, results: Path, other_files: Sequence[Path] = (), *,
               signer_fingerprint: str | None = None, signer: Signer | None = None) -> AuditRow:
        """Append the finished audit: ``results`` (results.json) stored whole, and the SHA-256 of
        it and of every file in ``other_files`` (summary.txt, the report and its signatures)
        recorded, with the SHA-256 of the signer's certificate when the report was signed;
        ``signer`` (the report's key) also signs the row's chain hash.

        The stored text and the recorded digest come from the same bytes read once.
        """
        data = results.read_bytes()
        files = {self.store.file_key(results): hashlib.sha256(data).hexdigest()}
        for path in other_files:
            files[self.store.file_key(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        self.audit = self.store.finish_run(self.run, data.decode("utf-8"), files,
                                           signer_fingerprint=signer_fingerprint, signer=signer,
                                           head=self.head)
        return self.audit


def failure_reason(exc: BaseException) -> str:
    """What a failed audit row says about ``exc``.

    >>> failure_reason(KeyboardInterrupt()), failure_reason(ValueError("bad"))
    ('interrupted (Ctrl-C)', 'ValueError: bad')
    """
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    return f"{type(exc).__name__}: {exc}"


@contextlib.contextmanager
def record_audit(
    db: Path, policy_name: str, policy_sha256: str, out_dir: Path,
    log: Callable[[str], None] = lambda _: None,
) -> Iterator[Recording]:
    """Hold the run lock of ``db`` and record the audit run inside the block (see the module).

    The block must call :meth:`Recording.finish`; leaving it without doing so records a failed
    audit and raises :class:`HistoryError`.

    Raises:
        HistoryLockedError: another run holds the lock of ``db`` or of ``out_dir``; the database
            is not touched.
        HistoryError: the database is unusable.
    """
    db.parent.mkdir(parents=True, exist_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    with hold_lock(db), hold_lock(db, out_dir=out_dir), HistoryStore.open(db) as store:
        for failed in store.recover_stale_runs():
            log(f"history: recorded audit #{failed.id} as failed: {failed.error}")
        run = store.start_run(policy_name, policy_sha256, out_dir)
        recording = Recording(store, run, store.head())
        try:
            yield recording
        except BaseException as exc:
            if recording.audit is None:
                store.fail_run(recording.run, failure_reason(exc))
            raise
        if recording.audit is None:
            failed = store.fail_run(recording.run, "the run ended without recording its results")
            raise HistoryError(f"audit #{failed.id} ended without recording its results",
                               path=db)
