"""Every bad input of ``auditkit explain``, run through the installed command: one line on stderr
naming what is wrong, exit 2, nothing on stdout, nothing written (tests/test_cli_errors.py's style)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from PIL import Image

if TYPE_CHECKING:
    from tests.decision.conftest import SignedAudit

ROOT = Path(__file__).resolve().parents[2]
COMMAND = Path(sys.executable).with_name("auditkit")


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, PYTHONPATH=path)
    return subprocess.run([str(COMMAND), *args], env=env, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in folder.rglob("*")}


Case = Callable[[Path, "SignedAudit"], tuple[list[str], str]]
"""A case: (tmp folder, the audit) -> (the command's arguments, a phrase its error must hold)."""


def _image(name: str, array: np.ndarray) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        Image.fromarray(array).save(tmp / name)
        return tmp / name
    return make


def _case(kind: str) -> Case:
    def make(tmp: Path, audit: SignedAudit) -> tuple[list[str], str]:
        good = [str(audit.out), str(audit.images[0]), "--trust", str(audit.ca)]
        if kind == "missing image":
            return [str(audit.out), str(tmp / "nope.png"), "--trust", str(audit.ca)], "no such image"
        if kind == "not an image":
            (tmp / "notes.png").write_text("not pixels")
            return [str(audit.out), str(tmp / "notes.png"), "--trust", str(audit.ca)], "not a readable image"
        if kind == "wrong channels":
            path = _image("colour.png", np.zeros((8, 8, 3), dtype=np.uint8))(tmp)
            return [str(audit.out), str(path), "--trust", str(audit.ca)], "3 channels"
        if kind == "wrong size":
            path = _image("big.png", np.zeros((16, 12), dtype=np.uint8))(tmp)
            return [str(audit.out), str(path), "--trust", str(audit.ca)], "12x16 pixels"
        if kind == "no signed audit":
            (tmp / "empty").mkdir()
            return [str(tmp / "empty"), str(audit.images[0])], "holds no audit"
        if kind == "does not verify":
            copy = Path(shutil.copytree(audit.out, tmp / "copy", ignore=shutil.ignore_patterns("work")))
            data = bytearray((copy / "report.html").read_bytes())
            data[len(data) // 2] ^= 1
            (copy / "report.html").write_bytes(bytes(data))
            return [str(copy), str(audit.images[0]), "--trust", str(audit.ca)], "does not verify"
        if kind == "untrusted":
            return [str(audit.out), str(audit.images[0])], "does not verify"
        if kind == "other checkpoint":
            other = tmp / "other.pt"
            other.write_bytes(audit.checkpoint.read_bytes() + b"\0")
            return [*good, "--checkpoint", str(other)], "is not the audited one"
        if kind == "uncertified method":
            return [*good, "--method", "integrated_gradients"], "was not certified"
        if kind == "control character":
            return [*good, "--decision-id", "case\x1b[31m"], "control character U+001B"
        raise AssertionError(kind)
    return make


@pytest.mark.parametrize("kind", ["missing image", "not an image", "wrong channels", "wrong size",
                                  "no signed audit", "does not verify", "untrusted", "other checkpoint",
                                  "uncertified method", "control character"])
def test_a_bad_input_is_one_line_and_exit_2(kind: str, signed_audit: SignedAudit, tmp_path: Path) -> None:
    args, phrase = _case(kind)(tmp_path, signed_audit)
    before = _snapshot(signed_audit.out)
    done = _run(["explain", *args, "--out", str(tmp_path / "sheets")])
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("auditkit: error: "), done.stderr
    assert phrase in done.stderr
    assert not (tmp_path / "sheets").exists() and _snapshot(signed_audit.out) == before


def test_the_command_makes_a_sheet_and_prints_it_as_json(signed_audit: SignedAudit, tmp_path: Path) -> None:
    import json

    audit = shutil.copytree(signed_audit.out, tmp_path / "audit")  # its history records the sheet
    done = _run(["explain", str(audit), str(signed_audit.images[2]), "--trust",
                 str(signed_audit.ca), "--out", str(tmp_path / "sheets"), "--json"])
    assert done.returncode == 0, done.stderr
    (sheet,) = json.loads(done.stdout)
    assert sheet["decision_id"] == "digit-302" and sheet["kind"] == "auditkit-decision-sheet"
    assert (tmp_path / "sheets" / "digit-302" / "sheet.pdf").is_file()
    assert _run(["explain", "--help"]).stdout.count("--decision-id") >= 1
