"""Sheets written: one folder per decision, ``<out>/<decision_id>/``, and for a batch an index.

:func:`explain_all` checks every input before anything is written (each image read, the audit
verified and its models loaded once by :func:`~auditkit.decision.system.load_system`), then makes the
sheets in order with a progress bar. A decision whose folder already holds a finished sheet of the
same image under the same audit is not redone (a batch resumes where it stopped); one holding a sheet
of another image or audit is refused before anything is written.

A sheet's folder is written by :func:`~auditkit.decision.dossier.write_sheet` (built aside and
renamed into place, never over another sheet; signed as the audit's files are when a key is given)
and recorded in the audit's history database when there is one
(:func:`~auditkit.decision.dossier.record_sheet`), so ``history --decisions`` lists it.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from auditkit import _atomic
from auditkit.decision.inputs import DecisionInput, decisions, read_image
from auditkit.decision.record import Sheet
from auditkit.decision.render import FILES, render
from auditkit.errors import DecisionError
from auditkit.results import ResultsError
from auditkit.signing.options import SigningOptions, SigningPlan, plan_signing

DECISIONS = "decisions"
"""The folder of the sheets in the audit's out folder (the default ``out``)."""
INDEX = ("index.json", "index.html")
"""A batch's index, in ``out``."""


@dataclass(frozen=True)
class SheetResult:
    """One decision's sheet: its id, folder, files, whether an earlier run had made it, its figures."""

    decision_id: str
    folder: Path
    files: tuple[Path, ...]
    reused: bool
    sheet: Sheet


@dataclass(frozen=True)
class Explained:
    """What :func:`auditkit.explain` did: the sheets, in input order, and the batch's index files."""

    out: Path
    sheets: tuple[SheetResult, ...]
    index: tuple[Path, ...] = ()


def _finished(folder: Path, image_sha256: str, results_sha256: str) -> Sheet | None:
    """The sheet already in ``folder`` for this image and audit (``None``: no folder yet; a sheet's
    folder is renamed into place whole, so an interrupted run leaves none).

    Raises:
        DecisionError: ``folder`` holds a sheet of another image or audit, or is not a whole sheet.
    """
    if not folder.exists():
        return None
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing:
        raise DecisionError(f"{folder} is not a whole decision sheet ({missing[0]} is missing): move it "
                            "away to make the sheet again")
    try:
        sheet = Sheet.from_json((folder / FILES[0]).read_bytes())
    except (OSError, ResultsError) as exc:
        raise DecisionError(f"{folder / FILES[0]} is not a decision sheet's sheet.json ({exc}): move the "
                            "folder away to make the sheet again") from None
    if sheet.image_sha256 != image_sha256 or sheet.audit.results_sha256 != results_sha256:
        raise DecisionError(f"{folder} holds the sheet of decision {sheet.decision_id!r} for another "
                            "image or audit: give another --decision-id or --out")
    return sheet


def _index(out: Path, results: Sequence[SheetResult]) -> dict[str, bytes]:
    """index.json and index.html of a batch: one row per sheet (no figure beyond the decision)."""
    from auditkit.report.html import render_html

    rows = [{"decision_id": r.decision_id, "folder": r.folder.relative_to(out).as_posix(),
             "sheet_sha256": _sha256(r.folder / FILES[0]), "created": r.sheet.created,
             "decision": r.sheet.decision.predicted.label,
             "probability": r.sheet.decision.predicted.probability} for r in results]
    first = results[0].sheet.audit
    data = {"kind": "auditkit-decision-index", "audit": {"audit_id": first.audit_id,
                                                         "results_sha256": first.results_sha256},
            "sheets": rows}
    html = render_html({"title": f"Decision sheets of audit #{first.audit_id}", "rows": rows},
                       "sheet_index.html.j2")
    return {INDEX[0]: (json.dumps(data, indent=2) + "\n").encode(), INDEX[1]: html.encode()}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _quiet(_: str) -> None:
    """The default log: nothing."""


def explain_all(audit: str | Path, images: Sequence[str | Path], *, trust: Sequence[Any] = (),
                decision_id: str | None = None, out: str | Path | None = None,
                checkpoint: str | Path | None = None, methods: Sequence[str] | None = None,
                signing: SigningOptions | None = None, device: str = "cpu", progress: bool = False,
                log: Callable[[str], None] = _quiet) -> Explained:
    """:func:`auditkit.explain`: one sheet per decision of ``images`` (image files, folders, CSV
    logs), under the signed audit in ``audit``; an index for more than one decision or a folder or
    log. Everything is checked before anything is written (module docstring).

    Raises:
        DecisionError, DataError, SigningError: a bad input, named in one line.
    """
    from auditkit.decision.system import history_database, load_system

    paths = [Path(p) for p in images]
    asked = decisions(paths, decision_id)
    system = load_system(audit, trust=trust, checkpoint=checkpoint, methods=methods, device=device)
    database = history_database(Path(audit))
    shape, resize = system.document.dataset.image_shape, _resize(system.policy)
    read = [(item, *read_image(item.image, shape, resize)) for item in asked]
    folder = Path(out) if out is not None else _default_out(Path(audit))
    done = {item.decision_id: _finished(folder / item.decision_id, digest, system.results_sha256)
            for item, _, digest in read}
    plan = plan_signing(signing) if signing is not None else None
    results = [_one(system, folder, item, image, digest, done[item.decision_id], plan, database, log)
               for item, image, digest in _bar(read, progress)]
    batch = len(asked) > 1 or any(p.is_dir() or p.suffix.lower() == ".csv" for p in paths)
    index = () if not batch else tuple(_write_index(folder, _index(folder, results)))
    return Explained(folder, tuple(results), index)


def _one(system: Any, folder: Path, item: DecisionInput, image: Any, digest: str, done: Sheet | None,
         plan: SigningPlan | None, database: Path | None, log: Callable[[str], None]) -> SheetResult:
    """The sheet of one decision: the finished one found, or made, written and recorded now."""
    from auditkit.decision.dossier import record_sheet, write_sheet
    from auditkit.decision.figures import decide

    where = folder / item.decision_id
    if done is not None:  # recorded again: a run killed between writing and recording it
        if database is not None and done.audit.audit_id is not None:
            record_sheet(database, (where / FILES[0]).read_bytes(), where)
        log(f"decision {item.decision_id}: its sheet is already in {where}")
        return SheetResult(item.decision_id, where, tuple(where / n for n in FILES), True, done)
    created = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    sheet, maps = decide(system, image, decision_id=item.decision_id, image_sha256=digest, created=created)
    files = write_sheet(where, render(sheet, image.numpy(), maps), plan)
    if database is not None and sheet.audit.audit_id is not None:
        record_sheet(database, files[0].read_bytes(), where)
    log(f"decision {item.decision_id}: {sheet.decision.predicted.label}; sheet written to {where}")
    return SheetResult(item.decision_id, where, tuple(files), False, sheet)


def _write_index(folder: Path, files: Mapping[str, bytes]) -> list[Path]:
    """A batch's index files in ``folder``, each written atomically (rewritten by every run)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        _atomic.write_bytes(folder / name, data)
    return [folder / name for name in files]


def _bar(items: list[Any], progress: bool) -> Any:
    from tqdm import tqdm

    return tqdm(items, desc="explain", unit="decision", disable=not progress, file=sys.stderr,
                dynamic_ncols=True)


def _resize(policy: Any) -> Any:
    from auditkit.engine.preflight import declared_resize

    return declared_resize(policy)


def _default_out(audit: Path) -> Path:
    """``<out>/decisions`` of the audit's out folder (that of a kept dossier ``<out>/audits/<id>/``)."""
    from auditkit.history.verify import AUDITS

    top = audit.parent.parent if audit.parent.name == AUDITS else audit
    return top / DECISIONS


__all__ = ["DECISIONS", "INDEX", "Explained", "SheetResult", "explain_all"]
