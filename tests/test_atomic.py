"""Atomic writes never leave a half-written file over a good one."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditkit import _atomic


def test_replaces_content(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "r.json"
    _atomic.write_text(target, "one")
    _atomic.write_text(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["r.json"]


def test_failure_mid_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "report.pdf"
    target.write_bytes(b"good")

    def broken_writer(handle) -> None:
        handle.write(b"half of a new fi")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        _atomic.write_with(target, broken_writer)
    assert target.read_bytes() == b"good"
    assert [p.name for p in tmp_path.iterdir()] == ["report.pdf"]


def test_torch_save_round_trip(tmp_path: Path) -> None:
    import torch

    _atomic.torch_save({"a": torch.arange(3)}, tmp_path / "x.pt")
    assert torch.load(tmp_path / "x.pt", weights_only=True)["a"].tolist() == [0, 1, 2]


def test_without_replace_an_existing_file_is_left_and_nothing_stays_behind(tmp_path: Path) -> None:
    target = tmp_path / "model.pt"
    _atomic.write_with(target, lambda handle: handle.write(b"new"), replace=False)
    assert target.read_bytes() == b"new"
    with pytest.raises(FileExistsError):
        _atomic.write_with(target, lambda handle: handle.write(b"other"), replace=False)
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]
