"""One colour per method in every figure, and S=/S≠ in colours no method uses."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
from matplotlib.image import imread

from auditkit.report import plots


def _has_colour(png: bytes, colour: str, tolerance: int = 6) -> bool:
    pixels = (imread(io.BytesIO(png))[..., :3] * 255).round().astype(int)
    rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
    return bool((np.abs(pixels - rgb).max(axis=-1) <= tolerance).any())


def test_a_method_keeps_its_colour_whatever_the_other_methods() -> None:
    a = plots.method_colours(["saliency", "gradcam"], str)
    b = plots.method_colours(["gradcam", "rise", "saliency"], str)
    assert a["saliency"] == b["saliency"] and a["gradcam"] == b["gradcam"]
    assert len(set(plots.METHOD_COLOURS.values())) == len(plots.METHOD_COLOURS)


def test_s_eq_and_s_neq_colours_are_no_methods() -> None:
    used = {*plots.METHOD_COLOURS.values(), *plots.SPARE_COLOURS}
    assert plots.S_EQ_COLOUR not in used and plots.S_NEQ_COLOUR not in used
    assert plots.THRESHOLD_COLOUR not in used


def test_every_registered_method_has_its_own_colour() -> None:
    from auditkit.explainers import EXPLAINERS

    assert list(plots.METHOD_COLOURS) == list(EXPLAINERS)
    assert plots.SPARE_COLOURS and not set(plots.SPARE_COLOURS) & set(plots.METHOD_COLOURS.values())


def test_the_curves_draw_each_method_in_its_colour() -> None:
    colours = plots.method_colours(["gradcam"], str)
    png = plots.score_curves([0.0, 0.5], {"MeGe": {"gradcam": [(0.8, 0.7, 0.9), (0.5, 0.4, 0.6)]}},
                             xlabel="level", colours=colours)
    assert _has_colour(png, plots.METHOD_COLOURS["gradcam"])
    assert not _has_colour(png, plots.METHOD_COLOURS["saliency"])
    hist = plots.distance_histograms({"Grad-CAM": (np.random.default_rng(0).random(50) * 0.5,
                                                   np.random.default_rng(1).random(20))},
                                     notes={"Grad-CAM": "ReCo 0.5; chance 0.1"})
    assert _has_colour(hist, plots.S_EQ_COLOUR) and _has_colour(hist, plots.S_NEQ_COLOUR)
    assert not _has_colour(hist, plots.METHOD_COLOURS["gradcam"])


def _figures(monkeypatch) -> list:
    """The matplotlib Figures the plot functions hand to their PNG writer, in order."""
    drawn: list = []
    monkeypatch.setattr(plots, "_png", lambda fig: drawn.append(fig) or b"")
    return drawn


def _all_figures(monkeypatch) -> list:
    drawn = _figures(monkeypatch)
    rng = np.random.default_rng(0)
    names = ["Saliency", "Gradient × Input", "Integrated Gradients", "SmoothGrad", "Grad-CAM",
             "Grad-CAM++", "RISE", "Random baseline"]
    plots.fold_accuracies([0.9, 0.85, 0.88], [100, 100, 99], 0.05, 0.95)
    plots.distance_histograms({n: (rng.random(40), rng.random(20)) for n in names},
                              notes={n: "ReCo 0.120; chance 0.061 (95%: 0.118), p = 0.04: above chance"
                                     for n in names})
    plots.example_maps(rng.random((4, 3, 8, 8)), {n: rng.random((4, 8, 8)) for n in names},
                       [f"image {i} (class {i})" for i in range(4)],
                       "Explanations of the fold-0 model (resnet)")
    plots.score_curves([0.0], {"MeGe": {n: [(0.5, 0.4, 0.6)] for n in names}}, xlabel="date of the audit",
                       tick_labels=["2026-01-01"], thresholds={"MeGe": [(0.45, "T1 ≥ 0.45")]})
    return drawn


def test_every_figure_fits_the_text_width_with_type_no_smaller_than_the_footnotes(monkeypatch) -> None:
    from matplotlib.text import Text

    for fig in _all_figures(monkeypatch):
        fig.canvas.draw()  # lay out, as savefig would
        assert fig.get_figwidth() <= plots.TEXT_WIDTH_IN + 1e-9
        for text in fig.findobj(Text):
            if text.get_visible() and text.get_text().strip():
                assert text.get_fontsize() >= plots.MIN_FONT_PT, (text.get_text(), text.get_fontsize())


def test_the_stylesheet_prints_figures_at_their_drawn_size() -> None:
    css = (Path(plots.__file__).resolve().parents[2] / "templates" / "report.css").read_text()
    assert re.search(rf"img \{{[^}}]*image-resolution: {plots.DPI}dpi", css)
    assert re.search(rf"\.small, figcaption \{{ font-size: {plots.MIN_FONT_PT:g}pt; }}", css)


def test_every_estimate_is_drawn_with_its_interval_and_thresholds_as_lines(monkeypatch) -> None:
    from matplotlib.container import ErrorbarContainer

    folds, _, maps, curves = _all_figures(monkeypatch)
    (bars,) = [c for c in folds.axes[0].containers if isinstance(c, ErrorbarContainer)]
    assert len(bars.lines[2][0].get_segments()) == 3  # one interval per fold model
    assert folds.axes[0].get_ylabel() == "held-out accuracy" and folds.axes[0].get_xlabel() == "fold model"
    ax = curves.axes[0]
    intervals = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(intervals) == 8 and all(len(c.lines[2][0].get_segments()) == 1 for c in intervals)
    assert ax.get_ylabel() == "MeGe"
    assert any(line.get_ydata()[0] == 0.45 and line.get_linestyle() == ":" for line in ax.get_lines())
    assert maps.texts[0].get_text() == "Explanations of the fold-0 model (resnet)"  # the suptitle
    assert any(a.get_ylabel().startswith("importance") for a in maps.axes)  # the colour bar


def test_binomial_interval_covers_the_estimate_and_stays_in_0_1() -> None:
    for k, n in ((0, 10), (10, 10), (7, 30)):
        low, high = plots.binomial_interval(k, n, 0.95)
        assert 0.0 <= low <= k / n <= high <= 1.0 and high - low > 0
    assert plots.binomial_interval(50, 100, 0.99)[0] < plots.binomial_interval(50, 100, 0.9)[0]


def test_a_point_outside_its_own_interval_still_draws() -> None:
    """A percentile bootstrap interval need not contain its point (MeGe 1.0 of a model-independent
    control, a skewed corrected ReCo): the curve is drawn, with bars that start at the point."""
    png = plots.score_curves([0.0, 0.3], {"MeGe": {"Input control": [(1.0, 1.0 + 1e-12, 1.0),
                                                                     (0.6, 0.62, 0.7)]}},
                             xlabel="share of the weights randomised")
    assert imread(io.BytesIO(png)).shape[0] > 100
