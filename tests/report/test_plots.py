"""One colour per method in every figure, and S=/S≠ in colours no method uses."""

from __future__ import annotations

import io

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
