"""The plain-text summary of an audit (``summary.txt`` and the terminal), beside the HTML and PDF."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from auditkit import _atomic
from auditkit._version import __version__
from auditkit.catalog import METRICS, names
from auditkit.engine.audit import AuditResult
from auditkit.engine.sanity import SanityCheck
from auditkit.engine.scoring import PROPERTY_SCORES, Score
from auditkit.report.deployed import COLUMNS, accuracy_line
from auditkit.results import Estimate


def summary_text(result: AuditResult) -> str:
    """A plain-text summary of the audit (the report replaces it)."""
    lines = [
        f"auditkit {__version__} audit of policy '{result.policy.name}' "
        f"(sha256 {result.policy.sha256})",
        f"verdict: {'PASS' if result.passed else 'FAIL'}",
        f"dataset: {len(result.dataset)} images, fingerprint {result.dataset.fingerprint}",
        "fold accuracies: " + ", ".join(f"{f.accuracy:.4f}" for f in result.folds)
        + f" (spread {result.accuracy_spread:.4f}, allowed "
        f"{result.policy.cross_validation.max_accuracy_spread})",
        "",
        f"explained class: {result.policy.metrics.target}",
        "",
        f"{'explainer':22s} {'MeGe':>24s} {'ReCo':>24s} {'ReCo chance [95%]':>18s} {'p':>7s} "
        f"{'ReCo corrected':>24s} {'ReCo_AUC':>24s} {'muF':>24s}",
    ]
    for name, s in result.explainers.items():
        c = s.reco_chance.chance
        band = "n/a" if c is None else f"{c.null_mean:.3f} [{c.null_q95:.3f}]"
        p_value = "n/a" if c is None else f"{c.p_value:.3g}"
        lines.append(f"{name:22s} {s.mege.text():>24s} {s.reco.text():>24s} {band:>18s} {p_value:>7s} "
                     f"{s.reco_corrected.text():>24s} {s.reco_auc.text():>24s} "
                     f"{s.mu_fidelity.text():>24s}")
    lines.append("")
    if any(s.properties is not None for s in result.explainers.values()):
        lines.append(f"{'explainer':22s} {'SENS_max':>24s} {'robustness distance':>24s} "
                     f"{'invariance distance':>24s} {'completeness error':>24s}")
        for name, s in result.explainers.items():
            cells = [s.score(m) for m in PROPERTY_SCORES]
            lines.append(f"{name:22s} " + " ".join(
                f"{'n/a' if c.value is None else c.text():>24s}" for c in cells))
        lines.append("")
    if result.deployed is not None:
        lines.extend(_deployed_lines(result.deployed))
    for check in result.sanity:
        lines.extend(_sanity_lines(check))
    for c in result.checks:
        target = f" [{c.explainer}]" if c.explainer else ""
        lines.append(f"{'PASS' if c.passed else 'FAIL'} {c.threshold}{target}: {c.metric} "
                     f"{c.op} {c.value} on {c.on}: {c.reason}")
    for r in result.requirements:
        lines.append(f"requirement {r.id} ({', '.join(r.articles)}): "
                     f"{'met' if r.met else 'NOT met'}: {r.title}")
    return "\n".join(lines) + "\n"


def _deployed_lines(deployed: dict[str, Any]) -> list[str]:
    """The deployed checkpoint: digest, accuracy (held out or not) and each method's scores on it."""
    lines = [f"deployed checkpoint {deployed['checkpoint']} (sha256 {deployed['sha256']}): "
             f"{accuracy_line(deployed)}",
             f"  {'explainer':20s} " + " ".join(f"{m:>24s}" for m, _ in COLUMNS)]
    for name, figures in deployed["explainers"].items():
        lines.append(f"  {name:20s} " + " ".join(
            f"{Estimate.from_summary(figures[m]).text() if m in figures else 'not measured':>24s}"
            for m, _ in COLUMNS))
    return [*lines, ""]


def _sanity_lines(check: SanityCheck) -> list[str]:
    """One check's table: per explainer, MeGe, ReCo and muF at each level and their trend."""
    levels = " ".join(f"{s.level:g}" for s in check.levels)
    lines = [
        f"sanity check {check.name}: {check.status.upper()} (levels {levels}; "
        f"accuracy {' '.join(Score(s.accuracy.value).text() for s in check.levels)})",
        f"  {'explainer':22s} {'metric':6s} {'score at each level':<{6 * len(check.levels)}s} "
        f"{'slope [CI]':>26s} {'p':>6s}  result",
    ]
    for name, trends in check.trends.items():
        for metric in names(trend=True):
            label = METRICS[metric].short
            t = trends[metric]
            values = " ".join("  n/a" if s.explainers[name].score(metric).value is None else
                              f"{s.explainers[name].score(metric).value:5.3f}" for s in check.levels)
            slope = Score(t.trend.slope, t.trend.low, t.trend.high).text(2)
            p = "n/a" if t.trend.p_value is None else f"{t.trend.p_value:.3f}"
            verdict = "reported" if t.verdict is None else t.verdict.upper() + f": {t.reason}"
            lines.append(f"  {name:22s} {label:6s} {values:<{6 * len(check.levels)}s} {slope:>26s} "
                         f"{p:>6s}  {verdict}")
    return [*lines, ""]



def write_summary(result: AuditResult, out_dir: Path) -> Path:
    """Write :func:`summary_text` to ``<out_dir>/summary.txt`` atomically; return its path."""
    path = out_dir / "summary.txt"
    _atomic.write_text(path, summary_text(result))
    return path
