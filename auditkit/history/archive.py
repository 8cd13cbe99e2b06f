"""Every audit's dossier kept in its out folder: ``<out>/audits/<id>-<digest>/`` beside the latest at
the top.

``auditkit run`` writes the dossier (results.json, summary.txt, report.html, report.pdf and, when
signed, the ``.p7s`` signatures) at the top of the out folder, then copies it byte for byte into
:func:`audit_folder`, named by the audit's history id and the SHA-256 of its results.json; the
history records the digests of both, so ``history --check`` holds every kept dossier to what its
audit wrote. A rerun thus builds a record (a monthly cron job, say) instead of overwriting the last
one. A dossier found at the top with no folder of its own (written before folders were kept, or by a
run killed before it kept its copy) is kept first, under the id its results.json names.

The name: the sequence number sorts the folders in the order of their history; the digest of
results.json (which holds the audit's time, policy digest and history stamp, see
:class:`auditkit.results.HistoryLink`) tells apart audits with the same number, as two history
databases writing into one out folder both have an audit #1. A kept file is never replaced: it is
written under its final name only if that name is free (a hard link of a finished temporary file),
the same bytes found there are left as they are, and other bytes raise
:class:`~auditkit.history.errors.DossierExistsError` (exit code 2) instead of overwriting them.

With a deployed checkpoint, the k fold checkpoints are kept too, in ``folds/`` of the audit's folder
(:func:`keep_linked`: a hard link of the work file, no copy of its bytes), under the SHA-256
results.json names for them, so a decision sheet can be made when ``work/`` is gone.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from auditkit.history.errors import DossierExistsError, HistoryError
from auditkit.history.verify import AUDITS, KEPT, RESULTS, history_link

DIGITS = 12
"""Hex digits of results.json's SHA-256 in a kept folder's name (48 bits)."""


def audit_folder(out_dir: Path, audit_id: int, results: bytes) -> Path:
    """Where audit ``audit_id``'s dossier, whose results.json is ``results``, is kept:
    ``<out>/audits/0007-<first 12 hex digits of its SHA-256>/`` (4 digits, sorting in order).

    >>> audit_folder(Path("out"), 7, b"{}").as_posix()
    'out/audits/0007-44136fa355b3'
    """
    return out_dir / AUDITS / f"{audit_id:04d}-{hashlib.sha256(results).hexdigest()[:DIGITS]}"


def kept_results(out_dir: Path) -> Iterator[tuple[Path, bytes]]:
    """Every kept dossier's results.json under ``<out>/audits/``, in name order, with its bytes."""
    for path in sorted((out_dir / AUDITS).glob(f"*/{RESULTS}")):
        with contextlib.suppress(OSError):
            yield path, path.read_bytes()


def keep_file(path: Path, data: bytes, source: Path | None = None) -> bool:
    """Write ``data`` (read from ``source``, if named) to ``path`` unless it is there; return
    whether it was written.

    Raises:
        DossierExistsError: ``path`` holds other bytes; it is left as it is.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, path)  # fails if the name is taken, where os.replace would overwrite
        return True
    except FileExistsError:
        if path.read_bytes() != data:
            raise DossierExistsError(path, source) from None
        return False
    finally:
        os.unlink(tmp)


def keep_linked(path: Path, source: Path, sha256: str) -> bool:
    """Keep the finished file ``source`` as ``path`` without copying its bytes (a hard link; a copy
    where the file system has none), checked to be the file whose SHA-256 is ``sha256``; return
    whether it was written. A later atomic rewrite of ``source`` (a new file renamed over it) leaves
    the kept one as it is.

    Raises:
        DossierExistsError: ``path`` holds other bytes; it is left as it is.
        HistoryError: ``source`` no longer has the digest ``sha256`` (nothing is kept).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, path)  # fails if the name is taken
    except FileExistsError:
        if _sha256(path) != sha256:
            raise DossierExistsError(path, source) from None
        return False
    except OSError:  # no hard links here (another file system, one without them): copy
        data = source.read_bytes()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise _changed(source, sha256) from None
        return keep_file(path, data, source)
    if _sha256(path) != sha256:
        os.unlink(path)
        raise _changed(source, sha256)
    return True


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _changed(source: Path, sha256: str) -> HistoryError:
    return HistoryError(f"{source} changed since results.json named its SHA-256 {sha256[:16]}...: it "
                        "is not kept; run the audit again", path=source)


def keep_dossier(out_dir: Path, audit_id: int, files: Iterable[Path]) -> list[Path]:
    """Copy ``files`` (the dossier just written at the top of ``out_dir``, results.json first) into
    audit ``audit_id``'s folder, none replacing a file there; return the copies.

    Raises:
        DossierExistsError: the folder holds a file with other bytes (nothing is overwritten).
    """
    files = list(files)
    contents = [path.read_bytes() for path in files]
    folder = audit_folder(out_dir, audit_id, contents[0])
    copies = []
    for path, data in zip(files, contents, strict=True):
        keep_file(folder / path.name, data)
        copies.append(folder / path.name)
    return copies


def keep_unkept(out_dir: Path) -> Path | None:
    """Keep the dossier at the top of ``out_dir`` in its own folder if it is not kept yet, before a
    new run replaces it; return that folder, or ``None`` when there was nothing to keep.

    Its folder is named by the history id in its results.json (:func:`audit_folder`), or
    ``unrecorded-<sha256 prefix>`` when that names none (a results.json from before the history
    existed, or a damaged one).

    Raises:
        DossierExistsError: a file at the top differs from the one kept under its folder: the top
            is not one audit's dossier (nothing is overwritten; move it away to go on).
    """
    try:
        data = (out_dir / RESULTS).read_bytes()
    except OSError:
        return None
    link = history_link(data)
    if link is not None:
        legacy = out_dir / AUDITS / f"{link.audit_id:04d}"  # named before digests were added
        with contextlib.suppress(OSError):
            if (legacy / RESULTS).read_bytes() == data:
                return None
        folder = audit_folder(out_dir, link.audit_id, data)
    else:
        folder = out_dir / AUDITS / f"unrecorded-{hashlib.sha256(data).hexdigest()[:DIGITS]}"
    written = [keep_file(folder / name, (out_dir / name).read_bytes(), out_dir / name)
               for name in KEPT if (out_dir / name).is_file()]
    return folder if any(written) else None
