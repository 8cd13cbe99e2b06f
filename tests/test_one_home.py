"""One home per fact (issue 26): a metric added to ``catalog.METRICS`` and an explainer added to
``explainers.EXPLAINERS`` reach results.json, summary.txt, the report and the history's comparison
with nothing else changed.

The readers derive their tables from the registries when they are imported, so the scenario
(``tests/_one_home_scenario.py``) runs in fresh interpreters: one audits with the scratch explainer
registered, one reads the audit with both scratch entries registered and one reads it with neither,
so that each check below is seen to fail without the registration.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = Path(__file__).with_name("_one_home_scenario.py")
METRIC, METRIC_LABEL, METRIC_SHORT = "scratch_score", "Scratch metric", "Scratch_m"
EXPLAINER, EXPLAINER_LABEL = "scratch_method", "Scratch method"

POLICY = """\
version: 1
name: one-home
dataset:
  kind: digits
  max_images: 150
model:
  family: small_cnn
training:
  epochs: 4
  batch_size: 16
  optimizer: adam
  learning_rate: 0.003
  seed: 0
cross_validation:
  k: 3
  seed: 0
  max_accuracy_spread: 1.0
explainers:
  - name: saliency
  - name: scratch_method
  - name: random
metrics:
  explain_batch_size: 64
  min_pairs: 1
  reco_chance:
    permutations: 99
  mu_fidelity:
    samples: 10
    n_subsets: 8
  bootstrap:
    resamples: 20
properties:
  robustness:
    enabled: false
  invariance:
    enabled: false
  completeness:
    enabled: false
thresholds:
  - id: T1
    metric: mege
    op: ">="
    value: 0.1
    explainers: [saliency, scratch_method]
sanity_checks:
  weight_randomisation:
    enabled: false
  label_shuffling:
    enabled: false
requirements:
  - id: R1
    title: Explanations generalise across retrainings
    articles: ["EU AI Act Art. 15"]
    evidence: [T1]
"""
"""A tiny audit: saliency, the scratch explainer and the random control, no property, no sanity check."""


def _scenario(*args: str) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    done = subprocess.run([sys.executable, str(SCENARIO), *args], capture_output=True, text=True,
                          env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """What the readers show of one audit: ``with`` both scratch entries registered, ``without``."""
    folder = tmp_path_factory.mktemp("one_home")
    policy = folder / "policy.yaml"
    policy.write_text(POLICY)
    _scenario("audit", str(policy), str(folder / "audit"))
    out = {}
    for mode, flags in (("with", ()), ("without", ("--without",))):
        shutil.copytree(folder / "audit", folder / mode)
        out[mode] = json.loads(_scenario("read", str(folder / mode), *flags))
    return out


@pytest.mark.slow
def test_the_scratch_entries_reach_every_reader(seen: dict[str, dict]) -> None:
    got = seen["with"]
    assert Path(got["auditkit"]).is_relative_to(ROOT)  # this checkout's package, not another one's
    # results.json: the scratch explainer's entry, and the scratch metric for every explainer
    assert list(got["results_json"]) == ["saliency", EXPLAINER, "random"]
    assert all(METRIC in scores for scores in got["results_json"].values())
    assert got["work_files"] == ["explainer_random.pt", "explainer_saliency.pt", f"explainer_{EXPLAINER}.pt"]
    # summary.txt: a column for the metric, with the scratch explainer's value in its row
    summary = got["summary"].splitlines()
    header = next(line for line in summary if line.startswith("explainer "))
    assert header.rstrip().endswith(METRIC_SHORT)
    row = next(line for line in summary if line.startswith(EXPLAINER + " "))
    assert row.rstrip().endswith("0.500 [0.490, 0.510]")
    # the report's scores table, its yardstick, its colours and its controls
    assert got["score_columns"][-1] == METRIC_LABEL
    assert got["rows"] == {"Saliency": len(got["score_columns"]), EXPLAINER_LABEL: len(got["score_columns"]),
                           "Random baseline": len(got["score_columns"])}
    assert EXPLAINER_LABEL in got["explainer_names"]
    assert f"on {METRIC_LABEL} (random 0.900): {EXPLAINER_LABEL}." in got["yardstick"]
    assert got["colours"][EXPLAINER] not in {c for n, c in got["colours"].items() if n != EXPLAINER}
    # the scratch method is judged, not a control
    assert got["controls"] == ["input", "random", "random_smooth"]
    # the tables built from the catalog's flags: trend tables and curves, history panels, deployed
    for table in ("trend_columns", "curve_metrics", "since_panels", "deployed_columns"):
        assert got[table][-1] == METRIC, table
    # the rendered report
    assert METRIC_LABEL in got["html"] and EXPLAINER_LABEL in got["html"]
    # the history's comparison: the scratch metric changed by -0.2, nothing else changed
    changed = {(e, m): round(c, 6) for e, m, c in got["changes"] if c}
    assert changed == {(e, METRIC): -0.2 for e in ("saliency", EXPLAINER, "random")}
    assert (EXPLAINER, "mege") in {(e, m) for e, m, _ in got["changes"]}


@pytest.mark.slow
def test_without_the_registration_no_reader_shows_them(seen: dict[str, dict]) -> None:
    got, scratch = seen["without"], seen["with"]
    assert METRIC_SHORT not in got["summary"]
    assert METRIC_LABEL not in got["score_columns"] and METRIC_LABEL not in got["yardstick"]
    assert EXPLAINER_LABEL not in got["explainer_names"] and EXPLAINER_LABEL not in got["yardstick"]
    assert EXPLAINER not in got["colours"]
    for table in ("trend_columns", "curve_metrics", "since_panels", "deployed_columns"):
        assert METRIC not in got[table], table
    assert METRIC_LABEL not in got["html"] and EXPLAINER_LABEL not in got["html"]
    assert all(m != METRIC for _, m, _ in got["changes"])
    # and with it, nothing but the scratch entries changed
    assert scratch["score_columns"] == [*got["score_columns"], METRIC_LABEL]
    assert {k: v for k, v in scratch["colours"].items() if k != EXPLAINER} == got["colours"]
    for table in ("trend_columns", "curve_metrics", "since_panels", "deployed_columns"):
        assert scratch[table] == [*got[table], METRIC], table
    assert [c for c in scratch["changes"] if c[1] != METRIC] == got["changes"]
    for line, plain in zip(scratch["summary"].splitlines(), got["summary"].splitlines(), strict=True):
        assert line == plain or (line.startswith(plain + " ") and len(line) == len(plain) + 25), line
