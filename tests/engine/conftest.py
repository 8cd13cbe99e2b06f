"""A tiny digits policy that audits in seconds, for engine and CLI tests."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

TINY_POLICY = """\
version: 1
name: tiny-digits
dataset:
  kind: digits
  max_images: 360
model:
  family: small_cnn
training:
  epochs: {epochs}
  batch_size: 8
  optimizer: adam
  learning_rate: 0.003
  seed: 0
cross_validation:
  k: 3
  seed: 0
  max_accuracy_spread: 1.0
explainers:
{explainers}
metrics:
  explain_batch_size: 64
  min_pairs: 1  # a tiny audit has few S≠ pairs; these tests are about the mechanics
  mu_fidelity:
    samples: 30
    n_subsets: 16
  bootstrap:
    resamples: 50
thresholds:
  - id: T1
    metric: mege
    op: ">="
    value: {mege}
    explainers: [{gated}]
sanity_checks:
  weight_randomisation:
    enabled: {sanity}
    levels: {levels}
  label_shuffling:
    enabled: {sanity}
    levels: {levels}
requirements:
  - id: R1
    title: Explanations generalise across retrainings
    articles: ["EU AI Act Art. 15"]
    evidence: [T1]
"""


def write_tiny_policy(
    folder: Path,
    epochs: int = 15,
    mege: float = 0.1,
    name: str = "policy.yaml",
    explainers: tuple[str, ...] = ("saliency", "gradcam", "random"),
    settings: dict[str, dict[str, object]] | None = None,
    sanity_levels: tuple[float, ...] | None = None,
) -> Path:
    """Write the tiny policy into ``folder``; ``settings``: explainer -> its settings;
    ``sanity_levels`` enables both sanity checks at these levels (None: both disabled)."""
    settings = settings or {}
    items = [
        "\n".join([f"  - name: {e}", *(f"    {k}: {v}" for k, v in settings.get(e, {}).items())])
        for e in explainers
    ]
    path = folder / name
    path.write_text(TINY_POLICY.format(
        epochs=epochs,
        mege=mege,
        explainers="\n".join(items),
        gated=", ".join(e for e in explainers if e != "random"),
        sanity=str(sanity_levels is not None).lower(),
        levels=list(sanity_levels or (0.3,)),
    ))
    return path


@dataclass(frozen=True)
class TinyRun:
    """``auditkit run`` of the tiny policy (defaults) from scratch: its policy and out folder."""

    policy: Path
    out: Path

    def work_into(self, out: Path) -> Path:
        """A new out folder holding a copy of this run's work files (no results, report or history)."""
        shutil.copytree(self.out / "work", out / "work")
        return out


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> TinyRun:
    """``auditkit run`` of the tiny policy as :func:`write_tiny_policy` writes it by default, once per
    session. Read-only; copy it (:meth:`TinyRun.work_into`, ``shutil.copytree``) to change anything."""
    from auditkit.cli import main

    folder = tmp_path_factory.mktemp("tiny_run")
    run = TinyRun(write_tiny_policy(folder), folder / "out")
    assert main(["run", str(run.policy), "--out", str(run.out), "--quiet"]) == 0
    return run


@pytest.fixture(scope="session")
def policy_writer():
    """:func:`write_tiny_policy`, for fixtures of a wider scope than ``tiny_policy``."""
    return write_tiny_policy


@pytest.fixture
def tiny_policy(tmp_path: Path):
    """Write the tiny policy (optionally with other settings) and return its path."""

    def write(**settings) -> Path:
        return write_tiny_policy(tmp_path, **settings)

    return write


SANITY_EPOCHS = 40
"""Training epochs of the sanity-check audit: at 15 the models trained on 30 % wrong labels are
undertrained (held-out accuracy ~0.5) and their saliency MeGe rose in a trial; at 40 they reach ~0.86
and MeGe falls for the three gradient methods (measured: saliency 0.617 -> 0.591, gradient x input
0.936 -> 0.927, integrated gradients 0.731 -> 0.629), as in the paper's Fig. 3."""

SANITY_EXPLAINERS = ("saliency", "gradient_input", "integrated_gradients", "random")
"""Explainers of the sanity-check audit: the three gradient methods and the random baseline."""


@pytest.fixture(scope="session")
def sanity_audit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Output folder of one tiny audit with both sanity checks at level 0.3 (run once per session)."""
    from auditkit.cli import main

    folder = tmp_path_factory.mktemp("sanity")
    policy = write_tiny_policy(folder, epochs=SANITY_EPOCHS, explainers=SANITY_EXPLAINERS,
                               settings={"integrated_gradients": {"steps": 8}}, sanity_levels=(0.3,))
    out = folder / "out"
    assert main(["run", str(policy), "--out", str(out), "--quiet"]) in (0, 1)
    return out
