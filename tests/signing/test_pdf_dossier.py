"""report.pdf is PDF/A-3b and embeds the dossier (results.json, the policy, report.html) that its
signature covers. (Tests of auditkit.report.pdf/render kept here, beside the signing that relies on them.)"""

from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from auditkit.report import render as render_module
from auditkit.report.pdf import PdfAttachment, PdfWriter
from auditkit.report.render import dossier, render_report

CREATED = "2024-05-01T12:00:00+00:00"


def attachments(pdf: bytes) -> dict[str, tuple[bytes, str]]:
    """File name -> (bytes, /AFRelationship) of every embedded file."""
    root = PdfFileReader(io.BytesIO(pdf)).root
    names = root["/Names"]["/EmbeddedFiles"]["/Names"]
    found = {}
    for index in range(0, len(names), 2):
        spec = names[index + 1]
        found[str(spec["/UF"])] = (spec["/EF"]["/F"].data, str(spec["/AFRelationship"]))
    # PDF/A-3: the catalog's /AF lists every embedded file, once (WeasyPrint 70 lists each twice)
    assert [str(s.get_object()["/UF"]) for s in root["/AF"]] == list(found)
    return found


def test_signed_pdf_is_pdf_a_3b_with_its_attachments(signed_dir: Path) -> None:
    pdf = (signed_dir / "report.pdf").read_bytes()
    files = attachments(pdf)
    assert set(files) == {"results.json", "policy.yaml", "report.html"}
    assert files["results.json"] == ((signed_dir / "results.json").read_bytes(), "/Data")
    assert files["report.html"] == ((signed_dir / "report.html").read_bytes(), "/Alternative")
    assert files["policy.yaml"][1] == "/Source"
    xmp = PdfFileReader(io.BytesIO(pdf)).root["/Metadata"].data.decode()
    assert re.search(r"pdfaid:part(?:>|=\")3", xmp) and re.search(r"pdfaid:conformance(?:>|=\")B", xmp)


def test_attachment_relationship_is_checked() -> None:
    with pytest.raises(ValueError, match="relationship must be one of Source"):
        PdfAttachment("a.txt", b"", "Evidence")
    with pytest.raises(ValueError, match="attachment names must be unique"):
        PdfWriter([PdfAttachment("a", b""), PdfAttachment("a", b"")])


@pytest.fixture
def fake_out(tmp_path: Path, monkeypatch) -> Path:
    """An out folder whose results.json names a policy file, with the template and checks stubbed."""
    policy = tmp_path / "tiny.yaml"
    policy.write_bytes(b"version: 1\nname: tiny\n")
    out = tmp_path / "out"
    out.mkdir()
    results = {"created": CREATED, "policy": {"path": str(policy),
                                              "sha256": hashlib.sha256(policy.read_bytes()).hexdigest()}}
    (out / "results.json").write_text(json.dumps(results, indent=2))
    html = "<html><head><title>r</title></head><body><p>report</p></body></html>"
    monkeypatch.setattr(render_module, "build_context", lambda doc, out_dir, **_: {"created_iso": CREATED})
    monkeypatch.setattr("auditkit.report.html.render_html", lambda context, template=None: html)
    monkeypatch.setattr("auditkit.report.pdf.render_html", lambda context, template=None: html)
    return out


def _doc(results: dict) -> SimpleNamespace:
    """What :func:`dossier` reads of the document: the policy's path and digest."""
    return SimpleNamespace(policy=SimpleNamespace(**results["policy"]))


def test_render_report_embeds_the_html_it_writes(fake_out: Path) -> None:
    doc = _doc(json.loads((fake_out / "results.json").read_text()))
    html_path, pdf_path = render_report(doc, fake_out)
    files = attachments(pdf_path.read_bytes())
    assert list(files) == ["results.json", "tiny.yaml", "report.html"]
    assert files["report.html"][0] == html_path.read_bytes()
    assert files["results.json"][0] == (fake_out / "results.json").read_bytes()
    assert files["tiny.yaml"][0] == b"version: 1\nname: tiny\n"
    (pdf_only,) = render_report(doc, fake_out, formats=("pdf",))
    assert pdf_only.read_bytes() == pdf_path.read_bytes()  # same bytes: dates come from the audit


def test_edited_or_missing_policy_is_not_embedded(fake_out: Path) -> None:
    results = json.loads((fake_out / "results.json").read_text())
    policy = Path(results["policy"]["path"])
    policy.write_bytes(policy.read_bytes() + b"# edited\n")
    names = [a.name for a in dossier(fake_out, _doc(results), b"<html/>")]
    assert names == ["results.json", "report.html"]
    policy.unlink()
    assert [a.name for a in dossier(fake_out, _doc(results), b"<html/>")] == ["results.json", "report.html"]
