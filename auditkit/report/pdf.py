"""The PDF report: WeasyPrint lays out the same HTML as :mod:`auditkit.report.html`, with its print CSS."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

import weasyprint

from auditkit.report.html import render_html
from auditkit.report.interface import ReportWriter


@contextlib.contextmanager
def _source_date_epoch(iso: str) -> Iterator[None]:
    """Set ``SOURCE_DATE_EPOCH`` (unless already set) while the PDF is written.

    The font subsetter (fontTools) stamps each embedded font with the current time unless this
    reproducible-builds variable fixes it; the audit's own date keeps the PDF the same from run to run.
    """
    if "SOURCE_DATE_EPOCH" in os.environ:
        yield
        return
    os.environ["SOURCE_DATE_EPOCH"] = str(int(datetime.fromisoformat(iso).timestamp()))
    try:
        yield
    finally:
        del os.environ["SOURCE_DATE_EPOCH"]


class PdfWriter(ReportWriter):
    """``report.pdf``: the HTML report laid out on A4 pages (same bytes for the same context).

    Only ``data:`` URIs are fetched, and a resource that cannot be read stops the rendering instead of
    leaving a gap in the evidence: the report never reaches the network or the file system.
    """

    name = "pdf"
    suffix = ".pdf"

    def render(self, context: Mapping[str, Any]) -> bytes:
        fetcher = weasyprint.URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)
        document = weasyprint.HTML(string=render_html(context), url_fetcher=fetcher)
        with _source_date_epoch(context["created_iso"]):
            pdf = document.write_pdf()
        if not isinstance(pdf, bytes):  # write_pdf returns the bytes when given no target
            raise TypeError(f"WeasyPrint returned {type(pdf).__name__}, not the PDF's bytes")
        return pdf
