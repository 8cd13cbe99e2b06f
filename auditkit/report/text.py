"""The plain-text summary of an audit (``summary.txt`` and the terminal), beside the HTML and PDF.

Read from the document alone; the columns of its tables come from the catalog (``Metric.short``).
"""

from __future__ import annotations

from pathlib import Path

from auditkit import _atomic
from auditkit.catalog import METRICS, names
from auditkit.report.deployed import COLUMNS, accuracy_line
from auditkit.report.sanity import calibration_rows
from auditkit.results import AuditDocument, Deployed, Estimate, SanityCheck

SCORE_COLUMNS = names(scope="explainer")
"""The per-explainer scores of the first table, in catalog order; ReCo's chance level follows ReCo."""
PROPERTY_COLUMNS = names(scope="property")
"""The properties' table."""


def _head(name: str) -> str:
    return f"{METRICS[name].short:>24s}"


def _scores_table(doc: AuditDocument) -> list[str]:
    """Each explainer's scores, with ReCo's chance band and p-value after ReCo."""
    chance = f"{'ReCo chance [95%]':>18s} {'p':>7s}"
    lines = [f"{'explainer':22s} " + " ".join(
        _head(m) + (f" {chance}" if m == "reco" else "") for m in SCORE_COLUMNS)]
    for name, e in doc.explainers.items():
        c = e.reco_chance
        band = "n/a" if c.null_mean is None else f"{c.null_mean:.3f} [{c.null_q95:.3f}]"
        p_value = "n/a" if c.p_value is None else f"{c.p_value:.3g}"
        lines.append(f"{name:22s} " + " ".join(
            f"{e.scores[m].text():>24s}" + (f" {band:>18s} {p_value:>7s}" if m == "reco" else "")
            for m in SCORE_COLUMNS))
    return [*lines, ""]


def _properties_table(doc: AuditDocument) -> list[str]:
    """Each explainer's properties ("" when none was measured)."""
    if not any(e.properties is not None for e in doc.explainers.values()):
        return []
    lines = [f"{'explainer':22s} " + " ".join(_head(m) for m in PROPERTY_COLUMNS)]
    for name, e in doc.explainers.items():
        cells = [e.score(m) for m in PROPERTY_COLUMNS]
        lines.append(f"{name:22s} " + " ".join(
            f"{'n/a' if c is None or c.value is None else c.text():>24s}" for c in cells))
    return [*lines, ""]


def summary_text(doc: AuditDocument) -> str:
    """A plain-text summary of the audit (the report replaces it)."""
    lines = [
        f"auditkit {doc.auditkit_version} audit of policy '{doc.policy.name}' (sha256 {doc.policy.sha256})",
        f"verdict: {'PASS' if doc.passed else 'FAIL'}",
        f"dataset: {doc.dataset.n_images} images, fingerprint {doc.dataset.fingerprint_sha256}",
        "fold accuracies: " + ", ".join(f"{f.accuracy:.4f}" for f in doc.folds)
        + f" (spread {doc.accuracy.spread:.4f}, allowed {doc.accuracy.max_spread})",
        "",
        f"explained class: {doc.policy.resolved['metrics']['target']}",
        "",
        *_scores_table(doc),
        *_properties_table(doc),
    ]
    if doc.deployed is not None:
        lines.extend(_deployed_lines(doc.deployed))
    for name, check in doc.sanity_checks.items():
        lines.extend(_sanity_lines(name, check))
    for c in doc.thresholds:
        target = f" [{c.explainer}]" if c.explainer else ""
        lines.append(f"{'PASS' if c.passed else 'FAIL'} {c.threshold}{target}: {c.metric} "
                     f"{c.op} {c.value} on {c.estimate}: {c.reason}")
    for r in doc.requirements:
        lines.append(f"requirement {r.id} ({', '.join(r.articles)}): "
                     f"{'met' if r.met else 'NOT met'}: {r.title}")
    return "\n".join(lines) + "\n"


def _deployed_lines(deployed: Deployed) -> list[str]:
    """The deployed checkpoint: digest, accuracy (held out or not) and each method's scores on it."""
    lines = [f"deployed checkpoint {deployed.checkpoint} (sha256 {deployed.sha256}): "
             f"{accuracy_line(deployed)}",
             f"  {'explainer':20s} " + " ".join(f"{m:>24s}" for m, _ in COLUMNS)]
    for name, figures in deployed.explainers.items():
        cells = [figures.score(m) for m, _ in COLUMNS]
        lines.append(f"  {name:20s} " + " ".join(
            f"{'not measured' if c is None else c.text():>24s}" for c in cells))
    return [*lines, ""]


def _sanity_lines(name: str, check: SanityCheck) -> list[str]:
    """One check's table: per explainer, each trend metric at each level and its trend."""
    width = 6 * len(check.levels)
    lines = [
        f"sanity check {name}: {check.status.value.upper()} (levels "
        f"{' '.join(f'{level:g}' for level in check.levels)}; accuracy "
        f"{' '.join(Estimate(s.accuracy.value).text() for s in _levels(check))})",
        *(f"  level {r['level']}: target accuracy {r['target']}, reached {r['accuracy']}, noise scale "
          f"{r['scale']} ({r['reached']} folds within tolerance)" for r in calibration_rows(check)),
        *([f"  degradation in doubt: {check.degradation}"] if check.degradation else []),
        f"  {'explainer':22s} {'metric':6s} {'score at each level':<{width}s} "
        f"{'slope [CI]':>26s} {'p':>6s}  result",
    ]
    for explainer, entry in check.explainers.items():
        for metric in names(trend=True):
            t = entry.trend[metric]
            values = " ".join("  n/a" if (s := level.score(metric)) is None or s.value is None
                              else f"{s.value:5.3f}" for level in entry.levels)
            slope = Estimate(t.slope, t.low, t.high).text(2)
            p = "n/a" if t.p_value is None else f"{t.p_value:.3f}"
            verdict = "reported" if t.verdict is None else t.verdict.value.upper() + f": {t.reason}"
            lines.append(f"  {explainer:22s} {METRICS[metric].short:6s} {values:<{width}s} {slope:>26s} "
                         f"{p:>6s}  {verdict}")
    return [*lines, ""]


def _levels(check: SanityCheck) -> tuple:
    """The levels of the check's first explainer (each level's accuracy is the models', shared)."""
    return next(iter(check.explainers.values())).levels if check.explainers else ()


def write_summary(doc: AuditDocument, out_dir: Path) -> Path:
    """Write :func:`summary_text` to ``<out_dir>/summary.txt`` atomically; return its path."""
    path = out_dir / "summary.txt"
    _atomic.write_text(path, summary_text(doc))
    return path


__all__ = ["summary_text", "write_summary"]
