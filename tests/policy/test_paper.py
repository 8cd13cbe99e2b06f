"""The reading on paper (``load_policy(path, on_paper=True)``): no torch, and a subset of the full
reading's problems, never a different one."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from auditkit.errors import PolicyError
from auditkit.policy import load_policy
from tests.policy.conftest import MINIMAL, POLICIES

ROOT = Path(__file__).resolve().parents[2]

PAPER_PROBLEMS = {
    "unknown key": MINIMAL + "cross_validation: {kk: 5}\n",
    "bound": MINIMAL + "training: {epochs: 0}\n",
    "type": MINIMAL + "metrics: {bootstrap: {resamples: many}}\n",
    "list item type": MINIMAL + "thresholds: [{id: T, metric: mege, op: '>=', value: 0.5, explainers: 3}]\n",
    "rule of a section without registry values": MINIMAL + "preprocessing: {normalize: {mean: [0.5]}}\n",
    "two problems": MINIMAL.replace("name: t", "name: t\nprofil: paper") + "training: {epochs: 0}\n",
}
"""Problems the reading on paper finds: the full reading must report them in the same words."""

REGISTRY_PROBLEMS = {
    "explainer name": MINIMAL.replace("saliency", "salincy"),
    "explainer setting": MINIMAL.replace("- name: saliency", "- name: rise\n    maskz: 3"),
    "dataset kind": MINIMAL.replace("kind: digits", "kind: cifar"),
    "dataset rule": MINIMAL.replace("kind: digits", "kind: digits\n  path: x"),
    "model family": MINIMAL + "model: {family: resnet}\n",
    "channels": MINIMAL + "preprocessing: {channels: gray}\n",
    "duplicate explainer": MINIMAL + "  - name: saliency\n",
    "threshold explainer": MINIMAL + "thresholds: [{id: T, metric: mege, op: '>=', value: 0.5, "
                                     "explainers: [rise]}]\n",
}
"""Problems only the full reading finds, as they need a registry or a rule of its section."""


def _problem(load: Callable[[], object]) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        load()
    return info.value


@pytest.mark.parametrize("case", PAPER_PROBLEMS)
def test_the_full_reading_reports_what_the_paper_finds(case: str, write) -> None:
    path = write(PAPER_PROBLEMS[case])
    paper, full = _problem(lambda: load_policy(path, on_paper=True)), _problem(lambda: load_policy(path))
    where = [(p.file, p.line, p.key) for p in paper.problems]
    assert where == [(p.file, p.line, p.key) for p in full.problems]
    if case == "list item type":  # on paper, an item checked against a registry is "a non-empty string"
        assert "each item a non-empty string" in str(paper) and "each item one of 'saliency'" in str(full)
    else:
        assert str(paper) == str(full)


@pytest.mark.parametrize("case", REGISTRY_PROBLEMS)
def test_registry_problems_wait_for_the_full_reading(case: str, write) -> None:
    path = write(REGISTRY_PROBLEMS[case])
    load_policy(path, on_paper=True)
    assert _problem(lambda: load_policy(path))


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.name)
def test_a_shipped_policy_reads_the_same_on_paper(path: Path) -> None:
    """Where nothing is wrong, the reading on paper differs only in the defaults of the explainer
    settings it does not know."""
    paper, full = load_policy(path, on_paper=True), load_policy(path)
    assert [e.name for e in paper.explainers] == [e.name for e in full.explainers]
    for e_paper, e_full in zip(paper.explainers, full.explainers, strict=True):
        assert e_paper.settings.items() <= e_full.settings.items()
    assert (paper.dataset, paper.model, paper.training, paper.run) == (
        full.dataset, full.model, full.training, full.run)


def test_the_reading_on_paper_imports_no_torch(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(MINIMAL + "preprocessing: {channels: rgb}\nmodel: {family: resnet18}\n")
    code = ("import sys\nfrom auditkit.policy import load_policy\n"
            f"policy = load_policy({str(tmp_path / 'p.yaml')!r}, on_paper=True)\n"
            "print(policy.model.family, sorted(m for m in ('torch', 'captum') if m in sys.modules))\n"
            "load_policy(policy.source)\nprint('torch' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["resnet18 []", "True"]  # the full reading imports it
