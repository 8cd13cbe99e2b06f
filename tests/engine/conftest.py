"""A tiny digits policy that audits in seconds, for engine and CLI tests."""

from __future__ import annotations

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
  - name: saliency
  - name: gradcam
  - name: random
metrics:
  explain_batch_size: 64
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
    explainers: [saliency, gradcam]
requirements:
  - id: R1
    title: Explanations generalise across retrainings
    articles: ["EU AI Act Art. 15"]
    evidence: [T1]
"""


@pytest.fixture
def tiny_policy(tmp_path: Path):
    """Write the tiny policy (optionally with other epochs / MeGe threshold) and return its path."""

    def write(epochs: int = 15, mege: float = 0.1, name: str = "policy.yaml") -> Path:
        path = tmp_path / name
        path.write_text(TINY_POLICY.format(epochs=epochs, mege=mege))
        return path

    return write
