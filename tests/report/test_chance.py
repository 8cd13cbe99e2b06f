"""Page one says when the fold models are at chance; the fold table and the comparability line say
what fold size alone explains."""

from __future__ import annotations

import json
from pathlib import Path

from auditkit.report import build_context
from auditkit.report.inputs import load_document


def _edit(out: Path, change) -> None:
    path = out / "results.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_models_above_chance_get_no_warning_and_the_expected_spread_is_stated(out_copy: Path) -> None:
    ctx = build_context(load_document(out_copy), out_copy)
    data = json.loads((out_copy / "results.json").read_text())
    assert data["accuracy"]["at_chance"] == [] and ctx["chance_warning"] == ""
    expected = f"{data['accuracy']['expected_spread']:.3f}"
    assert f"fold size alone gives {expected} (binomial sd" in ctx["comparability"]["sentence"]
    low = f"{data['folds'][0]['chance']['ci_low']:.3f}"
    assert ctx["folds"][0]["interval"].startswith(f"[{low}, ")


def test_models_at_chance_are_said_on_page_one(out_copy: Path) -> None:
    def at_chance(data) -> None:
        data["accuracy"]["at_chance"] = [f["index"] for f in data["folds"]]
        for f in data["folds"]:
            f["chance"].update(ci_low=0.05, ci_high=0.2, chance=0.11, above_chance=False)

    _edit(out_copy, at_chance)
    ctx = build_context(load_document(out_copy), out_copy)
    assert ctx["chance_warning"].startswith("All 3 fold models are not above chance")
    assert "no explanation score of this audit is evidence" in ctx["chance_warning"]
    assert ctx["folds"][1]["interval"] == "[0.050, 0.200], not above chance (0.110)"
