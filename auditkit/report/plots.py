"""The report's figures: matplotlib (Agg, no pyplot state) to PNG bytes, the same bytes for the same data.

Each function takes plain arrays and returns a PNG; :func:`data_uri` embeds one in the HTML. PNGs carry
no software or time metadata, so rendering a report twice gives identical files.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

DPI = 110

METHOD_COLOURS: Mapping[str, str] = {
    "saliency": "#1f77b4", "gradient_input": "#ff7f0e", "integrated_gradients": "#2ca02c",
    "smoothgrad": "#d62728", "gradcam": "#9467bd", "gradcam_pp": "#8c564b", "rise": "#e377c2",
    "random": "#7f7f7f",
}
"""One colour per explanation method (registry name), the same in every figure of the report."""
SPARE_COLOURS = ("#bcbd22", "#393b79", "#637939", "#8c6d31", "#843c39")
"""Colours of methods outside :data:`METHOD_COLOURS`, in order of appearance."""
S_EQ_COLOUR, S_NEQ_COLOUR = "#111111", "#17becf"
"""S= and S≠ in the histograms: colours no method uses."""


def method_colours(names: Sequence[str], label: Callable[[str], str]) -> dict[str, str]:
    """Printed label -> colour of each method in ``names`` (registry names).

    >>> method_colours(["gradcam", "mine"], str.upper)
    {'GRADCAM': '#9467bd', 'MINE': '#bcbd22'}
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


def fold_accuracies(accuracies: Sequence[float], max_spread: float) -> bytes:
    """Bar plot of the held-out accuracy of each fold model, with the band the spread is allowed to cover.

    Args:
        accuracies: accuracy of fold model i on its held-out fold V_i, in [0, 1].
        max_spread: the policy's largest allowed max - min of the accuracies.
    """
    acc = np.asarray(accuracies, dtype=float)
    low = float(acc.min())
    fig = Figure(figsize=(5.2, 2.4))
    ax = fig.add_subplot()
    ax.axhspan(low, min(low + max_spread, 1.0), color="#2e8b57", alpha=0.18, zorder=0)
    ax.bar(np.arange(len(acc)), acc, color="#4a6fa5", width=0.6, zorder=2)
    ax.set_xticks(np.arange(len(acc)), [f"fold {i}" for i in range(len(acc))])
    ax.set_ylabel("held-out accuracy", fontsize=8)
    ax.tick_params(labelsize=7)
    bottom = max(0.0, low - max(0.05, 2 * (float(acc.max()) - low)))
    ax.set_ylim(bottom, 1.0)
    ax.set_title(f"shaded: from the lowest accuracy up by the allowed spread ({max_spread:g})", fontsize=7)
    ax.spines[["top", "right"]].set_visible(False)
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
    fig = Figure(figsize=(2.3 * columns, 1.9 * rows + 0.5))
    bins = np.linspace(0.0, 1.0, 26)
    colours = (S_EQ_COLOUR, S_NEQ_COLOUR)
    for i, (label, pair) in enumerate(sets.items()):
        ax = fig.add_subplot(rows, columns, i + 1)
        for values, colour in zip(pair, colours, strict=True):
            if values.size:
                ax.hist(values, bins=bins, density=True, color=colour, histtype="step", linewidth=1.4)
        note = notes.get(label)
        ax.set_title(label + (f"\n{note}" if note else ""), fontsize=8)
        ax.set_xlim(0.0, 1.0)
        ax.tick_params(labelsize=7)
        if i % columns == 0:
            ax.set_ylabel("density", fontsize=7)
        ax.spines[["top", "right"]].set_visible(False)
    names = ("S= (both models right)", "S≠ (one model right)")
    handles = [Patch(edgecolor=c, facecolor="none", linewidth=1.4, label=n)
               for n, c in zip(names, colours, strict=True)]
    fig.legend(handles=handles, loc="upper center", ncols=2, fontsize=8, frameon=False)
    fig.supxlabel("distance between the explanations of two fold models", fontsize=8)
    fig.tight_layout(rect=(0.0, 0.0, 1.0, 1.0 - 0.35 / fig.get_figheight()))
    return _png(fig)


def _unit(values: np.ndarray) -> np.ndarray:
    """Scaled to [0, 1] by its own range; a constant map becomes all zeros."""
    span = float(values.max() - values.min())
    return (values - values.min()) / span if span > 0 else np.zeros_like(values)


def example_maps(
    images: np.ndarray | None,
    maps: Mapping[str, np.ndarray],
    row_labels: Sequence[str],
) -> bytes:
    """Grid of example explanations: one row per image, its input first (when given), then one map each.

    Args:
        images: ``[E, C, H, W]`` inputs in [0, 1] (C = 1 grey or 3 RGB), or None to show maps only.
        maps: explainer label -> ``[E, H, W]`` maps; each map is scaled to its own range.
        row_labels: one label per image.
    """
    columns = [("input", None)] if images is not None else []
    columns += [(label, m) for label, m in maps.items()]
    rows = len(row_labels)
    fig = Figure(figsize=(1.15 * len(columns) + 0.5, 1.2 * rows + 0.3))
    for r in range(rows):
        for c, (title, stack) in enumerate(columns):
            ax = fig.add_subplot(rows, len(columns), r * len(columns) + c + 1)
            if stack is None and images is not None:
                picture = images[r]
                if picture.shape[0] == 1:
                    ax.imshow(picture[0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
                else:
                    ax.imshow(np.clip(picture.transpose(1, 2, 0), 0.0, 1.0), interpolation="nearest")
            elif stack is not None:
                ax.imshow(_unit(stack[r]), cmap="inferno", vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(title, fontsize=7)
            if c == 0:
                ax.set_ylabel(row_labels[r], fontsize=7)
    fig.tight_layout(pad=0.4)
    return _png(fig)


EXPLAINER_COLOURS = ("#1f6fb4", "#e0701f", "#2e8b57", "#b3261e", "#7b4fa3", "#8c564b", "#d45aa8",
                     "#17becf", "#bcbd22", "#4a5260")
CONTROL_COLOUR = "#7f7f7f"


def score_curves(
    x: Sequence[float],
    panels: Mapping[str, Mapping[str, Sequence[tuple[float | None, float | None, float | None]]]],
    *,
    xlabel: str,
    controls: Sequence[str] = (),
    tick_labels: Sequence[str] | None = None,
    columns: int = 3,
    colours: Mapping[str, str] | None = None,
) -> bytes:
    """One panel per score: a line per explainer over ``x`` with its confidence band (Fel et al. Fig. 3-4).

    Args:
        x: the positions on the horizontal axis (degradation levels, or audit numbers).
        panels: panel title -> explainer label -> one ``(value, low, high)`` per position; None where
            undefined (a gap in the line) or without an interval (no band there).
        xlabel: the horizontal axis's label.
        controls: explainer labels drawn dashed and grey (the random baseline).
        tick_labels: labels of the positions (default: the positions themselves).
        columns: panels per row.
        colours: fixed colours of some labels; the others get one colour each, the same in every panel.
    """
    xs = np.asarray(x, dtype=float)
    n = max(1, len(panels))
    per_row = max(1, min(columns, n))
    panel_rows = math.ceil(n / per_row)
    fig = Figure(figsize=(2.45 * per_row + 0.3, 2.2 * panel_rows + 0.35))
    handles: dict[str, object] = {}
    fixed = dict(colours or {})
    for label in dict.fromkeys(label for lines in panels.values() for label in lines):
        if label not in fixed and label not in controls:
            fixed[label] = EXPLAINER_COLOURS[len(fixed) % len(EXPLAINER_COLOURS)]
    for i, (title, lines) in enumerate(panels.items()):
        ax = fig.add_subplot(panel_rows, per_row, i + 1)
        for label, points in lines.items():
            colour, style = (CONTROL_COLOUR, "--") if label in controls else (fixed[label], "-")
            nan = float("nan")
            value = np.array([nan if v is None else v for v, _, _ in points], dtype=float)
            low = np.array([nan if lo is None else lo for _, lo, _ in points], dtype=float)
            high = np.array([nan if hi is None else hi for _, _, hi in points], dtype=float)
            (line,) = ax.plot(xs, value, style, color=colour, marker="o", markersize=3.5, linewidth=1.4)
            ax.fill_between(xs, low, high, color=colour, alpha=0.15, linewidth=0)
            handles.setdefault(label, line)
        ax.set_title(title, fontsize=9)
        ax.set_xticks(xs, list(tick_labels) if tick_labels is not None else [f"{v:g}" for v in xs])
        ax.tick_params(labelsize=7)
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    fig.supxlabel(xlabel, fontsize=8)
    legend_columns = min(len(handles), 2 * per_row) or 1
    rows = math.ceil(len(handles) / legend_columns) if handles else 0
    fig.set_figheight(fig.get_figheight() + 0.2 * rows)
    fig.legend(list(handles.values()), list(handles), loc="upper center", ncols=legend_columns,
               fontsize=7, frameon=False)
    fig.tight_layout(rect=(0.0, 0.0, 1.0, 1.0 - (0.2 * rows + 0.1) / fig.get_figheight()))
    return _png(fig)
