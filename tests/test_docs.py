"""The documentation builds with warnings as errors (as ``make docs`` does) and its examples run.

Both builds write into a temporary folder, never docs/_build. The policy reference and the metric
catalog are generated during the build (docs/_ext/auditkit_reference.py), so a field without a
docstring fails here too.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow  # each build reads every page and imports the package: ~20 s on 2 cores


def sphinx(builder: str, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", builder,
         "-d", str(out / "doctrees"), str(ROOT / "docs"), str(out / builder)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )


def test_docs_build_without_warnings(tmp_path: Path) -> None:
    done = sphinx("html", tmp_path)
    assert done.returncode == 0, done.stderr
    policy = (tmp_path / "html" / "reference" / "policy.html").read_text(encoding="utf-8")
    assert "training.epochs" in policy and "sqrt_spearman" in policy  # generated from the schema
    metrics = (tmp_path / "html" / "guide" / "metrics.html").read_text(encoding="utf-8")
    assert "reco_corrected" in metrics  # generated from the catalog
    explainers = (tmp_path / "html" / "guide" / "explainers.html").read_text(encoding="utf-8")
    assert explainers.count("SLIC may return fewer") == 2  # KernelSHAP's and LIME's, from their parent's Args


def test_docs_examples_run(tmp_path: Path) -> None:
    done = sphinx("doctest", tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 failures in tests" in (tmp_path / "doctest" / "output.txt").read_text(encoding="utf-8")
