"""The report as a person sees it: the PDF rasterised by poppler, the HTML laid out by headless Chromium.

Both render the report with every section (:func:`full`). Screenshots are kept in ``out/screenshots/``
(ignored by git) to look at. ``make poppler`` and ``make chromium`` install the two programs (Debian's
``poppler-utils`` and ``chromium``; ``make test`` runs both first); without them these tests fail and
say which target installs what is missing.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "out" / "screenshots"
A4_MM = (210.0, 297.0)
MARGIN_MM = (16.0, 14.0, 18.0)  # top, sides, bottom: the @page margins of templates/report.css
DPI = 40
WIDTH = 1024
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--virtual-time-budget=10000")
PROBE = """<script>
window.addEventListener("load", () => {
  const images = [...document.images].map(i => ({complete: i.complete, width: i.naturalWidth,
                                                 right: i.getBoundingClientRect().right}));
  const root = document.documentElement;
  document.body.setAttribute("data-probe", JSON.stringify({
    window: window.innerWidth, scroll: root.scrollWidth, height: root.scrollHeight, images}));
});
</script>"""
"""Injected into a copy of the report (which holds no script): records what Chromium laid out."""


INSTALLED_BY = {"poppler-utils": "poppler", "chromium": "chromium"}
"""The make target that installs each Debian package these tests need."""


def need(program: str, package: str) -> str:
    """The path of ``program``; fails the test, naming the make target, when it is not installed."""
    path = shutil.which(program)
    if path is None:
        pytest.fail(f"{program} not found: `make {INSTALLED_BY[package]}` installs Debian's {package} "
                    "(`make test` does it first)", pytrace=False)
    return path


@pytest.fixture(scope="module")
def pdf_pages(full) -> list[Path]:
    pdftoppm = need("pdftoppm", "poppler-utils")
    folder = SHOTS / "pdf"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    subprocess.run([pdftoppm, "-r", str(DPI), "-png", str(full.out / "report.pdf"), str(folder / "page")],
                   check=True, timeout=60)
    return sorted(folder.glob("page-*.png"))


def test_pdf_pages_render_with_nothing_in_the_side_margins(full, pdf_pages: list[Path]) -> None:
    info = subprocess.run([need("pdfinfo", "poppler-utils"), str(full.out / "report.pdf")],
                          capture_output=True, text=True, check=True, timeout=30).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    assert len(pdf_pages) == pages
    assert 6 <= pages <= 20  # summary, requirements, since, annex (with sanity), reproducibility
    px = DPI / 25.4
    top, side, bottom = (round(m * px) for m in MARGIN_MM)
    for path in pdf_pages:
        page = Image.open(path).convert("L")
        assert page.size == (round(A4_MM[0] * px), round(A4_MM[1] * px)), path.name
        assert page.getextrema()[0] < 128, f"{path.name} is blank"
        # content that overflows its box would spill into the right (or left) margin
        for left in (0, page.width - side + 2):
            strip = page.crop((left, top + 2, left + side - 2, page.height - bottom - 2))
            assert strip.getextrema()[0] >= 245, f"{path.name}: something is drawn in the side margin"


def test_pdf_text_has_the_verdict_and_the_requirements_table(full) -> None:
    pdftotext = need("pdftotext", "poppler-utils")
    first = subprocess.run([pdftotext, "-f", "1", "-l", "1", "-layout", str(full.out / "report.pdf"), "-"],
                           capture_output=True, text=True, check=True, timeout=30).stdout
    assert "FAIL" in first and "R1" in first and "inadmissible" in first.lower()
    text = subprocess.run([pdftotext, "-layout", str(full.out / "report.pdf"), "-"],
                          capture_output=True, text=True, check=True, timeout=30).stdout
    for heading in ("Requirements and the evidence for them", "Since the last audit", "Threshold checks",
                    "Sanity checks", "Reproducibility"):
        assert heading in text


MARGIN_PT = 14 / 25.4 * 72
"""The report's left and right page margin (14 mm, templates/report.css), in PDF points."""


def words_outside_the_text_width(pdf: Path) -> list[str]:
    """``page N: word (xMin-xMax)`` for every word of ``pdf`` that pdftotext places outside the
    text width. A table too wide for the page is clipped by WeasyPrint at the page edge, which
    leaves the margins of the raster white; its words still sit beyond the margin here."""
    pdftotext = need("pdftotext", "poppler-utils")
    xhtml = subprocess.run([pdftotext, "-bbox", str(pdf), "-"], capture_output=True, text=True,
                           check=True, timeout=60).stdout
    outside = []
    for number, page in enumerate(re.findall(r"<page (.*?)</page>", xhtml, flags=re.S), start=1):
        width = float(re.search(r'width="([0-9.]+)"', page).group(1))
        for x_min, x_max, word in re.findall(r'<word xMin="([0-9.]+)" yMin="[0-9.]+" '
                                             r'xMax="([0-9.]+)" yMax="[0-9.]+">([^<]*)</word>', page):
            if float(x_min) < MARGIN_PT - 1 or float(x_max) > width - MARGIN_PT + 1:
                outside.append(f"page {number}: {word} ({float(x_min):.0f}-{float(x_max):.0f})")
    return outside


def test_no_pdf_text_runs_past_the_margins(full) -> None:
    outside = words_outside_the_text_width(full.out / "report.pdf")
    assert outside == [], f"{len(outside)} words outside the text width, e.g. {outside[:5]}"


def chromium(*args: str, profile: Path) -> str:
    program = need("chromium", "chromium")
    done = subprocess.run([program, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_html_in_chromium_has_every_image_and_fits_1024_px(full, tmp_path: Path) -> None:
    probe = tmp_path / "probe.html"
    probe.write_text(full.html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = chromium(f"--window-size={WIDTH},900", "--dump-dom", probe.as_uri(), profile=tmp_path / "p1")
    found = re.search(r'data-probe="([^"]+)"', dom)
    assert found, "the page did not finish loading"
    layout = json.loads(found.group(1).replace("&quot;", '"'))
    assert len(layout["images"]) == full.html.count("<img ") == 6  # folds, histograms, maps, agreement,
    # sanity, since
    for image in layout["images"]:
        assert image["complete"] and image["width"] > 0, "an image did not decode"
        assert image["right"] <= layout["window"]
    assert layout["scroll"] <= layout["window"], "the page is wider than the window"
    assert 'class="verdict fail"' in dom and "<th>Requirement</th>" in dom

    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / f"report-html-{WIDTH}.png"
    height = min(layout["height"], 16000)
    chromium(f"--window-size={WIDTH},{height}", f"--screenshot={shot}",
             (full.out / "report.html").as_uri(), profile=tmp_path / "p2")
    with Image.open(shot) as image:
        assert image.size == (WIDTH, height)


def pdf_text(pdf: Path, page: int) -> str:
    """The text pdftotext reads on ``page`` (1-based), in reading order."""
    return subprocess.run([need("pdftotext", "poppler-utils"), "-f", str(page), "-l", str(page), str(pdf),
                           "-"], capture_output=True, text=True, check=True, timeout=30).stdout


@pytest.mark.parametrize("report", ["full", "crowded"])
def test_page_one_holds_what_a_reader_decides_on_and_nothing_spills(report, request, signer_keys) -> None:
    """Issue 17, item 1: the verdict, what was audited, every requirement, the strength of the
    evidence, the change since the last audit, the signer and how to verify, all on page one; with
    two requirements and with the demo policy's nine (``crowded``), each optional section shown."""
    rendered = request.getfixturevalue(report)
    pdf = rendered.out / "report.pdf"
    first = " ".join(pdf_text(pdf, 1).split())
    flat = "".join(first.split())  # long digests may wrap inside a word
    context, results = rendered.context, json.loads((rendered.out / "results.json").read_text())
    assert context["verdict"]["sentence"] in first and "FAIL" in first
    for value in ("Digit triage", "2.4.1", "Example Health Ltd", "Sorting scanned digits for manual review",
                  "small_cnn", "auditkit's training loop", "digits: 200 images of 10 classes"):
        assert value in first, value
    assert "Contact" not in first  # absent in the policy: omitted, not invented
    assert "5e" * 32 in flat and "triage-2.4.1.pt" in first  # the deployed checkpoint's digest
    assert len(results["requirements"]) == {"full": 2, "crowded": 9}[report]
    for req in results["requirements"]:
        assert f"{req['id']} {req['title']}" in first
    assert "Comparable models" in first
    assert "Strength of the evidence" in first and "Some scores of Grad-CAM are inadmissible" in first
    assert "Since the last audit (#2, 1 February 2026" in first
    assert "Signed by" in first and "Jane Doe, Head of Model Risk; certificate" in first
    assert signer_keys.fingerprint in flat
    assert "auditkitverifyreport.pdf--trustCA.pem" in flat
    assert "valid until" in first
    # nothing of page one spills: page 2 opens with the next section and is a full page of it
    second = pdf_text(pdf, 2).replace(context["title"], "", 1).split()  # less the running header
    assert " ".join(second[:6]) == "Requirements and the evidence for them"
    assert len(second) > 60, f"page 2 is near-empty: {' '.join(second)}"
    # as rasterised: the FAIL banner's red border (the only red lines across most of the text width)
    # sits in the top third of page one
    folder = SHOTS / f"page-one-{report}"
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run([need("pdftoppm", "poppler-utils"), "-r", "50", "-png", "-f", "1", "-l", "1",
                    "-singlefile", str(pdf), str(folder / "page-1")], check=True, timeout=60)
    with Image.open(folder / "page-1.png") as page:
        rgb = page.convert("RGB")
        wide = [y for y in range(rgb.height)
                if sum(_near(rgb.getpixel((x, y)), (0xB3, 0x26, 0x1E)) for x in range(rgb.width))
                > 0.6 * rgb.width]
        assert wide and max(wide) < rgb.height / 3, f"the verdict banner is not at the top: rows {wide}"


def _near(pixel: tuple[int, ...], colour: tuple[int, int, int], tolerance: int = 30) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=False))


BOTTOM = 0.15
"""A heading in the bottom 15 % of a page must have what follows it on the same page."""


def stranded_headings(pdf: Path, headings: list[str]) -> list[str]:
    """``page N: heading`` for each heading (h2-h4 text of the HTML) that pdftotext places in the
    bottom :data:`BOTTOM` of a page with fewer than two lines of text under it on that page (a heading
    followed only by a figure would have the figure's caption under it)."""
    layout = subprocess.run([need("pdftotext", "poppler-utils"), "-bbox-layout", str(pdf), "-"],
                            capture_output=True, text=True, check=True, timeout=60).stdout
    starts = {" ".join(h.split()[:4]) for h in headings}
    stranded = []
    for number, page in enumerate(re.findall(r"<page (.*?)</page>", layout, flags=re.S), start=1):
        height = float(re.search(r'height="([0-9.]+)"', page).group(1))
        lines = []
        for box, body in re.findall(r'<line (.*?)>(.*?)</line>', page, flags=re.S):
            y_min, y_max = (float(re.search(rf'{k}="([0-9.]+)"', box).group(1)) for k in ("yMin", "yMax"))
            lines.append((y_min, y_max, " ".join(re.findall(r">([^<]*)</word>", body))))
        for y_min, y_max, text in lines:
            heading = next((h for h in starts if text.startswith(h)), None)
            if heading and y_max - y_min >= 12 and y_min > (1 - BOTTOM) * height:  # heading type
                under = sum(other_min >= y_max for other_min, _, _ in lines)
                if under < 2 + 1:  # the running footer ("page N of M") is one line
                    stranded.append(f"page {number}: {text}")
    return stranded


def test_no_heading_is_separated_from_what_follows_it(full) -> None:
    found = re.findall(r"<h[234][^>]*>(.*?)</h[234]>", full.html, re.S)
    headings = [re.sub(r"<[^>]+>", "", h) for h in found]
    assert len(headings) > 15
    stranded = stranded_headings(full.out / "report.pdf", headings)
    assert stranded == [], stranded


def test_figures_are_laid_out_at_print_size(full) -> None:
    """Every figure is placed at the DPI it was drawn at, so its type prints at the size
    :mod:`auditkit.report.plots` set (none below the footnotes, test_plots.py checks)."""
    from auditkit.report import plots

    listing = subprocess.run([need("pdfimages", "poppler-utils"), "-list", str(full.out / "report.pdf")],
                             capture_output=True, text=True, check=True, timeout=30).stdout
    rows = [line.split() for line in listing.splitlines()[2:] if line.split()[2] == "image"]
    assert len(rows) == 6
    for row in rows:
        assert abs(int(row[12]) - plots.DPI) <= 1 and abs(int(row[13]) - plots.DPI) <= 1, row
