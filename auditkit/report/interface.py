"""The contract of a report writer: one output format, rendered from the template context.

Every writer receives the same context (a plain dict built by :func:`auditkit.report.context.build_context`
in which every number is already formatted and every verdict already decided) and returns the bytes of
one file. Writers never read the out folder and never write files: :func:`auditkit.report.render_report`
does both, atomically.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any


class ReportWriter(ABC):
    """Renders the template context into one file format."""

    @property
    @abstractmethod
    def name(self) -> str:
        """The format's name as callers pass it, e.g. ``"html"``."""

    @property
    @abstractmethod
    def suffix(self) -> str:
        """Suffix of the written file, with its dot, e.g. ``".html"``."""

    @abstractmethod
    def render(self, context: Mapping[str, Any]) -> bytes:
        """The complete file for ``context``."""
