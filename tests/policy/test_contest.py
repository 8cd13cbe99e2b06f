"""``system.contest``: how a person affected by a decision contests it, recorded in results.json."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from auditkit.errors import PolicyError
from auditkit.policy import load_policy
from auditkit.results import AuditDocument, System, _example

GOOD = "version: 1\nname: x\ndataset: {kind: digits}\nexplainers: [{name: saliency}]\n"


def test_contest_is_read_and_recorded(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(GOOD + "system:\n  contact: a@b.org\n  contest: Write to the appeals office.\n")
    policy = load_policy(path)
    assert policy.system.contest == "Write to the appeals office."
    assert policy.to_dict()["system"]["contest"] == "Write to the appeals office."
    doc = dataclasses.replace(_example(), system=System(**policy.to_dict()["system"]))
    assert AuditDocument.from_json(doc.to_json()).system.contest == "Write to the appeals office."


def test_without_contest_results_json_is_unchanged() -> None:
    plain = _example().to_plain()
    assert "contest" not in plain["system"]  # an older schema-2 document reads as it did
    assert AuditDocument.from_plain(plain).system.contest is None


def test_contest_must_be_text(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(GOOD + "system:\n  contest: [1, 2]\n")
    with pytest.raises(PolicyError, match=r"p\.yaml:6: system\.contest: "):
        load_policy(path)
