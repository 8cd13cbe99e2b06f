"""The light distribution (verifier/pyproject.toml) builds a wheel of auditkit's own source files,
installs into a fresh virtual environment from the package registry without torch, and its
``auditkit-verify`` verifies a signed dossier as ``auditkit`` does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .test_verifier_commands import ROOT, light_modules, make_dossier

pytestmark = pytest.mark.slow  # a venv and pyHanko's install from the registry: ~30 s to minutes


def build_wheel(tmp_path: Path) -> Path:
    """The wheel, built from a copy of verifier/ and auditkit/ (the build writes into its source)."""
    source = tmp_path / "src"
    shutil.copytree(ROOT / "verifier", source / "verifier",
                    ignore=shutil.ignore_patterns("build", "*.egg-info"))
    shutil.copytree(ROOT / "auditkit", source / "auditkit", ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "-w", str(tmp_path / "dist"), str(source / "verifier")],
                          capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = (tmp_path / "dist").glob("auditkit_verify-*.whl")
    return wheel


def expected_files() -> set[str]:
    """The source files the wheel must hold: the listed modules, every module of the listed packages."""
    modules, packages = light_modules()
    files = {name.replace(".", "/") + ("/__init__.py" if (ROOT / name.replace(".", "/")).is_dir() else ".py")
             for name in modules}
    for package in packages:
        folder = ROOT / package.replace(".", "/")
        files |= {path.relative_to(ROOT).as_posix() for path in folder.glob("*.py")}
    return files


def test_the_wheel_packages_auditkits_own_files(tmp_path: Path) -> None:
    with zipfile.ZipFile(build_wheel(tmp_path)) as wheel:
        names = {n for n in wheel.namelist() if ".dist-info/" not in n}
        assert names == expected_files()
        for name in names:
            assert wheel.read(name) == (ROOT / name).read_bytes(), f"{name} is not auditkit's file"
        (entry_points,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
        assert "auditkit-verify = auditkit.cli.verifier:main" in wheel.read(entry_points).decode()


def test_a_fresh_venv_verifies_a_dossier_without_torch(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    bin_ = venv / ("Scripts" if os.name == "nt" else "bin")
    done = subprocess.run([str(bin_ / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
                          capture_output=True, text=True, check=False, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    probe = "import importlib.util as u; print([m for m in ('torch', 'numpy', 'captum') if u.find_spec(m)])"
    assert subprocess.run([str(bin_ / "python"), "-c", probe], capture_output=True, text=True,
                          check=True, timeout=120).stdout == "[]\n"

    out = make_dossier(tmp_path / "dossier")
    ca = out / "ca.pem"

    def light(*argv: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(bin_ / "auditkit-verify"), *map(str, argv)], capture_output=True,
                              text=True, check=False, timeout=300, cwd=tmp_path)

    def full(*argv: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "auditkit.cli", *map(str, argv)], capture_output=True,
                              text=True, check=False, timeout=300, cwd=ROOT)

    ok = light("verify", out, "--trust", ca)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout == full("verify", out, "--trust", ca).stdout
    assert any(line.startswith("OK: 3 of 3 signatures valid, trusted") for line in ok.stdout.splitlines())
    history = light("history-check", "--db", out, "--trust", ca)
    expected = full("history", "--check", "--db", out, "--trust", ca).stdout
    assert (history.returncode, history.stdout) == (0, expected)
    assert "hash chain verified, 1 audit(s)" in history.stdout

    data = bytearray((out / "results.json").read_bytes())
    data[len(data) // 2] ^= 0x01
    (out / "results.json").write_bytes(bytes(data))
    changed = light("verify", out, "--trust", ca)
    assert changed.returncode == 1
    assert f"{out / 'results.json'}: modified: " in changed.stdout
    assert light("history-check", "--db", out, "--trust", ca).returncode == 2
