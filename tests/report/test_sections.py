"""The optional sections: sanity curves and trend table, inadmissible scores, "Since the last audit"."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

from auditkit.report import render_report
from auditkit.report.inputs import load_document


def section(html: str, start: str, end: str = "</section>") -> str:
    return html.split(start, 1)[1].split(end, 1)[0]


def images(html: str) -> list[bytes]:
    return [base64.b64decode(u) for u in re.findall(r'<img [^>]*src="data:image/png;base64,([^"]+)"', html)]


def test_without_sanity_checks_or_history_no_such_section(rendered) -> None:
    assert "Sanity checks" not in rendered.html
    assert '<span class="badge-inadmissible">' not in rendered.html
    assert '<div class="inadmissible-notice">' not in rendered.html
    assert "Since the last audit" not in rendered.html
    assert rendered.context["sanity_checks"] == [] and rendered.context["since_last"] is None


def test_sanity_check_has_curves_table_and_plain_words(full) -> None:
    html = full.html
    sanity = section(html, "<h3>Sanity checks</h3>", "<h3>Limits of the method</h3>")
    assert '<h4>Label shuffling <span class="unmet">(failed)</span></h4>' in sanity
    assert "A share of the training images is given a wrong label" in sanity
    assert ("MeGe and the chance-corrected ReCo fell significantly (one-sided p &lt; 0.05) for Saliency, "
            "as they should. The data show that these scores do not fall: Grad-CAM (chance-corrected "
            "ReCo); they are inadmissible.") in sanity
    (curves,) = images(sanity)
    assert curves.startswith(b"\x89PNG\r\n\x1a\n")
    table = section(sanity, '<table class="trends">', "</table>")
    assert re.findall(r"<th>([^<]+)</th>", table) == ["Method", "MeGe", "chance-corrected ReCo", "ReCo",
                                                      "ReCo_AUC", "μF", "Verdict"]
    assert table.count("<tr>") == 1 + 2  # header, saliency, gradcam
    assert '<td class="met"><span class="value">−0.170 [−0.220, −0.120]</span><br><span class="small">' \
           "p = 0.030: fell</span></td>" in table
    assert '<td class="unmet"><span class="value">0.010 [−0.040, 0.060]</span><br><span class="small">' \
           "p = 0.600: did not fall</span></td>" in table
    assert "p = 0.400: reported" in table  # μF: no pass condition
    assert "p = 0.100: reported" in table  # raw ReCo: reported only
    assert "Grad-CAM, chance-corrected ReCo does not fall" in sanity  # the reason under the table
    assert re.search(r'verdict-cell unmet">failed<br><span class="badge-inadmissible">inadmissible', table)
    assert re.search(r'verdict-cell met">passed</td>', table)


def test_inadmissible_scores_are_marked_and_said_in_plain_words(full) -> None:
    html = full.html
    summary = section(html, '<section id="summary">')
    assert "Some scores of Grad-CAM are inadmissible" in summary
    assert "no requirement is met on it" in summary
    assert "Grad-CAM: label shuffling failed" in summary
    assert "the sanity check failed" in summary
    # R2 rests on T2 and T3 (ReCo and corrected ReCo of Grad-CAM), voided whatever their values;
    # R1 rests on T1 (MeGe), which passed its check for both methods: still evidence.
    assert re.search(r'<li class="unmet">\s*<span class="badge">2 of 2 not met</span>\s*<strong>R2</strong>',
                     summary)
    assert re.search(r'<li class="met">\s*<span class="badge">met</span>\s*<strong>R1</strong>', summary)
    assert "T3, chance-corrected ReCo &gt; 0: inadmissible for Grad-CAM" in summary  # its value passes
    scores = section(html, '<table class="scores">', "</table>")
    assert re.search(r'<tr class="inadmissible"><td><b>Grad-CAM</b> <span class="badge-inadmissible"', scores)
    assert '<tr><td><b>Saliency</b><br>' in scores
    thresholds = section(html, "<h3>Threshold checks</h3>", "</table>")
    assert thresholds.count('<span class="badge-inadmissible">inadmissible</span>') == 2  # T2, T3 on Grad-CAM
    assert ('title="inadmissible: sanity check label_shuffling failed (chance-corrected ReCo did not '
            'fall)"') in thresholds


def test_an_inconclusive_check_is_said_and_its_scores_not_evidenced(unclear) -> None:
    html = unclear.html
    sanity = section(html, "<h3>Sanity checks</h3>", "<h3>Limits of the method</h3>")
    assert '<h4>Label shuffling <span class="inconclusive">(inconclusive)</span></h4>' in sanity
    assert "The check cannot tell for Saliency (MeGe)" in sanity
    assert re.search(r'verdict-cell inconclusive">inconclusive<br><span class="badge-inadmissible">'
                     r"not evidenced", sanity)
    assert '<td class="inconclusive"><span class="value">−0.100 [−0.150, −0.050]</span>' in sanity
    summary = section(html, '<section id="summary">')
    assert "For Saliency, a sanity check could not tell whether a score reacts" in summary
    assert "Saliency: label shuffling inconclusive" in summary
    assert "the sanity check was inconclusive" in summary
    assert re.search(r"T1, MeGe ≥ 0.1 \(lower end of the 95% CI\): not evidenced for Saliency", summary)


def test_every_reco_is_shown_with_its_chance_band(rendered) -> None:
    results = json.loads((rendered.out / "results.json").read_text())
    scores = section(rendered.html, '<table class="scores">', "</table>")
    for e in results["explainers"].values():
        chance = e["reco_chance"]
        assert f"chance {chance['null_mean']:.3f} (95%: {chance['null_q95']:.3f})".replace("-", "−") \
            in scores
        assert "corrected " in scores
    assert "Each retrained model explains the class it predicts" in rendered.html


def test_since_the_last_audit(full) -> None:
    html = full.html
    assert "<b>Since the last audit</b> (#2, 1 February 2026, 10:00 UTC, PASS): 2 of " in html
    since = section(html, '<section id="since-last" class="new-page">')
    assert "This audit is compared with audit #2 of the same policy" in since
    assert "The policy file is the same (same SHA-256)." in since
    results = json.loads((full.out / "results.json").read_text())
    mege = results["explainers"]["saliency"]["scores"]["mege"]
    row = re.search(r"<tr><td>Saliency: MeGe</td>(.*?)</tr>", since, re.S)
    assert row is not None
    assert f"{mege['value'] + 0.2:.3f}" in row.group(1) and f"{mege['value']:.3f}" in row.group(1)
    assert "<td>−0.200</td>" in row.group(1) and "yes: dropped" in row.group(1)
    assert re.search(r"<tr><td>held-out accuracy</td>.*?<td>\+0\.000</td>\s*<td[^>]*>no</td>", since, re.S)
    (trend,) = images(since)
    assert trend.startswith(b"\x89PNG\r\n\x1a\n")
    assert "all 3 finished audits of this policy" in since


def test_full_context_holds_only_text_and_flags(full) -> None:
    def leaves(value, path="context"):
        if isinstance(value, dict):
            for key, item in value.items():
                yield from leaves(item, f"{path}.{key}")
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                yield from leaves(item, f"{path}[{i}]")
        else:
            yield path, value

    for path, value in leaves(full.context):
        assert value is None or isinstance(value, (str, bool)), f"{path} is {type(value).__name__}"


def test_history_without_earlier_audit_renders_no_section(out_copy: Path) -> None:
    (html,) = render_report(load_document(out_copy), out_copy, formats=("html",), history=None)
    assert "since-last" not in html.read_text(encoding="utf-8")


def test_the_random_control_is_a_yardstick_for_every_score() -> None:
    # needs report/yardstick.py on the typed document (the other branch of issue 26)
    from dataclasses import replace

    from auditkit.report.scores import yardstick
    from auditkit.results import Estimate, Properties, _example

    entry = _example().explainers["saliency"]

    def e(mege, reco, corrected, mu, invariance=None):
        props = None if invariance is None else Properties(
            {"invariance_distance": Estimate(invariance)}, 0, 0, 0, 0, (), 0, 0)
        return replace(entry, properties=props, scores={
            "mege": Estimate(mege), "reco": Estimate(reco), "reco_corrected": Estimate(corrected),
            "mu_fidelity": Estimate(mu)})

    explainers = {"saliency": e(0.7, 0.3, 0.2, 0.1), "gradcam": e(0.5, 0.1, -0.01, 0.4),
                  "random": e(0.6, 0.12, 0.0, 0.0)}
    assert yardstick(explainers) == (
        "Methods that score no better than the random control, whose maps ignore the "
        "model, on MeGe (random 0.600): Grad-CAM; on ReCo (random 0.120): Grad-CAM; on "
        "chance-corrected ReCo (random 0.000): Grad-CAM.")
    with_props = {**explainers, "saliency": e(0.7, 0.3, 0.2, 0.1, 0.5), "random": e(0.6, 0.12, 0.0, 0.0, 0.4)}
    assert yardstick(with_props).endswith(
        "; on distance under transformations (random 0.400, lower is better): Saliency.")
    assert yardstick({k: v for k, v in explainers.items() if k != "gradcam"}) == ""
    assert yardstick({"saliency": explainers["saliency"]}) == ""  # no control audited
