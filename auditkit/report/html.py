"""The HTML report: one self-contained page (CSS inline, images as data: URIs), also the PDF's source."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import jinja2

from auditkit.report.interface import ReportWriter

TEMPLATE = "report.html.j2"


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        # templates/ at the repository's top level, installed as the package auditkit.templates
        loader=jinja2.PackageLoader("auditkit.templates", "."),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(context: Mapping[str, Any], template: str = TEMPLATE) -> str:
    """The report's HTML for ``context`` (``template``: another page of templates/, such as a decision
    sheet's); a key the template needs but the context lacks is an error."""
    return _environment().get_template(template).render(context)


class HtmlWriter(ReportWriter):
    """``report.html``: the template rendered as UTF-8."""

    name = "html"
    suffix = ".html"

    def render(self, context: Mapping[str, Any]) -> bytes:
        return render_html(context).encode("utf-8")
