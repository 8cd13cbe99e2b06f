"""The report's figures: matplotlib (Agg, no pyplot state) to PNG bytes, the same bytes for the same data.

Each function takes plain arrays and returns a PNG; :func:`data_uri` embeds one in the HTML. PNGs carry
no software or time metadata, so rendering a report twice gives identical files.

Figures are drawn at their print size: the stylesheet lays every image out at :data:`DPI` pixels per
inch (``image-resolution`` in templates/report.css), every figure is at most :data:`TEXT_WIDTH_IN`
wide, so a font size here is the size on paper, and none is below :data:`MIN_FONT_PT`, the size of
the body's footnotes.
"""

from __future__ import annotations

import base64
import io
import math
import textwrap
from collections.abc import Callable, Mapping, Sequence
from statistics import NormalDist

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from auditkit.explainers import EXPLAINERS, RandomBaseline

DPI = 110
"""Pixels per inch of the PNGs, and of their layout in the PDF (templates/report.css)."""
MIN_FONT_PT = 8.5
"""The smallest type in a figure: that of the body's footnotes (``.small``, templates/report.css)."""
TEXT_WIDTH_IN = (210 - 2 * 14) / 25.4
"""The text width of an A4 page with the report's 14 mm side margins, in inches."""
TICK_PT, LABEL_PT, TITLE_PT = MIN_FONT_PT, 9.0, 9.5
THRESHOLD_COLOUR = "#b3261e"
"""Threshold lines: the report's colour for "not met"; no method uses it."""

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#393b79", "#637939", "#8c6d31", "#843c39", "#5254a3", "#8ca252", "#bd9e39",
           "#a55194", "#6b6ecf", "#7b4173")
"""The methods' colours, in order: matplotlib's ``tab10`` without its cyan (:data:`S_NEQ_COLOUR`), then
darker ones (``tab20b``), more than there are registered methods so that spare ones remain; never
:data:`THRESHOLD_COLOUR`, :data:`S_EQ_COLOUR` or :data:`S_NEQ_COLOUR`."""
METHOD_COLOURS: Mapping[str, str] = dict(zip(EXPLAINERS, PALETTE, strict=False))
"""One colour per registered method (registry name, :data:`auditkit.explainers.EXPLAINERS`), the
:data:`PALETTE` in the registry's order, so the same in every figure of the report."""
SPARE_COLOURS = PALETTE[len(METHOD_COLOURS):]
"""Colours of methods outside :data:`METHOD_COLOURS`, in order of appearance."""
S_EQ_COLOUR, S_NEQ_COLOUR = "#111111", "#17becf"
"""S= and S≠ in the histograms: colours no method uses."""


def method_colours(names: Sequence[str], label: Callable[[str], str]) -> dict[str, str]:
    """Printed label -> colour of each method in ``names`` (registry names).

    >>> method_colours(["gradcam", "mine"], str.upper)
    {'GRADCAM': '#9467bd', 'MINE': '#8ca252'}
    """
    spare = iter(SPARE_COLOURS * (1 + len(names)))
    return {label(n): METHOD_COLOURS.get(n) or next(spare) for n in names}


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def data_uri(png: bytes) -> str:
    """``png`` as a ``data:image/png;base64,...`` URI.

    >>> data_uri(b"abc")
    'data:image/png;base64,YWJj'
    """
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def binomial_interval(successes: int, n: int, confidence: float) -> tuple[float, float]:
    """Wilson's score interval for a proportion ``successes / n`` (Wilson 1927): with ``z`` the
    two-sided normal quantile of ``confidence`` and ``p = successes / n``,
    ``(p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)``; it stays inside [0, 1], also at 0 or n.

    >>> [round(v, 3) for v in binomial_interval(30, 60, 0.95)]
    [0.377, 0.623]
    """
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # exact ends at 0 and n, where rounding would leave the estimate just outside its interval
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    return low, 1.0 if successes == n else min(1.0, centre + half)


def _style(ax: object, *, xlabel: str = "", ylabel: str = "") -> None:
    ax.tick_params(labelsize=TICK_PT)
    ax.spines[["top", "right"]].set_visible(False)
    if xlabel:
        ax.set_xlabel(xlabel, fontsize=LABEL_PT)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=LABEL_PT)


def fold_accuracies(accuracies: Sequence[float], n_test: Sequence[int], max_spread: float,
                    confidence: float) -> bytes:
    """Held-out accuracy of each fold model with its interval, and the band the spread may cover.

    Args:
        accuracies: accuracy of fold model i on its held-out fold V_i, in [0, 1].
        n_test: the number of images of each V_i (the interval is :func:`binomial_interval`'s).
        max_spread: the policy's largest allowed max - min of the accuracies.
        confidence: the level of the intervals, e.g. 0.95.
    """
    acc = np.asarray(accuracies, dtype=float)
    bounds = np.array([binomial_interval(round(a * n), n, confidence) for a, n in zip(acc, n_test,
                                                                                          strict=True)])
    low = float(acc.min())
    fig = Figure(figsize=(3.9, 2.5))
    ax = fig.add_subplot()
    top = min(low + max_spread, 1.0)
    ax.axhspan(low, top, color="#2e8b57", alpha=0.15, zorder=0,
               label=f"allowed spread ({max_spread:g}) above the lowest accuracy")
    x = np.arange(len(acc))
    ax.errorbar(x, acc, yerr=_bars(acc, bounds[:, 0], bounds[:, 1]), fmt="o", color="#1b1f24",
                capsize=4, markersize=5, zorder=3, label=f"accuracy, {confidence:.0%} interval")
    ax.set_xticks(x, [f"fold {i}" for i in range(len(acc))])
    bottom = max(0.0, float(bounds[:, 0].min()) - 0.05)
    ax.set_ylim(bottom, min(1.0, max(float(bounds[:, 1].max()), top) + 0.05))
    ax.set_xlim(-0.6, len(acc) - 0.4)
    _style(ax, xlabel="fold model", ylabel="held-out accuracy")
    ax.legend(fontsize=MIN_FONT_PT, frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout()
    return _png(fig)


def distance_histograms(sets: Mapping[str, tuple[np.ndarray, np.ndarray]], *, columns: int = 3,
                        notes: Mapping[str, str] | None = None) -> bytes:
    """The paper's Fig. 5: per explainer, density histograms of the distances in S= and S≠, drawn
    as outlines so that neither hides the other.

    Args:
        sets: explainer label -> (distances of S= pairs, distances of S≠ pairs), each 1-D in [0, 1].
        columns: plots per row.
        notes: explainer label -> a line under its title (ReCo and its chance band).
    """
    notes = notes or {}
    n = len(sets)
    columns = max(1, min(columns, n))
    rows = max(1, math.ceil(n / columns))
    width = min(TEXT_WIDTH_IN, 2.35 * columns)
    fig = Figure(figsize=(width, 2.5 * rows + 0.6))
    bins = np.linspace(0.0, 1.0, 26)
    colours = (S_EQ_COLOUR, S_NEQ_COLOUR)
    for i, (label, pair) in enumerate(sets.items()):
        ax = fig.add_subplot(rows, columns, i + 1)
        for values, colour in zip(pair, colours, strict=True):
            if values.size:
                ax.hist(values, bins=bins, density=True, color=colour, histtype="step", linewidth=1.4)
        note = notes.get(label)
        wrapped = textwrap.fill(note, width=int(width / columns * 9)) if note else ""
        ax.set_title(label + (f"\n{wrapped}" if wrapped else ""), fontsize=MIN_FONT_PT)
        ax.set_xlim(0.0, 1.0)
        _style(ax, ylabel="density" if i % columns == 0 else "")
    names = ("S= (both models right)", "S≠ (one model right)")
    handles = [Patch(edgecolor=c, facecolor="none", linewidth=1.4, label=n)
               for n, c in zip(names, colours, strict=True)]
    fig.legend(handles=handles, loc="upper center", ncols=2, fontsize=LABEL_PT, frameon=False)
    fig.supxlabel("Spearman distance between the explanations of two fold models (0: same ranking)",
                  fontsize=LABEL_PT)
    fig.tight_layout(rect=(0.0, 0.0, 1.0, 1.0 - 0.35 / fig.get_figheight()))
    return _png(fig)


def _unit(values: np.ndarray) -> np.ndarray:
    """Scaled to [0, 1] by its own range; a constant map becomes all zeros."""
    span = float(values.max() - values.min())
    return (values - values.min()) / span if span > 0 else np.zeros_like(values)


def _grey(picture: np.ndarray) -> np.ndarray:
    """``[C, H, W]`` in [0, 1] as ``[H, W]`` grey (ITU-R BT.601 luma for RGB)."""
    if picture.shape[0] == 1:
        return picture[0]
    return np.tensordot(np.array([0.299, 0.587, 0.114]), np.clip(picture[:3], 0.0, 1.0), axes=1)


MAP_CMAP, MAP_ALPHA = "inferno", 0.65
"""Colour map of the explanation maps and its opacity over the grey image."""


def example_maps(
    images: np.ndarray | None,
    maps: Mapping[str, np.ndarray],
    row_labels: Sequence[str],
    title: str,
) -> bytes:
    """Grid of example explanations: one row per image, its input first (when given), then each
    method's map laid over the image in grey, and one colour bar.

    Args:
        images: ``[E, C, H, W]`` inputs in [0, 1] (C = 1 grey or 3 RGB), or None to show maps only.
        maps: explainer label -> ``[E, H, W]`` maps; each map is scaled to its own range.
        row_labels: one label per image.
        title: what the maps are, e.g. which model gave them.
    """
    columns = [("input", None)] if images is not None else []
    columns += [(label, m) for label, m in maps.items()]
    rows = len(row_labels)
    side = min(1.15, (TEXT_WIDTH_IN - 1.3) / len(columns))
    slanted = side < 0.9  # narrow columns: the method names are written at 40 degrees, never overlapping
    fig = Figure(figsize=(side * len(columns) + 1.3, side * rows + (1.6 if slanted else 0.9)))
    axes = []
    for r in range(rows):
        for c, (name, stack) in enumerate(columns):
            ax = fig.add_subplot(rows, len(columns), r * len(columns) + c + 1)
            axes.append(ax)
            grey = None if images is None else _grey(images[r])
            if grey is not None:
                ax.imshow(grey, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            if stack is not None:
                ax.imshow(_unit(stack[r]), cmap=MAP_CMAP, vmin=0.0, vmax=1.0, interpolation="nearest",
                          alpha=MAP_ALPHA if grey is not None else 1.0)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0 and slanted:
                ax.text(0.2, 1.08, name, transform=ax.transAxes, rotation=40, ha="left", va="bottom",
                        fontsize=MIN_FONT_PT, rotation_mode="anchor")
            elif r == 0:
                ax.set_title(textwrap.fill(name, 12), fontsize=MIN_FONT_PT)
            if c == 0:  # written across, right-aligned: two lines never reach the next row
                ax.set_ylabel(textwrap.fill(row_labels[r], 10), fontsize=MIN_FONT_PT, rotation=0,
                              ha="right", va="center", labelpad=4)
    if slanted:  # room above the grid for the slanted names, and the title above them
        fig.subplots_adjust(top=1.0 - 1.3 / fig.get_figheight())
    bar = fig.colorbar(ScalarMappable(Normalize(0.0, 1.0), cmap=MAP_CMAP), ax=axes, fraction=0.04,
                       pad=0.03)
    bar.set_label("importance, each map scaled\nto its own range", fontsize=MIN_FONT_PT)
    bar.ax.tick_params(labelsize=TICK_PT)
    fig.suptitle(title, fontsize=LABEL_PT, y=1.0 - 0.08 / fig.get_figheight(), va="top")
    return _png(fig)


CONTROL_COLOUR = METHOD_COLOURS[RandomBaseline.name]
"""The controls' lines (:func:`score_curves`' ``controls``): the random baseline's colour."""


def _bars(value: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Error-bar lengths ``[2, n]`` below and above ``value``, never negative.

    A percentile bootstrap interval need not contain its point estimate (a skewed statistic, or a
    score at its bound such as MeGe 1.0 up to rounding); the bar then starts at the point, and the
    band drawn from ``low`` to ``high`` still shows the interval as measured.

    >>> _bars(np.array([0.5, 1.0]), np.array([0.4, 1.0 + 1e-12]), np.array([0.7, 1.0])).round(3).tolist()
    [[0.1, 0.0], [0.2, 0.0]]
    """
    return np.clip(np.stack([value - low, high - value]), 0.0, None)


def score_curves(
    x: Sequence[float],
    panels: Mapping[str, Mapping[str, Sequence[tuple[float | None, float | None, float | None]]]],
    *,
    xlabel: str,
    controls: Sequence[str] = (),
    tick_labels: Sequence[str] | None = None,
    columns: int = 3,
    colours: Mapping[str, str] | None = None,
    thresholds: Mapping[str, Sequence[tuple[float, str]]] | None = None,
) -> bytes:
    """One panel per score: a line per explainer over ``x``, each point with its interval as an error
    bar and the band between them shaded (Fel et al. Fig. 3-4).

    Args:
        x: the positions on the horizontal axis (degradation levels, or audit numbers).
        panels: panel's score (its y-axis label) -> explainer label -> one ``(value, low, high)`` per
            position; None where undefined (a gap in the line) or without an interval (no bar there).
        xlabel: the horizontal axis's label.
        controls: explainer labels drawn dashed and grey (the random baseline).
        tick_labels: labels of the positions (default: the positions themselves).
        columns: panels per row.
        colours: the colour of each label (:func:`method_colours`); others get a spare colour.
        thresholds: panel -> ``(value, label)`` of each threshold that applies there, drawn as a
            horizontal line.
    """
    xs = np.asarray(x, dtype=float)
    n = max(1, len(panels))
    per_row = max(1, min(columns, n))
    panel_rows = math.ceil(n / per_row)
    fig = Figure(figsize=(min(TEXT_WIDTH_IN, 2.35 * per_row + 0.2), 2.3 * panel_rows + 0.4))
    handles: dict[str, object] = {}
    fixed = _line_colours(panels, controls, colours)
    ticks = list(tick_labels) if tick_labels is not None else [f"{v:g}" for v in xs]
    for i, (title, lines) in enumerate(panels.items()):
        ax = fig.add_subplot(panel_rows, per_row, i + 1)
        for label, points in lines.items():
            style = (CONTROL_COLOUR, "--") if label in controls else (fixed[label], "-")
            handles.setdefault(label, _curve(ax, xs, points, *style))
        for value, name in (thresholds or {}).get(title, ()):
            ax.axhline(value, color=THRESHOLD_COLOUR, linestyle=":", linewidth=1.2)
            ax.annotate(name, (1.0, value), xycoords=("axes fraction", "data"), ha="right", va="bottom",
                        fontsize=MIN_FONT_PT, color=THRESHOLD_COLOUR)
        _positions(ax, xs, ticks)
        _style(ax, ylabel=title)
        ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    fig.supxlabel(xlabel, fontsize=LABEL_PT)
    _legend(fig, handles)
    return _png(fig)


def _line_colours(panels: Mapping[str, Mapping[str, object]], controls: Sequence[str],
                  colours: Mapping[str, str] | None) -> dict[str, str]:
    """``colours`` with a spare colour for every other label of ``panels`` but the ``controls``.

    >>> _line_colours({"MeGe": {"a": [], "b": [], "r": []}}, ["r"], {"a": "#000000"})
    {'a': '#000000', 'b': '#8ca252'}
    """
    fixed = dict(colours or {})
    spare = iter(SPARE_COLOURS * (1 + len(fixed) + sum(len(lines) for lines in panels.values())))
    for label in dict.fromkeys(label for lines in panels.values() for label in lines):
        if label not in fixed and label not in controls:
            fixed[label] = next(spare)
    return fixed


def _curve(ax: object, xs: np.ndarray, points: Sequence[tuple[float | None, float | None, float | None]],
           colour: str, style: str) -> object:
    """One explainer's line over ``xs`` with its error bars and shaded band; returns the line."""
    nan = float("nan")
    value = np.array([nan if v is None else v for v, _, _ in points], dtype=float)
    low = np.array([nan if lo is None else lo for _, lo, _ in points], dtype=float)
    high = np.array([nan if hi is None else hi for _, _, hi in points], dtype=float)
    (line,) = ax.plot(xs, value, style, color=colour, marker="o", markersize=3.5, linewidth=1.4)
    ax.errorbar(xs, value, yerr=_bars(value, low, high), fmt="none", ecolor=colour, elinewidth=1.0,
                capsize=3)
    ax.fill_between(xs, low, high, color=colour, alpha=0.12, linewidth=0)
    return line


def _positions(ax: object, xs: np.ndarray, ticks: list[str]) -> None:
    """The horizontal axis: a tick per position, slanted when the labels are dates."""
    ax.set_xticks(xs, ticks)
    if len(xs) > 1 and max(map(len, ticks)) > 5:  # dates: slanted so that neighbours never touch
        ax.tick_params(axis="x", labelrotation=30)
        for tick in ax.get_xticklabels():
            tick.set_horizontalalignment("right")
    if len(xs) == 1:
        ax.set_xlim(xs[0] - 0.5, xs[0] + 0.5)


def _legend(fig: Figure, handles: Mapping[str, object]) -> None:
    """One legend above the panels, as many entries a row as fit, the figure grown to hold it."""
    width = max((len(label) for label in handles), default=1) * 0.075 + 0.5  # inches per entry at 9 pt
    legend_columns = max(1, min(len(handles), int(fig.get_figwidth() // width)))
    rows = math.ceil(len(handles) / legend_columns) if handles else 0
    fig.set_figheight(fig.get_figheight() + 0.22 * rows)
    fig.legend(list(handles.values()), list(handles), loc="upper center", ncols=legend_columns,
               fontsize=LABEL_PT, frameon=False)
    fig.tight_layout(rect=(0.0, 0.0, 1.0, 1.0 - (0.22 * rows + 0.1) / fig.get_figheight()))


def agreement_matrix(labels: Sequence[str],
                     panels: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> bytes:
    """One heatmap per agreement score: cell (i, j) is the agreement of methods i and j, printed with
    its interval under it; the diagonal (a method with itself) is left blank.

    Args:
        labels: the m methods' printed names, in order.
        panels: title -> ``(value, low, high)``, each ``[m, m]`` in [0, 1], symmetric (NaN: none).
    """
    m = len(labels)
    fig = Figure(figsize=(TEXT_WIDTH_IN, len(panels) * (0.55 * m + 1.3)))
    norm = Normalize(0.0, 1.0)
    for i, (title, (value, low, high)) in enumerate(panels.items()):
        ax = fig.add_subplot(len(panels), 1, i + 1)
        shown = np.where(np.eye(m, dtype=bool), np.nan, value)
        image = ax.imshow(np.ma.masked_invalid(shown), cmap="viridis", norm=norm, aspect="auto")
        for r in range(m):
            for c in range(m):
                if r != c and not np.isnan(value[r, c]):
                    band = "" if np.isnan(low[r, c]) else f"\n{low[r, c]:.2f}–{high[r, c]:.2f}"
                    ax.text(c, r, f"{value[r, c]:.2f}{band}", ha="center", va="center",
                            fontsize=MIN_FONT_PT, color="white" if value[r, c] < 0.6 else "black")
        ax.set_xticks(range(m), labels)
        ax.set_yticks(range(m), labels)
        ax.tick_params(labelsize=TICK_PT, length=0)
        ax.set_title(title, fontsize=TITLE_PT)
        fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02).ax.tick_params(labelsize=TICK_PT)
    fig.tight_layout()
    return _png(fig)
