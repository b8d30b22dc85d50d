"""Accuracy against latency (utils.rag.tradeoff): the sweep, the choice within a budget, the plot, bad input."""

from dataclasses import dataclass
from types import SimpleNamespace

import matplotlib.pyplot as plt
import pytest

from utils.core.stats import proportion
from utils.rag import tradeoff


@dataclass
class FakePipeline:
    """Answers right when k reaches the question's 'needs'; the pipeline the sweep copies with replace()."""
    k: int = 1
    focus_units: int | None = 2

    def answer(self, questions):
        return [SimpleNamespace(text=f"k{self.k}", k=self.k) for _ in questions]


QUESTIONS = [SimpleNamespace(question=f"q{i}", needs=need) for i, need in enumerate([1, 1, 2, 3])]


def right(answer, question):
    return answer.k >= question.needs


def result(k, accuracy_hits, n, p95):
    return tradeoff.SettingResult({"k": k}, proportion([1] * accuracy_hits + [0] * (n - accuracy_hits)), p95 / 2,
                                  p95, 5)


def test_sweep_scores_and_times_every_setting_on_a_copy():
    pipeline = FakePipeline()
    seen = []
    results = tradeoff.sweep(pipeline, [{"k": 1}, {"k": 3, "focus_units": None}], QUESTIONS, right, ["a", "b", "c"],
                             progress=lambda i, n, label: seen.append((i, n, label)))
    assert [r.accuracy.value for r in results] == [0.5, 1.0] and [r.accuracy.n for r in results] == [4, 4]
    assert all(r.latency_samples == 3 and 0 <= r.p50_ms <= r.p95_ms for r in results)
    assert pipeline.k == 1, "the sweep must not change the pipeline it was given"
    assert seen == [(0, 2, "k=1"), (1, 2, "k=3, focus=all")]
    assert results[1].as_record()["setting"] == {"k": 3, "focus_units": None}


def test_the_choice_is_the_most_accurate_setting_within_the_budget():
    results = [result(1, 50, 100, 300), result(3, 70, 100, 900), result(5, 80, 100, 2500)]
    assert tradeoff.most_accurate(results).setting == {"k": 5}
    assert tradeoff.best_within_budget(results, 1000).setting == {"k": 3}
    assert tradeoff.best_within_budget(results, 100) is None
    tie = [result(3, 70, 100, 900), result(4, 70, 100, 600)]
    assert tradeoff.best_within_budget(tie, 1000).setting == {"k": 4}, "a tie goes to the faster setting"


def test_plot_marks_the_budget_and_the_choice():
    results = [result(1, 50, 100, 300), result(5, 80, 100, 2500)]
    fig = tradeoff.plot_tradeoff(results, 1000, tradeoff.best_within_budget(results, 1000))
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[0].startswith("latency budget 1,000 ms") and any("chosen within the budget: k=1" in t for t in labels)
    plt.close(fig)


def test_bad_input_says_what_is_expected():
    with pytest.raises(ValueError, match="No settings to sweep"):
        tradeoff.sweep(FakePipeline(), [], QUESTIONS, right, ["a"])
    with pytest.raises(ValueError, match="Unknown setting temperature"):
        tradeoff.sweep(FakePipeline(), [{"temperature": 0.5}], QUESTIONS, right, ["a"])
    with pytest.raises(ValueError, match="at least one question to time"):
        tradeoff.sweep(FakePipeline(), [{"k": 1}], QUESTIONS, right, [])
    with pytest.raises(ValueError, match="positive number of milliseconds"):
        tradeoff.best_within_budget([result(1, 1, 2, 10)], 0)
    with pytest.raises(ValueError, match="No sweep results"):
        tradeoff.most_accurate([])
