"""The sanity checks in the report: curves, trend table and plain words per check, inadmissible scores.

Reads ``results.json["sanity_checks"]`` (:meth:`auditkit.engine.sanity.SanityCheck.to_dict`) and
returns template context: formatted strings, flags and PNG data URIs, as :mod:`auditkit.report.context`.
An explainer whose ``passed`` is False in any check is inadmissible (the engine's rule,
:func:`auditkit.engine.verdicts.inadmissible_explainers`, recorded in results.json); ``passed`` None
marks the control (``random``), which is never judged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

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

TREND_METRICS = {"mege": "MeGe", "reco": "ReCo", "reco_auc": "ReCo_AUC", "mu_fidelity": "μF"}
"""Metrics of the trend table, in order; MeGe and ReCo have a pass condition, the others are reported."""
CURVE_METRICS = ("mege", "reco", "mu_fidelity")
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


def inadmissible(section: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """Explainer -> the titles of the sanity checks it failed, for every explainer that failed one.

    >>> inadmissible({"label_shuffling": {"explainers": {"saliency": {"passed": False},
    ...                                                  "random": {"passed": None}}}})
    {'saliency': ['Label shuffling']}
    """
    failed: dict[str, list[str]] = {}
    for name, check in (section or {}).items():
        if not isinstance(check, Mapping):
            continue
        for explainer, entry in check.get("explainers", {}).items():
            if entry.get("passed") is False:
                failed.setdefault(explainer, []).append(_title(name))
    return failed


def inadmissible_notice(failed: Mapping[str, list[str]],
                        label: Callable[[str], str]) -> dict[str, Any] | None:
    """The plain-words notice of page one, or None when every score is admissible."""
    if not failed:
        return None
    names = [label(n) for n in failed]
    plural = len(names) > 1
    return {
        "sentence": (
            f"The scores of {_words(names)} are inadmissible. "
            f"{'These methods' if plural else 'This method'} failed a sanity check: when the model was "
            "deliberately damaged, {0} explanations did not change as they should (their MeGe or ReCo did "
            "not fall). Explanations that do not depend on what the model learned are no evidence of "
            "anything, so no requirement is met on these scores, whatever their values."
        ).replace("{0}", "their" if plural else "its"),
        "items": [f"{label(n)}: {_words(checks).lower()} failed" for n, checks in failed.items()],
    }


def _trend_cell(metric: str, trend: Mapping[str, Any]) -> dict[str, Any]:
    passed = trend.get("passed")
    if trend.get("slope") is None:
        text = "undefined"
    elif trend.get("ci_low") is None:
        text = _num(trend["slope"])
    else:
        text = f"{_num(trend['slope'])} [{_num(trend['ci_low'])}, {_num(trend['ci_high'])}]"
    if passed is None:
        status = "reported"
    else:
        status = "fell" if passed else "did not fall"
    return {"metric": TREND_METRICS[metric], "slope": text, "p": _num(trend.get("p_value")),
            "met": passed, "status": status}


def _sentence(check: Mapping[str, Any], label: Callable[[str], str]) -> str:
    alpha = f"{check.get('alpha', 0.05):g}"
    fell, stuck, controls = [], [], []
    for name, entry in check["explainers"].items():
        if entry.get("passed") is None:
            controls.append(label(name))
        elif entry["passed"]:
            fell.append(label(name))
        else:
            missing = [TREND_METRICS[m] for m in ("mege", "reco")
                       if entry["trend"].get(m, {}).get("passed") is False]
            stuck.append(f"{label(name)} ({_words(missing) if missing else 'MeGe or ReCo'})")
    parts = []
    if fell:
        parts.append(f"MeGe and ReCo fell significantly (one-sided p < {alpha}) for {_words(fell)}, "
                     "as they should.")
    if stuck:
        parts.append(f"They did not fall for {_words(stuck)}: "
                     f"{'the scores of these methods are' if len(stuck) > 1 else 'its scores are'} "
                     "inadmissible.")
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
        title = TREND_METRICS[metric] + (" (reported only)" if metric not in ("mege", "reco") else "")
        lines = panels[title] = {}
        for explainer, entry in check["explainers"].items():
            if not entry.get("in_verdict", True) and label(explainer) not in controls:
                controls.append(label(explainer))
            lines[label(explainer)] = [(s[metric]["value"], s[metric]["ci_low"], s[metric]["ci_high"])
                                       for s in entry["levels"]]
    xlabel = CHECKS.get(name, ("", "", "degradation level"))[2]
    return plots.data_uri(plots.score_curves(levels, panels, xlabel=xlabel, controls=controls))


def sanity_sections(section: Mapping[str, Any] | None, label: Callable[[str], str],
                    confidence: str) -> list[dict[str, Any]]:
    """One entry per sanity check of results.json: plain words, curves and the trend table.

    Args:
        section: ``results.json["sanity_checks"]`` (None or empty: no check ran).
        label: explainer registry name -> printed name.
        confidence: the interval level as printed, e.g. ``"95%"``.
    """
    out = []
    for name, check in (section or {}).items():
        if not isinstance(check, Mapping) or not check.get("explainers"):
            continue
        title, what, _ = CHECKS.get(name, (_title(name), "the models are degraded", ""))
        std = f" of standard deviation {check['std']:g}" if "std" in check else ""
        levels = ", ".join(f"{float(v):g}" for v in check["levels"])
        rows = []
        for explainer, entry in check["explainers"].items():
            passed = entry.get("passed")
            rows.append({
                "label": label(explainer),
                "met": passed,
                "status": {True: "passed", False: "failed"}.get(passed, "control"),
                "cells": [_trend_cell(m, entry["trend"][m]) for m in TREND_METRICS if m in entry["trend"]],
            })
        out.append({
            "id": name,
            "title": title,
            "what": what.format(std=std)[0].upper() + what.format(std=std)[1:],
            "levels": levels,
            "met": bool(check.get("passed")),
            "status": "passed" if check.get("passed") else "failed",
            "sentence": _sentence(check, label),
            "figure": _curves(check, name, label),
            "control_note": " The random baseline is dashed." if any(
                not e.get("in_verdict", True) for e in check["explainers"].values()) else "",
            "confidence": confidence,
            "alpha": f"{check.get('alpha', 0.05):g}",
            "rows": rows,
        })
    return out
