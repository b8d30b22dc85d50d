"""Accuracy against latency: sweep a pipeline's settings on dev, then pick the most accurate one within a budget.

The accuracy-first mistake is to pick the setting with the best dev accuracy and learn in production that its
slow tail breaks the latency budget. Here every setting gets both numbers, each measured the way it matters:
strict accuracy over the dev questions (answered in one batch, as an evaluation would), and latency one question
at a time, as a customer waits for it (p50 and p95 over ``latency_questions``, wall clock around
``RagPipeline.answer``). The choice is the most accurate setting whose p95 is within the budget; a tie in accuracy
goes to the faster one.
"""

import time
from dataclasses import dataclass, replace

from utils.core.stats import Estimate, proportion
from utils.course.results import latency_percentiles

SETTING_FIELDS = ("k", "focus_units", "budget_tokens", "max_new_tokens", "answer_mode")


@dataclass(frozen=True)
class SettingResult:
    setting: dict
    accuracy: Estimate
    p50_ms: float
    p95_ms: float
    latency_samples: int

    @property
    def label(self) -> str:
        return ", ".join(f"{'focus' if name == 'focus_units' else name}={'all' if value is None else value}"
                         for name, value in self.setting.items())

    def as_record(self) -> dict:
        return {"setting": dict(self.setting), "accuracy": self.accuracy.as_record(), "p50_ms": self.p50_ms,
                "p95_ms": self.p95_ms, "latency_samples": self.latency_samples}


def _check_settings(settings: list[dict]) -> None:
    if not settings:
        raise ValueError("No settings to sweep: pass a list of dicts such as [{'k': 3, 'focus_units': 2}].")
    for setting in settings:
        unknown = sorted(set(setting) - set(SETTING_FIELDS))
        if unknown:
            raise ValueError(f"Unknown setting {', '.join(unknown)}: a sweep may vary {', '.join(SETTING_FIELDS)}.")


def sweep(pipeline, settings: list[dict], questions, outcome, latency_questions: list[str],
          progress=None) -> list[SettingResult]:
    """Every setting applied to a copy of ``pipeline``; ``outcome(answer, question) -> bool`` scores one answer.

    ``questions`` carry ``.question`` (the dev questions the accuracy is measured on); ``latency_questions`` are
    plain strings, each answered alone and timed. ``progress(i, n, label)`` is called before each setting.
    """
    _check_settings(settings)
    if not questions or not latency_questions:
        raise ValueError("A sweep needs dev questions to score and at least one question to time.")
    results = []
    for index, setting in enumerate(settings):
        variant = replace(pipeline, **setting)
        if progress:
            progress(index, len(settings), SettingResult(setting, None, 0, 0, 0).label)
        answers = variant.answer([q.question for q in questions])
        accuracy = proportion([bool(outcome(a, q)) for a, q in zip(answers, questions)])
        timings = []
        for question in latency_questions:
            started = time.perf_counter()
            variant.answer([question])
            timings.append((time.perf_counter() - started) * 1000)
        summary = latency_percentiles(timings)
        results.append(SettingResult(dict(setting), accuracy, summary["p50"], summary["p95"], len(timings)))
    return results


def most_accurate(results: list[SettingResult]) -> SettingResult:
    """The setting an accuracy-first choice takes: best accuracy, then the faster one."""
    if not results:
        raise ValueError("No sweep results to choose from.")
    return max(results, key=lambda r: (r.accuracy.value, -r.p95_ms))


def best_within_budget(results: list[SettingResult], budget_ms: float) -> SettingResult | None:
    """The most accurate setting whose p95 latency is within ``budget_ms`` (None if none is)."""
    if not isinstance(budget_ms, (int, float)) or isinstance(budget_ms, bool) or budget_ms <= 0:
        raise ValueError(f"budget_ms must be a positive number of milliseconds, got {budget_ms!r}.")
    fitting = [r for r in results if r.p95_ms <= budget_ms]
    return most_accurate(fitting) if fitting else None


def plot_tradeoff(results: list[SettingResult], budget_ms: float, chosen: SettingResult | None, title: str = ""):
    """Strict accuracy (95 % intervals) against p95 latency, the budget drawn, the choice and the most accurate marked."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4))
    for r in results:
        ax.errorbar(r.p95_ms, r.accuracy.value, yerr=[[r.accuracy.value - r.accuracy.low],
                                                      [r.accuracy.high - r.accuracy.value]],
                    fmt="o", color="tab:blue", alpha=0.8, capsize=3)
        ax.annotate(r.label, (r.p95_ms, r.accuracy.value), fontsize=7, textcoords="offset points", xytext=(5, 3))
    ax.axvline(budget_ms, color="tab:red", linestyle="--", label=f"latency budget {budget_ms:,.0f} ms (p95)")
    best = most_accurate(results)
    ax.scatter([best.p95_ms], [best.accuracy.value], s=160, facecolors="none", edgecolors="tab:orange",
               linewidths=2, label=f"most accurate: {best.label}", zorder=3)
    if chosen is not None:
        ax.scatter([chosen.p95_ms], [chosen.accuracy.value], s=260, facecolors="none", edgecolors="tab:green",
                   linewidths=2, label=f"chosen within the budget: {chosen.label}", zorder=3)
    ax.set(xlabel="p95 latency, one question at a time (ms)", ylabel="strict accuracy on dev",
           title=title or "Accuracy against latency, measured on dev")
    ax.legend(fontsize=7, loc="lower right")
    return fig
