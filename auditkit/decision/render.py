"""A decision sheet's files: sheet.json, sheet.html and sheet.pdf (one A4 page), in the report's style.

The overlays (each certified method's map over the image, :func:`auditkit.report.plots.example_maps`)
are embedded in the HTML as data URIs, and the PDF embeds sheet.json and sheet.html (PDF/A-3b, as the
audit's report embeds its results.json), so no other file is needed to read a sheet.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from auditkit._version import __version__
from auditkit.decision import words
from auditkit.decision.figures import SCORES
from auditkit.decision.record import Sheet
from auditkit.report.words import METRIC_LABELS, compact_score

TEMPLATE = "sheet.html.j2"
FILES = ("sheet.json", "sheet.html", "sheet.pdf")
"""A sheet's files, in the order they are written (sheet.json first)."""


def overlay(image: np.ndarray, maps: Mapping[str, np.ndarray], labels: Mapping[str, str]) -> str | None:
    """The image and each method's map (channels summed) laid over it, as a PNG data URI; ``None``
    without a method."""
    from auditkit.report import plots

    if not maps:
        return None
    stacks = {labels[n]: m.sum(axis=0)[None] for n, m in maps.items()}
    return plots.data_uri(plots.example_maps(image[None], stacks, [""],
                                             "Regions that weighed most in the decision"))


def _method_rows(sheet: Sheet) -> list[dict[str, Any]]:
    return [{"label": m.label, "checks": ", ".join(m.checks),
             "scores": {name: compact_score(score) for name, score in m.scores.items()},
             "consistency": words.consistency_text(m), "completeness": words.completeness_text(m)}
            for m in sheet.methods]


def _shared_consistency(rows: list[dict[str, Any]]) -> str | None:
    """The one sentence of 2b when every method has the same and nothing else to say (unavailable for
    all, as when fewer than two retrained copies make the decision): said once, not per method."""
    texts = {r["consistency"] for r in rows}
    if len(rows) > 1 and len(texts) == 1 and not any(r["completeness"] for r in rows):
        return texts.pop()
    return None


def context(sheet: Sheet, image: np.ndarray, maps: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """The template's context: the sheet's sentences (:mod:`auditkit.decision.words`) and figures."""
    typical, unusual = words.typical_text(sheet)
    methods = _method_rows(sheet)
    return {
        "title": f"Explanation of decision {sheet.decision_id}",
        "auditkit_version": __version__,
        "created_iso": sheet.created,
        "failed": bool(sheet.audit_failed),
        "headline": words.headline(sheet),
        "decision": words.decision_text(sheet),
        "top": [(c.label, words.percent(c.probability)) for c in sheet.decision.top],
        "system": sheet.system.name or sheet.audit.policy,
        "overlay": overlay(image, maps, {m.name: m.label for m in sheet.methods}),
        "methods": methods,
        "shared_consistency": _shared_consistency(methods),
        "score_labels": [(m, METRIC_LABELS[m]) for m in SCORES],
        "folds": words.folds_text(sheet),
        "pairs": [words.pair_text(p, sheet.top_k) for p in sheet.pairs],
        "pair_legend": words.PAIR_LEGEND,
        "typical": typical,
        "unusual": unusual,
        "limits": words.LIMITS,
        "contest": words.contest_text(sheet),
        "ids": [("Decision", sheet.decision_id), ("Made", sheet.created),
                ("Audit", f"#{sheet.audit.audit_id} of policy '{sheet.audit.policy}'"
                 if sheet.audit.audit_id is not None else f"policy '{sheet.audit.policy}'"),
                ("Audit report SHA-256", sheet.audit.report_sha256),
                ("Audit results SHA-256", sheet.audit.results_sha256),
                ("Model checkpoint SHA-256", sheet.checkpoint_sha256),
                ("Image SHA-256", sheet.image_sha256)],
    }


def render(sheet: Sheet, image: np.ndarray, maps: Mapping[str, np.ndarray]) -> dict[str, bytes]:
    """The bytes of each of :data:`FILES`, in order, rendered in memory.

    Args:
        image: the image ``[C, H, W]`` in [0, 1]; maps: method name -> its map ``[C', H, W]``.
    """
    from auditkit.report.html import render_html
    from auditkit.report.pdf import PdfAttachment, PdfWriter

    data = sheet.to_json()
    page = context(sheet, image, maps)
    html = render_html(page, TEMPLATE).encode("utf-8")
    pdf = PdfWriter([PdfAttachment("sheet.json", data, "Data", "the decision sheet's figures"),
                     PdfAttachment("sheet.html", html, "Alternative", "this sheet as HTML")],
                    template=TEMPLATE).render(page)
    return dict(zip(FILES, (data, html, pdf), strict=True))


__all__ = ["FILES", "TEMPLATE", "context", "overlay", "render"]
