"""The template context: one plain dict in which every number is formatted and every verdict decided.

The templates only place these strings and flags; they never compute. The context holds aggregated
scores, counts, digests and a few figures (PNG data URIs) - never per-image values, predictions, logits
or weights (``tests/report/test_privacy.py`` walks it to check).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from auditkit.catalog import COMPARISONS, METRICS, names
from auditkit.explainers import EXPLAINERS
from auditkit.policy import policy_sha256
from auditkit.report import plots
from auditkit.report.deployed import deployed_section
from auditkit.report.errors import ReportError
from auditkit.report.inputs import (
    ExampleInputs,
    ExplainerEvidence,
    load_evidence,
    load_example_inputs,
    load_results,
)
from auditkit.report.properties import properties_section
from auditkit.report.sanity import (
    admissible_sentence,
    chance_notice,
    inadmissible,
    inadmissible_notice,
    not_evidenced,
    reco_chance_text,
    sanity_sections,
)
from auditkit.report.signature import signature_facts
from auditkit.report.since import since_section
from auditkit.report.yardstick import CONTROL, INPUT_CONTROL, LOWER_IS_BETTER, behind, marks
from auditkit.results import Results, explainer_entry
from auditkit.signing.keys import Signer

EXPLAINER_LABELS = {name: cls.label for name, cls in EXPLAINERS.items()}
"""Names the report prints (``Explainer.label``); an explainer not registered is printed under its name."""

METRIC_LABELS = {name: metric.label for name, metric in METRICS.items()}
"""Names the report prints for the metrics (``Metric.label``)."""
EXPLAINER_METRICS = tuple(m for m in names(scope="explainer") if m != "reco_corrected")
"""Columns of the scores table; the corrected ReCo is shown in the ReCo cell, beside its chance level."""
SMALL_S_NEQ = 100
"""Below this many S≠ pairs the limits section warns that ReCo is noisy."""
LISTED_FAILURES = 2
"""Failed conditions spelled out per requirement on page one; the rest are counted."""


def explainer_label(name: str) -> str:
    """The printed name of explainer ``name``.

    >>> explainer_label("gradcam"), explainer_label("my_method")
    ('Grad-CAM', 'my_method')
    """
    return EXPLAINER_LABELS.get(name, name)


def number(value: float, digits: int = 3) -> str:
    """``value`` with ``digits`` decimals and a typographic minus.

    >>> number(0.71234), number(-0.0876)
    ('0.712', '−0.088')
    """
    return f"{value:.{digits}f}".replace("-", "−")


def format_score(score: Mapping[str, Any], confidence: str) -> str:
    """A score of results.json in words: estimate, interval, or why it is undefined.

    >>> format_score({"value": 0.71, "ci_low": 0.7, "ci_high": 0.72, "undefined": None}, "95%")
    '0.710 (95% CI 0.700–0.720)'
    >>> format_score({"value": None, "ci_low": None, "ci_high": None, "undefined": "S≠ is empty"}, "95%")
    'undefined (S≠ is empty)'
    """
    if score["value"] is None:
        return f"undefined ({score['undefined']})"
    if score["ci_low"] is None:
        return f"{number(score['value'])} (no confidence interval)"
    return f"{number(score['value'])} ({confidence} CI {number(score['ci_low'])}–{number(score['ci_high'])})"


def compact_score(score: Mapping[str, Any]) -> str:
    """A score of results.json for a table whose header names the interval.

    >>> compact_score({"value": 0.71, "ci_low": 0.7, "ci_high": 0.72, "undefined": None})
    '0.710 [0.700, 0.720]'
    """
    if score["value"] is None:
        return "undefined"
    if score["ci_low"] is None:
        return number(score["value"])
    return f"{number(score['value'])} [{number(score['ci_low'])}, {number(score['ci_high'])}]"


def _end(check: Mapping[str, Any]) -> str:
    """The end of the interval a threshold tests: ``lower`` for ``>=`` and ``>``, else ``upper``."""
    return "lower" if check["op"] in (">=", ">") else "upper"


def _basis(check: Mapping[str, Any], confidence: str) -> str:
    return "" if check["on"] == "point" else f", tested on the {_end(check)} end of the {confidence} CI"


def _condition(check: Mapping[str, Any], confidence: str) -> str:
    return (f"{METRIC_LABELS[check['metric']]} {COMPARISONS[check['op']].symbol} {check['value']:g}"
            f"{_basis(check, confidence)}")


def _check_score(check: Mapping[str, Any], results: Mapping[str, Any]) -> Mapping[str, Any]:
    metric = check["metric"]
    if metric == "accuracy_spread":
        spread = results["accuracy"]["spread"]
        return {"value": spread, "ci_low": None, "ci_high": None, "undefined": None}
    if metric == "accuracy":
        return results["accuracy"]
    found = Results(results).entry(check.get("explainer"), metric)
    if found is None:
        raise KeyError(f"results.json has no {metric} for {check.get('explainer')}")
    return found


def _measured(check: Mapping[str, Any], results: Mapping[str, Any], confidence: str) -> str:
    if check["metric"] == "accuracy_spread":
        return number(results["accuracy"]["spread"])
    return format_score(_check_score(check, results), confidence)


def _subject(check: Mapping[str, Any]) -> str:
    metric = check["metric"]
    if check["explainer"] is None:
        return METRIC_LABELS[metric][0].upper() + METRIC_LABELS[metric][1:]
    return f"{METRIC_LABELS[metric]} of {explainer_label(check['explainer'])}"


def _failure(check: Mapping[str, Any]) -> tuple[str, str]:
    """Why one check of a threshold is not met, as (reason, who failed it, with the tested value).

    The value is judged first: a value on the wrong side of the threshold is "not met" whatever the
    sanity checks said; a value on the right side fails only by its gate ("inadmissible": a sanity
    check failed; "not evidenced": one was inconclusive).
    """
    subject = explainer_label(check["explainer"]) if check["explainer"] else ""
    if check["measured"] is None:
        return "undefined", subject
    if not COMPARISONS[check["op"]].test(check["measured"], check["value"]):
        return "not met", f"{subject} {number(check['measured'])}".strip()
    return ("inadmissible" if check.get("inadmissible") else "not evidenced"), subject


def _failed_line(threshold: str, failed: Sequence[Mapping[str, Any]], confidence: str) -> str:
    """One line of page one for a threshold some checks failed, its checks grouped by why.

    >>> check = {"threshold": "T4", "metric": "reco", "op": ">=", "value": 0.2, "on": "point",
    ...          "explainer": "saliency", "measured": 0.1, "inadmissible": [], "not_evidenced": []}
    >>> gated = check | {"explainer": "gradcam", "measured": 0.5, "not_evidenced": ["label_shuffling"]}
    >>> _failed_line("T4", [check, gated], "95%")
    'T4, ReCo ≥ 0.2: not met by Saliency 0.100; not evidenced for Grad-CAM'
    >>> _failed_line("T1", [check | {"metric": "accuracy", "value": 0.9, "explainer": None}], "95%")
    'T1, held-out accuracy ≥ 0.9: not met (0.100)'
    """
    groups: dict[str, list[str]] = {}
    for check in failed:
        reason, subject = _failure(check)
        groups.setdefault(reason, []).append(subject)
    check = failed[0]
    if check["explainer"] is None:  # the models' own score: one check, its value in brackets
        parts = [f"{reason} ({subjects[0]})" if subjects[0] else reason
                 for reason, subjects in groups.items()]
    else:
        parts = [f"{reason} {'by' if reason == 'not met' else 'for'} {', '.join(subjects)}"
                 for reason, subjects in groups.items()]
    basis = "" if check["on"] == "point" else f" ({_end(check)} end of the {confidence} CI)"
    rule = f"{METRIC_LABELS[check['metric']]} {COMPARISONS[check['op']].symbol} {check['value']:g}{basis}"
    return f"{threshold}, {rule}: {'; '.join(parts)}"


def _status(met: bool) -> str:
    return "met" if met else "not met"


def _requirements(results: Mapping[str, Any], confidence: str) -> list[dict[str, Any]]:
    """Every requirement of results.json, for page one and the requirements table.

    Page one gives a met requirement one line, and an unmet one a line per failed threshold: at most
    :data:`LISTED_FAILURES` (the requirements table has them all), and a threshold already listed
    under an earlier requirement only by reference ("T4 as under R3"), so that eight requirements fit.
    """
    listed: dict[str, str] = {}  # failed threshold -> the requirement whose lines list it
    out = []
    for req in results["requirements"]:
        own = [c for c in results["thresholds"] if c["threshold"] in req["evidence"]]
        failed: dict[str, list[Mapping[str, Any]]] = {}
        for c in own:
            if not c["passed"]:
                failed.setdefault(c["threshold"], []).append(c)
        if failed:
            n_failed = sum(len(f) for f in failed.values())
            summary = f"{n_failed} of {len(own)} not met"
            new = [t for t in failed if t not in listed]
            details = [_failed_line(t, failed[t], confidence) for t in new[:LISTED_FAILURES]]
            if len(new) > LISTED_FAILURES:
                details.append(f"and {_and(new[LISTED_FAILURES:])} (see the requirements table)")
            earlier: dict[str, list[str]] = {}
            for t in failed:
                if t in listed:
                    earlier.setdefault(listed[t], []).append(t)
            if earlier:
                details.append("; ".join(f"{_and(ts)} as under {r}" for r, ts in earlier.items()))
            listed.update((t, req["id"]) for t in new)
        elif own:
            summary, details = ("its one condition met" if len(own) == 1
                                else f"all {len(own)} conditions met"), []
        else:
            summary, details = "no measured condition is attached to this requirement", []
        out.append({
            "id": req["id"],
            "title": req["title"],
            "articles": "; ".join(req["articles"]),
            "evidence": ", ".join(req["evidence"]),
            "met": bool(req["met"]),
            "status": _status(req["met"]),
            "summary": summary,
            "details": details,
        })
    return out


def _articles(results: Mapping[str, Any], confidence: str) -> list[dict[str, Any]]:
    """One table per article cited, in order of first citation: its requirements, a row per threshold.

    A threshold's values per method are shown once, in the first table that has it; a later row of
    the same threshold keeps its condition and verdict and names where the values are, so that a
    requirement citing many thresholds and articles does not repeat pages of numbers.
    """
    checks = results["thresholds"]
    cited: dict[str, list[Mapping[str, Any]]] = {}
    for req in results["requirements"]:
        for article in req["articles"]:
            cited.setdefault(article, []).append(req)
    shown: dict[str, str] = {}  # threshold -> the article whose table shows its values
    articles: dict[str, list[dict[str, Any]]] = {}
    for article, reqs in cited.items():
        for req in reqs:
            rows = []
            for threshold in req["evidence"]:
                own = [c for c in checks if c["threshold"] == threshold]
                if not own:
                    continue
                met = all(c["passed"] for c in own)
                if threshold in shown:
                    measured = [{"text": f"values under {shown[threshold]}", "met": met,
                                 "status": _status(met), "inadmissible": False, "reference": True}]
                else:
                    shown[threshold] = article
                    measured = [{"text": (f"{explainer_label(c['explainer'])} " if c["explainer"] else "")
                                 + compact_score(_check_score(c, results)),
                                 "met": bool(c["passed"]), "status": _status(c["passed"]),
                                 "inadmissible": bool(c.get("inadmissible")), "reference": False}
                                for c in own]
                rows.append({"condition": f"{threshold}: {_condition(own[0], confidence)}",
                             "measured": measured, "met": met, "status": _status(met)})
            articles.setdefault(article, []).append(
                {"id": req["id"], "title": req["title"], "met": bool(req["met"]),
                 "status": _status(req["met"]), "rows": rows})
    return [{"article": article, "requirements": ", ".join(g["id"] for g in groups), "groups": groups,
             "met": all(g["met"] for g in groups), "status": _status(all(g["met"] for g in groups)),
             "headline": _article_headline(article, groups)}
            for article, groups in articles.items()]


def _article_headline(article: str, groups: Sequence[Mapping[str, Any]]) -> str:
    """What was measured against the declared thresholds of the requirements citing ``article``,
    never a legal finding on the article itself.

    >>> _article_headline("Art. 15", [{"rows": [{"condition": "T1", "met": True},
    ...                                          {"condition": "T2", "met": False}]}])
    'Requirements citing Art. 15: 1 of 2 conditions not met'
    """
    rows = {r["condition"]: r["met"] for g in groups for r in g["rows"]}
    unmet = sum(not met for met in rows.values())
    if not rows:
        return f"Requirements citing {article}: no condition"
    if not unmet:
        return (f"Requirements citing {article}: " +
                ("its one condition met" if len(rows) == 1 else f"all {len(rows)} conditions met"))
    return f"Requirements citing {article}: {unmet} of {len(rows)} conditions not met"


def _threshold_rows(results: Mapping[str, Any], confidence: str) -> list[dict[str, Any]]:
    rows = []
    for c in results["thresholds"]:
        compared = "undefined" if c["measured"] is None else number(c["measured"])
        rows.append({
            "threshold": c["threshold"],
            "target": explainer_label(c["explainer"]) if c["explainer"] else "fold models",
            "condition": _condition(c, confidence),
            "compared": compared,
            "score": compact_score(_check_score(c, results)),
            "reason": c["reason"],
            "met": bool(c["passed"]),
            "status": _status(c["passed"]),
            "inadmissible": bool(c.get("inadmissible")),
        })
    return rows


def _settings(settings: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} = {v}" for k, v in settings.items()) or "defaults of the profile"


def _explainer_rows(results: Mapping[str, Any], confidence: str) -> list[dict[str, Any]]:
    checks = results["thresholds"]
    failed = inadmissible(results.get("sanity_checks"))
    rows = []
    for name, e in results["explainers"].items():
        cells = []
        for metric in EXPLAINER_METRICS:
            shown = (metric, "reco_corrected") if metric == "reco" and "reco_corrected" in e else (metric,)
            own = [c for c in checks if c["explainer"] == name and c["metric"] in shown]
            cells.append({
                "text": compact_score(e[metric]),
                "marks": marks(results["explainers"], name,
                               ("reco", "reco_corrected") if len(shown) == 2 else (metric,)),
                "extra": [reco_chance_text(e.get("reco_chance")),
                          f"corrected {compact_score(e['reco_corrected'])}"]
                if len(shown) == 2 else [],
                "rule": "; ".join(f"{'corrected ' if c['metric'] == 'reco_corrected' else ''}"
                                  f"{COMPARISONS[c['op']].symbol} {c['value']:g} ({c['threshold']})"
                                  for c in own),
                "status": "" if not own else _status(all(c["passed"] for c in own)),
            })
        rows.append({
            "name": name,
            "label": explainer_label(name),
            "inadmissible": name in failed,
            "inadmissible_because": ", ".join(failed.get(name, [])).lower(),
            "settings": _settings(e["settings"]),
            "scores": cells,
            "n_s_eq": f"{e['n_s_eq']:,}",
            "n_s_neq": f"{e['n_s_neq']:,}",
            "n_ignored": f"{e['n_ignored']:,}",
            "n_degenerate": f"{e['n_degenerate_pairs']:,}",
            "input_rho": _input_rho(e.get("input_correlation")),
            "coverage_rho": _input_rho(e.get("coverage_correlation")) if e.get("coverage_correlation")
            else "",
            "mu_images": f"{e['mu_fidelity_images']:,}",
            "mu_undefined": f"{e['mu_fidelity_undefined']:,}",
        })
    return rows


def _created(iso: str) -> str:
    moment = datetime.fromisoformat(iso).astimezone(timezone.utc)
    return f"{moment.day} {moment:%B %Y}, {moment:%H:%M} UTC"


def _duration(seconds: float) -> str:
    """
    >>> _duration(0.179), _duration(151.2), _duration(7322)
    ('0.2 s', '2 min 31 s', '2 h 2 min')
    """
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    return f"{minutes // 60} h {minutes % 60} min"


def _policy_block(results: Mapping[str, Any]) -> dict[str, Any]:
    """The policy's text when its file is unchanged, else the resolved policy kept in results.json."""
    p = results["policy"]
    path = Path(p["path"])
    resolved = json.dumps(p["resolved"], indent=2, ensure_ascii=False)
    if not path.is_file():
        return {"state": f"The policy file {path} no longer exists; below is the resolved policy "
                         "recorded in results.json.", "unchanged": False, "text": resolved}
    if policy_sha256(path) != p["sha256"]:
        return {"state": f"The policy file {path} has changed since the audit (its SHA-256 differs); "
                         "below is the resolved policy recorded in results.json.",
                "unchanged": False, "text": resolved}
    return {"state": f"The policy file {path} is unchanged since the audit (SHA-256 verified).",
            "unchanged": True, "text": path.read_text(encoding="utf-8")}


def _limits(results: Mapping[str, Any]) -> dict[str, Any]:
    sizes = sorted({e["n_s_neq"] for e in results["explainers"].values()})
    mu = results["policy"]["resolved"]["metrics"]["mu_fidelity"]
    return {
        "s_neq": f"{sizes[0]:,}" if len(sizes) == 1 else f"between {sizes[0]:,} and {sizes[-1]:,}",
        "s_neq_small": sizes[0] < SMALL_S_NEQ,
        "small_threshold": f"{SMALL_S_NEQ:,}",
        "mu_fraction": f"{mu['subset_fraction']:.0%}",
        "mu_baseline": f"{mu['baseline']:g}",
    }


def _figures(results: Mapping[str, Any], evidence: Mapping[str, ExplainerEvidence],
             inputs: ExampleInputs, model: str) -> dict[str, Any]:
    folds = [f["accuracy"] for f in results["folds"]]
    confidence = results["policy"]["resolved"]["metrics"]["bootstrap"]["confidence"]
    notes = {explainer_label(n): reco_chance_text(results["explainers"][n].get("reco_chance"),
                                                  results["explainers"][n]["reco"].get("value"))
             for n in evidence}
    figures: dict[str, Any] = {
        "folds": plots.data_uri(plots.fold_accuracies(folds, [f["n_test"] for f in results["folds"]],
                                                      results["accuracy"]["max_spread"], confidence)),
        "histograms": plots.data_uri(plots.distance_histograms(
            {explainer_label(n): (e.s_eq, e.s_neq) for n, e in evidence.items()}, notes=notes)),
        "examples": None,
        "example_count": "0",
    }
    count = min((e.examples.shape[0] for e in evidence.values()), default=0)
    if count:
        first = next(iter(evidence.values()))
        labels = [f"image {int(first.example_index[i])}"
                  + (f", class {inputs.classes[i]}" if inputs.images is not None else "")
                  + (", S≠" if first.example_neq[i] else "") for i in range(count)]
        maps = {explainer_label(n): e.examples[:count, 0] for n, e in evidence.items()}
        images = None if inputs.images is None else inputs.images[:count]
        figures["examples"] = plots.data_uri(plots.example_maps(
            images, maps, labels, f"Explanations given by the fold-0 model ({model})"))
        figures["example_count"] = str(count)
    return figures


def _expected_spread(acc: Mapping[str, Any]) -> str:
    """The spread fold size alone gives (:mod:`auditkit.engine.chance`), as a clause."""
    if acc.get("expected_spread") is None:
        return ""
    sds = acc["fold_sd"]
    low, high = number(min(sds)), number(max(sds))
    sd = low if low == high else f"{low} to {high}"
    return f"; fold size alone gives {number(acc['expected_spread'])} (binomial sd {sd} per fold)"


def _fold_interval(fold: Mapping[str, Any]) -> str:
    """A fold's Wilson interval and whether it stands above chance."""
    c = fold.get("chance")
    if c is None:
        return ""
    return (f"[{number(c['ci_low'])}, {number(c['ci_high'])}]"
            + ("" if c["above_chance"] else f", not above chance ({number(c['chance'])})"))


def _chance_warning(results: Mapping[str, Any]) -> str:
    """One sentence when some fold model is not above chance, else ""."""
    at_chance = results["accuracy"].get("at_chance") or []
    if not at_chance:
        return ""
    k = len(results["folds"])
    which = (f"All {k} fold models are" if len(at_chance) == k else
             f"Fold model{'s' if len(at_chance) > 1 else ''} {', '.join(str(i) for i in at_chance)} "
             f"{'are' if len(at_chance) > 1 else 'is'}")
    return (f"{which} not above chance (the majority-class rate "
            f"{number(results['accuracy']['chance'])} lies in the accuracy's interval): no explanation "
            "score of this audit is evidence, since the explanations explain no learnt decision.")


REUSED_WORDS = {"folds": ("fold model", "fold models"),
                "explainers": ("explanation pass", "explanation passes"),
                "sanity": ("sanity-check pass", "sanity-check passes")}
"""How the reproducibility block counts each kind of work reused from an earlier run."""


def _reused(reused: Mapping[str, Sequence[Any]]) -> str:
    """What an earlier run in the same folder provided, counted ("" when nothing was).

    >>> _reused({"folds": [0, 1], "explainers": ["saliency"], "sanity": []})
    '2 fold models and 1 explanation pass were reused from an earlier run in the same folder'
    >>> _reused({"folds": [3]})
    '1 fold model was reused from an earlier run in the same folder'
    """
    counts = {kind: len(items) for kind, items in reused.items() if items}
    if not counts:
        return ""
    parts = [f"{n} {REUSED_WORDS.get(kind, (kind, kind))[n != 1]}" for kind, n in counts.items()]
    verb = "was" if list(counts.values()) == [1] else "were"
    return f"{_and(parts)} {verb} reused from an earlier run in the same folder"


def _outcome(n: int, word: str) -> str:
    """``"was inconclusive"`` / ``"were inconclusive"`` for n checks; other outcomes are verbs."""
    return word if word != "inconclusive" else ("was " if n == 1 else "were ") + word


def _verdict(results: Mapping[str, Any]) -> dict[str, Any]:
    """The banner of page one: PASS or FAIL and one sentence on the thresholds, the fold models and
    the sanity checks, e.g. "9 of 41 threshold checks are not met; the 5 fold models are comparably
    accurate; of the 2 sanity checks, 1 failed and 1 was inconclusive."."""
    checks = results["thresholds"]
    failed = sum(not c["passed"] for c in checks)
    k = len(results["folds"])
    comparable = bool(results["accuracy"]["comparable"])
    passed = results["verdict"] == "pass"
    parts = [(f"all {len(checks)} threshold checks are met" if not failed
              else f"{failed} of {len(checks)} threshold checks are not met") if checks
             else "the policy sets no thresholds"]
    parts.append(f"the {k} fold models are comparably accurate" if comparable
                 else f"the accuracies of the {k} fold models differ by more than the policy allows")
    sanity = [c for c in (results.get("sanity_checks") or {}).values() if isinstance(c, Mapping)]
    if sanity:
        status = [c.get("status", {True: "pass", False: "fail"}.get(c.get("passed"))) for c in sanity]
        counts = {word: status.count(key) for key, word in
                  (("pass", "passed"), ("fail", "failed"), ("inconclusive", "inconclusive"))}
        words = {word: n for word, n in counts.items() if n}
        n = len(sanity)
        checks_word = "the sanity check" if n == 1 else f"the {n} sanity checks"
        if len(words) == 1:
            parts.append(f"{checks_word} {_outcome(n, next(iter(words)))}")
        else:
            parts.append(f"of {checks_word}, " + _and([f"{m} {_outcome(m, w)}" for w, m in words.items()]))
    sentence = "; ".join(parts)
    return {"passed": passed, "label": "PASS" if passed else "FAIL",
            "sentence": sentence[0].upper() + sentence[1:] + "."}


def build_context(out_dir: Path, history: Mapping[str, Any] | None = None,
                  signer: Signer | None = None) -> dict[str, Any]:
    """The template context of the audit in ``out_dir`` (results.json and ``work/explainer_*.pt``).

    ``history``: the earlier audits of the policy (:func:`auditkit.history.report_data`), shown in
    "Since the last audit"; None leaves the section out. ``signer``: the key material that will sign
    the PDF, named on page one; None says the report is unsigned.

    Raises:
        ReportError: results.json or a distance record is missing, unreadable or stale.
    """
    out_dir = Path(out_dir)
    results = load_results(out_dir)
    resolved = results["policy"]["resolved"]
    boot = resolved["metrics"]["bootstrap"]
    confidence = f"{boot['confidence']:.0%}"
    evidence = {name: load_evidence(out_dir, name, e) for name, e in results["explainers"].items()}
    if not evidence:
        raise ReportError(f"{out_dir / 'results.json'} lists no explainer", path=out_dir / "results.json")
    count = min(e.examples.shape[0] for e in evidence.values())
    first = next(iter(evidence.values()))
    inputs = (load_example_inputs(results, first.example_index[:count]) if count
              else ExampleInputs(None, (), ""))
    acc = results["accuracy"]
    dataset = results["dataset"]
    model = resolved["model"]
    env = results["environment"]
    checks = results["thresholds"]
    reused = results.get("reused_from_earlier_run") or {}
    sanity = results.get("sanity_checks")
    # the architecture named for what it is (class and parameter count), a built-in family's too
    family = (results.get("model") or {}).get("description") or model["family"]
    return {
        "title": f"Explanation-quality audit: {results['policy']['name']}",
        "policy_name": results["policy"]["name"],
        "description": resolved.get("description") or "",
        "created": _created(results["created"]),
        "created_iso": results["created"],
        "auditkit_version": results["auditkit_version"],
        "verdict": _verdict(results),
        "model": {
            "family": family,
            "options": ", ".join(f"{k} = {v}" for k, v in model.items()
                                 if k != "family" and v not in (None, {})),
            "dataset": dataset["kind"],
            "source": dataset["source"],
            "n_images": f"{dataset['n_images']:,}",
            "n_classes": f"{len(dataset['classes']):,}",
            "image_shape": " × ".join(str(s) for s in dataset["image_shape"]),
            "k": str(len(results["folds"])),
        },
        "system": _system_facts(results.get("system") or {}),
        "training": _training_text(results.get("training") or {}),
        "explainer_names": ", ".join(explainer_label(n) for n in results["explainers"]),
        "confidence": confidence,
        "resamples": f"{boot['resamples']:,}",
        "comparability": {
            "met": bool(acc["comparable"]),
            "status": _status(acc["comparable"]),
            "sentence": f"Fold accuracies {number(min(f['accuracy'] for f in results['folds']))} "
                        f"to {number(max(f['accuracy'] for f in results['folds']))}: a spread of "
                        f"{number(acc['spread'])}, allowed ≤ {acc['max_spread']:g}" + _expected_spread(acc),
        },
        "chance_warning": _chance_warning(results),
        "requirements": _requirements(results, confidence),
        "articles": _articles(results, confidence),
        "thresholds": _threshold_rows(results, confidence),
        "explainers": _explainer_rows(results, confidence),
        "score_columns": [METRIC_LABELS[m] for m in EXPLAINER_METRICS],
        "properties": properties_section(results, explainer_label, confidence),
        "accuracy": format_score(acc, confidence),
        "folds": [{"index": str(f["index"]), "n_test": f"{f['n_test']:,}", "accuracy": number(f["accuracy"]),
                   "interval": _fold_interval(f), "checkpoint": f["checkpoint_sha256"]}
                  for f in results["folds"]],
        "figures": _figures(results, evidence, inputs, family),
        "inputs_problem": inputs.problem,
        "limits": _limits(results),
        "policy": {"path": results["policy"]["path"], "sha256": results["policy"]["sha256"],
                   **_policy_block(results)},
        "dataset_fingerprint": dataset["fingerprint_sha256"],
        "seeds": [(k.replace("_", " "), str(v)) for k, v in results["seeds"].items()],
        "environment": [(k.replace("_", " "), str(v)) for k, v in env.items()],
        "run_time": _duration(results["run_seconds"]),
        "reused": _reused(reused),
        "sanity_checks": sanity_sections(sanity if isinstance(sanity, Mapping) else None,
                                         explainer_label, confidence, dataset["n_images"]),
        "since_last": since_section(history, explainer_label, confidence, checks),
        "inadmissible": inadmissible_notice(
            inadmissible(sanity if isinstance(sanity, Mapping) else None), explainer_label,
            not_evidenced(sanity if isinstance(sanity, Mapping) else None)),
        "admissible": admissible_sentence(sanity if isinstance(sanity, Mapping) else None,
                                          explainer_label),
        "chance_notice": chance_notice(results["explainers"], explainer_label,
                                       [n for n in results["explainers"] if n in EXPLAINERS
                                        and EXPLAINERS[n].control]),
        "yardstick": _yardstick(results["explainers"]),
        "input_yardstick": _input_yardstick(results["explainers"]),
        "has_control": CONTROL in results["explainers"],
        "target": _target_text(results),
        "signature": signature_facts(signer),
        "deployed": _deployed_digest(results.get("deployed")),
        "deployed_section": deployed_section(results, explainer_label),
    }


def _yardstick(explainers: Mapping[str, Any]) -> str:
    """One sentence naming, per score, the methods that do not beat the random control ("" when
    every method beats it on every score, or no random control was audited)."""
    parts = [f"on {METRIC_LABELS[metric]} "
             f"(random {number(explainer_entry(explainers[CONTROL], metric)['value'])}"
             f"{', lower is better' if metric in LOWER_IS_BETTER else ''}): "
             f"{_and([explainer_label(n) for n in names])}"
             for metric, names in behind(explainers).items()]
    if not parts:
        return ""
    return ("Methods that score no better than the random control, whose maps ignore the model, "
            + "; ".join(parts) + ".")


def _input_rho(found: Mapping[str, Any] | None) -> str:
    """Mean |rho| of a method's maps with the input's, and over how many images."""
    if not found or found.get("mean_abs_rho") is None:
        return "–"
    return f"{number(found['mean_abs_rho'])} ({found['images']:,} images)"


INPUT_LIKE = 0.5
"""Mean |rho| with the input above which page one names a method as ranking pixels like the image."""


def _input_yardstick(explainers: Mapping[str, Any]) -> str:
    """What the input control says ("" when it was not audited).

    Its maps are the image itself, the same for every fold model, so its MeGe is 1 by construction:
    no method can beat it, and comparing MeGe with it would flag every method. What it does tell is
    that MeGe alone cannot separate a method from a map that ignores the model; the sentence says so
    and names the methods whose maps rank pixels like the input (mean |rho| > :data:`INPUT_LIKE`).
    Where its MeGe is undefined (no S= pair: no two models right on one image) the sentence says so.

    >>> _input_yardstick({"input": {"mege": {"value": None, "undefined": "not enough pairs"}}})
    'The image itself as a map has no MeGe here (not enough pairs).'
    """
    if INPUT_CONTROL not in explainers:
        return ""
    mege = explainer_entry(explainers[INPUT_CONTROL], "mege")
    like = sorted(((e["input_correlation"]["mean_abs_rho"], n) for n, e in explainers.items()
                   if not EXPLAINERS.get(n, EXPLAINERS[CONTROL]).control
                   and (e.get("input_correlation") or {}).get("mean_abs_rho") is not None
                   and e["input_correlation"]["mean_abs_rho"] > INPUT_LIKE), reverse=True)
    if mege["value"] is None:
        text = f"The image itself as a map has no MeGe here ({mege['undefined']})."
    else:
        text = (f"The image itself as a map (the same for every model) has MeGe {number(mege['value'])}, "
                "so MeGe alone does not tell a method from a map that ignores the models.")
    if like:
        text += (" Maps that rank pixels like the input (mean |ρ|): "
                 + _and([f"{explainer_label(n)} {number(rho)}" for rho, n in like]) + ".")
    return text


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _system_facts(system: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The policy's ``system`` section as page one's rows: the system (name, version, owner,
    contact) on one row and its intended purpose on another; absent fields are omitted.

    >>> _system_facts({"name": "Triage", "version": "2.1", "owner": "ACME", "intended_purpose": None})
    [('System', 'Triage, version 2.1; owner ACME')]
    >>> _system_facts({"owner": "ACME", "intended_purpose": "Sorting scans"})
    [('System', 'owner ACME'), ('Intended purpose', 'Sorting scans')]
    """
    name = ", version ".join(str(system[k]) for k in ("name", "version") if system.get(k))
    if system.get("version") and not system.get("name"):
        name = f"version {system['version']}"
    parts = [name] if name else []
    parts += [f"{k} {system[k]}" for k in ("owner", "contact") if system.get(k)]
    rows = [("System", "; ".join(parts))] if parts else []
    if system.get("intended_purpose"):
        rows.append(("Intended purpose", str(system["intended_purpose"])))
    return rows


def _training_text(training: Mapping[str, Any]) -> str:
    """How the k models were trained, in words ("" for results without the field).

    >>> _training_text({"kind": "function", "function": {"qualified_name": "ops.fit",
    ...                 "source_sha256": "ab" * 32}})
    "the operator's function ops.fit (source SHA-256 abababababababab…)"
    """
    if training.get("kind") == "function":
        fn = training.get("function") or {}
        digest = fn.get("source_sha256") or ""
        return (f"the operator's function {fn.get('qualified_name', '?')}"
                + (f" (source SHA-256 {digest[:16]}…)" if digest else ""))
    return "auditkit's training loop, with the policy's training settings" if training else ""


def _target_text(results: Mapping[str, Any]) -> str:
    """What class the maps explain, in words (``metrics.target``)."""
    target = results["policy"]["resolved"]["metrics"].get("target", "label")
    if target == "prediction":
        return ("Each retrained model explains the class it predicts (eq. 2 of the paper), so the two "
                "maps of an S≠ pair explain two different decisions; μF, robustness, invariance and "
                "completeness use that class too.")
    return ("Each retrained model explains the true label (as the authors’ library does), so both maps "
            "of every pair explain the same class, even where one model predicts another; μF, "
            "robustness, invariance and completeness use the true label too.")


def _deployed_digest(deployed: Mapping[str, Any] | None) -> str:
    """The deployed checkpoint's SHA-256 as results.json records it ("" when it records none).

    >>> _deployed_digest({"checkpoint": "model.pt", "sha256": "ab" * 32})[:20]
    'model.pt, SHA-256 ab'
    >>> _deployed_digest(None), _deployed_digest({"checkpoint": "model.pt"})
    ('', '')
    """
    digest = (deployed or {}).get("sha256") or (deployed or {}).get("checkpoint_sha256")
    if not digest:
        return ""
    name = Path(str(deployed.get("checkpoint") or "")).name
    return f"{name}, SHA-256 {digest}" if name else f"SHA-256 {digest}"
