"""The PDF report: WeasyPrint lays out the same HTML as :mod:`auditkit.report.html`, with its print CSS.

The PDF is written as PDF/A-3b with the audit's dossier embedded (results.json, the policy file, the
HTML report; see :func:`auditkit.report.render.render_report`), so one PAdES signature over the PDF
(:mod:`auditkit.signing`) covers the whole evidence.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import weasyprint

from auditkit.report.html import TEMPLATE, render_html
from auditkit.report.interface import ReportWriter

PDF_VARIANT = "pdf/a-3b"
"""PDF/A-3 (ISO 19005-3) level b: archivable, and the only PDF/A part that embeds arbitrary files."""
RELATIONSHIPS = ("Source", "Data", "Alternative", "Supplement", "Unspecified")
"""``/AFRelationship`` values of ISO 32000-2, 7.11.3, that an attachment may declare."""


@dataclass(frozen=True)
class PdfAttachment:
    """A file embedded in the PDF/A-3 report.

    Attributes:
        name: the file name readers show, e.g. ``"results.json"``.
        data: the file's exact bytes.
        relationship: how it relates to the report, one of :data:`RELATIONSHIPS`.
        description: one line shown next to the name by PDF readers.
    """

    name: str
    data: bytes
    relationship: str = "Unspecified"
    description: str = ""

    def __post_init__(self) -> None:
        if self.relationship not in RELATIONSHIPS:
            raise ValueError(f"relationship must be one of {', '.join(RELATIONSHIPS)}, "
                             f"got {self.relationship!r}")


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


def _utc(iso: str) -> datetime:
    """``iso`` as a naive UTC datetime (WeasyPrint writes attachment dates with a ``Z`` suffix)."""
    moment = datetime.fromisoformat(iso)
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def _list_attachments_once(document: weasyprint.Document, pdf: Any) -> None:
    """Drop the repeats from the catalog's ``/AF`` array, keeping the first order.

    WeasyPrint's PDF/A-3 step adds every file specification twice to ``/AF`` (once from the
    ``/EmbeddedFiles`` name tree, once from a scan of the ``/Filespec`` objects); ISO 19005-3
    asks for each embedded file to be associated once.
    """
    if "AF" in pdf.catalog:
        pdf.catalog["AF"][:] = dict.fromkeys(pdf.catalog["AF"])


class PdfWriter(ReportWriter):
    """``report.pdf``: the HTML report laid out on A4 pages as PDF/A-3b (same bytes for the same input).

    Only ``data:`` URIs are fetched, and a resource that cannot be read stops the rendering instead of
    leaving a gap in the evidence: the report never reaches the network or the file system. The
    attachments are embedded with the audit's date as their creation and modification dates.

    Args:
        attachments: files to embed, in this order; names must be unique.
        template: the page of templates/ to lay out (default the report's).
    """

    name = "pdf"
    suffix = ".pdf"

    def __init__(self, attachments: Sequence[PdfAttachment] = (), template: str = TEMPLATE) -> None:
        names = [a.name for a in attachments]
        if len(set(names)) != len(names):
            raise ValueError(f"attachment names must be unique, got {names}")
        self.attachments = tuple(attachments)
        self.template = template

    def render(self, context: Mapping[str, Any]) -> bytes:
        fetcher = weasyprint.URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)
        document = weasyprint.HTML(string=render_html(context, self.template), url_fetcher=fetcher)
        dated = _utc(context["created_iso"])
        attachments = [
            weasyprint.Attachment(file_obj=io.BytesIO(a.data), name=a.name, description=a.description,
                                  relationship=a.relationship, created=dated, modified=dated)
            for a in self.attachments
        ]
        with _source_date_epoch(context["created_iso"]):
            pdf = document.write_pdf(pdf_variant=PDF_VARIANT, attachments=attachments,
                                     finisher=_list_attachments_once)
        if not isinstance(pdf, bytes):  # write_pdf returns the bytes when given no target
            raise TypeError(f"WeasyPrint returned {type(pdf).__name__}, not the PDF's bytes")
        return pdf
