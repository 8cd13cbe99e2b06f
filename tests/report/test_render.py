"""The rendered report: self-contained HTML, a real PDF, the verdict and all evidence, atomic writes."""

from __future__ import annotations

import base64
import json
import re
import zlib
from pathlib import Path

import pytest

from auditkit.errors import AuditError
from auditkit.report import ReportError, render_report
from auditkit.report.inputs import load_document
from auditkit.report.pdf import PdfWriter
from auditkit.report.words import explainer_label


def pdf_pages(pdf: bytes) -> int:
    """Page objects in ``pdf``, looking inside compressed object streams too."""
    chunks = [pdf]
    for stream in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            chunks.append(zlib.decompress(stream.group(1)))
        except zlib.error:  # an image or font stream that is not plain Flate
            continue
    return sum(len(re.findall(rb"/Type\s*/Page(?![s\w])", c)) for c in chunks)


def results_of(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())


def test_the_fixture_audit_has_a_met_and_an_unmet_requirement(rendered) -> None:
    met = {r["id"]: r["met"] for r in results_of(rendered.out)["requirements"]}
    assert met == {"R1": True, "R2": False}


def test_html_is_self_contained(rendered) -> None:
    html = rendered.html
    assert not re.search(r"""(?:src|href)\s*=\s*(?!["']?data:)""", html)
    assert not re.search(r"url\(\s*['\"]?(?!data:)", html)
    assert not re.search(r"<(?:script|link)\b", html)
    images = re.findall(r"<img [^>]*src=\"([^\"]+)\"", html)
    assert len(images) == 4  # fold accuracies, agreement matrix, histograms, examples
    for uri in images:
        assert uri.startswith("data:image/png;base64,")
        assert base64.b64decode(uri.split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")


def test_html_shows_verdict_requirements_articles_and_explainers(rendered) -> None:
    results = results_of(rendered.out)
    html = rendered.html
    assert results["verdict"] == "fail"
    assert re.search(r'class="verdict fail">\s*<div class="verdict-label">FAIL</div>', html)
    for req in results["requirements"]:
        assert f"<strong>{req['id']}</strong> {req['title']}" in html
        for article in req["articles"]:
            assert re.search(rf'<h3 class="(un)?met">Requirements citing {re.escape(article)}: ', html)
            assert f"<h3>{article} (not met)" not in html  # an evidence report, not a legal finding
    for name in results["explainers"]:
        assert explainer_label(name) in html
    assert "operator’s legal judgement" in html
    gradcam = results["explainers"]["gradcam"]["scores"]["reco"]
    assert f"T2, ReCo ≥ 0.99: not met by Grad-CAM {gradcam['value']:.3f}" in html  # page one


def test_pdf_is_a_real_multi_page_pdf(rendered) -> None:
    pdf = rendered.pdf
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert pdf_pages(pdf) >= 4  # summary, requirements, annex, reproducibility start new pages


def test_pdf_page_count_reader_counts_pages() -> None:
    import weasyprint

    two = weasyprint.HTML(string='<p>a</p><p style="break-before: page">b</p>').write_pdf()
    assert pdf_pages(two) == 2


def test_rendering_is_deterministic(rendered) -> None:
    render_report(load_document(rendered.out), rendered.out)
    assert (rendered.out / "report.html").read_text(encoding="utf-8") == rendered.html
    assert (rendered.out / "report.pdf").read_bytes() == rendered.pdf


def test_failing_renderer_keeps_the_good_report(out_copy: Path, monkeypatch) -> None:
    good = out_copy / "report.html"
    good.write_text("good report")

    def broken(self, context) -> bytes:
        raise RuntimeError("layout failed")

    monkeypatch.setattr(PdfWriter, "render", broken)
    with pytest.raises(RuntimeError, match="layout failed"):
        render_report(load_document(out_copy), out_copy)
    assert good.read_text() == "good report"
    assert not (out_copy / "report.pdf").exists()
    assert [p.name for p in out_copy.iterdir() if p.name.endswith(".tmp")] == []


def test_failing_write_keeps_the_good_report(out_copy: Path, monkeypatch) -> None:
    good = out_copy / "report.html"
    good.write_text("good report")

    def no_rename(src, dst) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("auditkit._atomic.os.replace", no_rename)
    with pytest.raises(OSError, match="disk full"):
        render_report(load_document(out_copy), out_copy, formats=("html",))
    assert good.read_text() == "good report"
    assert [p.name for p in out_copy.iterdir() if p.name.endswith(".tmp")] == []


def test_missing_results_json_is_a_report_error(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=re.escape(str(tmp_path / "results.json"))) as info:
        render_report(load_document(tmp_path), tmp_path)
    assert isinstance(info.value, AuditError) and isinstance(info.value, ValueError)
    assert info.value.path == tmp_path / "results.json"


@pytest.mark.parametrize("change, match", [
    (lambda r: r.update(schema_version=9), "schema_version 9"),
    (lambda r: r.pop("explainers"), "missing key 'explainers'"),
    (lambda r: r["explainers"]["gradcam"].update(n_s_neq=0), "does not match results.json"),
])
def test_bad_results_json_is_a_report_error(out_copy: Path, change, match: str) -> None:
    results = results_of(out_copy)
    change(results)
    (out_copy / "results.json").write_text(json.dumps(results))
    with pytest.raises(ReportError, match=match):
        render_report(load_document(out_copy), out_copy, formats=("html",))


def test_missing_distance_record_is_a_report_error(out_copy: Path) -> None:
    record = out_copy / "work" / "explainer_saliency.pt"
    record.unlink()
    with pytest.raises(ReportError, match=re.escape(f"{record} does not exist")) as info:
        render_report(load_document(out_copy), out_copy, formats=("html",))
    assert info.value.path == record


@pytest.mark.parametrize("formats", [("docx",), (), "html"])
def test_bad_formats_are_refused(out_copy: Path, formats) -> None:
    with pytest.raises(ReportError, match="format"):
        render_report(load_document(out_copy), out_copy, formats=formats)
    assert not (out_copy / "report.html").exists()


def test_policy_text_is_shown_only_when_unchanged(rendered, out_copy: Path) -> None:
    policy = Path(results_of(rendered.out)["policy"]["path"])
    assert "is unchanged since the audit (SHA-256 verified)" in rendered.html
    assert "name: report-tiny" in rendered.html

    changed = out_copy.parent / "changed.yaml"
    changed.write_text(policy.read_text() + "# edited after the audit\n")
    results = results_of(out_copy)
    results["policy"]["path"] = str(changed)
    (out_copy / "results.json").write_text(json.dumps(results))
    (html,) = render_report(load_document(out_copy), out_copy, formats=("html",))
    text = html.read_text(encoding="utf-8")
    assert "has changed since the audit" in text
    assert "edited after the audit" not in text
    assert "&#34;name&#34;: &#34;report-tiny&#34;" in text  # the resolved policy instead

    changed.unlink()
    render_report(load_document(out_copy), out_copy, formats=("html",))
    assert "no longer exists" in html.read_text(encoding="utf-8")


def test_examples_without_inputs_say_why(rendered, out_copy: Path) -> None:
    assert rendered.context["inputs_problem"] == ""
    assert "inputs not shown" not in rendered.html
    results = results_of(out_copy)
    results["dataset"]["fingerprint_sha256"] = "0" * 64
    (out_copy / "results.json").write_text(json.dumps(results))
    (html,) = render_report(load_document(out_copy), out_copy, formats=("html",))
    text = html.read_text(encoding="utf-8")
    assert "inputs not shown: the data set no longer has the fingerprint recorded by the audit" in text
