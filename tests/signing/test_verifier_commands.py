"""``auditkit-verify`` checks a dossier with only the light distribution's modules: torch and the rest
of the audit stack cannot be imported, nor any auditkit module verifier/pyproject.toml does not
package; and it prints what ``auditkit verify`` and ``auditkit history --check`` print."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

from auditkit.cli import main  # noqa: E402
from auditkit.cli.verifier import main as verifier_main  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
AUDIT_STACK = ("torch", "torchvision", "captum", "numpy", "scipy", "sklearn", "matplotlib", "jinja2",
               "weasyprint", "PIL", "tqdm", "deel")
"""Top-level packages of auditkit's dependencies that the light distribution does not install."""


def light_modules() -> tuple[list[str], list[str]]:
    """The auditkit modules and packages verifier/pyproject.toml packages: its ``py-modules``, with
    the packages that hold them (setuptools adds their ``__init__``), and its ``packages``."""
    config = tomllib.loads((ROOT / "verifier" / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = config["tool"]["setuptools"]
    listed = setuptools["py-modules"]
    parents = {".".join(name.split(".")[:end]) for name in listed for end in range(1, name.count(".") + 1)}
    return sorted(parents) + listed, setuptools["packages"]


def _history_conftest() -> ModuleType:
    """tests/history/conftest.py, whose ``record_signed_audit`` records a signed audit without training."""
    spec = importlib.util.spec_from_file_location("_history_conftest_for_verifier",
                                                  ROOT / "tests" / "history" / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    spec.loader.exec_module(module)  # registered first: its dataclasses look their module up
    return module


def make_dossier(folder: Path) -> Path:
    """A signed audit as ``auditkit run --sign-key`` leaves it in ``folder/out`` (results.json,
    report.html, report.pdf, their .p7s, history.sqlite) and its CA as ``folder/out/ca.pem``."""
    from auditkit.signing import keygen, load_signer

    keys = keygen(folder / "keys", name="Audit Officer", days=30)
    out = folder / "out"
    _history_conftest().record_signed_audit(out, load_signer(keys.pkcs12), "2026-03-01T02:00:00+00:00")
    shutil.copy(keys.ca_cert, out / "ca.pem")
    return out


@pytest.fixture(scope="module")
def dossier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Read-only: tests that change a file take a copy."""
    return make_dossier(tmp_path_factory.mktemp("verifier"))


REFUSE = textwrap.dedent("""
    import sys
    from importlib.abc import MetaPathFinder

    BLOCKED, MODULES, PACKAGES = {blocked!r}, {modules!r}, {packages!r}

    class Refuse(MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            top = name.split(".")[0]
            light = name in MODULES or any(name == p or name.startswith(p + ".") for p in PACKAGES)
            if top in BLOCKED or (top == "auditkit" and not light):
                raise ModuleNotFoundError(f"blocked: {{name}}", name=name)
            return None

    sys.meta_path.insert(0, Refuse())
""")


def python_without_the_audit_stack(body: str, *argv: object,
                                   timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``body`` run in a fresh interpreter that refuses the audit stack's imports and every auditkit
    module the light distribution lacks."""
    modules, packages = light_modules()
    code = REFUSE.format(blocked=AUDIT_STACK, modules=modules, packages=packages) + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", code, *map(str, argv)], capture_output=True, text=True,
                          check=False, timeout=timeout, cwd=ROOT)


def run_light(*argv: object) -> subprocess.CompletedProcess[str]:
    """``auditkit-verify ARGV`` with only the light distribution's modules."""
    return python_without_the_audit_stack(
        "from auditkit.cli.verifier import main\nsys.exit(main(sys.argv[1:]))", *argv)


IMPORT_ALL = """
    import importlib
    for name in sys.argv[1:]:
        importlib.import_module(name)
    print(len(sys.argv) - 1)
"""


def test_the_finder_refuses_what_the_light_distribution_lacks() -> None:
    for name, refused in (("torch", "torch"), ("numpy", "numpy"), ("auditkit.api", "auditkit.api"),
                          ("auditkit.report.pdf", "auditkit.report"), ("auditkit.policy", "auditkit.policy")):
        done = python_without_the_audit_stack(IMPORT_ALL, name, timeout=120)
        assert done.returncode == 1, done.stdout
        assert f"ModuleNotFoundError: blocked: {refused}\n" in done.stderr, done.stderr


def test_every_light_module_imports_without_the_audit_stack() -> None:
    modules, packages = light_modules()
    names = [*modules, *packages]
    names += [".".join(path.relative_to(ROOT).with_suffix("").parts)
              for package in packages for path in sorted((ROOT / package.replace(".", "/")).glob("*.py"))
              if path.name not in ("__init__.py", "__main__.py")]
    done = python_without_the_audit_stack(IMPORT_ALL, *names)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == len(names) > 30


def test_light_verify_prints_what_auditkit_verify_prints(dossier: Path, capsys) -> None:
    light = run_light("verify", dossier, "--trust", dossier / "ca.pem")
    assert main(["verify", str(dossier), "--trust", str(dossier / "ca.pem")]) == light.returncode == 0
    assert light.stdout == capsys.readouterr().out
    lines = light.stdout.splitlines()
    assert any(line.startswith("OK: 3 of 3 signatures valid, trusted") for line in lines), lines
    assert lines[-1].startswith("history: the dossier's audit is in "), lines  # checked by default
    assert light.stderr == ""
    strict = run_light("verify", dossier, "--trust", dossier / "ca.pem", "--strict")
    assert strict.returncode == 0, strict.stdout + strict.stderr
    assert strict.stdout.splitlines()[-1].startswith("history: the dossier's audit is in ")


def test_light_verify_fails_on_a_changed_byte(dossier: Path, tmp_path: Path, flip, capsys) -> None:
    changed = Path(shutil.copytree(dossier, tmp_path / "out"))
    flip(changed / "results.json")
    light = run_light("verify", changed, "--trust", changed / "ca.pem")
    assert main(["verify", str(changed), "--trust", str(changed / "ca.pem")]) == light.returncode == 1
    assert light.stdout == capsys.readouterr().out
    assert f"{changed / 'results.json'}: modified: " in light.stdout
    assert any(line.startswith("FAILED: ") for line in light.stdout.splitlines()), light.stdout


def test_light_history_check_prints_what_auditkit_history_check_prints(dossier: Path, tmp_path: Path,
                                                                       flip, capsys) -> None:
    args = ("--db", dossier, "--trust", dossier / "ca.pem")
    light = run_light("history-check", *args)
    assert main(["history", "--check", *map(str, args)]) == light.returncode == 0
    assert light.stdout == capsys.readouterr().out
    assert "hash chain verified, 1 audit(s)" in light.stdout
    changed = Path(shutil.copytree(dossier, tmp_path / "out"))
    flip(changed / "report.html")
    light = run_light("history-check", "--db", changed, "--trust", changed / "ca.pem")
    assert light.returncode == 2
    assert light.stderr.startswith(f"auditkit: error: history check of {changed / 'history.sqlite'} found ")


def test_the_command_line_of_auditkit_verify(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        verifier_main(["run", "policy.yaml"])
    assert exit_.value.code == 2
    assert "invalid choice: 'run'" in capsys.readouterr().err
    assert verifier_main(["verify", str(ROOT / "no-such-folder")]) == 2
    assert "auditkit: error: " in capsys.readouterr().err


def test_light_verify_checks_a_decision_sheet_and_its_audit(tmp_path: Path, flip, capsys) -> None:
    """A sheet (tests/decision/dossier/conftest.py: a signed audit and a hand-written sheet.json) verifies
    without the audit stack, and a changed byte of its sheet.json fails, as with ``auditkit``."""
    from auditkit.decision.dossier import record_sheet, write_sheet
    from auditkit.signing import keygen, load_signer
    from auditkit.signing.options import SigningOptions

    spec = importlib.util.spec_from_file_location("_decision_conftest_for_verifier",
                                                  ROOT / "tests" / "decision" / "dossier" / "conftest.py")
    assert spec is not None and spec.loader is not None
    sheets = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    spec.loader.exec_module(sheets)
    keys = keygen(tmp_path / "keys", name="Decision Officer", days=30)
    out = tmp_path / "audit" / "out"
    out.parent.mkdir()
    sheets.record_audit(out, load_signer(keys.pkcs12), "2026-03-01T02:00:00+00:00")
    data = sheets.sheet_json(out, "d-1")
    folder = out / "decisions" / "d-1"
    write_sheet(folder, sheets.sheet_files(data), SigningOptions(key=keys.pkcs12))
    record_sheet(out / "history.sqlite", data)
    light = run_light("verify", folder, "--trust", keys.ca_cert)
    assert main(["verify", str(folder), "--trust", str(keys.ca_cert)]) == light.returncode == 0
    assert light.stdout == capsys.readouterr().out and light.stderr == ""
    assert light.stdout.splitlines()[-1].startswith("OK: the decision sheet's signatures verify")
    flip(folder / "sheet.json")
    light = run_light("verify", folder, "--trust", keys.ca_cert)
    assert light.returncode == 1 and f"{folder / 'sheet.json'}: modified: " in light.stdout
