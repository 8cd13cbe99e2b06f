"""Property: whatever hostile policy `auditkit validate` is given (alias bombs, deep nesting, special
files, odd unicode, huge numbers, stray tags), it exits 0 or 2 with at most one printable line on stderr
and no traceback, and never hangs: a case still running after CASE_LIMIT_S seconds fails the test
(the limit is a hang detector, tens of times the slowest case, not a speed requirement)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditkit.cli import main

from .conftest import MINIMAL

CASE_LIMIT_S = 30
"""Seconds after which a case counts as a hang."""
SECRET = "s3cr3t-token-0123456789"
"""Content of a file a policy links to, which no error may echo."""


class Hang(BaseException):
    """Raised in a case that ran past CASE_LIMIT_S; a BaseException, so the CLI cannot swallow it."""


@contextlib.contextmanager
def hang_detector() -> Iterator[None]:
    def on_alarm(_signum: int, _frame: object) -> None:
        raise Hang(f"still running after {CASE_LIMIT_S} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(CASE_LIMIT_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def validate(path: Path) -> tuple[int, str]:
    """Exit code and stderr of ``auditkit validate PATH --quiet``, in this process."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with hang_detector(), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["validate", str(path), "--quiet"])
    return code, stderr.getvalue()


def assert_handled_well(path: Path, code: int, err: str) -> None:
    assert code in (0, 2), (code, err)
    assert "Traceback" not in err and SECRET not in err, err
    if code == 0:
        assert err == ""
        return
    lines = err.splitlines()  # one line per problem of the file, each naming it
    assert lines and err.endswith("\n") and len(lines) == err.count("\n"), err
    assert all(line.startswith(f"auditkit: error: {path}") for line in lines), err
    assert all(line.isprintable() for line in lines), ascii(err)  # no raw control character or surrogate


def alias_bomb(depth: int, width: int, at_top: bool) -> str:
    """``a_i: {<<: [*a_(i-1)] * width}`` for i = 1..depth: width^depth entries once expanded."""
    lines = ["a0: &a0 {x: 1}"]
    lines += [f"a{i}: &a{i}\n  <<: [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, depth + 1)]
    if at_top:
        return "\n".join(lines) + "\n" + MINIMAL
    return MINIMAL + "model:\n  factory: m:f\n  kwargs:\n" + "".join(f"    {line}\n" for line in
                                                                    "\n".join(lines).splitlines())


def nesting(depth: int, flow: bool) -> str:
    if flow:
        return MINIMAL + "training:\n  kwargs:\n    x: " + "[" * depth + "]" * depth + "\n"
    return MINIMAL + "".join("  " * i + f"k{i}:\n" for i in range(depth)) + "  " * depth + "v: 1\n"


NUMERIC_KEYS = [
    ("training", "epochs"), ("training", "batch_size"), ("training", "learning_rate"),
    ("training", "weight_decay"), ("training", "seed"), ("cross_validation", "k"),
    ("cross_validation", "max_accuracy_spread"), ("metrics", "explain_batch_size"),
    ("dataset", "max_images"),
]
HUGE = st.sampled_from(["18446744073709551616", "1e308", "1e309", "-1e309", ".inf", ".nan", "9" * 5000,
                        "0x7fffffffffffffff", "-0", "1_000_000_000_000", "2e-324"])
TAGS = st.sampled_from(["!!bool", "!!int", "!!float", "!!str", "!!null", "!!binary", "!!timestamp",
                        "!!set", "!!omap", "!!python/object:os.system", "!custom", "!!merge", "!!seq",
                        "!!map"])
ODD_TEXT = st.text(st.characters(codec=None, categories=None), min_size=1, max_size=20)


@st.composite
def hostile_policies(draw: st.DrawFn) -> str:
    """A valid policy made hostile in one of five ways."""
    kind = draw(st.sampled_from(["bomb", "nesting", "unicode", "number", "tag"]))
    if kind == "bomb":
        return alias_bomb(draw(st.integers(1, 12)), draw(st.integers(1, 12)), draw(st.booleans()))
    if kind == "nesting":
        return nesting(draw(st.integers(1, 2000)), draw(st.booleans()))
    if kind == "unicode":
        field = draw(st.sampled_from(["name", "description"]))
        text = json.dumps(draw(ODD_TEXT)) if draw(st.booleans()) else draw(ODD_TEXT).replace("\n", " ")
        return MINIMAL.replace("name: t", f"name: t\n{field}: {text}" if field != "name" else f"name: {text}")
    if kind == "number":
        section, key = draw(st.sampled_from(NUMERIC_KEYS))
        return MINIMAL + f"{section}:\n  {key}: {draw(HUGE)}\n"
    tag, value = draw(TAGS), draw(st.sampled_from(["1", "x", "2020-13-45", "''", "[1]", "{a: 1}", "~"]))
    target = draw(st.sampled_from(["version", "name", "dataset.kind", "training.epochs"]))
    if "." in target:
        section, key = target.split(".")
        return MINIMAL.replace(f"{section}:\n", f"{section}:\n  {key}: {tag} {value}\n", 1) \
            if section in MINIMAL else MINIMAL + f"{section}:\n  {key}: {tag} {value}\n"
    return MINIMAL.replace(f"{target}: ", f"{target}: {tag} {value} #", 1)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=hostile_policies())
def test_hostile_policies_exit_0_or_2_with_one_line(folder: Path, text: str) -> None:
    path = folder / "policy.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    code, err = validate(path)
    assert_handled_well(path, code, err)


def _special(folder: Path, name: str) -> Path:
    path = folder / f"{name}.yaml"
    if name == "fifo":
        os.mkfifo(path)
    elif name == "dev-zero":
        path.symlink_to("/dev/zero")
    elif name == "dev-null":
        path.symlink_to("/dev/null")
    elif name == "folder":
        path.mkdir()
    elif name == "link-to-secret":
        (folder / "secret.txt").write_text(f"{SECRET}\npassword: {SECRET}\n")
        path.symlink_to(folder / "secret.txt")
    elif name == "dangling-link":
        path.symlink_to(folder / "nowhere")
    elif name == "link-loop":
        path.symlink_to(path)
    elif name == "oversized":
        path.write_text(MINIMAL + "#" * (2 << 20) + "\n")
    elif name == "binary":
        path.write_bytes(bytes(range(256)) * 8)
    return path


SPECIAL = ["fifo", "dev-zero", "dev-null", "folder", "link-to-secret", "dangling-link", "link-loop",
           "oversized", "binary"]


@pytest.mark.parametrize("name", SPECIAL)
def test_special_files_are_refused_in_one_line(tmp_path: Path, name: str) -> None:
    path = _special(tmp_path, name)
    code, err = validate(path)
    assert code == 2
    assert_handled_well(path, code, err)


OUT = MINIMAL + "run:\n  out: "
NAMED = {  # the cases of issue 16, each with what its one line must say
    "merge-bomb-8-deep": (alias_bomb(8, 10, False), "alias bomb"),
    "nested-900": (nesting(900, True), r":\d+: nested more than 48"),
    "bool-tag-on-version": (MINIMAL.replace("version: 1", "version: !!bool 1"), r":1: version: cannot read"),
    "lone-surrogate-name": (MINIMAL.replace("name: t", 'name: "\\ud800"'),
                            r":2: name: contains a lone surrogate"),
    "control-characters-name": (MINIMAL.replace("name: t", 'name: "\\e[2J\\x07"'),
                                r":2: name: contains the control character U\+001B"),
    "dataset-path-5000": (MINIMAL.replace("kind: digits", "kind: imagefolder\n  path: " + "d" * 5000),
                          r":5: dataset.path: .*longer than"),
    "out-nul": (OUT + '"a\\0b"\n', r":8: run.out: a path cannot contain the control character U\+0000"),
    "out-5000": (OUT + "/".join(["o" * 200] * 25) + "\n", r":8: run.out: .*longer than"),
    "out-dev-null": (OUT + "/dev/null\n", r":8: run.out: the out folder /dev/null is not a folder"),
    "out-existing-file": (OUT + "policy.yaml\n", r":8: run.out: .* is not a folder"),
    "weight-noise-std-2^64": (
        MINIMAL + "sanity_checks:\n  weight_randomisation:\n    std: 18446744073709551616\n",
        r":9: sanity_checks.weight_randomisation.std: expected a number in \(0, 100\]"),
    "signing-key-missing": (MINIMAL + "signing:\n  key: absent.p12\n",
                            r":8: signing.key: .*absent.p12 does not exist"),
}


@pytest.mark.parametrize("name", list(NAMED))
def test_issue_cases_are_one_placed_line(tmp_path: Path, name: str) -> None:
    import re

    text, message = NAMED[name]
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    code, err = validate(path)
    assert code == 2
    assert_handled_well(path, code, err)
    assert re.search(message, err), err
