"""Sheets made under a real signed audit: the figures against the models loaded by hand, the
rendered page, a batch and its resumption."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import torch
from scipy.stats import spearmanr

import auditkit
from auditkit.decision.inputs import read_image
from auditkit.decision.record import Sheet
from auditkit.errors import DecisionError
from auditkit.models import build_model
from auditkit.models.checkpoint import load_checkpoint

if TYPE_CHECKING:
    from tests.decision.conftest import SignedAudit


def _pdf_text(path: Path) -> tuple[str, int]:
    """The text of a PDF (``pdftotext``) and its page count (``pdfinfo``)."""
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext is missing: `make poppler` installs it")
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    pages = int(next(line for line in info.splitlines() if line.startswith("Pages:")).split()[1])
    return text, pages


def _net(path: Path | None = None, state: Path | None = None) -> torch.nn.Module:
    net = build_model("small_cnn", num_classes=10, in_channels=1, image_size=(8, 8))
    if state is not None:
        net.load_state_dict(torch.load(state, weights_only=True))
    if path is not None:
        load_checkpoint(path, net)
    return net.eval()


def test_a_sheet_under_a_failed_audit_says_so_first(unreferenced_audit: SignedAudit, tmp_path: Path) -> None:
    signed_audit = unreferenced_audit  # an audit from before fold models were kept for decisions
    done = auditkit.explain(signed_audit.out, signed_audit.images[0], trust=[signed_audit.ca],
                            decision_id="appeal-1", out=tmp_path / "sheets")
    (result,) = done.sheets
    folder = tmp_path / "sheets" / "appeal-1"
    assert [p.name for p in result.files] == ["sheet.json", "sheet.html", "sheet.pdf"]
    sheet = Sheet.from_json((folder / "sheet.json").read_bytes())
    assert sheet == result.sheet and sheet.audit.verdict == "fail"
    # Only saliency is certified; the decision is the deployed model's, recomputed here.
    assert [m.name for m in sheet.methods] == ["saliency"]
    image, digest = read_image(signed_audit.images[0], (1, 8, 8), _resize())
    with torch.no_grad():
        probs = torch.softmax(_net(state=signed_audit.checkpoint)(image[None]).double(), dim=1)[0]
    assert sheet.decision.predicted.index == int(probs.argmax())
    assert sheet.decision.predicted.probability == pytest.approx(float(probs.max()))
    assert sheet.image_sha256 == digest == hashlib.sha256(signed_audit.images[0].read_bytes()).hexdigest()
    assert sheet.checkpoint_sha256 == hashlib.sha256(signed_audit.checkpoint.read_bytes()).hexdigest()
    assert sheet.folds.unavailable and sheet.folds.predictions == ()
    text, pages = _pdf_text(folder / "sheet.pdf")
    first = next(line.strip() for line in text.splitlines() if line.strip() and "Explanation of" not in line)
    assert first.startswith("The audit of this system FAILED") and "R1" in text
    assert pages == 1
    assert "Write to the appeals office within 30 days" in text and "appeals@example.org" in text
    assert sheet.audit.report_sha256 in text.replace("\n", "") or sheet.audit.report_sha256[:40] in text


def test_the_fold_models_kept_with_the_dossier_answer_2a_and_2b(signed_audit: SignedAudit,
                                                                tmp_path: Path) -> None:
    referenced_audit = dataclasses.replace(signed_audit, out=Path(shutil.copytree(signed_audit.out,
                                                                                  tmp_path / "out")))
    kept = next((referenced_audit.out / "audits").iterdir())
    done = auditkit.explain(kept, referenced_audit.images[1], trust=[referenced_audit.ca],
                            out=tmp_path / "sheets")
    sheet = done.sheets[0].sheet
    image, _ = read_image(referenced_audit.images[1], (1, 8, 8), _resize())
    folds = [_net(path=kept / "folds" / f"fold_{i}.pt") for i in (1, 2, 3)]
    with torch.no_grad():
        classes = [int(f(image[None]).argmax()) for f in folds]
    assert sheet.folds.predictions == tuple(str(c) for c in classes)
    agreeing = [f for f, c in zip(folds, classes, strict=True) if c == sheet.decision.predicted.index]
    assert sheet.folds.agreeing == len(agreeing)
    (method,) = sheet.methods
    assert len(agreeing) >= 2  # this digit is decided alike by the fold models
    maps = []  # the mean |rho| distance of the agreeing models' saliency maps, by scipy
    for f in agreeing:
        x = image[None].clone().requires_grad_(True)
        f(x)[0, sheet.decision.predicted.index].backward()
        maps.append(x.grad.abs().reshape(-1).numpy())
    pairs = [(i, j) for i in range(len(maps)) for j in range(i + 1, len(maps))]
    expected = sum(1 - abs(spearmanr(maps[i], maps[j]).statistic) for i, j in pairs) / len(pairs)
    assert method.pairs == len(pairs)
    assert method.consistency.value == pytest.approx(expected, abs=1e-5)
    assert method.consistency.share_below is not None  # read off the audit's quantiles
    # the sheet of a kept dossier goes beside it: <out>/decisions by default
    assert auditkit.explain(kept, referenced_audit.images[1], trust=[referenced_audit.ca]).out == \
        referenced_audit.out / "decisions"


def test_a_batch_writes_an_index_and_resumes(signed_audit: SignedAudit, tmp_path: Path) -> None:
    audit = Path(shutil.copytree(signed_audit.out, tmp_path / "audit"))  # its history records the sheets
    images = tmp_path / "images"
    images.mkdir()
    for path in signed_audit.images[:2]:
        shutil.copy(path, images / path.name)
    out = tmp_path / "sheets"
    log = tmp_path / "sheets.csv"
    log.write_text(f"decision_id,image_path\ndigit-300,images/{signed_audit.images[0].name}\n")
    first = auditkit.explain(audit, log, trust=[signed_audit.ca], out=out)
    assert [r.reused for r in first.sheets] == [False]
    made = (out / "digit-300" / "sheet.json").stat().st_mtime_ns
    # a run killed while writing digit-301 leaves only its private staging folder, never half a sheet
    (out / ".digit-301.x1y2.tmp").mkdir()
    (out / ".digit-301.x1y2.tmp" / "sheet.json").write_text("{")
    again = auditkit.explain(audit, images, trust=[signed_audit.ca], out=out)
    assert [r.reused for r in again.sheets] == [True, False]
    assert (out / "digit-300" / "sheet.json").stat().st_mtime_ns == made
    assert (out / "digit-301" / "sheet.pdf").is_file()
    index = json.loads((out / "index.json").read_text())
    assert [row["decision_id"] for row in index["sheets"]] == ["digit-300", "digit-301"]
    assert index["sheets"][0]["sheet_sha256"] == \
        hashlib.sha256((out / "digit-300" / "sheet.json").read_bytes()).hexdigest()
    assert "digit-301/sheet.pdf" in (out / "index.html").read_text()
    # a sheet damaged by hand is refused before anything is written, naming its folder
    (out / "digit-301" / "sheet.pdf").unlink()
    with pytest.raises(DecisionError, match=r"digit-301 is not a whole decision sheet \(sheet.pdf"):
        auditkit.explain(audit, images, trust=[signed_audit.ca], out=out)
    assert not (out / "digit-301" / "sheet.pdf").exists()


def test_a_signed_sheet_is_recorded_in_the_history_and_verifies(signed_audit: SignedAudit,
                                                                tmp_path: Path) -> None:
    out = Path(shutil.copytree(signed_audit.out, tmp_path / "out"))
    done = auditkit.explain(out, signed_audit.images[2], trust=[signed_audit.ca], decision_id="appeal-2",
                            signing=auditkit.SigningOptions(key=signed_audit.key))
    folder = out / "decisions" / "appeal-2"
    assert [p.name for p in done.sheets[0].files] == ["sheet.json", "sheet.html", "sheet.pdf",
                                                      "sheet.json.p7s", "sheet.html.p7s"]
    command = [str(Path(sys.executable).with_name("auditkit"))]
    listed = subprocess.run([*command, "history", "--decisions", "--json", "--db",
                             str(out / "history.sqlite")], capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert row["decision_id"] == "appeal-2"
    assert row["sheet_sha256"] == hashlib.sha256((folder / "sheet.json").read_bytes()).hexdigest()
    verified = subprocess.run([*command, "verify", str(folder), "--trust", str(signed_audit.ca)],
                              capture_output=True, text=True)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stderr == ""
    # a byte changed in the signed sheet is caught, by the sheet's verification and the history's
    (folder / "sheet.html").write_bytes((folder / "sheet.html").read_bytes().replace(b"<", b" <", 1))
    assert subprocess.run([*command, "verify", str(folder), "--trust", str(signed_audit.ca)],
                          capture_output=True, text=True).returncode == 1


def _resize():
    from auditkit.data.preprocess import Resize

    return Resize()
