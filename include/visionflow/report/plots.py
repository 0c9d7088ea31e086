"""Plots as PNG bytes, drawn with matplotlib's Agg backend (no display, no GUI toolkit).

A plot is a small description (:class:`Histogram`, :class:`Bars`, :class:`Figure`); :func:`render` draws it.
Families pass their own through ``write_report(extra_plots=...)``.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Callable

SIZE = (6.4, 3.4)
DPI = 100
COLOURS = {"ok": "#2e7d32", "refused": "#6a1b9a", "bad_row": "#8d6e63"}
FAIL_COLOUR = "#c62828"


@dataclass
class Histogram:
    title: str
    values: list[float]
    xlabel: str
    bins: int = 30
    log_y: bool = False
    edges: list[float] | None = None  # fixed bin edges (e.g. hours 0..24) instead of ``bins``


@dataclass
class Bars:
    """One bar per label; ``counts`` keeps its order (pass it sorted as you want it shown)."""
    title: str
    counts: dict[str, float]
    xlabel: str = ""
    horizontal: bool = True
    colours: dict[str, str] = field(default_factory=dict)


@dataclass
class Figure:
    """Anything else: ``draw(ax)`` draws on a fresh matplotlib Axes."""
    title: str
    draw: Callable


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def status_colour(label: str) -> str:
    status = label.rsplit(": ", 1)[-1]
    return COLOURS.get(status, FAIL_COLOUR)


def render(plot) -> bytes | None:
    """PNG bytes of ``plot``, or None when it has nothing to show (an empty histogram)."""
    if isinstance(plot, Histogram) and not plot.values or isinstance(plot, Bars) and not plot.counts:
        return None
    plt = _pyplot()
    height = SIZE[1]
    if isinstance(plot, Bars) and plot.horizontal:
        height = max(SIZE[1], 0.28 * len(plot.counts) + 1.2)
    fig, ax = plt.subplots(figsize=(SIZE[0], height), dpi=DPI)
    try:
        if isinstance(plot, Histogram):
            bins = plot.edges or min(plot.bins, max(1, len(set(plot.values))))
            ax.hist(plot.values, bins=bins, color="#1565c0", log=plot.log_y)
            ax.set_xlabel(plot.xlabel)
            ax.set_ylabel("items")
        elif isinstance(plot, Bars):
            labels = list(plot.counts)
            values = [plot.counts[k] for k in labels]
            colours = [plot.colours.get(k) or status_colour(k) for k in labels]
            if plot.horizontal:
                ax.barh(labels[::-1], values[::-1], color=colours[::-1])
                ax.set_xlabel(plot.xlabel)
                for y, v in enumerate(values[::-1]):
                    ax.text(v, y, f" {v:g}", va="center", fontsize=8)
            else:
                ax.bar(labels, values, color=colours)
                ax.set_xlabel(plot.xlabel)
                ax.tick_params(axis="x", labelrotation=45 if len(labels) > 8 else 0)
        else:
            plot.draw(ax)
        ax.set_title(plot.title, fontsize=11)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()
    finally:
        plt.close(fig)
