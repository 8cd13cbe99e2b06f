"""Whether an audit draws progress bars, and which: the one decision, for the API and the CLI.

:func:`bar_class` decides from the caller's ``progress`` (``True``, ``False`` or ``None`` for "when
someone is watching") and from where the process runs: a Jupyter kernel (:func:`in_notebook`) gets
tqdm's notebook bar when ipywidgets is installed (as ``tqdm.auto`` would choose), else tqdm's text
bar, which Jupyter shows as stderr; a terminal (``sys.stderr.isatty()``) gets the text bar on
stderr; anything else (a pipe, a cron log, a test) gets none by default. :func:`progress_bar` makes
every bar of the engine (trainings, explanation passes, properties, an executor's tasks) through it.
"""

from __future__ import annotations

import sys
from typing import Any

from tqdm.std import tqdm

__all__ = ["bar_class", "in_notebook", "progress_bar", "show_progress"]


def in_notebook() -> bool:
    """Whether a Jupyter kernel runs this process: IPython is imported and its shell is a kernel's
    (``IPKernelApp`` in its config, the test ``tqdm.autonotebook`` makes). Imports nothing."""
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if callable(get_ipython) else None
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def _has_widgets() -> bool:
    try:
        import ipywidgets  # noqa: F401 (what tqdm's notebook bar draws with)
    except ImportError:
        return False
    return True


def bar_class(progress: bool | None = None) -> type[tqdm] | None:
    """The bar an audit draws: ``None`` (no bar), ``tqdm.notebook.tqdm`` or ``tqdm.std.tqdm``.

    Args:
        progress: ``False``: none. ``True``: a bar, the notebook's in a Jupyter kernel with
            ipywidgets, else the text bar on stderr. ``None`` (the default of :func:`auditkit.audit`,
            :func:`auditkit.certify` and ``auditkit run`` without ``--quiet``): as ``True`` in a
            notebook or when stderr is a terminal, else none.
    """
    notebook = in_notebook()
    if progress is False or (progress is None and not (notebook or sys.stderr.isatty())):
        return None
    if notebook and _has_widgets():
        from tqdm.notebook import tqdm as notebook_tqdm

        return notebook_tqdm
    return tqdm


def show_progress(progress: bool | None) -> bool:
    """Whether :func:`bar_class` draws a bar for ``progress`` (what the engine carries)."""
    return bar_class(progress) is not None


def progress_bar(progress: bool, total: int, desc: str, unit: str = "img") -> Any:
    """A bar of ``total`` ``unit``; drawn (by :func:`bar_class`) only when ``progress``."""
    kind = bar_class(True) if progress else None
    if kind is None:
        return tqdm(total=total, disable=True)
    return kind(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False, dynamic_ncols=True)
