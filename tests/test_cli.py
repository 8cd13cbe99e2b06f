"""The command line's conventions: --help, --version, validate, exit codes, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import auditkit
from auditkit.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["validate", "--help"],
                                  ["history", "--help"], ["diff", "--help"]])
def test_help_exits_0(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    assert "usage: auditkit" in capsys.readouterr().out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"auditkit {auditkit.__version__}"


def test_usage_error_exits_2() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run"])
    assert exit_info.value.code == 2


def test_validate_shipped_demo(shipped_demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(shipped_demo)]) == 0
    assert "valid policy 'digits-demo'" in capsys.readouterr().out


def test_validate_missing_dataset_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "version: 1\nname: x\ndataset:\n  kind: cifar10\n  path: nowhere\nexplainers:\n  - name: saliency\n"
    )
    assert main(["validate", str(policy)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"auditkit: error: {policy}:5:") and str(tmp_path / "nowhere") in err


def test_run_missing_dataset_names_the_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "cifar"
    data.mkdir()  # exists, but holds no batches
    policy = tmp_path / "p.yaml"
    policy.write_text(
        f"version: 1\nname: x\ndataset:\n  kind: cifar10\n  path: {data}\n"
        "explainers:\n  - name: saliency\n"
    )
    assert main(["run", str(policy), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(data) in err and "Traceback" not in err


def test_console_script_runs_as_module() -> None:
    done = subprocess.run([sys.executable, "-m", "auditkit", "--version"], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0 and done.stdout.startswith("auditkit ")


def test_the_cli_and_the_history_load_without_torch() -> None:
    """The run lock is taken before the engine loads: a second cron run must exit at once, so the
    CLI, the history and the signing code may not import torch at module level."""
    code = ("import sys, auditkit.cli, auditkit.history, auditkit.signing; "
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], check=False, timeout=120).returncode == 0


def _boom(_args: object) -> int:
    import logging

    logging.getLogger("pyhanko.some.module").error("caught inside a library", exc_info=ValueError("x"))
    raise RuntimeError("something no check foresaw")


@pytest.mark.parametrize("where", ["before", "after"])
def test_unexpected_error_is_one_line_and_the_traceback_needs_debug(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], where: str) -> None:
    monkeypatch.setattr("auditkit.cli.run.validate", _boom)
    assert main(["validate", "p.yaml"]) == 2
    err = capsys.readouterr().err
    assert err == ("auditkit: error: unexpected RuntimeError: something no check foresaw "
                   "(run with --debug for the traceback)\n")
    argv = ["--debug", "validate", "p.yaml"] if where == "before" else ["validate", "p.yaml", "--debug"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "caught inside a library" in err
    assert err.endswith("auditkit: error: unexpected RuntimeError: something no check foresaw\n")


def test_echoed_text_is_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad\x1b[2Jname.yaml"
    path.write_text("version: [\n")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "bad\\x1b[2Jname.yaml" in err and err.count("\n") == 1


def test_no_function_passes_60_lines() -> None:
    """Small functions everywhere, the CLI's included (it parses, calls the library and prints)."""
    import ast

    long = [f"{path.relative_to(ROOT)}:{node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for path in sorted((ROOT / "auditkit").rglob("*.py"))
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and (node.end_lineno or node.lineno) - node.lineno + 1 > 60]
    assert not long, f"split these: {long}"
