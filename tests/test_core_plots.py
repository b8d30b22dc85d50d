import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from utils.core.plots import error_bars, interval_bars, plot_estimates  # noqa: E402
from utils.core.stats import proportion  # noqa: E402


def test_interval_bars_draw_one_error_bar_per_estimate():
    fig, ax = plt.subplots()
    a, b = proportion([1, 1, 0, 1]), proportion([0, 0, 1, 0])
    interval_bars(ax, ["closed book", "RAG"], {"lenient": [b, a], "strict": [b, b]})
    bars = [p for p in ax.patches]
    assert len(bars) == 4 and bars[1].get_height() == pytest.approx(a.value)
    errorbars = [c for c in ax.containers if type(c).__name__ == "ErrorbarContainer"]
    assert len(errorbars) == 2 and ax.get_xticklabels()[1].get_text() == "RAG"
    plt.close(fig)


def test_interval_bars_need_one_estimate_per_label():
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="one Estimate per label"):
        interval_bars(ax, ["a", "b"], {"strict": [proportion([1])]})
    plt.close(fig)


def test_plot_estimates_draws_error_bars():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    container = plot_estimates(ax, [1, 2], [proportion([1, 0, 1]), proportion([1, 1, 1])], label="x")
    assert container.has_yerr
    plt.close(fig)


def test_error_bars_read_estimates_and_records_alike_and_never_go_negative():
    estimate = proportion([1, 1, 0, 1])
    bars = error_bars([estimate, estimate.as_record(), {"value": 1.0, "n": 5, "low": 0.6, "high": 0.9999999}])
    assert bars.shape == (2, 3) and bars[0, 0] == pytest.approx(estimate.value - estimate.low)
    assert bars[:, 0] == pytest.approx(bars[:, 1]) and bars[1, 2] == 0.0
