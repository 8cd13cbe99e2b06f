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
    assert '<dt>Signed by</dt><dd class="signature"><b>Audit Officer</b>' in summary
    assert fingerprint in summary


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


@pytest.mark.parametrize(("kept_before", "signed_rerun"), [(True, False), (False, False), (True, True)],
                         ids=["unsigned-rerun", "unsigned-rerun-of-unkept-dossier", "signed-rerun"])
def test_a_rerun_keeps_what_was_signed(signed_out: tuple[Path, Path], tmp_path: Path, policy_writer,
                                       kept_before: bool, signed_rerun: bool,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """A rerun into a signed out folder: no signature stays beside content it does not sign, the
    signed dossier stays whole in audits/0001-<digest>/ (kept there by its own run, or by the rerun when the
    folder predates kept dossiers) and verifies there. (The history itself flags an unsigned audit
    after signed ones, by design, so only the signed rerun's history checks clean.)"""
    import shutil

    signed, ca = signed_out
    out = tmp_path / "out"
    shutil.copytree(signed, out)
    (first,) = (out / "audits").glob("0001-*")
    assert sorted(p.name for p in first.iterdir()) == sorted(
        ["report.pdf", "report.html", "results.json", "summary.txt", "report.html.p7s", "results.json.p7s"])
    if not kept_before:
        shutil.rmtree(out / "audits")
    signed_bytes = {name: (signed / name).read_bytes() for name in ("report.pdf", "results.json.p7s")}
    key = ["--sign-key", str(signed.parent / "keys" / "signer.p12")] if signed_rerun else []
    assert main(["run", str(policy_writer(tmp_path)), "--out", str(out), "--quiet", *key]) == 0
    (second,) = (out / "audits").glob("0002-*")
    assert (out / "results.json").read_bytes() == (second / "results.json").read_bytes()
    p7s = sorted(p.name for p in out.glob("*.p7s"))
    assert p7s == sorted(p.name for p in second.glob("*.p7s")) == (
        ["report.html.p7s", "results.json.p7s"] if signed_rerun else [])
    assert {name: (first / name).read_bytes() for name in signed_bytes} == signed_bytes
    capsys.readouterr()
    # the history beside it is checked by default: an unsigned audit after a signed one fails it
    assert main(["verify", str(first), "--trust", str(ca), *([] if signed_rerun else ["--no-history"])]) == 0
    if signed_rerun:
        for folder in (first, second, out):  # a kept dossier finds <out>/history.sqlite
            assert main(["verify", str(folder), "--trust", str(ca), "--strict"]) == 0, capsys.readouterr()
        assert main(["history", "--check", "--db", str(out), "--trust", str(ca)]) == 0, capsys.readouterr()


def test_a_missing_signing_key_fails_before_the_audit(tmp_path: Path, policy_writer,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    key = tmp_path / "absent.p12"
    policy = policy_writer(tmp_path)
    assert main(["run", str(policy), "--out", str(out), "--quiet", "--sign-key", str(key)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("auditkit: error: ") and str(key) in err and err.count("\n") == 1
    assert not out.exists()  # nothing trained, nothing recorded
