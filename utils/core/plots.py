"""Plots of measured proportions with their 95 % intervals as error bars: bars, or points on a line."""

import numpy as np


def error_bars(estimates) -> np.ndarray:
    """``(2, N)`` distances below and above each value, for matplotlib's ``yerr``. Each estimate is an
    ``Estimate`` or its record (``{"value", "low", "high", ...}``, as results files store it)."""
    spans = np.array([(e["value"], e["low"], e["high"]) if isinstance(e, dict) else (e.value, e.low, e.high)
                      for e in estimates], dtype=float).reshape(-1, 3)              # (N, 3)
    return np.maximum(0.0, np.stack([spans[:, 0] - spans[:, 1], spans[:, 2] - spans[:, 0]]))


def interval_bars(ax, labels: list[str], series: dict, colors: list[str] | None = None, width: float = 0.8):
    """Grouped bars, one group per label and one bar per series (``{"strict": [Estimate, ...], ...}``), each
    with its interval as an error bar and its value written above it."""
    if not series or any(len(values) != len(labels) for values in series.values()):
        raise ValueError(f"series must map names to one Estimate per label ({len(labels)} labels).")
    bar = width / len(series)
    for j, (name, values) in enumerate(series.items()):
        xs = [i + (j - (len(series) - 1) / 2) * bar for i in range(len(labels))]
        ax.bar(xs, [v.value for v in values], bar, yerr=error_bars(values), capsize=3, label=name,
               color=None if colors is None else colors[j % len(colors)])
        for x, v in zip(xs, values):
            ax.text(x, v.high + 0.02, f"{v.value:.2f}", ha="center", fontsize=7)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_ylim(0, 1.12)
    return ax


def plot_estimates(ax, xs, estimates, label: str | None = None, **style):
    """Points joined by a line, with the 95 % interval of each as an error bar."""
    return ax.errorbar(list(xs), [e.value for e in estimates], yerr=error_bars(estimates), fmt=style.pop("fmt", "o-"),
                       capsize=3, label=label, **style)
