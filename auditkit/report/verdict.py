"""Page one's verdict: the banner, whether the fold models are comparable and above chance, the folds.

Every verdict here is read from the document (:attr:`AuditDocument.passed`,
:attr:`ThresholdCheck.passed`, :attr:`Accuracy.comparable`, :attr:`SanityCheck.status`).
"""

from __future__ import annotations

from typing import Any

from auditkit.report.words import and_list, number, status
from auditkit.results import Accuracy, AuditDocument, Fold, SanityVerdict

SANITY_WORDS = {SanityVerdict.PASS: "passed", SanityVerdict.FAIL: "failed",
                SanityVerdict.INCONCLUSIVE: "inconclusive"}
"""How the banner counts the sanity checks of each verdict."""


def _outcome(n: int, word: str) -> str:
    """``"was inconclusive"`` / ``"were inconclusive"`` for n checks; other outcomes are verbs."""
    return word if word != "inconclusive" else ("was " if n == 1 else "were ") + word


def _sanity_clause(doc: AuditDocument) -> str | None:
    """The sanity checks' outcomes counted, e.g. "of the 2 sanity checks, 1 failed and 1 was inconclusive"."""
    checks = list(doc.sanity_checks.values())
    if not checks:
        return None
    counts = {word: sum(c.status is verdict for c in checks) for verdict, word in SANITY_WORDS.items()}
    words = {word: n for word, n in counts.items() if n}
    n = len(checks)
    checks_word = "the sanity check" if n == 1 else f"the {n} sanity checks"
    if len(words) == 1:
        return f"{checks_word} {_outcome(n, next(iter(words)))}"
    return f"of {checks_word}, " + and_list([f"{m} {_outcome(m, w)}" for w, m in words.items()])


def verdict(doc: AuditDocument) -> dict[str, Any]:
    """The banner of page one: PASS or FAIL and one sentence on the thresholds, the fold models and
    the sanity checks, e.g. "9 of 41 threshold checks are not met; the 5 fold models are comparably
    accurate; of the 2 sanity checks, 1 failed and 1 was inconclusive."."""
    checks = doc.thresholds
    failed = sum(not c.passed for c in checks)
    k = len(doc.folds)
    parts = [(f"all {len(checks)} threshold checks are met" if not failed
              else f"{failed} of {len(checks)} threshold checks are not met") if checks
             else "the policy sets no thresholds"]
    parts.append(f"the {k} fold models are comparably accurate" if doc.accuracy.comparable
                 else f"the accuracies of the {k} fold models differ by more than the policy allows")
    sanity = _sanity_clause(doc)
    if sanity:
        parts.append(sanity)
    sentence = "; ".join(parts)
    return {"passed": doc.passed, "label": "PASS" if doc.passed else "FAIL",
            "sentence": sentence[0].upper() + sentence[1:] + "."}


def _expected_spread(acc: Accuracy) -> str:
    """The spread fold size alone gives (:mod:`auditkit.engine.chance`), as a clause."""
    if not acc.fold_sd:
        return ""
    low, high = number(min(acc.fold_sd)), number(max(acc.fold_sd))
    sd = low if low == high else f"{low} to {high}"
    return f"; fold size alone gives {number(acc.expected_spread)} (binomial sd {sd} per fold)"


def comparability(doc: AuditDocument) -> dict[str, Any]:
    """Whether the fold models are comparably accurate, with their spread in words."""
    acc, folds = doc.accuracy, [f.accuracy for f in doc.folds]
    return {
        "met": acc.comparable,
        "status": status(acc.comparable),
        "sentence": f"Fold accuracies {number(min(folds))} to {number(max(folds))}: a spread of "
                    f"{number(acc.spread)}, allowed ≤ {acc.max_spread:g}" + _expected_spread(acc),
    }


def chance_warning(doc: AuditDocument) -> str:
    """One sentence when some fold model is not above chance, else ""."""
    at_chance = doc.accuracy.at_chance
    if not at_chance:
        return ""
    k = len(doc.folds)
    which = (f"All {k} fold models are" if len(at_chance) == k else
             f"Fold model{'s' if len(at_chance) > 1 else ''} {', '.join(str(i) for i in at_chance)} "
             f"{'are' if len(at_chance) > 1 else 'is'}")
    return (f"{which} not above chance (the majority-class rate "
            f"{number(doc.accuracy.chance)} lies in the accuracy's interval): no explanation "
            "score of this audit is evidence, since the explanations explain no learnt decision.")


def _fold_interval(fold: Fold) -> str:
    """A fold's Wilson interval and whether it stands above chance."""
    c = fold.chance
    return (f"[{number(c.low)}, {number(c.high)}]"
            + ("" if c.above_chance else f", not above chance ({number(c.chance)})"))


def fold_rows(doc: AuditDocument) -> list[dict[str, str]]:
    """The fold models' table: size, accuracy, interval and checkpoint digest of each."""
    return [{"index": str(f.index), "n_test": f"{f.n_test:,}", "accuracy": number(f.accuracy),
             "interval": _fold_interval(f), "checkpoint": f.checkpoint_sha256} for f in doc.folds]


__all__ = ["chance_warning", "comparability", "fold_rows", "verdict"]
