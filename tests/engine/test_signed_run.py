"""`auditkit run` with signing, then `auditkit verify`, as an operator and a regulator would use them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from auditkit.cli import main

from .conftest import TinyRun


@pytest.fixture(scope="module")
def signed_out(tmp_path_factory: pytest.TempPathFactory, policy_writer,
               tiny_run: TinyRun) -> tuple[Path, Path]:
    """A tiny audit signed with a key made by `auditkit keygen`: (out folder, CA certificate). It
    starts from the work files of :func:`tiny_run` (signing does not depend on how they were made)."""
    root = tmp_path_factory.mktemp("signed")
    policy = policy_writer(root)
    assert main(["keygen", str(root / "keys"), "--name", "Audit Officer"]) == 0
    out = tiny_run.work_into(root / "out")
    code = main(["run", str(policy), "--out", str(out), "--quiet",
                 "--sign-key", str(root / "keys" / "signer.p12")])
    assert code == 0
    return out, root / "keys" / "ca.pem"


def test_a_signed_run_verifies_and_is_recorded(signed_out: tuple[Path, Path],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out, ca = signed_out
    for name in ("report.pdf", "report.html.p7s", "results.json.p7s"):
        assert (out / name).is_file()
    assert main(["verify", str(out), "--trust", str(ca)]) == 0
    assert main(["verify", str(out), "--trust", str(ca), "--strict"]) == 0
    capsys.readouterr()
    assert main(["verify", str(out)]) == 1  # no trust anchor: integrity only, not a pass
    assert "untrusted" in capsys.readouterr().out
    with sqlite3.connect(out / "history.sqlite") as db:
        fingerprint, files = db.execute(
            "SELECT signer_fingerprint, report_files_json FROM audits ORDER BY id DESC").fetchone()
    assert len(fingerprint) == 64
    assert {"report.pdf", "report.html.p7s", "results.json.p7s"} <= set(json.loads(files))
    # page one names the certificate that signed (the report is rendered after the key is loaded)
    summary = (out / "report.html").read_text(encoding="utf-8").split("</section>", 1)[0]
    assert "Signed by <b>Audit Officer</b>" in summary and fingerprint in summary


def test_strict_verify_catches_what_the_signature_tolerates(
        signed_out: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A metadata-only incremental update keeps the PAdES signature's bytes intact; the digest the
    history recorded does not match any more, so --strict fails where the signature alone may not."""
    import shutil

    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    out, ca = signed_out
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    pdf = copy / "report.pdf"
    with pdf.open("rb+") as fh:
        writer = IncrementalPdfFileWriter(fh)
        writer.set_info(None)  # touches the document information dictionary only
        writer.write_in_place()
    capsys.readouterr()
    assert main(["verify", str(copy), "--trust", str(ca), "--strict"]) == 1
    assert "report.pdf: not as recorded" in capsys.readouterr().out


def test_tampered_results_fail_verification(signed_out: tuple[Path, Path], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    out, ca = signed_out
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    data = bytearray((copy / "results.json").read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / "results.json").write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["verify", str(copy), "--trust", str(ca)]) == 1
    assert "results.json: modified" in capsys.readouterr().out


def test_signing_from_the_policy(tmp_path: Path, tiny_policy, tiny_run: TinyRun) -> None:
    assert main(["keygen", str(tmp_path / "keys")]) == 0
    policy = tiny_policy()
    text = policy.read_text() + "\nsigning:\n  key: keys/signer.p12\n"
    policy.write_text(text)
    out = tiny_run.work_into(tmp_path / "out")  # the signing section is in no work file's key
    assert main(["run", str(policy), "--out", str(out), "--quiet"]) == 0
    assert main(["verify", str(out), "--trust", str(tmp_path / "keys" / "ca.pem"), "--quiet"]) == 0
