"""What the installed command prints on stderr, run as a user runs it: a fresh interpreter with Python's
default warning filters, so a dependency's import-time warning (pyHanko under cryptography 51 warns
that DSA is deprecated) would show here. Nothing but auditkit's own line may reach stderr."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMAND = Path(sys.executable).with_name("auditkit")


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHONWARNINGS")}
    return subprocess.run([str(COMMAND), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_console_script_is_installed() -> None:
    assert COMMAND.is_file(), f"{COMMAND} missing: install the package (make test does)"


def test_a_bad_policy_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: x\ndataset: {kind: digits}\nexplainers: [{name: saliency}]\n"
                   "cross_validation: {kk: 5}\n")
    done = _run("validate", str(bad))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"auditkit: error: {bad}:5: cross_validation.kk"), done.stderr


def test_a_good_policy_and_the_version_print_nothing_on_stderr(shipped_demo: Path) -> None:
    for args in (("validate", str(shipped_demo)), ("--version",)):
        done = _run(*args)
        assert done.returncode == 0 and done.stderr == "", (args, done.stderr)


def test_verify_prints_its_verdict_and_nothing_else(signed_dir: Path, keys) -> None:
    done = _run("verify", str(signed_dir), "--trust", str(keys.ca_cert))
    assert done.returncode == 0 and done.stderr == ""
    missing = _run("verify", str(signed_dir / "absent"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1


def test_history_on_a_missing_database_is_one_line(tmp_path: Path) -> None:
    done = _run("history", "--db", str(tmp_path / "none.sqlite"))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and done.stdout == ""


@pytest.mark.parametrize("modules", ["auditkit", "auditkit.signing", "auditkit.report",
                                     "auditkit.history, auditkit.cli"])
def test_importing_auditkit_prints_nothing(modules: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHONWARNINGS")}
    done = subprocess.run([sys.executable, "-c", f"import {modules}"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout == "" and done.stderr == "", done.stderr


def test_an_import_warning_goes_to_the_log_not_to_stderr(tmp_path: Path) -> None:
    (tmp_path / "noisy_dependency.py").write_text(
        "import warnings\nwarnings.warn('deprecated at import', UserWarning)\n")
    script = ("import logging, sys\n"
              "from auditkit._imports import quiet_imports\n"
              "records = []\n"
              "logging.getLogger('auditkit.imports').addHandler(logging.Handler())\n"
              "logging.getLogger('auditkit.imports').handlers[-1].emit = records.append\n"
              "with quiet_imports():\n"
              "    import noisy_dependency\n"
              "print(len(records), records[0].getMessage())\n"
              "import warnings\n"
              "warnings.warn('auditkit own, outside the block', UserWarning)\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("1 UserWarning while importing: deprecated at import")
    assert "deprecated at import" not in done.stderr  # logged, not shown
    assert "auditkit own, outside the block" in done.stderr  # warnings outside the block untouched


def test_validate_loads_no_scikit_learn_and_opens_no_semaphore(shipped_demo: Path) -> None:
    """A command that only reads a policy creates nothing: scikit-learn's import runs joblib's
    multiprocessing check, which opens POSIX semaphores (``/dev/shm/sem.*``), so the digits loader
    imports it only when it loads the digits."""
    script = ("import sys\nfrom auditkit.cli import main\n"
              f"assert main(['validate', {str(shipped_demo)!r}]) == 0\n"
              "print(sorted(m for m in ('sklearn', 'joblib') if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and done.stdout.splitlines()[-1] == "[]", done.stdout + done.stderr
    strace = shutil.which("strace")
    if strace:  # where it is installed, watch the system calls themselves
        traced = subprocess.run([strace, "-f", "-e", "trace=openat", str(COMMAND), "validate",
                                 str(shipped_demo)], cwd=ROOT, capture_output=True, text=True,
                                timeout=300)
        assert traced.returncode == 0 and "/dev/shm/sem." not in traced.stderr
