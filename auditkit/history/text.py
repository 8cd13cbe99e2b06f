"""Plain-text views of the history for the command line; they format, never compute."""

from __future__ import annotations

from collections.abc import Sequence

from auditkit.catalog import names
from auditkit.history.compare import COMPARED, ScoreChange
from auditkit.history.store import AuditRow, DecisionRow
from auditkit.history.verify import CheckReport
from auditkit.results import Estimate

_COMPACT = names(headline=True)
"""Scores of the history listing, per explainer: MeGe/ReCo/muF."""


def _when(timestamp: str) -> str:
    """``2026-01-02T03:04:05+00:00`` as ``2026-01-02 03:04:05`` (all stored times are UTC)."""
    return timestamp.replace("T", " ").removesuffix("+00:00")


def _policy(row: AuditRow) -> str:
    return f"{row.policy_name} {row.policy_sha256[:8]}"


def _value(estimate: Estimate | None) -> str:
    return "-" if estimate is None or estimate.value is None else f"{estimate.value:.3f}"


def history_table(rows: Sequence[AuditRow]) -> str:
    """The audits as a table, in the given order: id, finish time, status, verdict, policy (name and
    short SHA-256), accuracy, and MeGe/ReCo/muF per explainer, or why a failed audit failed."""
    lines = [f"{'id':>5}  {'finished (UTC)':19}  {'status':8}  {'verdict':7}  {'policy':28}  "
             f"{'accuracy':>8}  scores (MeGe/ReCo/muF) or error"]
    for row in rows:
        document = row.document
        if document is None:
            accuracy, scores = "-", row.error or ""
        else:
            found = document.estimates(COMPARED)
            accuracy = _value(found[(None, "accuracy")])
            explainers = dict.fromkeys(name for name, _ in found if name is not None)
            scores = "  ".join(
                f"{name} " + "/".join(_value(found.get((name, metric))) for metric in _COMPACT)
                for name in explainers)
        lines.append(f"{row.id:>5}  {_when(row.finished_at):19}  {row.status:8}  "
                     f"{row.verdict or '-':7}  {_policy(row):28}  {accuracy:>8}  {scores}")
    return "\n".join(lines) + "\n"


def decisions_table(rows: Sequence[DecisionRow]) -> str:
    """The recorded decision sheets as a table, in the given order: row, audit, decision id, the
    sheet's time, the first 16 hex digits of its sheet.json's SHA-256, its folder."""
    lines = [f"{'row':>5}  {'audit':>5}  {'decision':24}  {'created (UTC)':19}  "
             f"{'sheet.json sha256':17}  folder"]
    for row in rows:
        lines.append(f"{row.id:>5}  {'#' + str(row.audit_id):>5}  {row.decision_id:24}  "
                     f"{_when(row.created):19}  {row.sheet_sha256[:16]:17}  {row.folder}")
    return "\n".join(lines) + "\n"


def _delta(change: ScoreChange) -> str:
    return "n/a" if change.change is None else f"{change.change:+.3f}"


def _significance(change: ScoreChange) -> str:
    return {None: "n/a", True: "yes", False: "no"}[change.significant]


def diff_table(a: AuditRow, b: AuditRow, changes: Sequence[ScoreChange]) -> str:
    """Audits A and B side by side: verdicts, then every score with its change and significance."""
    lines = [f"A: audit #{a.id}, {_when(a.finished_at)} UTC, policy {_policy(a)}",
             f"B: audit #{b.id}, {_when(b.finished_at)} UTC, policy {_policy(b)}"]
    if a.policy_sha256 != b.policy_sha256:
        lines.append("note: the policy changed between A and B")
    lines += [
        f"verdict: {a.verdict} -> {b.verdict}" + ("" if a.verdict == b.verdict else " (changed)"),
        "",
        f"{'score':28}  {'A':>24}  {'B':>24}  {'change':>8}  significant (CIs disjoint)",
    ]
    for change in changes:
        a_text = "-" if change.a is None else change.a.text()
        b_text = "-" if change.b is None else change.b.text()
        lines.append(f"{change.label:28}  {a_text:>24}  {b_text:>24}  {_delta(change):>8}  "
                     f"{_significance(change)}")
    return "\n".join(lines) + "\n"


def regression_lines(previous: AuditRow, current: AuditRow,
                     regressions: Sequence[ScoreChange]) -> str:
    """What ``--fail-on-regression`` prints when scores dropped significantly."""
    lines = [f"REGRESSION since audit #{previous.id} ({_when(previous.finished_at)} UTC): "
             f"{len(regressions)} score(s) of audit #{current.id} dropped with disjoint CIs"]
    for change in regressions:
        a_text = "-" if change.a is None else change.a.text()
        b_text = "-" if change.b is None else change.b.text()
        lines.append(f"  {change.label}: {a_text} -> {b_text} ({_delta(change)})")
    return "\n".join(lines) + "\n"


def check_text(report: CheckReport) -> str:
    """The findings of ``history --check``, or the verified chain head when there are none."""
    if not report.ok:
        return "\n".join(str(problem) for problem in report.problems) + "\n"
    head = "empty" if report.head is None else f"head audit #{report.head.id} row_hash " \
                                               f"{report.head.row_hash}"
    if not report.signed:
        signed = "no audit is signed (the chain alone does not stop someone who can write the file)"
    else:
        by = ", ".join(f"{fp[:16]}..." for fp in report.signers)
        who = "trusted" if report.trusted else "not checked against a trust anchor (--trust CA_CERT)"
        signed = f"{report.signed} signed by certificate(s) {by}, {who}"
    foreign = f", {report.kept_foreign} of other histories" if report.kept_foreign else ""
    sheets = f"; {report.decisions} decision sheet(s) as recorded" if report.decisions else ""
    return (f"{report.path}: hash chain verified, {report.audits} audit(s), {head}; {signed}; "
            f"{report.files_checked} report file(s) match their digests "
            f"({report.files_superseded} superseded by later audits); {report.kept_listed} kept "
            f"dossier(s) listed by the chain{foreign}{sheets}\n")
