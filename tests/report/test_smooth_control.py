"""Each method against random maps of its own smoothness (auditkit/report/yardstick.py), and the
optional ``smooth_control`` of results.json."""

from __future__ import annotations

import json
from dataclasses import replace

from auditkit.report.yardstick import (
    SMOOTH_BEATS,
    SMOOTH_BEHIND,
    marks,
    smooth_behind,
    smooth_yardstick,
)
from auditkit.results import AuditDocument, Estimate, SmoothControl, _example

ENTRY = _example().explainers["saliency"]


def _entry(mege: float, reco: float, control: tuple[float, float] | None, sigma: float = 1.5):
    smooth = None if control is None else SmoothControl(
        sigma, {"mege": Estimate(control[0]), "reco": Estimate(control[1])})
    return replace(ENTRY, scores={"mege": Estimate(mege), "reco": Estimate(reco)}, smooth_control=smooth)


def test_a_method_is_named_where_it_does_not_beat_its_own_control() -> None:
    explainers = {
        "saliency": _entry(0.60, 0.30, (0.55, 0.10), sigma=0.3),  # beats its control on both
        "gradcam": _entry(0.70, 0.10, (0.70, 0.05)),  # ties on MeGe: not strictly better
        "rise": _entry(0.65, 0.02, (0.75, 0.04), sigma=2.25),  # behind on both
        "random": _entry(0.50, 0.00, None),  # a control: compared with nothing
        "random_smooth": _entry(0.10, 0.00, (0.9, 0.9)),  # even with an entry, never named
    }
    assert smooth_behind(explainers) == {"mege": ["gradcam", "rise"], "reco": ["rise"]}
    assert smooth_yardstick(explainers) == (
        "Methods that score no better than random maps of their own smoothness (Gaussian-filtered "
        "noise of the width measured on their maps), whose agreement is chance: on MeGe: Grad-CAM "
        "0.700 (width 1.50 px: control 0.700) and RISE 0.650 (width 2.25 px: control 0.750); on ReCo: "
        "RISE 0.020 (width 2.25 px: control 0.040).")


def test_nothing_is_said_without_a_smooth_control_or_when_all_beat_it() -> None:
    assert smooth_yardstick({"saliency": _entry(0.6, 0.3, None)}) == ""
    assert smooth_yardstick({"saliency": _entry(0.6, 0.3, (0.5, 0.1))}) == ""
    undefined = replace(_entry(0.6, 0.3, (0.5, 0.1)), scores={"mege": Estimate(None, undefined="x")})
    assert smooth_behind({"saliency": undefined}) == {}  # an undefined score says nothing


def test_the_table_marks_each_method_against_both_controls() -> None:
    explainers = {"gradcam": _entry(0.7, 0.10, (0.75, 0.05)), "random": _entry(0.5, 0.0, None)}
    got = marks(explainers, "gradcam", ["mege", "reco"])
    assert [m["text"] for m in got] == ["✓ beats random", SMOOTH_BEHIND, "reco: ✓ beats random",
                                        f"reco: {SMOOTH_BEATS}"]
    assert [m["behind"] for m in got] == [False, True, False, False]
    assert marks({"gradcam": _entry(0.7, 0.1, None)}, "gradcam", ["mege"]) == []


def test_results_json_keeps_the_smooth_control_optional_and_exact() -> None:
    doc = _example()
    with_control = replace(doc, explainers={**doc.explainers, "saliency": replace(
        doc.explainers["saliency"], smooth_control=SmoothControl(1.31, {"mege": Estimate(0.5, 0.4, 0.6)}))})
    data = with_control.to_json()
    assert json.loads(data)["explainers"]["saliency"]["smooth_control"]["sigma"] == 1.31
    assert AuditDocument.from_json(data) == with_control and AuditDocument.from_json(data).to_json() == data
    assert "smooth_control" not in json.loads(doc.to_json())["explainers"]["saliency"]  # older documents
