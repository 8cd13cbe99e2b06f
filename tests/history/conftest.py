"""A two-explainer digits policy small enough to audit in seconds, and a history of two audits."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from auditkit.cli import main

POLICY = """\
version: 1
name: {name}
dataset:
  kind: digits
  max_images: 200
model:
  family: small_cnn
training:
  epochs: 3
  batch_size: 16
  optimizer: adam
  learning_rate: 0.01
  seed: 0
cross_validation:
  k: 2
  seed: 0
  max_accuracy_spread: 1.0
explainers:
  - name: saliency
  - name: random
metrics:
  explain_batch_size: 64
  mu_fidelity:
    samples: 20
    n_subsets: 8
  bootstrap:
    resamples: 30
sanity_checks:
  weight_randomisation:
    enabled: false
  label_shuffling:
    enabled: false
"""


def write_policy(folder: Path, name: str = "history-tiny") -> Path:
    """Write the policy into ``folder/policy.yaml`` and return its path."""
    path = folder / "policy.yaml"
    path.write_text(POLICY.format(name=name))
    return path


@dataclass(frozen=True)
class Recorded:
    """A folder holding ``policy.yaml`` and ``out/`` with its history database."""

    folder: Path

    @property
    def policy(self) -> Path:
        return self.folder / "policy.yaml"

    @property
    def out(self) -> Path:
        return self.folder / "out"

    @property
    def db(self) -> Path:
        return self.out / "history.sqlite"

    def run(self, *extra: str) -> int:
        """``auditkit run`` of the policy into ``out`` (quiet), in this process."""
        return main(["run", str(self.policy), "--out", str(self.out), "--quiet", *extra])


@pytest.fixture
def history_policy(tmp_path: Path) -> Path:
    """The policy written into ``tmp_path``."""
    return write_policy(tmp_path)


@pytest.fixture(scope="session")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    """Two audits of the policy into one output folder: #1 trains, #2 reuses the work (and finds
    no regression). Read-only: tests that change it take :func:`history_copy`."""
    history = Recorded(tmp_path_factory.mktemp("history"))
    write_policy(history.folder)
    assert history.run() == 0
    assert history.run("--fail-on-regression") == 0
    return history


@pytest.fixture
def history_copy(recorded: Recorded, tmp_path: Path) -> Recorded:
    """A private copy of :func:`recorded` in another folder (its report files recorded relative to
    the database, so the copy verifies)."""
    copy = Recorded(tmp_path / "copy")
    shutil.copytree(recorded.folder, copy.folder)
    return copy
