"""Render the report of an audit's out folder into ``report.html`` and ``report.pdf``, atomically."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from auditkit import _atomic
from auditkit.report.context import build_context
from auditkit.report.errors import ReportError
from auditkit.report.html import HtmlWriter
from auditkit.report.interface import ReportWriter
from auditkit.report.pdf import PdfWriter

WRITERS: dict[str, type[ReportWriter]] = {"html": HtmlWriter, "pdf": PdfWriter}
"""Format name -> writer class."""


def render_report(out_dir: str | Path, *, formats: Sequence[str] = ("html", "pdf")) -> list[Path]:
    """Write ``<out_dir>/report.<format>`` for each format from results.json and the work files.

    Every format is rendered in memory before any file is written, and each file replaces the old one
    atomically: a failure leaves the previous reports as they were and no partial file behind.

    Args:
        out_dir: the out folder of a finished audit (``auditkit run POLICY --out out_dir``).
        formats: names in :data:`WRITERS`; repeats are rendered once.

    Returns:
        The written paths, in the order of ``formats``.

    Raises:
        ReportError: an unknown format, or results.json / a work file missing, unreadable or stale.
    """
    if isinstance(formats, str) or not formats:
        raise ReportError(f"formats must be a non-empty sequence of {', '.join(WRITERS)}; got {formats!r}")
    unknown = [f for f in formats if f not in WRITERS]
    if unknown:
        raise ReportError(f"unknown report format {unknown[0]!r}; choose from {', '.join(WRITERS)}")
    out_dir = Path(out_dir)
    context = build_context(out_dir)
    writers = [WRITERS[name]() for name in dict.fromkeys(formats)]
    rendered = [(out_dir / f"report{w.suffix}", w.render(context)) for w in writers]
    for path, data in rendered:
        _atomic.write_bytes(path, data)
    return [path for path, _ in rendered]
