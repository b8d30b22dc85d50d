"""Plots of measured proportions with their 95 % intervals as error bars: bars, or points on a line."""

import numpy as np


def interval_bars(ax, labels: list[str], series: dict, colors: list[str] | None = None, width: float = 0.8):
    """Grouped bars, one group per label and one bar per series (``{"strict": [Estimate, ...], ...}``), each
    with its interval as an error bar and its value written above it."""
    if not series or any(len(values) != len(labels) for values in series.values()):
        raise ValueError(f"series must map names to one Estimate per label ({len(labels)} labels).")
    bar = width / len(series)
    for j, (name, values) in enumerate(series.items()):
        xs = [i + (j - (len(series) - 1) / 2) * bar for i in range(len(labels))]
        heights = [v.value for v in values]
        errors = [[max(0.0, v.value - v.low) for v in values], [max(0.0, v.high - v.value) for v in values]]
        ax.bar(xs, heights, bar, yerr=errors, capsize=3, label=name,
               color=None if colors is None else colors[j % len(colors)])
        for x, v in zip(xs, values):
            ax.text(x, v.high + 0.02, f"{v.value:.2f}", ha="center", fontsize=7)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_ylim(0, 1.12)
    return ax


def plot_estimates(ax, xs, estimates, label: str | None = None, **style):
    """Points joined by a line, with the 95 % interval of each as an error bar."""
    values = np.array([e.value for e in estimates])
    below = np.maximum(0.0, values - np.array([e.low for e in estimates]))
    above = np.maximum(0.0, np.array([e.high for e in estimates]) - values)
    return ax.errorbar(list(xs), values, yerr=[below, above], fmt=style.pop("fmt", "o-"), capsize=3, label=label,
                       **style)
