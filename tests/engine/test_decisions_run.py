"""An audit with a deployed checkpoint keeps what a decision sheet needs: results.json's
``decisions`` and the k fold checkpoints in the kept dossier, which `verify` and `history --check`
hold to their digests."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from auditkit.cli import main
from auditkit.results import QUANTILES, AuditDocument

from .conftest import TinyRun


@pytest.fixture(scope="module")
def deployed_out(tmp_path_factory: pytest.TempPathFactory, policy_writer,
                 tiny_run: TinyRun) -> tuple[Path, Path, Path]:
    """The tiny policy with a deployed checkpoint made by `auditkit train`, audited and signed from
    the work files of :func:`tiny_run`: (policy, out folder, CA certificate)."""
    root = tmp_path_factory.mktemp("deployed")
    policy = policy_writer(root)
    policy.write_text(policy.read_text() + "deployed:\n  checkpoint: deployed.pt\n")
    assert main(["train", str(policy), "--out", str(root / "deployed.pt"), "--quiet"]) == 0
    assert main(["keygen", str(root / "keys"), "--name", "Audit Officer"]) == 0
    out = tiny_run.work_into(root / "out")
    assert main(["run", str(policy), "--out", str(out), "--quiet",
                 "--sign-key", str(root / "keys" / "signer.p12")]) == 0
    return policy, out, root / "keys" / "ca.pem"


def _document(out: Path) -> AuditDocument:
    return AuditDocument.from_json((out / "results.json").read_bytes())


def _kept(out: Path) -> Path:
    (folder,) = (out / "audits").iterdir()
    return folder


def test_no_deployed_checkpoint_no_decisions(tiny_run: TinyRun) -> None:
    assert "decisions" not in json.loads((tiny_run.out / "results.json").read_bytes())
    assert not list((tiny_run.out / "audits").glob("*/folds"))


def test_the_reference_covers_every_explainer_with_quantile_tables(deployed_out) -> None:
    _, out, _ = deployed_out
    doc = _document(out)
    ref = doc.decisions
    assert ref is not None
    assert list(ref.consistency) == list(doc.explainers)  # controls included, in the policy's order
    k = len(doc.folds)
    for table in (ref.confidence, ref.fold_agreement, *ref.consistency.values()):
        assert len(table) == QUANTILES + 1
        assert list(table) == sorted(table)
    assert 1 / len(doc.dataset.classes) <= ref.confidence[0] and ref.confidence[-1] <= 1.0
    assert all(round(v * k, 6) == round(v * k) for v in (ref.fold_agreement[0], ref.fold_agreement[-1]))
    assert 1 / k <= ref.fold_agreement[0] and ref.fold_agreement[-1] == 1.0
    assert all(0.0 <= v <= 1.0 for table in ref.consistency.values() for v in table)
    assert [(c.fold, c.file, c.sha256) for c in ref.fold_checkpoints] == [
        (f.index + 1, f"folds/fold_{f.index + 1}.pt", f.checkpoint_sha256) for f in doc.folds]


def test_a_fresh_run_gives_the_numbers_of_the_resumed_one(deployed_out, tmp_path: Path) -> None:
    """The signed run reused the folds and explanation passes of another run; redoing all of it
    gives the same reference."""
    policy, out, _ = deployed_out
    reused = _document(out).reused_from_earlier_run
    assert reused.folds == (0, 1, 2) and set(reused.explainers) == set(_document(out).explainers)
    assert main(["run", str(policy), "--out", str(tmp_path / "out"), "--quiet", "--fresh"]) == 0
    assert _document(tmp_path / "out").decisions == _document(out).decisions


def test_the_fold_checkpoints_are_kept_as_links_and_load(deployed_out) -> None:
    from auditkit.models import build_model
    from auditkit.models.checkpoint import load_checkpoint

    _, out, _ = deployed_out
    kept = _kept(out)
    for c in _document(out).decisions.fold_checkpoints:
        path = kept / c.file
        assert hashlib.sha256(path.read_bytes()).hexdigest() == c.sha256
        assert os.stat(path).st_ino == os.stat(out / "work" / f"fold_{c.fold - 1}.pt").st_ino  # no copy
        net = build_model("small_cnn", in_channels=1, num_classes=10, image_size=(8, 8))
        meta = load_checkpoint(path, net)
        assert meta["fold"] == c.fold - 1
    assert torch.load(kept / "folds" / "fold_1.pt", weights_only=True)["meta"]["fold"] == 0


def test_verify_and_history_check_name_a_changed_fold_checkpoint(
        deployed_out, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, ca = deployed_out
    assert main(["verify", str(_kept(out)), "--trust", str(ca)]) == 0
    printed = capsys.readouterr().out
    assert "the files are one audit's (report.pdf embeds results.json and report.html); 3 kept fold " \
        "checkpoints as results.json names them" in printed
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    changed = _kept(copy) / "folds" / "fold_2.pt"
    changed.write_bytes(changed.read_bytes() + b"\0")
    assert main(["verify", str(_kept(copy)), "--trust", str(ca)]) == 1
    printed = capsys.readouterr().out
    assert f"{changed}: modified: folds/fold_2.pt was changed" in printed
    assert "FAILED: kept fold checkpoint(s) fold_2.pt" in printed
    assert main(["history", "--db", str(copy / "history.sqlite"), "--check"]) == 2
    assert "folds/fold_2.pt was changed" in capsys.readouterr().out
    changed.unlink()
    assert main(["verify", str(_kept(copy)), "--trust", str(ca), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [c["status"] for c in report["checkpoints"]] == ["ok", "missing file", "ok"]


def test_a_dossier_without_folds_folder_verifies(deployed_out, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """The top of the out folder names the fold checkpoints but does not hold them; a kept dossier
    of an older audit has no folds/ either."""
    _, out, ca = deployed_out
    assert main(["verify", str(out), "--trust", str(ca)]) == 0
    capsys.readouterr()
    copy = tmp_path / "kept"
    shutil.copytree(_kept(out), copy)
    shutil.rmtree(copy / "folds")
    assert main(["verify", str(copy), "--trust", str(ca), "--no-history", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["checkpoints"] == []
