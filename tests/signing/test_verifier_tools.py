"""docs/guide/verifying.rst stays true: every ``$`` command of its console blocks runs, in order, in
a signed dossier's folder, and prints what the page shows (dates, sizes, digests and OpenSSL's
thread ids and source lines aside)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from .test_verifier_commands import ROOT, make_dossier

PAGE = ROOT / "docs" / "guide" / "verifying.rst"
TOOLS = ("pdfsig", "pdfdetach", "openssl", "sha256sum", "cmp", "sed", "head", "tail", "grep")
MISSING = [tool for tool in TOOLS if shutil.which(tool) is None]

pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"not installed: {', '.join(MISSING)}")


def console_blocks(text: str) -> list[list[str]]:
    """The lines of each ``.. code-block:: console`` of an rst page, unindented."""
    blocks, lines = [], text.splitlines()
    for start, line in enumerate(lines):
        if line.strip() == ".. code-block:: console":
            block = []
            for body in lines[start + 1:]:
                if body and not body.startswith("   "):
                    break
                block.append(body[3:])
            blocks.append([b for b in block if b.strip()])
    return blocks


def normalise(line: str) -> str:
    """``line`` without what differs between dossiers and builds: times, numbers, digests, OpenSSL's
    thread id and source file."""
    line = re.sub(r"^[0-9A-F]+:error:([0-9A-F]+:[^:]*:[^:]*:[^:]*):.*$", r"error:\1", line)
    line = re.sub(r"Signing Time: .*", "Signing Time: T", line)
    return re.sub(r"\d+", "N", re.sub(r"[0-9a-fA-F]{16,}", "H", line))


def transcript(lines: list[str], folder: Path) -> list[str]:
    """Run the ``$`` lines in one shell in ``folder``: each command echoed as ``$ ...``, then what it
    prints (stdout and stderr)."""
    script = "".join(f"printf '%s\\n' {shlex.quote(line)}\n{line[2:]}\n"
                     for line in lines if line.startswith("$ "))
    done = subprocess.run(["bash", "-c", script], cwd=folder, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=300, check=False,
                          env={**os.environ, "LC_ALL": "C.UTF-8"})
    return done.stdout.splitlines()


def test_the_page_shows_what_the_tools_print(tmp_path: Path) -> None:
    out = make_dossier(tmp_path)
    blocks = console_blocks(PAGE.read_text(encoding="utf-8"))
    assert len(blocks) == 4
    shown = [line for block in blocks for line in block]
    ran = transcript(shown, out)
    assert [normalise(line) for line in ran] == [normalise(line) for line in shown]

    # what the normalising hides: the tools answered as the page says for this dossier
    assert "  - Signature Validation: Signature is Valid." in ran
    assert "  - Signature Validation: Digest Mismatch." in ran
    assert ran.count("CMS Verification successful") == 3 and "exit 4" in ran
    policy = json.loads((out / "results.json").read_text())["policy"]["sha256"]
    assert f"{policy}  embedded/policy.yaml" in ran and f'    "sha256": "{policy}",' in ran
