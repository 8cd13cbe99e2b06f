"""Kept dossiers (:mod:`auditkit.history.archive`): named so they cannot collide, never overwritten."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from auditkit.errors import AuditError
from auditkit.history.archive import audit_folder, keep_dossier, keep_file, keep_unkept
from auditkit.history.errors import DossierExistsError

Document = Callable[..., Any]


def _dossier(document: Document, out: Path, audit_id: int, created: str) -> list[Path]:
    """results.json stamped as audit ``audit_id``, and a report, at the top of ``out``."""
    out.mkdir(exist_ok=True)
    stamp = {"audit_id": audit_id, "previous_audits": audit_id - 1, "previous_row_hash": "0" * 64}
    (out / "results.json").write_bytes(document(created=created, history=stamp).to_json())
    (out / "report.html").write_text(f"<p>{created}</p>")
    return [out / "results.json", out / "report.html"]


def test_a_kept_folder_is_named_by_number_and_results_digest(tmp_path: Path, document: Document) -> None:
    files = _dossier(document, tmp_path, 1, "2026-01-01T00:00:00+00:00")
    copies = keep_dossier(tmp_path, 1, files)
    digest = hashlib.sha256(files[0].read_bytes()).hexdigest()
    assert copies[0].parent == tmp_path / "audits" / f"0001-{digest[:12]}"
    assert [c.read_bytes() for c in copies] == [f.read_bytes() for f in files]
    assert audit_folder(tmp_path, 1, files[0].read_bytes()) == copies[0].parent


def test_two_audits_with_one_number_get_two_folders(tmp_path: Path, document: Document) -> None:
    """Two databases writing into one out folder both have an audit #1."""
    first = keep_dossier(tmp_path, 1, _dossier(document, tmp_path, 1, "2026-01-01T00:00:00+00:00"))
    kept = {p: p.read_bytes() for p in first}
    second = keep_dossier(tmp_path, 1, _dossier(document, tmp_path, 1, "2026-01-01T00:00:01+00:00"))
    assert first[0].parent != second[0].parent
    assert {p: p.read_bytes() for p in first} == kept


def test_keep_file_writes_once_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "audits" / "0001-x" / "report.pdf"
    assert keep_file(path, b"signed") is True
    assert keep_file(path, b"signed") is False  # the same bytes: left as they are
    with pytest.raises(DossierExistsError) as info:
        keep_file(path, b"other", tmp_path / "report.pdf")
    assert isinstance(info.value, AuditError) and info.value.path == path
    assert str(info.value) == (f"{tmp_path / 'report.pdf'} differs from its kept copy {path}: auditkit "
                               "never overwrites a kept dossier; move the one that is not an audit's away "
                               "and run again")
    assert path.read_bytes() == b"signed"
    assert sorted(p.name for p in path.parent.iterdir()) == ["report.pdf"]  # no temporary file left


def test_keep_unkept_keeps_the_top_once_and_refuses_a_changed_top(tmp_path: Path, document: Document) -> None:
    _dossier(document, tmp_path, 3, "2026-03-01T00:00:00+00:00")
    folder = keep_unkept(tmp_path)
    assert folder is not None and folder.name.startswith("0003-")
    assert keep_unkept(tmp_path) is None  # kept already: nothing written
    (tmp_path / "report.html").write_text("<p>another audit's</p>")
    with pytest.raises(DossierExistsError, match=r"report\.html differs from its kept copy "):
        keep_unkept(tmp_path)
    assert (folder / "report.html").read_text() == "<p>2026-03-01T00:00:00+00:00</p>"


def test_keep_unkept_knows_folders_named_before_digests(tmp_path: Path, document: Document) -> None:
    files = _dossier(document, tmp_path, 2, "2026-02-01T00:00:00+00:00")
    legacy = tmp_path / "audits" / "0002"
    legacy.mkdir(parents=True)
    (legacy / "results.json").write_bytes(files[0].read_bytes())
    assert keep_unkept(tmp_path) is None
    assert sorted(p.name for p in (tmp_path / "audits").iterdir()) == ["0002"]


def test_keep_linked_links_checks_the_digest_and_never_overwrites(tmp_path: Path) -> None:
    import os

    from auditkit.history.archive import keep_linked
    from auditkit.history.errors import HistoryError

    source = tmp_path / "work" / "fold_0.pt"
    source.parent.mkdir()
    source.write_bytes(b"weights")
    digest = hashlib.sha256(b"weights").hexdigest()
    kept = tmp_path / "audits" / "0001-ab" / "folds" / "fold_1.pt"
    assert keep_linked(kept, source, digest) is True
    assert os.stat(kept).st_ino == os.stat(source).st_ino  # a link, not a copy
    assert keep_linked(kept, source, digest) is False  # the same bytes are there: left as they are
    other = tmp_path / "other.pt"
    other.write_bytes(b"other weights")
    with pytest.raises(DossierExistsError, match="differs from its kept copy"):
        keep_linked(kept, other, hashlib.sha256(b"other weights").hexdigest())
    assert kept.read_bytes() == b"weights"
    fresh = kept.with_name("fold_2.pt")
    with pytest.raises(HistoryError, match=r"changed since results\.json named its SHA-256"):
        keep_linked(fresh, other, digest)  # the work file is not the one results.json names
    assert not fresh.exists()
