"""The sanity checks in the report: curves, trend table and plain words per check, inadmissible scores.

Reads the document's sanity checks (:attr:`auditkit.results.AuditDocument.sanity_checks`) and
returns template context: formatted strings, flags and PNG data URIs, as :mod:`auditkit.report.context`.
An explainer whose ``status`` is ``fail`` in a check is inadmissible on the failed metric, one whose
status is ``inconclusive`` is not evidenced on it (the engine's rule,
:func:`auditkit.engine.verdicts.sanity_gates`, recorded in results.json); ``status`` None marks a
control (``random``), which is never judged. Also here: ReCo's chance band in words.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from auditkit.catalog import METRICS, names
from auditkit.report import plots
from auditkit.report.yardstick import CONTROLS
from auditkit.results import (
    Estimate,
    ExplainerEntry,
    RecoChance,
    SanityCheck,
    SanityExplainer,
    SanityVerdict,
    Trend,
)

PASS, FAIL, INCONCLUSIVE = SanityVerdict.PASS, SanityVerdict.FAIL, SanityVerdict.INCONCLUSIVE

CHECKS = {
    "weight_randomisation": (
        "Weight randomisation",
        "every trained model is damaged on purpose: a share of its {layers} receives "
        "random Gaussian noise{std}, without retraining",
        "share of the convolution weights randomised",
    ),
    "label_shuffling": (
        "Label shuffling",
        "a share of the training images is given a wrong label and the models are retrained on "
        "these labels",
        "share of the training labels made wrong",
    ),
}
"""Check name -> (title, what the degradation does, label of the horizontal axis)."""
GRADED = (
    "Weight randomisation",
    "every trained model is damaged on purpose, without retraining: Gaussian noise scaled to each "
    "weight tensor's own spread is added to its {layers}, just enough for its held-out accuracy to "
    "reach a target a fraction of the way from its clean accuracy to chance",
    "fraction of the way from clean accuracy to chance",
)
"""The ``weight_randomisation`` entry of :data:`CHECKS` under ``levels_by: accuracy``."""
LAYER_WORDS = {"conv": "convolution weights", "linear": "linear-layer weights",
               "attention": "attention projections", "norm": "normalisation scales"}
"""``layers`` kind -> its words in the report."""

GATED = names(gated=True)
"""The metrics with a verdict (``Metric.gated``)."""
TREND_COLUMNS = (*GATED, *(m for m in names(trend=True) if m not in GATED))
"""Metrics of the trend table (``Metric.trend``), in order: those with a verdict first (MeGe, the
corrected ReCo), then the reported ones in the catalog's order."""
CURVE_METRICS = (*GATED, *(m for m in names(trend=True) if METRICS[m].gate is None))
"""Panels of the curves: each metric with a verdict and each trend metric no verdict speaks to (the
paper's Fig. 3 for MeGe and ReCo, Fig. 4 for μF); a metric gated by another is that one's panel."""
_MET = {PASS: True, FAIL: False}
_CSS = {PASS: "met", FAIL: "unmet", INCONCLUSIVE: "inconclusive"}


def _num(value: float | None, digits: int = 3) -> str:
    """
    >>> _num(-0.0876), _num(None)
    ('−0.088', 'n/a')
    """
    return "n/a" if value is None else f"{value:.{digits}f}".replace("-", "−")


def _title(name: str) -> str:
    return CHECKS.get(name, (name.replace("_", " ").capitalize(),))[0]


def _words(items: list[str]) -> str:
    """
    >>> _words(["a"]), _words(["a", "b"]), _words(["a", "b", "c"])
    ('a', 'a and b', 'a, b and c')
    """
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _example(**statuses: SanityVerdict | None) -> dict[str, SanityCheck]:
    """A ``label_shuffling`` check whose explainers have the given statuses, for the doctests."""
    explainers = {name: SanityExplainer((), {}, status is not None,
                                        None if status is None else status == PASS, status)
                  for name, status in statuses.items()}
    return {"label_shuffling": SanityCheck((0.0, 1.0), {}, 0.05, 0.05, 0.1, 0, False, FAIL, explainers)}


def _by_status(section: Mapping[str, SanityCheck] | None, wanted: SanityVerdict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, check in (section or {}).items():
        for explainer, entry in check.explainers.items():
            if entry.status == wanted:
                out.setdefault(explainer, []).append(_title(name))
    return out


def inadmissible(section: Mapping[str, SanityCheck] | None) -> dict[str, list[str]]:
    """Explainer -> the titles of the sanity checks it failed, for every explainer that failed one.

    >>> inadmissible(_example(saliency=FAIL, random=None))
    {'saliency': ['Label shuffling']}
    """
    return _by_status(section, FAIL)


def not_evidenced(section: Mapping[str, SanityCheck] | None) -> dict[str, list[str]]:
    """Explainer -> the titles of the checks that were inconclusive for it (and none failed)."""
    failed = inadmissible(section)
    return {n: t for n, t in _by_status(section, INCONCLUSIVE).items() if n not in failed}


def inadmissible_notice(failed: Mapping[str, list[str]], label: Callable[[str], str],
                        unclear: Mapping[str, list[str]] | None = None) -> dict[str, Any] | None:
    """The plain-words notice of page one on the strength of evidence, or None when every gated
    score of every method passed its sanity checks."""
    unclear = unclear or {}
    if not failed and not unclear:
        return None
    parts = []
    if failed:
        names = [label(n) for n in failed]
        plural = len(names) > 1
        parts.append(
            f"Some scores of {_words(names)} are inadmissible: when the models were deliberately "
            f"damaged, a score of {'these methods' if plural else 'this method'} did not fall as it "
            "should, so it does not depend on what the models learned and no requirement is met on it.")
    if unclear:
        names = [label(n) for n in unclear]
        parts.append(
            f"For {_words(names)}, a sanity check could not tell whether a score reacts to the damage: "
            "those scores are not evidenced, and no requirement is met on them.")
    return {
        "sentence": " ".join(parts),
        "items": _by_checks(failed, label, "failed") + _by_checks(unclear, label, "inconclusive"),
    }



def admissible_sentence(section: Mapping[str, SanityCheck] | None, label: Callable[[str], str]) -> str:
    """Page one's word on the methods whose gated scores (MeGe, chance-corrected ReCo) passed every
    sanity check, or that no check ran; the failed and inconclusive ones are
    :func:`inadmissible_notice`'s.

    >>> admissible_sentence(None, str)
    'No sanity check ran, so nothing shows that the scores depend on what the models learned.'
    >>> admissible_sentence(_example(saliency=PASS, random=None), str)
    'The scores of saliency passed their sanity checks and are admissible.'
    """
    checks = [c for c in (section or {}).values() if c.explainers]
    if not checks:
        return "No sanity check ran, so nothing shows that the scores depend on what the models learned."
    statuses: dict[str, set[SanityVerdict | None]] = {}
    for check in checks:
        for name, entry in check.explainers.items():
            statuses.setdefault(name, set()).add(entry.status)
    passed = [label(n) for n, found in statuses.items() if found == {PASS}]
    if not passed:
        return ""
    return f"The scores of {_words(passed)} passed their sanity checks and are admissible."


def reco_chance_text(chance: RecoChance | None, reco: float | None = None) -> str:
    """ReCo's chance band in words, e.g. ``"chance 0.061 (95%: 0.118), p = 0.74"``.

    >>> reco_chance_text(RecoChance(null_mean=0.061, null_q95=0.118, p_value=0.74), 0.05)
    'ReCo 0.050; chance 0.061 (95%: 0.118), p = 0.74: not above chance'
    >>> reco_chance_text(RecoChance(undefined="S≠ is empty"))
    'no chance level: S≠ is empty'
    """
    if chance is None or chance.null_mean is None or chance.p_value is None:
        return f"no chance level: {(chance.undefined if chance else None) or 'not computed'}"
    alpha = 0.05 if chance.alpha is None else chance.alpha
    verdict = "above chance" if chance.p_value < alpha else "not above chance"
    head = f"ReCo {_num(reco)}; " if reco is not None else ""
    return (f"{head}chance {_num(chance.null_mean)} (95%: {_num(chance.null_q95)}), "
            f"p = {chance.p_value:.2g}: {verdict}")

def _images_sentence(images: int, audited: int) -> str:
    """Which images the levels explained: all, or the declared subsample (with level 0 re-scored).

    >>> _images_sentence(400, 1797)[-72:]
    'subsample of 400 of the 1,797 audited images (sanity_checks.max_images).'
    >>> _images_sentence(1797, 1797), _images_sentence(0, 1797)
    ('', '')
    """
    if not images or not audited or images >= audited:
        return ""
    return (f"Every level, 0 included, is explained and scored on the same stratified subsample of "
            f"{images:,} of the {audited:,} audited images (sanity_checks.max_images).")


def _by_checks(methods: Mapping[str, list[str]], label: Callable[[str], str], outcome: str) -> list[str]:
    """The methods grouped by the sanity checks that gave them ``outcome``, one item per group.

    >>> _by_checks({"saliency": ["Weight randomisation"], "smoothgrad": ["Weight randomisation"],
    ...             "gradcam": ["Label shuffling"]}, str, "inconclusive")
    ['saliency and smoothgrad: weight randomisation inconclusive', 'gradcam: label shuffling inconclusive']
    """
    groups: dict[tuple[str, ...], list[str]] = {}
    for name, checks in methods.items():
        groups.setdefault(tuple(checks), []).append(label(name))
    return [f"{_words(names)}: {_words(list(checks)).lower()} {outcome}" for checks, names in groups.items()]



def chance_notice(explainers: Mapping[str, ExplainerEntry], label: Callable[[str], str],
                  controls: Collection[str] = CONTROLS) -> str:
    """One sentence naming the methods whose ReCo cannot be told from chance ("" when none); the
    ``controls`` (by default the registry's, ``Explainer.control``) are left out, since they are at
    chance by construction."""
    at_chance = [label(n) for n, e in explainers.items()
                 if e.reco_chance.distinguishable is False and n not in controls]
    if not at_chance:
        return ""
    return (f"The ReCo of {_words(at_chance)} cannot be told from chance: S= and S≠ overlap as if the "
            "maps said nothing about whether two models agree.")


def _trend_cell(metric: str, trend: Trend) -> dict[str, Any]:
    verdict = trend.verdict
    if trend.slope is None:
        text = "undefined"
    elif trend.low is None:
        text = _num(trend.slope)
    else:
        text = f"{_num(trend.slope)} [{_num(trend.low)}, {_num(trend.high)}]"
    status = {PASS: "fell", FAIL: "did not fall", INCONCLUSIVE: "inconclusive"}.get(verdict, "reported")
    return {"metric": METRICS[metric].label, "slope": text, "p": _num(trend.p_value),
            "met": _MET.get(verdict), "status": status, "css": _CSS.get(verdict, "")}


def _verdicts(entry: SanityExplainer) -> dict[str, SanityVerdict | None]:
    """Gated metric -> its verdict for one explainer (None where its trend is not recorded)."""
    return {m: entry.trend[m].verdict if m in entry.trend else None for m in GATED}


def _sentence(check: SanityCheck, label: Callable[[str], str]) -> str:
    alpha = f"{check.alpha:g}"
    fell, stuck, unclear, controls = [], [], [], []
    for name, entry in check.explainers.items():
        if entry.status is None:
            controls.append(label(name))
        elif entry.status == PASS:
            fell.append(label(name))
        for wanted, into in ((FAIL, stuck), (INCONCLUSIVE, unclear)):
            which = [METRICS[m].label for m, v in _verdicts(entry).items() if v == wanted]
            if which:
                into.append(f"{label(name)} ({_words(which)})")
    parts = []
    if fell:
        parts.append(f"MeGe and the chance-corrected ReCo fell significantly (one-sided p < {alpha}) "
                     f"for {_words(fell)}, as they should.")
    if stuck:
        parts.append(f"The data show that these scores do not fall: {_words(stuck)}; they are "
                     "inadmissible.")
    if unclear:
        parts.append(f"The check cannot tell for {_words(unclear)}: neither a significant fall nor "
                     "evidence of none (the reason is under the table); these scores are not evidenced.")
    if controls:
        many = len(controls) > 1
        parts.append(f"{_words(controls)} {'are controls' if many else 'is the control'}: "
                     f"{'their' if many else 'its'} maps ignore the model, so no fall is expected "
                     f"and {'they are' if many else 'it is'} not judged.")
    return " ".join(parts)


def _point(score: Estimate) -> tuple[float | None, float | None, float | None]:
    return score.value, score.low, score.high


def _curves(check: SanityCheck, name: str, label: Callable[[str], str]) -> str:
    levels = [float(v) for v in check.levels]
    panels: dict[str, dict[str, list[tuple[float | None, float | None, float | None]]]] = {}
    controls = []
    for metric in CURVE_METRICS:
        title = METRICS[metric].label + (" (reported only)" if metric not in GATED else "")
        lines = panels[title] = {}
        for explainer, entry in check.explainers.items():
            if not entry.in_verdict and label(explainer) not in controls:
                controls.append(label(explainer))
            lines[label(explainer)] = [_point(s.scores[metric]) for s in entry.levels]
    xlabel = _described(name, check)[2]
    colours = plots.method_colours(list(check.explainers), label)
    return plots.data_uri(plots.score_curves(levels, panels, xlabel=xlabel, controls=controls,
                                             colours=colours))


def _row(explainer: str, entry: SanityExplainer, label: Callable[[str], str]) -> dict[str, Any]:
    """One explainer's row of a check's trend table."""
    status = entry.status
    return {
        "label": label(explainer),
        "met": _MET.get(status),
        "css": _CSS.get(status, ""),
        "status": {PASS: "passed", FAIL: "failed", INCONCLUSIVE: "inconclusive"}.get(status, "control"),
        "badge": {FAIL: "inadmissible", INCONCLUSIVE: "not evidenced"}.get(status, ""),
        "cells": [_trend_cell(m, entry.trend[m]) for m in TREND_COLUMNS if m in entry.trend],
    }


def _reasons(explainer: str, entry: SanityExplainer, label: Callable[[str], str]) -> list[str]:
    """Why each gated metric of one explainer failed or was inconclusive."""
    return [f"{label(explainer)}, {entry.trend[m].reason}" for m, verdict in _verdicts(entry).items()
            if verdict in (FAIL, INCONCLUSIVE) and entry.trend[m].reason]


def _described(name: str, check: SanityCheck) -> tuple[str, str, str]:
    """(title, what the degradation does, horizontal axis) of one check, as its settings say."""
    layers = check.settings.get("layers", ["conv"])  # a document before levels_by: convolutions
    words = "weights" if layers == "all" else _words([LAYER_WORDS.get(k, k) for k in layers])
    if check.settings.get("levels_by") == "accuracy":
        title, what, axis = GRADED
        return title, what.format(layers=words), axis
    title, what, axis = CHECKS.get(name, (_title(name), "the models are degraded", "degradation level"))
    std = f" of standard deviation {check.settings['std']:g}" if "std" in check.settings else ""
    return title, what.format(std=std, layers=words), axis


def calibration_rows(check: SanityCheck) -> list[dict[str, str]]:
    """One row per graded level: the folds' target and reached accuracies, scales and steps.

    Each cell gives the range over the fold models (one value when they agree to the digits shown);
    ``reached``: how many folds got within tolerance of their target.

    >>> from dataclasses import replace
    >>> from auditkit.results import FoldCalibration as F, SanityCalibration as C
    >>> check = _example()["label_shuffling"]
    >>> found = (F(0, 0.99, 0.1, 0.7675, 0.77, 0.21, 7, True), F(1, 0.98, 0.1, 0.76, 0.52, 100, 2, False))
    >>> (row,) = calibration_rows(replace(check, calibration=(C(0.25, found),)))
    >>> row
    {'level': '0.25', 'target': '0.760–0.767', 'accuracy': '0.520–0.770', 'scale': '0.21–100', \
'steps': '2–7', 'reached': '1 of 2'}
    """
    def span(values: list[float], fmt: str) -> str:
        low, high = format(min(values), fmt), format(max(values), fmt)
        return low if low == high else f"{low}–{high}"

    return [{"level": f"{c.level:g}",
             "target": span([f.target for f in c.folds], ".3f"),
             "accuracy": span([f.accuracy for f in c.folds], ".3f"),
             "scale": span([f.scale for f in c.folds], ".3g"),
             "steps": span([f.steps for f in c.folds], "d"),
             "reached": f"{sum(f.reached for f in c.folds)} of {len(c.folds)}"}
            for c in check.calibration or ()]


def _section(name: str, check: SanityCheck, label: Callable[[str], str], confidence: str,
             audited: int) -> dict[str, Any]:
    """Template context of one check."""
    title, what, _ = _described(name, check)
    return {
        "id": name,
        "title": title,
        "what": what[0].upper() + what[1:],
        "levels": ", ".join(f"{float(v):g}" for v in check.levels),
        "images": _images_sentence(check.images or 0, audited),
        "met": bool(check.passed),
        "css": {PASS: "met", FAIL: "unmet"}.get(check.status, "inconclusive"),
        "status": {PASS: "passed", FAIL: "failed"}.get(check.status, "inconclusive"),
        "reasons": [r for explainer, e in check.explainers.items() for r in _reasons(explainer, e, label)],
        "min_fall": f"{check.min_fall:g}",
        "sentence": _sentence(check, label),
        "figure": _curves(check, name, label),
        "control_note": " The random baseline is dashed." if any(
            not e.in_verdict for e in check.explainers.values()) else "",
        "confidence": confidence,
        "alpha": f"{check.alpha:g}",
        "rows": [_row(explainer, e, label) for explainer, e in check.explainers.items()],
        "calibration": calibration_rows(check),
        "tolerance": f"{check.settings.get('tolerance', 0):g}",
        "degradation": (check.degradation[0].upper() + check.degradation[1:] + ".")
        if check.degradation else "",
    }


def sanity_sections(section: Mapping[str, SanityCheck] | None, label: Callable[[str], str],
                    confidence: str, audited: int = 0) -> list[dict[str, Any]]:
    """One entry per sanity check of the document: plain words, curves and the trend table.

    Args:
        section: the document's ``sanity_checks`` (None or empty: no check ran).
        label: explainer registry name -> printed name.
        confidence: the interval level as printed, e.g. ``"95%"``.
        audited: the number of audited images; a check that explained fewer names its subsample.
    """
    return [_section(name, check, label, confidence, audited)
            for name, check in (section or {}).items() if check.explainers]
