"""The sanity checks in the report: curves, trend table and plain words per check, inadmissible scores.

Reads ``results.json["sanity_checks"]`` (:meth:`auditkit.engine.sanity.SanityCheck.to_dict`) and
returns template context: formatted strings, flags and PNG data URIs, as :mod:`auditkit.report.context`.
An explainer whose ``status`` is ``fail`` in a check is inadmissible on the failed metric, one whose
status is ``inconclusive`` is not evidenced on it (the engine's rule,
:func:`auditkit.engine.verdicts.sanity_gates`, recorded in results.json); ``status`` None marks the
control (``random``), which is never judged. Also here: ReCo's chance band in words.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from auditkit.catalog import METRICS, names
from auditkit.report import plots

CHECKS = {
    "weight_randomisation": (
        "Weight randomisation",
        "every retrained model is damaged on purpose: a share of its convolution weights receives "
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

TREND_METRICS = {m: METRICS[m].label for m in ("mege", "reco_corrected", "reco", "reco_auc", "mu_fidelity")}
"""Metrics of the trend table, in order; MeGe and the corrected ReCo have a verdict, the others are
reported."""
GATED = names(gated=True)
"""The metrics with a verdict (``Metric.gated``)."""
CURVE_METRICS = (*GATED, "mu_fidelity")
"""Panels of the curves (the paper's Fig. 3 for MeGe and ReCo, Fig. 4 for μF)."""


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


def _status(entry: Mapping[str, Any]) -> str | None:
    """``pass``, ``fail``, ``inconclusive`` or None (control); results without a status: passed."""
    if "status" in entry:
        return entry["status"]
    return {True: "pass", False: "fail"}.get(entry.get("passed"))


def _by_status(section: Mapping[str, Any] | None, wanted: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, check in (section or {}).items():
        if not isinstance(check, Mapping):
            continue
        for explainer, entry in check.get("explainers", {}).items():
            if _status(entry) == wanted:
                out.setdefault(explainer, []).append(_title(name))
    return out


def inadmissible(section: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """Explainer -> the titles of the sanity checks it failed, for every explainer that failed one.

    >>> inadmissible({"label_shuffling": {"explainers": {"saliency": {"status": "fail"},
    ...                                                  "random": {"status": None}}}})
    {'saliency': ['Label shuffling']}
    """
    return _by_status(section, "fail")


def not_evidenced(section: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """Explainer -> the titles of the checks that were inconclusive for it (and none failed)."""
    failed = inadmissible(section)
    return {n: t for n, t in _by_status(section, "inconclusive").items() if n not in failed}


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


def admissible_sentence(section: Mapping[str, Any] | None, label: Callable[[str], str]) -> str:
    """Page one's word on the methods whose gated scores (MeGe, chance-corrected ReCo) passed every
    sanity check, or that no check ran; the failed and inconclusive ones are
    :func:`inadmissible_notice`'s.

    >>> admissible_sentence(None, str)
    'No sanity check ran, so nothing shows that the scores depend on what the models learned.'
    >>> admissible_sentence({"label_shuffling": {"explainers": {"saliency": {"status": "pass"},
    ...                                                         "random": {"status": None}}}}, str)
    'The scores of saliency passed their sanity checks and are admissible.'
    """
    checks = [c for c in (section or {}).values() if isinstance(c, Mapping) and c.get("explainers")]
    if not checks:
        return "No sanity check ran, so nothing shows that the scores depend on what the models learned."
    statuses: dict[str, set[str | None]] = {}
    for check in checks:
        for name, entry in check["explainers"].items():
            statuses.setdefault(name, set()).add(_status(entry))
    passed = [label(n) for n, found in statuses.items() if found == {"pass"}]
    if not passed:
        return ""
    return f"The scores of {_words(passed)} passed their sanity checks and are admissible."


def reco_chance_text(chance: Mapping[str, Any] | None, reco: float | None = None) -> str:
    """ReCo's chance band in words, e.g. ``"chance 0.061 (95%: 0.118), p = 0.74"``.

    >>> reco_chance_text({"null_mean": 0.061, "null_q95": 0.118, "p_value": 0.74}, 0.05)
    'ReCo 0.050; chance 0.061 (95%: 0.118), p = 0.74: not above chance'
    >>> reco_chance_text({"undefined": "S≠ is empty"})
    'no chance level: S≠ is empty'
    """
    if not chance or chance.get("null_mean") is None:
        return f"no chance level: {(chance or {}).get('undefined') or 'not computed'}"
    verdict = "above chance" if chance["p_value"] < chance.get("alpha", 0.05) else "not above chance"
    head = f"ReCo {_num(reco)}; " if reco is not None else ""
    return (f"{head}chance {_num(chance['null_mean'])} (95%: {_num(chance['null_q95'])}), "
            f"p = {chance['p_value']:.2g}: {verdict}")


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


def chance_notice(explainers: Mapping[str, Any], label: Callable[[str], str],
                  controls: Collection[str] = ("random",)) -> str:
    """One sentence naming the methods whose ReCo cannot be told from chance ("" when none); the
    ``controls`` are left out, since they are at chance by construction."""
    at_chance = [label(n) for n, e in explainers.items()
                 if (e.get("reco_chance") or {}).get("distinguishable") is False and n not in controls]
    if not at_chance:
        return ""
    return (f"The ReCo of {_words(at_chance)} cannot be told from chance: S= and S≠ overlap as if the "
            "maps said nothing about whether two models agree.")


def _trend_cell(metric: str, trend: Mapping[str, Any]) -> dict[str, Any]:
    verdict = trend.get("verdict", {True: "pass", False: "fail"}.get(trend.get("passed")))
    if trend.get("slope") is None:
        text = "undefined"
    elif trend.get("ci_low") is None:
        text = _num(trend["slope"])
    else:
        text = f"{_num(trend['slope'])} [{_num(trend['ci_low'])}, {_num(trend['ci_high'])}]"
    status = {"pass": "fell", "fail": "did not fall", "inconclusive": "inconclusive"}.get(
        verdict, "reported")
    return {"metric": TREND_METRICS[metric], "slope": text, "p": _num(trend.get("p_value")),
            "met": {"pass": True, "fail": False}.get(verdict), "status": status,
            "css": {"pass": "met", "fail": "unmet", "inconclusive": "inconclusive"}.get(verdict, "")}


def _sentence(check: Mapping[str, Any], label: Callable[[str], str]) -> str:
    alpha = f"{check.get('alpha', 0.05):g}"
    fell, stuck, unclear, controls = [], [], [], []
    for name, entry in check["explainers"].items():
        status = _status(entry)
        verdicts = {m: entry["trend"].get(m, {}).get("verdict") for m in GATED}
        if status is None:
            controls.append(label(name))
        elif status == "pass":
            fell.append(label(name))
        for wanted, into in (("fail", stuck), ("inconclusive", unclear)):
            which = [METRICS[m].label for m, v in verdicts.items() if v == wanted]
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


def _curves(check: Mapping[str, Any], name: str, label: Callable[[str], str]) -> str:
    levels = [float(v) for v in check["levels"]]
    panels: dict[str, dict[str, list[tuple[float | None, float | None, float | None]]]] = {}
    controls = []
    for metric in CURVE_METRICS:
        title = TREND_METRICS[metric] + (" (reported only)" if metric not in GATED else "")
        lines = panels[title] = {}
        for explainer, entry in check["explainers"].items():
            if not entry.get("in_verdict", True) and label(explainer) not in controls:
                controls.append(label(explainer))
            lines[label(explainer)] = [(s[metric]["value"], s[metric]["ci_low"], s[metric]["ci_high"])
                                       for s in entry["levels"]]
    xlabel = CHECKS.get(name, ("", "", "degradation level"))[2]
    colours = plots.method_colours(list(check["explainers"]), label)
    return plots.data_uri(plots.score_curves(levels, panels, xlabel=xlabel, controls=controls,
                                             colours=colours))


def sanity_sections(section: Mapping[str, Any] | None, label: Callable[[str], str],
                    confidence: str, audited: int = 0) -> list[dict[str, Any]]:
    """One entry per sanity check of results.json: plain words, curves and the trend table.

    Args:
        section: ``results.json["sanity_checks"]`` (None or empty: no check ran).
        label: explainer registry name -> printed name.
        confidence: the interval level as printed, e.g. ``"95%"``.
        audited: the number of audited images; a check that explained fewer names its subsample.
    """
    out = []
    for name, check in (section or {}).items():
        if not isinstance(check, Mapping) or not check.get("explainers"):
            continue
        title, what, _ = CHECKS.get(name, (_title(name), "the models are degraded", ""))
        std = f" of standard deviation {check['std']:g}" if "std" in check else ""
        levels = ", ".join(f"{float(v):g}" for v in check["levels"])
        rows = []
        reasons = []
        for explainer, entry in check["explainers"].items():
            status = _status(entry)
            rows.append({
                "label": label(explainer),
                "met": {"pass": True, "fail": False}.get(status),
                "css": {"pass": "met", "fail": "unmet", "inconclusive": "inconclusive"}.get(status, ""),
                "status": {"pass": "passed", "fail": "failed", "inconclusive": "inconclusive"}.get(
                    status, "control"),
                "badge": {"fail": "inadmissible", "inconclusive": "not evidenced"}.get(status, ""),
                "cells": [_trend_cell(m, entry["trend"][m]) for m in TREND_METRICS if m in entry["trend"]],
            })
            reasons += [f"{label(explainer)}, {entry['trend'][m]['reason']}" for m in GATED
                        if entry["trend"].get(m, {}).get("verdict") in ("fail", "inconclusive")
                        and entry["trend"][m].get("reason")]
        out.append({
            "id": name,
            "title": title,
            "what": what.format(std=std)[0].upper() + what.format(std=std)[1:],
            "levels": levels,
            "images": _images_sentence(check.get("images") or 0, audited),
            "met": bool(check.get("passed")),
            "css": {"pass": "met", "fail": "unmet"}.get(_status(check) or "", "inconclusive"),
            "status": {"pass": "passed", "fail": "failed"}.get(_status(check) or "", "inconclusive"),
            "reasons": reasons,
            "min_fall": f"{check.get('min_fall', 0.05):g}",
            "sentence": _sentence(check, label),
            "figure": _curves(check, name, label),
            "control_note": " The random baseline is dashed." if any(
                not e.get("in_verdict", True) for e in check["explainers"].values()) else "",
            "confidence": confidence,
            "alpha": f"{check.get('alpha', 0.05):g}",
            "rows": rows,
        })
    return out
