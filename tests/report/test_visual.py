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
    assert len(layout["images"]) == full.html.count("<img ") == 5  # folds, histograms, maps, sanity, since
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
