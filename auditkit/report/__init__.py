"""The evidence report of an audit: HTML and PDF from one Jinja template.

:func:`render_report` reads an audit's out folder (results.json and the distance records under
``work/``), builds one template context (:func:`auditkit.report.context.build_context`) and hands it to
each :class:`ReportWriter` (:mod:`auditkit.report.html`, :mod:`auditkit.report.pdf`).
"""

from auditkit.report.context import build_context
from auditkit.report.errors import ReportError
from auditkit.report.interface import ReportWriter
from auditkit.report.render import WRITERS, render_report

__all__ = ["WRITERS", "ReportError", "ReportWriter", "build_context", "render_report"]
