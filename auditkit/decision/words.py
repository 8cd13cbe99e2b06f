"""A decision sheet in plain words, for the person the decision affects (not a specialist).

Every sentence is written here from the typed sheet (:class:`~auditkit.decision.record.Sheet`); the
template only lays them out. Numbers are probabilities and shares written as percentages.
"""

from __future__ import annotations

from typing import Any

from auditkit.decision.record import MethodPair, MethodSheet, Sheet, Standing
from auditkit.report.words import compact_score, explainer_label

LIMITS = (
    "The highlighted regions are those that influenced the system's output the most, as measured "
    "by the method named; they are not the reasons for the decision in a legal sense.",
    "An explanation describes how the model reacted to this image, not what the image shows in the "
    "world, nor whether the decision was right.",
    "The audit measured how far each method's explanations can be trusted on the images it "
    "examined; it does not prove that this explanation is correct.",
)
"""What a sheet cannot tell, printed on every sheet."""


def percent(share: float) -> str:
    """``share`` in [0, 1] as a whole percentage, never rounded to 0 % or 100 % unless it is.

    >>> percent(0.934), percent(0.001), percent(0.9996), percent(1.0)
    ('93%', '<1%', '>99%', '100%')
    """
    if 0 < share < 0.005:
        return "<1%"
    if 0.995 <= share < 1:
        return ">99%"
    return f"{share * 100:.0f}%"


def headline(sheet: Sheet) -> str:
    """The first line: whether the audit passed, and why not when it failed."""
    audit = sheet.audit
    which = f"audit #{audit.audit_id}" if audit.audit_id is not None else "the audit"
    if sheet.audit_failed:
        # One line a person can read: the requirements by id (sheet.json and the audit's report
        # keep each one's failed checks, as :func:`~auditkit.decision.figures.failures` words them).
        ids = [r.split()[1] for r in sheet.audit_failed if r.startswith("requirement ")]
        other = [r for r in sheet.audit_failed if not r.startswith("requirement ")]
        reasons = ([f"requirement{'s' if len(ids) > 1 else ''} {_listed(ids)} "
                    f"{'are' if len(ids) > 1 else 'is'} not met"] if ids else []) + other
        return (f"The audit of this system FAILED ({which} of policy '{audit.policy}'): "
                + "; ".join(reasons) + " (its report says which checks). The explanations below are "
                "given anyway; the audit did not establish that they can be relied on.")
    return f"The audit of this system passed ({which} of policy '{audit.policy}')."


def _listed(items: list[str]) -> str:
    """``"R2"``, ``"R2 and R3"``, ``"R2, R3 and R5"``."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def decision_text(sheet: Sheet) -> str:
    """What the system decided, how sure it was, and the runner-up."""
    top = sheet.decision.top
    text = f"The system decided “{top[0].label}”, with a probability of {percent(top[0].probability)}"
    if len(top) > 1:
        text += (f"; the next most likely answer, “{top[1].label}”, had {percent(top[1].probability)} "
                 f"(a margin of {sheet.decision.margin * 100:.0f} points)")
    return text + "."


def folds_text(sheet: Sheet) -> str:
    """2a in words: do the audit's retrained copies of the model decide the same."""
    folds = sheet.folds
    if folds.unavailable:
        return ("Whether the audit's retrained copies of the model agree is unavailable: "
                f"{folds.unavailable}.")
    k, a = len(folds.predictions), folds.agreeing
    if a == k:
        return f"All {k} copies of the model that the audit retrained on other data make the same decision."
    others = ", ".join(f"“{p}”" for p in folds.predictions if p != sheet.decision.predicted.label)
    return (f"{a} of the {k} copies of the model that the audit retrained on other data make the same "
            f"decision (the others decide {others}).")


def consistency_text(method: MethodSheet) -> str:
    """2b in words for one method."""
    s = method.consistency
    if s is None or s.value is None:
        return ("Not available: fewer than two retrained copies make this decision." if s is not None
                else "Not available (no retrained copies).")
    if s.share_below is None:
        return (f"Mean distance {s.value:.3f} between the retrained copies' explanations (no audited "
                "reference).")
    if s.reading in ("high", "above_range"):
        return (f"Less consistent than {percent(s.share_below)} of the audited images: the retrained "
                "copies explain it more differently than usual.")
    return (f"Typical: the retrained copies explain it more alike than on {percent(1 - s.share_below)} "
            "of the audited images.")


def completeness_text(method: MethodSheet) -> str:
    """2d in words, or ``""`` for a method that claims no completeness."""
    if method.completeness_gap is None:
        return "" if method.audited_completeness is None else \
            "Completeness: undefined here (the output equals the output at the method's baseline)."
    audited = method.audited_completeness
    tail = "" if audited is None else f" (audited images: {compact_score(audited)})"
    gap = method.completeness_gap * 100
    return f"Completeness gap: the map adds up to the model's output up to {gap:.1f}% of it{tail}."


def pair_text(pair: MethodPair, k: int) -> str:
    """2c in words for one pair of methods."""
    return (f"{explainer_label(pair.first)} and {explainer_label(pair.second)}: rank agreement "
            f"{pair.rank:.2f}; {percent(pair.top_k)} of their {k} most important pixels in common.")


PAIR_LEGEND = "Rank agreement: 1 when two methods order the pixels alike, 0 when their orders are unrelated."
"""Said once under the pairs of :func:`pair_text`."""


def _standing_text(what: str, s: Standing | None) -> tuple[str, bool]:
    """One figure of 2e in words, and whether it is out of the audited range."""
    if s is None or s.share_below is None:
        return f"{what}: no audited reference.", False
    if s.reading == "below_range":
        return f"{what} is lower than on every image the audit examined.", True
    if s.reading == "low":
        return f"{what} is lower than on {percent(1 - s.share_below)} of the images the audit examined.", True
    return f"{what} is within the range of the images the audit examined.", False


def typical_text(sheet: Sheet) -> tuple[list[str], bool]:
    """2e in words: the sentences, and whether the image looks unlike the audited ones."""
    probability = percent(sheet.decision.predicted.probability)
    confidence = _standing_text(f"The decision's probability ({probability})", sheet.confidence)
    lines, unusual = [confidence[0]], confidence[1]
    if sheet.folds.agreement is not None:
        text, low = _standing_text("The share of retrained copies agreeing", sheet.folds.agreement)
        lines.append(text)
        unusual = unusual or low
    if unusual:
        lines.append("This image may not be like the images the audit examined, so the audit's "
                     "figures may not apply to this decision.")
    return lines, unusual


def contest_text(sheet: Sheet) -> dict[str, Any]:
    """How to contest the decision: the operator's ``system.contest`` and ``system.contact``."""
    s = sheet.system
    how = s.contest or ("The operator's audited policy gives no procedure to contest a decision "
                        "(system.contest); ask the contact below.")
    return {"how": how, "contact": s.contact or "not given in the audited policy (system.contact)"}


__all__ = ["LIMITS", "completeness_text", "consistency_text", "contest_text", "decision_text",
           "folds_text", "headline", "pair_text", "percent", "typical_text"]
