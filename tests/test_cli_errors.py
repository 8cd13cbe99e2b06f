"""Every bad input the docs list (docs/guide/errors.rst, the exit codes of docs/guide/running.rst,
docs/guide/history.rst, docs/guide/signing.rst), run through the installed command as a user runs
it: one line on stderr, ``auditkit: error: ...`` naming what is wrong, exit 2, nothing on stdout and
no file written or changed.

``validate`` is run under ``-X importtime``: a problem that needs no model (YAML syntax, an unknown
key, a type, a bound, a path) must come back without importing torch, captum or the dataset,
model and explainer registries (:mod:`auditkit.policy.loader`, reading on paper).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMMAND = Path(sys.executable).with_name("auditkit")
GOOD = "version: 1\nname: x\ndataset: {kind: digits}\nexplainers: [{name: saliency}]\n"
"""A valid policy, which every bad one below breaks in one place."""
HEAVY = ("torch", "torchvision", "captum", "sklearn", "auditkit.explainers", "auditkit.models",
         "auditkit.data", "auditkit.engine")
"""Modules the reading on paper must not import."""


def _run(args: list[str], cwd: Path, importtime: bool = False) -> tuple[subprocess.CompletedProcess[str],
                                                                        set[str]]:
    """The installed command's outcome, and under ``importtime`` the modules it imported (whose
    lines are taken out of its stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHONWARNINGS")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    prefix = [sys.executable, "-X", "importtime"] if importtime else []
    done = subprocess.run([*prefix, str(COMMAND), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)
    lines = done.stderr.splitlines(keepends=True)
    imported = {line.rsplit("|", 1)[1].strip() for line in lines if line.startswith("import time:")}
    done.stderr = "".join(line for line in lines if not line.startswith("import time:"))
    return done, imported


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` (links not followed) with its size and modification time."""
    return {str(p.relative_to(folder)): (p.lstat().st_size, p.lstat().st_mtime_ns)
            for p in folder.rglob("*")}


def _write(text: str | bytes) -> Callable[[Path], list[str]]:
    """A case whose policy file holds ``text``."""
    def make(tmp: Path) -> list[str]:
        path = tmp / "p.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
        return [str(path)]
    return make


def _special(kind: str) -> Callable[[Path], list[str]]:
    """A policy path that is not a regular file."""
    def make(tmp: Path) -> list[str]:
        path = tmp / "p.yaml"
        if kind == "folder":
            path.mkdir()
        elif kind == "fifo":
            os.mkfifo(path)
        elif kind == "socket":
            sock = socket.socket(socket.AF_UNIX)
            sock.bind(str(path))
            sock.close()
        else:
            return [kind]
        return [str(path)]
    return make


def _nested(depth: int) -> str:
    return GOOD + "description: " + "[" * depth + "]" * depth + "\n"


ALIAS_BOMB = GOOD + "x0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
    f"x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 6)) + "system: {name: *a5}\n"

VALIDATE_CASES: dict[str, tuple[Callable[[Path], list[str]], str]] = {
    # case: (policy path(s) written in the tmp folder, text the error line must hold)
    "missing file": (lambda tmp: [str(tmp / "absent.yaml")], "absent.yaml"),
    "a folder": (_special("folder"), "is a folder, not a policy file"),
    "a FIFO": (_special("fifo"), "is a FIFO (named pipe), not a policy file"),
    "a socket": (_special("socket"), "not a regular file"),
    "a device": (_special("/dev/zero"), "/dev/zero"),
    "over 1 MiB": (_write(GOOD + "# " + "x" * (1 << 20) + "\n"), "larger than 1024 KiB"),
    "not UTF-8": (_write(GOOD.encode() + b"description: caf\xe9\n"), "not UTF-8"),
    "empty": (_write(""), "empty"),
    "bad YAML": (_write(GOOD + "training: {epochs: 3\n"), ":"),
    "not a mapping": (_write("- a\n- b\n"), "must be a mapping"),
    "nested too deep": (_write(_nested(60)), "deep"),
    "alias bomb": (_write(ALIAS_BOMB), "more than 50000 values"),
    "duplicate key": (_write(GOOD + "name: y\n"), "duplicate key 'name'"),
    "unknown key": (_write(GOOD + "cross_validation: {kk: 5}\n"), "cross_validation.kk: unknown key 'kk'"),
    "unknown top-level key": (_write(GOOD + "trainig: {}\n"), "unknown key 'trainig'; did you mean"),
    "missing key": (_write("version: 1\nname: x\ndataset: {kind: digits}\n"),
                    "missing required key 'explainers'"),
    "wrong type": (_write(GOOD + "training: {epochs: five}\n"), "training.epochs: expected an integer"),
    "a bound": (_write(GOOD + "cross_validation: {k: 1}\n"),
                "cross_validation.k: expected an integer in [2, 100]"),
    "a count beyond 10^9": (_write(GOOD.replace("{kind: digits}", "{kind: digits, max_images: 10000000000}")),
                            "dataset.max_images"),
    "a tag that does not fit": (_write(GOOD.replace("version: 1", "version: !!bool 1")), "version"),
    "a control character": (_write(GOOD.replace("name: x", 'name: "x\\x1b[2J"')), "control character"),
    "a path with a NUL": (_write(GOOD + 'model: {init_weights: "a\\0b"}\n'), "model.init_weights"),
    "a path name over 255 bytes": (_write(GOOD + f"model: {{init_weights: {'a' * 300}}}\n"), "255"),
    "a path over 4095 bytes": (_write(GOOD + f"model: {{init_weights: {'a/' * 2100}w}}\n"), "4095"),
    "a missing data folder": (_write(GOOD.replace("{kind: digits}", "{kind: cifar10, path: nowhere}")),
                              "dataset.path: the dataset folder"),
    "a missing init_weights": (_write(GOOD + "model: {init_weights: none.pt}\n"), "model.init_weights"),
    "an out folder that is a file": (_write(GOOD + "run: {out: p.yaml}\n"), "run.out"),
    "an out folder on a device": (_write(GOOD + "run: {out: /dev/null}\n"), "run.out"),
}
"""Bad policies ``validate`` reports without importing torch."""

REGISTRY_CASES: dict[str, tuple[Callable[[Path], list[str]], str]] = {
    "an unknown explainer": (_write(GOOD.replace("saliency", "salincy")), "did you mean 'saliency'"),
    "an unknown explainer setting": (_write(GOOD.replace("{name: saliency}", "{name: rise, maskz: 3}")),
                                     "rise has no setting 'maskz'"),
    "an unknown dataset kind": (_write(GOOD.replace("kind: digits", "kind: cifar")), "dataset.kind"),
    "an unknown model family": (_write(GOOD + "model: {family: resnet}\n"), "model.family"),
}
"""Bad policies found against the registries, which import torch: the same one line, after it."""


def _check(done: subprocess.CompletedProcess[str], needle: str, before: dict, tmp: Path) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert done.stdout == "", done.stdout
    assert done.stderr.startswith("auditkit: error: ") and done.stderr.count("\n") == 1, done.stderr
    assert needle in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "unexpected" not in done.stderr, done.stderr
    assert _snapshot(tmp) == before, "a failed command wrote or changed a file"


@pytest.mark.parametrize("case", VALIDATE_CASES)
def test_validate_reports_a_bad_policy_in_one_line_without_torch(case: str, tmp_path: Path) -> None:
    make, needle = VALIDATE_CASES[case]
    args = make(tmp_path)
    before = _snapshot(tmp_path)
    done, imported = _run(["validate", *args], tmp_path, importtime=True)
    _check(done, needle, before, tmp_path)
    heavy = sorted(m for m in imported if m.split(".")[0] in HEAVY or ".".join(m.split(".")[:2]) in HEAVY)
    assert not heavy, f"{case}: imported {heavy[:5]}"


@pytest.mark.parametrize("case", REGISTRY_CASES)
def test_validate_reports_a_registry_problem_in_one_line(case: str, tmp_path: Path) -> None:
    make, needle = REGISTRY_CASES[case]
    args = make(tmp_path)
    before = _snapshot(tmp_path)
    done, imported = _run(["validate", *args], tmp_path, importtime=True)
    _check(done, needle, before, tmp_path)
    assert "torch" in imported  # the control: the registries are read, so the check above can fail


def test_a_valid_policy_is_checked_in_full(tmp_path: Path) -> None:
    """The reading on paper lets the rest through: a valid policy goes on to the model."""
    (tmp_path / "p.yaml").write_text(GOOD)
    done, imported = _run(["validate", "p.yaml", "--quiet"], tmp_path, importtime=True)
    assert done.returncode == 0 and done.stderr == "" and done.stdout == "", done.stderr
    assert {"torch", "auditkit.engine.preflight", "auditkit.explainers.registry"} <= imported


def _out(tmp: Path) -> list[str]:
    return ["--out", str(tmp / "out")]


def _keys(tmp: Path) -> None:
    (tmp / "keys").mkdir()
    (tmp / "keys" / "ca.pem").write_text("not a certificate\n")


COMMAND_CASES: dict[str, tuple[Callable[[Path], list[str]], str]] = {
    # The other commands' bad inputs that need no audit (run without --quiet: its first log line
    # comes only once the policy, its paths, the model's fit to the images and the key are checked).
    "run: a missing policy": (lambda tmp: ["run", str(tmp / "absent.yaml"), *_out(tmp)], "absent.yaml"),
    "run: a bad policy": (lambda tmp: ["run", *_write(GOOD + "trainig: {}\n")(tmp), *_out(tmp)],
                          "unknown key 'trainig'"),
    "run: an out folder that is a file": (
        lambda tmp: ["run", *_write(GOOD)(tmp), "--out", str(tmp / "p.yaml")], "p.yaml"),
    "run: a missing signing key": (
        lambda tmp: ["run", *_write(GOOD)(tmp), *_out(tmp), "--sign-key", str(tmp / "k.p12")], "k.p12"),
    "run: a normalisation that does not fit the images": (
        lambda tmp: ["run", *_write(GOOD + "preprocessing: {normalize: {mean: [0.5, 0.5, 0.5], "
                                    "std: [1, 1, 1]}}\n")(tmp), *_out(tmp)], "preprocessing.normalize.mean"),
    "verify: a missing path": (lambda tmp: ["verify", str(tmp / "absent")], "absent"),
    "verify: an unreadable trust anchor": (
        lambda tmp: (_keys(tmp), ["verify", str(tmp), "--trust", str(tmp / "keys" / "ca.pem")])[1], "ca.pem"),
    "history: a missing database": (lambda tmp: ["history", "--db", str(tmp / "none.sqlite")], "none.sqlite"),
    "history: --db and --policy-file": (
        lambda tmp: ["history", "--db", str(tmp / "h.sqlite"), "--policy-file", str(tmp / "p.yaml")],
        "not both"),
    "history: a bad --policy-file": (
        lambda tmp: ["history", "--policy-file", *_write(GOOD + "trainig: {}\n")(tmp)], "unknown key"),
    "diff: a missing database": (lambda tmp: ["diff", "1", "2", "--db", str(tmp / "none.sqlite")],
                                 "none.sqlite"),
    "keygen: a passphrase variable that is not set": (
        lambda tmp: ["keygen", str(tmp / "k"), "--passphrase-env", "AUDITKIT_TEST_UNSET_VARIABLE"],
        "AUDITKIT_TEST_UNSET_VARIABLE"),
    "keygen: no days": (lambda tmp: ["keygen", str(tmp / "k"), "--days", "0"], "days"),
    "keygen: an out folder that is a file": (
        lambda tmp: ["keygen", *_write(GOOD)(tmp)], "p.yaml"),
}


@pytest.mark.parametrize("case", COMMAND_CASES)
def test_a_command_reports_a_bad_input_in_one_line(case: str, tmp_path: Path) -> None:
    make, needle = COMMAND_CASES[case]
    args = make(tmp_path)
    before = _snapshot(tmp_path)
    done, _ = _run(args, tmp_path)
    _check(done, needle, before, tmp_path)


def test_keygen_overwrites_nothing_without_force(tmp_path: Path) -> None:
    keys = tmp_path / "k"
    keys.mkdir()
    (keys / "ca.pem").write_text("mine\n")
    before = _snapshot(tmp_path)
    done, _ = _run(["keygen", str(keys)], tmp_path)
    _check(done, "ca.pem", before, tmp_path)
    assert (keys / "ca.pem").read_text() == "mine\n"


def test_history_finds_the_database_of_a_policy_file_without_torch(tmp_path: Path) -> None:
    """``--policy-file`` needs only the policy's ``run.out``: the reading on paper gives it."""
    (tmp_path / "p.yaml").write_text(GOOD + "run: {out: elsewhere}\n")
    before = _snapshot(tmp_path)
    done, imported = _run(["history", "--policy-file", "p.yaml"], tmp_path, importtime=True)
    _check(done, str(tmp_path / "elsewhere" / "history.sqlite"), before, tmp_path)
    assert "torch" not in imported
