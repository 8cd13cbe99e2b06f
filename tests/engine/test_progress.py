"""Progress bars: one decision (:func:`auditkit.engine.progress.bar_class`) for the API and the CLI.

A terminal is a real pseudo-terminal (:mod:`pty`) given to a child process as its stderr; a notebook
is IPython's own answer faked in ``sys.modules`` (a shell whose config has ``IPKernelApp``), which
is what :func:`~auditkit.engine.progress.in_notebook` reads.
"""

from __future__ import annotations

import fcntl
import io
import os
import pty
import struct
import subprocess
import sys
import termios
import textwrap
import threading
import types
from pathlib import Path

import pytest
import tqdm.notebook
import tqdm.std

import auditkit
from auditkit.engine.progress import bar_class, in_notebook, progress_bar, show_progress

from .conftest import write_tiny_policy

ROOT = Path(__file__).resolve().parents[2]


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal and keeps what is written to it."""

    def isatty(self) -> bool:
        return True


def _ipython(monkeypatch: pytest.MonkeyPatch, config: dict[str, object]) -> None:
    """IPython imported, its shell's config ``config`` (``IPKernelApp`` in it: a Jupyter kernel)."""
    shell = types.SimpleNamespace(config=config)
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))


def _widgets(monkeypatch: pytest.MonkeyPatch, installed: bool) -> None:
    monkeypatch.setitem(sys.modules, "ipywidgets", types.ModuleType("ipywidgets") if installed else None)


def test_a_jupyter_kernel_with_widgets_gets_tqdms_notebook_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # a kernel's stderr is no terminal
    _ipython(monkeypatch, {"IPKernelApp": {"connection_file": "kernel-1.json"}})
    _widgets(monkeypatch, installed=True)
    assert in_notebook()
    assert bar_class(None) is tqdm.notebook.tqdm and bar_class(True) is tqdm.notebook.tqdm
    assert bar_class(False) is None and not show_progress(False)
    _widgets(monkeypatch, installed=False)  # no widgets: the text bar, which Jupyter shows as stderr
    assert bar_class(None) is tqdm.std.tqdm


def test_ipython_in_a_terminal_is_no_notebook(monkeypatch: pytest.MonkeyPatch) -> None:
    _ipython(monkeypatch, {"TerminalInteractiveShell": {}})
    _widgets(monkeypatch, installed=True)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert not in_notebook() and bar_class(None) is None
    monkeypatch.setattr(sys, "stderr", _Terminal())
    assert bar_class(None) is tqdm.std.tqdm


def test_outside_ipython_the_terminal_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert not in_notebook()
    assert bar_class(None) is None and bar_class(True) is tqdm.std.tqdm and bar_class(False) is None
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert bar_class(None) is tqdm.std.tqdm and show_progress(None)
    with progress_bar(True, 4, "explain saliency") as bar:
        bar.update(4)
    assert "explain saliency:   0%| " in terminal.getvalue() and "0/4 " in terminal.getvalue()
    with progress_bar(False, 4, "explain gradcam") as bar:
        bar.update(4)
    assert "gradcam" not in terminal.getvalue()


def test_without_a_terminal_the_api_draws_no_bar_and_logs_each_phase_as_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    policy = write_tiny_policy(tmp_path, epochs=1, explainers=("saliency",))
    lines: list[str] = []
    auditkit.audit(policy, out=tmp_path / "out", device="cpu", log=lines.append)
    assert stderr.getvalue() == ""
    starts = [line for line in lines if line.startswith(("training", "saliency: explaining",
                                                          "saliency: measuring"))]
    assert starts == ["training 3 fold models (epochs: 1; those already in the work folder are reused)",
                      "saliency: explaining 360 images with 3 models, then muF",
                      "saliency: measuring robustness, invariance and completeness"]
    ends = [line for line in lines
            if line.startswith(("fold accuracies", "saliency: MeGe", "saliency: SENS"))]
    assert len(ends) == 3 and lines.index(starts[0]) < lines.index(ends[0])


CHILD = """\
import sys
import auditkit
policy, out = sys.argv[1], sys.argv[2]
auditkit.audit(policy, out=out + "/silenced", device="cpu", progress=False)
print("MARK", file=sys.stderr, flush=True)
auditkit.audit(policy, out=out + "/default", device="cpu")  # progress=None: a terminal, so bars
"""


def _on_a_terminal(args: list[str], env: dict[str, str]) -> str:
    """Run ``args`` with a pseudo-terminal of 24 x 100 as stderr (stdout a pipe); what it got."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 0 x 0: tqdm hides
    got: list[bytes] = []

    def read() -> None:
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the child closed the terminal
                return
            if not chunk:
                return
            got.append(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        child = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=terminal,
                               env=env, timeout=600, check=False)
    finally:
        os.close(terminal)
        reader.join(timeout=10)
        os.close(controller)
    assert child.returncode == 0, b"".join(got).decode(errors="replace")
    return b"".join(got).decode(errors="replace")


def test_on_a_terminal_the_api_draws_bars_on_stderr_unless_progress_is_false(tmp_path: Path) -> None:
    policy = write_tiny_policy(tmp_path, epochs=1, explainers=("saliency",))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    seen = _on_a_terminal([sys.executable, "-c", textwrap.dedent(CHILD), str(policy), str(tmp_path)], env)
    silenced, _, default = seen.partition("MARK")
    assert silenced.strip() == ""  # progress=False: nothing at all on the terminal
    for bar in ("train fold 1/3", "train fold 3/3", "explain saliency", "properties saliency"):
        assert bar in default, bar
    assert "img/s" in default and "%|" in default
