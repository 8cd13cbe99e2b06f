"""The tamper table of ``verify --trust``: every attack on a signed report folder, its expected status.

Each attack changes a private copy of a signed folder (``signed_dir``), using where it needs one the
validly signed folder of another audit by the same signer (``other_signed``). No attack may pass and
none may raise: each must end in the named status per file, through the library and the command.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from auditkit.cli import main
from auditkit.signing import GeneratedKeys, Status, keygen, load_signer, verify_report
from auditkit.signing.cms import write_detached

OK, MODIFIED, APPENDED, UNTRUSTED = Status.OK, Status.MODIFIED, Status.APPENDED, Status.UNTRUSTED
INVALID, MISSING, FOREIGN = Status.INVALID, Status.MISSING, Status.FOREIGN
Attack = Callable[["Given"], None]


@dataclass(frozen=True)
class Given:
    """What an attack works with: the folder to change, another audit's signed folder, the unsigned
    render of this one, the signer's keys."""

    out: Path
    other: Path
    unsigned: Path
    keys: GeneratedKeys


def _copy(*names: str) -> Attack:
    def attack(given: Given) -> None:
        for name in names:
            shutil.copy(given.other / name, given.out / name)
    return attack


def _contents(pdf: bytes) -> tuple[int, int]:
    """Start and end (exclusive) of the hex digits of the signature's /Contents."""
    start = pdf.rindex(b"/Contents <") + len(b"/Contents <")
    return start, pdf.index(b">", start)


def _padding_digit(given: Given) -> None:
    out = given.out
    pdf = bytearray((out / "report.pdf").read_bytes())
    _, end = _contents(pdf)
    assert pdf[end - 10:end] == b"0" * 10  # inside the zero padding
    pdf[end - 10] = ord("1")
    (out / "report.pdf").write_bytes(bytes(pdf))


def _recased_digit(given: Given) -> None:
    out = given.out
    pdf = bytearray((out / "report.pdf").read_bytes())
    start, end = _contents(pdf)
    at = start + re.search(rb"[A-F]", bytes(pdf[start:end])).start()  # type: ignore[union-attr]
    pdf[at] = ord(chr(pdf[at]).lower())  # same bytes once decoded, other bytes in the file
    (out / "report.pdf").write_bytes(bytes(pdf))


def _append(name: str, data: bytes) -> Attack:
    def attack(given: Given) -> None:
        with (given.out / name).open("ab") as handle:
            handle.write(data)
    return attack


def _truncate(name: str, keep: int) -> Attack:
    def attack(given: Given) -> None:
        (given.out / name).write_bytes((given.out / name).read_bytes()[:keep])
    return attack


def _flip(name: str, find: bytes) -> Attack:
    def attack(given: Given) -> None:
        data = bytearray((given.out / name).read_bytes())
        data[data.index(find) + len(find) - 1] ^= 0x01
        (given.out / name).write_bytes(bytes(data))
    return attack


def _incremental_update(given: Given) -> None:
    pdf = given.out / "report.pdf"
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf.read_bytes()))
    info = writer.trailer["/Info"]
    info["/Title"] = generic.TextStringObject("Audit report: PASS (edited)")
    writer.update_container(info)
    buffer = io.BytesIO()
    writer.write(buffer)
    pdf.write_bytes(buffer.getvalue())


def _resign_by_mallory(given: Given) -> None:
    mallory = keygen(given.out.parent / "mallory", name="Mallory")
    write_detached(given.out / "results.json", load_signer(mallory.pkcs12))


def _unsigned_pdf(given: Given) -> None:
    shutil.copy(given.unsigned / "report.pdf", given.out / "report.pdf")


def _signer_cert_byte(given: Given) -> None:
    """Flip a byte of the CA's signature on the signer certificate carried in results.json.p7s."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    cert = x509.load_pem_x509_certificate(given.keys.cert.read_bytes()).public_bytes(Encoding.DER)
    p7s = bytearray((given.out / "results.json.p7s").read_bytes())
    p7s[p7s.index(cert) + len(cert) - 10] ^= 0x01
    (given.out / "results.json.p7s").write_bytes(bytes(p7s))


def _remove(name: str) -> Attack:
    def attack(given: Given) -> None:
        (given.out / name).unlink()
    return attack


ATTACKS: dict[str, tuple[Attack, tuple[Status, Status, Status]]] = {
    # name: (attack, expected status of report.pdf, report.html, results.json)
    "report.pdf of another audit": (_copy("report.pdf"), (OK, FOREIGN, FOREIGN)),
    "report.html and its .p7s of another audit": (_copy("report.html", "report.html.p7s"),
                                                  (OK, FOREIGN, OK)),
    "results.json and its .p7s of another audit": (_copy("results.json", "results.json.p7s"),
                                                   (OK, OK, FOREIGN)),
    "report.pdf and report.html of another audit": (_copy("report.pdf", "report.html",
                                                          "report.html.p7s"), (OK, OK, FOREIGN)),
    "results.json of another audit, its own .p7s kept": (_copy("results.json"), (OK, OK, MODIFIED)),
    "results.json.p7s of another audit": (_copy("results.json.p7s"), (OK, OK, MODIFIED)),
    "a hex digit of the /Contents padding": (_padding_digit, (INVALID, OK, OK)),
    "a hex letter of /Contents in lower case": (_recased_digit, (INVALID, OK, OK)),
    "16 bytes appended to results.json.p7s": (_append("results.json.p7s", b"\0" * 16), (OK, OK, INVALID)),
    "16 bytes appended to report.html.p7s": (_append("report.html.p7s", b"0123456789abcdef"),
                                             (OK, INVALID, OK)),
    "results.json.p7s truncated": (_truncate("results.json.p7s", 100), (OK, OK, INVALID)),
    "report.pdf truncated": (_truncate("report.pdf", 1000), (INVALID, OK, OK)),
    "bytes appended to report.pdf": (_append("report.pdf", b"\n% a comment\n"), (APPENDED, OK, OK)),
    "incremental update of report.pdf": (_incremental_update, (APPENDED, OK, OK)),
    "a byte of an embedded file's date in report.pdf": (_flip("report.pdf", b"/CreationDate (D:20"),
                                                        (MODIFIED, OK, OK)),
    "a byte of results.json": (_flip("results.json", b'"verdict": "pa'), (OK, OK, MODIFIED)),
    "a byte of report.html": (_flip("report.html", b"Verdict: PA"), (OK, MODIFIED, OK)),
    "results.json re-signed by an untrusted key": (_resign_by_mallory, (OK, OK, UNTRUSTED)),
    "a byte of the signer certificate in results.json.p7s": (_signer_cert_byte, (OK, OK, UNTRUSTED)),
    "report.pdf replaced by the unsigned render": (_unsigned_pdf, (MISSING, OK, OK)),
    "results.json.p7s removed": (_remove("results.json.p7s"), (OK, OK, MISSING)),
    "report.pdf removed": (_remove("report.pdf"), (MISSING, OK, OK)),
}


@pytest.mark.parametrize("name", list(ATTACKS))
def test_attack_gets_its_status(name: str, signed_dir: Path, other_signed: Path, unsigned_dir: Path,
                                keys: GeneratedKeys, capsys: pytest.CaptureFixture[str]) -> None:
    attack, expected = ATTACKS[name]
    attack(Given(signed_dir, other_signed, unsigned_dir, keys))
    report = verify_report(signed_dir, trust=[keys.ca_cert])
    assert tuple(f.status for f in report.files) == expected, report.summary()
    assert not report.bottom_line
    for verdict in report.files:
        assert verdict.reason and "\n" not in verdict.reason
    capsys.readouterr()
    assert main(["verify", str(signed_dir), "--trust", str(keys.ca_cert)]) == 1
    captured = capsys.readouterr()
    assert captured.err == ""
    summary, verified, history = captured.out.splitlines()[-3:]
    assert summary.startswith("FAILED: ") and verified.startswith("verified: ")
    assert history.startswith("history: not checked (no database at ")


def test_another_audits_files_name_what_differs(signed_dir: Path, other_signed: Path,
                                                keys: GeneratedKeys) -> None:
    _copy("results.json", "results.json.p7s")(Given(signed_dir, other_signed, signed_dir, keys))
    verdict = verify_report(signed_dir, trust=[keys.ca_cert]).files[2]
    assert verdict.reason == ("results.json is not the copy report.pdf embeds: both are signed, but by "
                              "different audits (results.json: created 2024-06-01T08:00:00+00:00, "
                              "policy sha256 None; embedded: created 2024-05-01T12:00:00+00:00, policy "
                              "sha256 None)")
    pdf = verify_report(signed_dir / "report.pdf", trust=[keys.ca_cert])
    assert pdf.bottom_line  # the PDF alone is intact; only the folder shows the mix


def _xref_offsets(pdf: bytes, count: int = 30) -> list[int]:
    """``count`` offsets spread over the final xref stream object (from its header to ``endobj``)."""
    start = int(pdf[pdf.rindex(b"startxref") + len(b"startxref"):].split()[0])
    end = pdf.index(b"endobj", start) + len(b"endobj")
    return [start + (end - start) * k // count for k in range(count)]


def test_a_flipped_byte_in_the_final_xref_stream_is_never_ok(signed_dir: Path, keys: GeneratedKeys,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    pdf = signed_dir / "report.pdf"
    original = pdf.read_bytes()
    seen = set()
    for offset in _xref_offsets(original):
        data = bytearray(original)
        data[offset] ^= 0x01
        pdf.write_bytes(bytes(data))
        (verdict,) = verify_report(pdf, trust=[keys.ca_cert]).files
        assert verdict.status in (INVALID, MODIFIED), (offset, verdict)
        seen.add(verdict.status)
        capsys.readouterr()
        assert main(["verify", str(signed_dir), "--trust", str(keys.ca_cert)]) == 1
        assert capsys.readouterr().err == ""
    assert INVALID in seen  # a damaged compressed xref is reported, not raised as zlib.error


def test_pyhanko_logs_nothing_on_stderr(signed_dir: Path, other_signed: Path, unsigned_dir: Path,
                                       keys: GeneratedKeys) -> None:
    """In a fresh process (pytest captures logging itself): pyHanko logs a warning with a traceback
    for a certificate that does not validate; the verdict is on stdout and stderr stays empty."""
    _signer_cert_byte(Given(signed_dir, other_signed, unsigned_dir, keys))
    done = subprocess.run([sys.executable, "-c", "import sys; from auditkit.cli import main; "
                           "sys.exit(main(sys.argv[1:]))", "verify", str(signed_dir), "--trust",
                           str(keys.ca_cert)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert done.returncode == 1, done.stderr
    assert "results.json: untrusted: " in done.stdout
    assert done.stderr == ""


def test_without_trust_the_summary_says_what_was_checked(signed_dir: Path, other_signed: Path,
                                                         keys: GeneratedKeys) -> None:
    assert verify_report(signed_dir).summary_line() == (
        "NOT VERIFIED: checked: 3 of 3 signatures intact, the files are one audit's; not checked: who "
        "signed (no trust anchor: give --trust CA_CERT)")
    assert verify_report(signed_dir / "report.pdf").summary_line() == (
        "NOT VERIFIED: checked: 1 of 1 signatures intact; not checked: who signed (no trust anchor: "
        "give --trust CA_CERT)")
    _copy("report.pdf")(Given(signed_dir, other_signed, signed_dir, keys))
    assert verify_report(signed_dir).summary_line() == (
        "FAILED: 3 of 3 signature checks failed (not of this dossier, untrusted); signers not checked "
        "(no --trust)")


def test_an_intact_dossier_says_its_files_are_one_audit(signed_dir: Path, keys: GeneratedKeys) -> None:
    assert verify_report(signed_dir, trust=[keys.ca_cert]).summary_line() == (
        "OK: 3 of 3 signatures valid, trusted and covering their whole file; the files are one audit's "
        "(report.pdf embeds results.json and report.html)")


@pytest.mark.parametrize(("name", "step"), [("report.pdf", 211), ("results.json.p7s", 37)])
def test_a_flipped_byte_anywhere_is_a_verdict(signed_dir: Path, keys: GeneratedKeys, name: str,
                                              step: int) -> None:
    """Bytes flipped all over the file: never an exception, always a one-line reason; the PDF is
    never ok for a byte in its signed ranges (unsigned parts of the CMS structure, in a .p7s or in
    the PDF's /Contents, may leave it ok where they are not checked: ``verify --strict`` catches
    every byte by the recorded digest)."""
    path = signed_dir / name
    original = path.read_bytes()
    start, end = _contents(original) if name == "report.pdf" else (0, 0)
    statuses, passed = set(), []
    for offset in range(0, len(original), step):
        data = bytearray(original)
        data[offset] ^= 0x01
        path.write_bytes(bytes(data))
        (verdict,) = verify_report(path, trust=[keys.ca_cert]).files
        assert verdict.reason and "\n" not in verdict.reason
        statuses.add(verdict.status)
        if verdict.ok and not start <= offset < end:
            passed.append((offset, original[offset - 20:offset + 5]))
    if name == "report.pdf":
        assert not passed
    assert statuses & {INVALID, MODIFIED}
