"""Render the report of an audit's out folder into ``report.html`` and ``report.pdf``, atomically."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from auditkit import _atomic
from auditkit.report.context import build_context
from auditkit.report.errors import ReportError
from auditkit.report.html import HtmlWriter
from auditkit.report.interface import ReportWriter
from auditkit.report.pdf import PdfAttachment, PdfWriter
from auditkit.results import AuditDocument
from auditkit.signing.keys import Signer

WRITERS: dict[str, type[ReportWriter]] = {"html": HtmlWriter, "pdf": PdfWriter}
"""Format name -> writer class."""


def dossier(out_dir: Path, doc: AuditDocument, html: bytes) -> list[PdfAttachment]:
    """The files the PDF embeds: results.json, the policy file, the HTML report.

    results.json is embedded with its exact bytes on disk. The policy file is embedded only while its
    SHA-256 is the one results.json recorded; a missing or edited policy file is left out (results.json
    still holds the resolved policy, and the report says the file changed).

    Args:
        out_dir: the audit's out folder.
        doc: the audit's document, read from ``<out_dir>/results.json``.
        html: the bytes of the HTML report rendered from the same context.
    """
    attachments = [
        PdfAttachment("results.json", (out_dir / "results.json").read_bytes(), "Data",
                      "results of the audit (auditkit results.json)"),
    ]
    policy = Path(doc.policy.path)
    try:
        text = policy.read_bytes()
    except OSError:
        text = None
    if text is not None and hashlib.sha256(text).hexdigest() == doc.policy.sha256:
        attachments.append(PdfAttachment(policy.name, text, "Source", "the audit policy, as run"))
    attachments.append(PdfAttachment("report.html", html, "Alternative", "this report as HTML"))
    return attachments


def render_report(doc: AuditDocument, out_dir: str | Path, *, formats: Sequence[str] = ("html", "pdf"),
                  history: Mapping[str, Any] | None = None, signer: Signer | None = None) -> list[Path]:
    """Write ``<out_dir>/report.<format>`` for each format from the document and the work files.

    Every format is rendered in memory before any file is written, and each file replaces the old one
    atomically: a failure leaves the previous reports as they were and no partial file behind. The HTML
    is always rendered first, since the PDF embeds it (:func:`dossier`).

    Args:
        doc: the audit's document (:meth:`AuditDocument.from_json` of its results.json, or
            :func:`auditkit.report.inputs.load_document`).
        out_dir: the out folder of a finished audit (``auditkit run POLICY --out out_dir``).
        formats: names in :data:`WRITERS`; repeats are rendered once.
        history: the earlier audits of the policy as :func:`auditkit.history.report_data` returns
            them; given, the report has a "Since the last audit" section. None: no such section.
        signer: the key material that will sign the PDF (:func:`auditkit.signing.sign_report`), named
            with its certificate on page one; None: page one says the report is unsigned.

    Returns:
        The written paths, in the order of ``formats``.

    Raises:
        ReportError: an unknown format, or a work file missing, unreadable or stale.
    """
    if isinstance(formats, str) or not formats:
        raise ReportError(f"formats must be a non-empty sequence of {', '.join(WRITERS)}, got {formats!r}")
    unknown = [f for f in formats if f not in WRITERS]
    if unknown:
        raise ReportError(f"unknown report format {unknown[0]!r}; choose from {', '.join(WRITERS)}")
    out_dir = Path(out_dir)
    context = build_context(doc, out_dir, history=history, signer=signer)
    html = HtmlWriter().render(context)
    rendered: list[tuple[Path, bytes]] = []
    for name in dict.fromkeys(formats):
        if name == "pdf":
            writer: ReportWriter = PdfWriter(dossier(out_dir, doc, html))
        else:
            writer = WRITERS[name]()
        data = html if name == "html" else writer.render(context)
        rendered.append((out_dir / f"report{writer.suffix}", data))
    for path, data in rendered:
        _atomic.write_bytes(path, data)
    return [path for path, _ in rendered]
