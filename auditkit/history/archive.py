"""Every audit's dossier kept in its out folder: ``<out>/audits/<id>/`` beside the latest at the top.

``auditkit run`` writes the dossier (results.json, summary.txt, report.html, report.pdf and, when
signed, the ``.p7s`` signatures) at the top of the out folder, then copies it byte for byte into
:func:`audit_folder` named by the audit's history id; the history records the digests of both, so
``history --check`` holds every kept dossier to what its audit wrote. A rerun thus builds a record
(a monthly cron job, say) instead of overwriting the last one. A dossier found at the top with no
folder of its own (written before folders were kept, or by a run killed before it kept its copy) is
kept first, under the id its results.json names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from auditkit import _atomic
from auditkit.history.verify import DOSSIER, RESULTS, history_link

AUDITS = "audits"
"""The folder of kept dossiers, inside the out folder."""
KEPT = (*DOSSIER, "summary.txt")
"""The files of a dossier, by name."""


def audit_folder(out_dir: Path, audit_id: int) -> Path:
    """Where audit ``audit_id``'s dossier is kept: ``<out>/audits/0007/`` (4 digits, sorting in order).

    >>> audit_folder(Path("out"), 7).as_posix()
    'out/audits/0007'
    """
    return out_dir / AUDITS / f"{audit_id:04d}"


def keep_dossier(out_dir: Path, audit_id: int, files: Iterable[Path]) -> list[Path]:
    """Copy ``files`` (the dossier just written at the top of ``out_dir``) into audit ``audit_id``'s
    folder, each atomically; return the copies."""
    folder = audit_folder(out_dir, audit_id)
    copies = []
    for path in files:
        copy = folder / path.name
        _atomic.write_bytes(copy, path.read_bytes())
        copies.append(copy)
    return copies


def keep_unkept(out_dir: Path) -> Path | None:
    """Keep the dossier at the top of ``out_dir`` in its own folder if it has none yet, before a new
    run replaces it; return that folder, or ``None`` when there was nothing to keep.

    Its folder is named by the history id in its results.json, or ``unrecorded-<sha256 prefix>`` when
    that names none (a results.json from before the history existed, or a damaged one).
    """
    results = out_dir / RESULTS
    try:
        data = results.read_bytes()
    except OSError:
        return None
    link = history_link(data)
    if link is not None:
        folder = audit_folder(out_dir, link.audit_id)
    else:
        folder = out_dir / AUDITS / f"unrecorded-{hashlib.sha256(data).hexdigest()[:12]}"
    if folder.exists():
        return None
    for name in KEPT:
        if (out_dir / name).is_file():
            _atomic.write_bytes(folder / name, (out_dir / name).read_bytes())
    return folder
