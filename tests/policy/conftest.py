"""Shared helpers of the policy tests: the shipped policies and a minimal valid policy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

POLICIES = sorted((Path(__file__).resolve().parents[2] / "policies").glob("*.yaml"))
"""The policy files shipped in the repository."""

MINIMAL = """\
version: 1
name: t
dataset:
  kind: digits
explainers:
  - name: saliency
"""
"""The smallest valid policy: every other key takes its default."""


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """Write text (or bytes) to ``tmp_path / name`` and return the path."""

    def _write(content: str | bytes, name: str = "policy.yaml") -> Path:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return _write
