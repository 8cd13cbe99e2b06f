"""The run lock: one ``auditkit run`` at a time per history database, and per out folder.

The lock is an exclusive ``fcntl.flock`` on ``<db>.lock`` next to the database, taken without
waiting and held for the whole run. A second run started meanwhile (two cron entries firing at
once, an overlong audit still running at the next tick) fails at once with
:class:`~auditkit.history.errors.HistoryLockedError`, exit code 2, instead of queueing: waiting runs
would pile up behind a slow audit, and each would audit the same state again when it got its turn.

The kernel drops the lock when the holder exits, however it exits (``kill -9`` included), so a
crashed run never leaves a stale lock to clean up; the lock file itself is kept (removing it would
let a second process lock a fresh file while the first still holds the old one). The holder writes
its pid into the file for the error message only. ``flock`` is advisory and local: keep the
database on a local file system (over NFS it may not exclude a run on another host).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from auditkit.history.errors import HistoryError, HistoryLockedError

_HOLDER_READS = 5


def lock_path(db: Path) -> Path:
    """The lock file of database ``db``: ``<db>.lock``."""
    return db.with_name(db.name + ".lock")


OUT_LOCK = ".auditkit-run.lock"
"""The lock file of an out folder: one run at a time writes into it, whatever its database."""


@contextlib.contextmanager
def hold_lock(db: Path, *, out_dir: Path | None = None) -> Iterator[None]:
    """Hold the run lock of ``db`` for the block; with ``out_dir``, the lock of that out folder
    instead (``<out>/.auditkit-run.lock``): two runs writing one out folder, even with two
    databases, would mix their dossiers at its top.

    Raises:
        HistoryLockedError: another process holds it.
        HistoryError: the lock file cannot be created (missing folder, no permission).
    """
    path = lock_path(db) if out_dir is None else out_dir / OUT_LOCK
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise HistoryError(f"cannot create the lock file {path}: {exc.strerror}", path=db) from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise HistoryLockedError(db if out_dir is None else out_dir, _holder(fd)) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _holder(fd: int) -> int | None:
    """The pid the holder wrote, or ``None`` if it has not written it yet.

    The holder writes it right after locking; a process that lost the race by microseconds may
    look before that, so an empty file is read again a few times, 10 ms apart.
    """
    for _ in range(_HOLDER_READS):
        text = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip()
        if text.isdigit():
            return int(text)
        time.sleep(0.01)
    return None
