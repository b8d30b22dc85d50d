"""Measure the custom model, the fine-tune and RAG on one task, the same way, and put them side by side.

What is measured, and how (notebook 05 prints this module's numbers, it never types them):

- **seconds** with ``Stopwatch`` (wall clock, ``time.perf_counter``) around the work itself: building
  (training or indexing) and updating. Loading a pre-trained model is counted apart, as ``load_seconds``
  of the serving process, because every approach that uses it pays it once per process, not per build.
- **money** = seconds × a price per hour (``Prices``). The seconds are measured on this machine; the GPU
  column divides CPU seconds by an *assumed* speed-up (and vice versa on a GPU), and says so.
- **latency per answer** and **peak memory** in a *fresh process per approach* (``measure_serving``), as a
  server would run it: load the approach, answer one warm-up question, then each question alone
  (batch of one) on the clock. Peak memory is that process's peak resident set size (``peak_rss_mb``), so
  it holds exactly what the approach needs (Python, libraries, weights, index, activations) and
  nothing the notebook loaded for the other two.
- **serving cost per 1 000 questions** from the *batched* evaluation run (seconds per answer when
  questions arrive together, which is how a busy service runs) × the price per hour.
"""

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from utils.core.runtime import answer_request, run_in_fresh_process
from utils.course.results import latency_percentiles, peak_rss_mb
from utils.decide.situation import APPROACHES
from utils.rag.system import load_rag

COLORS = {"custom": "#4C72B0", "fine-tune": "#DD8452", "rag": "#55A868"}


# ---------------------------------------------------------------------------------------------
# Time and money
# ---------------------------------------------------------------------------------------------

class Stopwatch:
    """``with Stopwatch() as watch: ...`` then ``watch.seconds``."""

    def __enter__(self):
        self.seconds, self._started = 0.0, time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._started
        return False


@dataclass(frozen=True)
class Prices:
    """What an hour of compute costs, in US dollars; change them to your cloud's prices.

    ``gpu_speedup`` is an assumption, not a measurement: how many times faster a GPU does the same
    work. Small models on tiny batches gain far less than the big numbers quoted for training LLMs.
    """
    cpu_per_hour: float = 0.10      # a small 2-vCPU cloud machine
    gpu_per_hour: float = 2.50      # one data-centre GPU, on demand
    gpu_speedup: float = 10.0

    def __post_init__(self):
        for name in ("cpu_per_hour", "gpu_per_hour", "gpu_speedup"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"Prices.{name} must be a positive number, got {value!r}.")


def compute_cost(seconds: float, prices: Prices = Prices(), measured_on: str = "cpu") -> dict[str, float]:
    """Dollars for ``seconds`` of work measured on ``measured_on`` ("cpu", or "cuda"/"mps" for a GPU)."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}.")
    if measured_on not in ("cpu", "cuda", "mps"):
        raise ValueError(f"measured_on must be 'cpu', 'cuda' or 'mps', got {measured_on!r}.")
    cpu_seconds = seconds if measured_on == "cpu" else seconds * prices.gpu_speedup
    gpu_seconds = cpu_seconds / prices.gpu_speedup
    return {"cpu_usd": cpu_seconds / 3600 * prices.cpu_per_hour, "gpu_usd": gpu_seconds / 3600 * prices.gpu_per_hour}


def serving_cost_per_1000(seconds_per_answer: float, prices: Prices = Prices(), measured_on: str = "cpu") -> dict:
    """Dollars to answer 1 000 questions at the measured seconds per answer."""
    return compute_cost(1000 * seconds_per_answer, prices, measured_on)


# ---------------------------------------------------------------------------------------------
# Answering the held-out questions, batched, and scoring them
# ---------------------------------------------------------------------------------------------

@dataclass
class Answers:
    """One approach's answers to some held-out questions, by question id, and the seconds it took."""
    by_id: dict[str, str]
    seconds: float                 # wall time of the batched run that produced the new answers
    count: int                     # how many answers that run produced

    @property
    def seconds_per_answer(self) -> float:
        return self.seconds / self.count if self.count else 0.0


def answer_questions(answer, questions, known: Answers | None = None) -> Answers:
    """Call ``answer(list of question texts)`` once, batched, for the questions ``known`` lacks.

    Generation is deterministic, so an approach that has not changed gives the same answer twice;
    reusing ``known`` saves re-generating them (the stale systems before the update, for instance).
    """
    if isinstance(questions, (str, dict)) or not questions:
        raise ValueError("questions must be a non-empty list of held-out questions (utils.compare.answer_cards.load_held_out).")
    todo = [q for q in questions if known is None or q.id not in known.by_id]
    by_id = dict(known.by_id) if known else {}
    seconds = 0.0
    if todo:
        with Stopwatch() as watch:
            texts = answer([q.question for q in todo])
        if len(texts) != len(todo):
            raise ValueError(f"The answer function returned {len(texts)} answers for {len(todo)} questions.")
        by_id.update({q.id: t for q, t in zip(todo, texts)})
        seconds = watch.seconds
    return Answers(by_id, seconds, len(todo))


def accuracy_on(answers: Answers, questions, cards, after_update: bool = False, strict: bool = False) -> float:
    """Share of ``questions`` answered right, judged by the cards' facts before or after the update."""
    return estimate_on(answers, questions, cards, after_update, strict).value


def estimate_on(answers: Answers, questions, cards, after_update: bool = False, strict: bool = False):
    """``accuracy_on`` with its ``n`` and 95 % Wilson interval (a ``utils.core.stats.Estimate``)."""
    from utils.core.stats import proportion

    right = outcomes_on(answers, questions, cards, after_update, strict)
    if not right:
        raise ValueError("No test questions to score.")
    return proportion(right)


def outcomes_on(answers: Answers, questions, cards, after_update: bool = False, strict: bool = False) -> list[bool]:
    """Right or wrong for each of ``questions``, lenient or strict: the input of intervals and paired differences."""
    from utils.compare.answer_cards import score

    missing = [q.id for q in questions if q.id not in answers.by_id]
    if missing:
        raise ValueError(f"No answer yet for {', '.join(missing[:5])}: run answer_questions on them first.")
    return score([answers.by_id[q.id] for q in questions], questions, cards, after_update, strict)


# ---------------------------------------------------------------------------------------------
# The three approaches, as functions from questions to answers
# ---------------------------------------------------------------------------------------------

def finetune_answers(model, tokenizer, questions: list[str], max_new_tokens: int = 24, batch_size: int = 16,
                     progress: bool = False):
    """The fine-tuned LLM answers from its weights alone, in the prompt format it was trained on."""
    from utils.compare.card_prompts import qa_prompt
    from utils.core.generation import generate

    return generate(model, tokenizer, [qa_prompt(tokenizer, q) for q in questions], max_new_tokens, batch_size,
                    progress)


def load_answerer(approach: str, spec: dict):
    """Load one approach from what the notebook saved; returns ``answer(questions) -> list of answers``.

    - ``custom``:    ``{"folder": ...}`` from ``CardClassifier.save``
    - ``fine-tune``: ``{"adapter": ..., "model_id": None, "max_new_tokens": 24}`` from ``utils.finetune.lora.save_adapter``
    - ``rag``:       ``{"folder": ..., "model_id": None, "embedder_id": None}`` from ``RagSystem.save``
    """
    if approach not in APPROACHES:
        raise ValueError(f"Unknown approach {approach!r}: choose one of {', '.join(APPROACHES)}.")
    if approach == "custom":
        from utils.compare.card_classifier import CardClassifier

        return CardClassifier.load(spec["folder"]).answer
    from utils.core.models import load_llm
    from utils.rag.system import needs_generator

    generates = approach == "fine-tune" or needs_generator(spec["folder"])
    model, tokenizer = load_llm(spec.get("model_id")) if generates else (None, None)   # a quoting RAG needs no LLM
    if approach == "fine-tune":
        from utils.finetune.lora import load_adapter

        model = load_adapter(model, spec["adapter"])
        return lambda questions: finetune_answers(model, tokenizer, questions, spec.get("max_new_tokens", 24),
                                                  progress=False).texts
    from utils.core.models import load_embedder

    return load_rag(spec["folder"], model, tokenizer, load_embedder(spec.get("embedder_id"))).answer


# ---------------------------------------------------------------------------------------------
# Serving: latency and peak memory in a fresh process
# ---------------------------------------------------------------------------------------------

@dataclass
class ServingReport:
    approach: str
    latencies_ms: list[float]     # one per question, each answered alone
    load_seconds: float           # imports excluded: loading weights, adapter, index
    baseline_mb: float            # peak RSS after the imports, before loading anything
    peak_mb: float                # peak RSS of the whole serving process
    answers: list[str] = field(default_factory=list)

    @property
    def p50(self) -> float:
        return latency_percentiles(self.latencies_ms)["p50"]

    @property
    def p95(self) -> float:
        return latency_percentiles(self.latencies_ms)["p95"]


def _serve(approach: str, spec: dict, questions: list[str], warmup: int = 1) -> dict:
    """Runs inside the serving subprocess: load, warm up, answer each question alone on the clock."""
    import torch  # noqa: F401  (imported before the baseline, as every approach needs it)

    import utils.compare.card_classifier  # noqa: F401  (the custom model's module, for every approach alike)
    if approach != "custom":
        import transformers  # noqa: F401
    baseline = peak_rss_mb()
    with Stopwatch() as loading:
        answer = load_answerer(approach, spec)
    for question in questions[:warmup]:     # first calls allocate buffers and pick kernels
        answer([question])
    latencies, answers = [], []
    for question in questions:
        with Stopwatch() as watch:
            answers.append(answer([question])[0])
        latencies.append(watch.seconds * 1000)
    return asdict(ServingReport(approach, latencies, loading.seconds, baseline, peak_rss_mb(), answers))


def measure_serving(approach: str, spec: dict, questions: list[str], warmup: int = 1,
                    timeout: float = 600) -> ServingReport:
    """Serve ``questions`` one at a time from a fresh Python process; return latencies and peak memory."""
    if approach not in APPROACHES:
        raise ValueError(f"Unknown approach {approach!r}: choose one of {', '.join(APPROACHES)}.")
    if isinstance(questions, str) or not questions:
        raise ValueError("questions must be a non-empty list of strings to time.")
    if not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be a whole number >= 0, got {warmup!r}.")
    request = {"approach": approach, "spec": spec, "questions": list(questions), "warmup": warmup}
    return ServingReport(**run_in_fresh_process("utils.compare.side_by_side", request, f"{approach} serving", timeout))


# ---------------------------------------------------------------------------------------------
# One row per approach: the table, the figure, the claim and the decision
# ---------------------------------------------------------------------------------------------

def approach_results(*, accuracy: float, accuracy_stale: float, accuracy_after_update: float, serving: "ServingReport",
                     build_seconds: float, update_seconds: float, update_work: str, labelled_examples: int,
                     update_labelled_examples: int, serving_seconds_per_answer: float,
                     prices: Prices = Prices(), intervals: dict | None = None) -> dict:
    """One approach's row of the comparison: what was measured, plus what it costs at ``prices``.

    ``intervals`` maps accuracy names to their ``Estimate`` (``{"accuracy": estimate_on(...)}``); each is
    kept as ``<name>_interval`` (value, n, 95 % interval), which the plot draws as error bars.
    """
    row = {"accuracy": accuracy, "accuracy_stale": accuracy_stale, "accuracy_after_update": accuracy_after_update,
           "latency_ms_p50": serving.p50, "latency_ms_p95": serving.p95,
           "build_seconds": build_seconds, "update_seconds": update_seconds, "update_work": update_work,
           "labelled_examples": labelled_examples, "update_labelled_examples": update_labelled_examples,
           "peak_mb": serving.peak_mb, "load_seconds": serving.load_seconds,
           "serving_seconds_per_answer": serving_seconds_per_answer}
    for what, seconds in (("build_cost", build_seconds), ("update_cost", update_seconds)):
        for unit, usd in compute_cost(seconds, prices).items():
            row[f"{what}_{unit}"] = usd
    for unit, usd in serving_cost_per_1000(serving_seconds_per_answer, prices).items():
        row[f"serving_cost_per_1000_{unit}"] = usd
    for name, estimate in (intervals or {}).items():
        if name not in row or not hasattr(estimate, "as_record"):
            raise ValueError(f"intervals[{name!r}] must be the Estimate of one of this row's accuracies.")
        row[f"{name}_interval"] = estimate.as_record()
    return row


REQUIRED = ("accuracy", "latency_ms_p50", "latency_ms_p95", "build_seconds", "update_seconds",
            "accuracy_stale", "accuracy_after_update", "labelled_examples", "peak_mb")


def _check_results(results: dict) -> None:
    if not isinstance(results, dict) or not results:
        raise ValueError("results must be a dict {approach: {metric: value}} with at least one approach.")
    for approach, row in results.items():
        missing = [m for m in REQUIRED if m not in row]
        if missing:
            raise ValueError(f"results[{approach!r}] lacks {', '.join(missing)}.")


def comparison_table(results: dict) -> str:
    """The side-by-side table in Markdown: one row per approach (display with IPython.display.Markdown)."""
    from utils.core.tables import markdown_table

    _check_results(results)
    headers = ["approach", "accuracy", "changed questions: stale → updated", "latency p50 / p95 (ms)",
               "build s", "build $ CPU / GPU", "update s", "update work", "serve $ / 1 000 q CPU / GPU",
               "labelled examples", "peak MB"]
    rows = []
    for name, r in results.items():
        rows.append([name, f"{r['accuracy']:.2f}", f"{r['accuracy_stale']:.2f} → {r['accuracy_after_update']:.2f}",
                     f"{r['latency_ms_p50']:,.1f} / {r['latency_ms_p95']:,.1f}", f"{r['build_seconds']:,.1f}",
                     f"{r.get('build_cost_cpu_usd', 0):.5f} / {r.get('build_cost_gpu_usd', 0):.5f}",
                     f"{r['update_seconds']:,.2f}", r.get("update_work", ""),
                     f"{r.get('serving_cost_per_1000_cpu_usd', 0):.4f} / {r.get('serving_cost_per_1000_gpu_usd', 0):.4f}",
                     f"{r['labelled_examples']:,}", f"{r['peak_mb']:,.0f}"])
    return markdown_table(headers, rows)


def plot_side_by_side(results: dict):
    """Four panels: accuracy and freshness, latency, build vs update seconds, peak memory."""
    import matplotlib.pyplot as plt

    from utils.core.plots import error_bars

    _check_results(results)
    names = list(results)
    colors = [COLORS.get(n, "gray") for n in names]
    x = np.arange(len(names))
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.8))

    ax = axes[0]
    bars = [("accuracy", "held-out questions", 1.0), ("accuracy_stale", "changed, stale", 0.35),
            ("accuracy_after_update", "changed, after update work", 0.7)]
    for i, (key, label, alpha) in enumerate(bars):
        spans = [results[n].get(f"{key}_interval") for n in names]
        errors = None if None in spans else error_bars(spans)
        ax.bar(x + (i - 1) * 0.27, [results[n][key] for n in names], 0.27, color=colors, alpha=alpha, yerr=errors,
               capsize=2,
               edgecolor="black", linewidth=0.5, label=label, hatch=["", "//", ".."][i])
    ax.axhline(0.8, color="gray", linestyle=":", linewidth=1)
    ax.set(xticks=x, xticklabels=names, ylim=(0, 1.05), title="Accuracy, 95 % intervals (dotted: 0.8)")
    ax.legend(fontsize=7, loc="upper left")

    ax = axes[1]
    p50 = np.array([results[n]["latency_ms_p50"] for n in names])
    p95 = np.array([results[n]["latency_ms_p95"] for n in names])
    ax.bar(x, p50, color=colors, edgecolor="black", linewidth=0.5)
    ax.errorbar(x, p50, yerr=[np.zeros_like(p50), p95 - p50], fmt="none", ecolor="black", capsize=4)
    ax.set(xticks=x, xticklabels=names, yscale="log", title="Latency per answer, ms (bar p50, whisker p95)")

    ax = axes[2]
    for i, (key, label, alpha) in enumerate([("build_seconds", "build", 1.0), ("update_seconds", "update", 0.45)]):
        values = [max(results[n][key], 1e-3) for n in names]
        ax.bar(x + (i - 0.5) * 0.38, values, 0.38, color=colors, alpha=alpha, edgecolor="black", linewidth=0.5,
               label=label, hatch=["", "//"][i])
    ax.set(xticks=x, xticklabels=names, yscale="log", title="Seconds to build and to update")
    ax.legend(fontsize=7)

    ax = axes[3]
    ax.bar(x, [results[n]["peak_mb"] for n in names], color=colors, edgecolor="black", linewidth=0.5)
    for xi, n in zip(x, names):
        ax.annotate(f"{results[n]['labelled_examples']} labels", (xi, results[n]["peak_mb"]), ha="center",
                    va="bottom", fontsize=7)
    ax.set(xticks=x, xticklabels=names, title="Peak memory serving, MB")
    fig.tight_layout()
    return fig


def check_claim(results: dict, accuracy_floor: float = 0.8, speedup: float = 10.0) -> dict:
    """The course's claim: RAG keeps ``accuracy_after_update`` >= 0.8 with an update under a tenth of the fine-tune's."""
    _check_results(results)
    if "rag" not in results or "fine-tune" not in results:
        raise ValueError("The claim compares 'rag' with 'fine-tune': results needs both.")
    rag, tune = results["rag"], results["fine-tune"]
    ratio = rag["update_seconds"] / tune["update_seconds"] if tune["update_seconds"] > 0 else math.inf
    accurate, fast = rag["accuracy_after_update"] >= accuracy_floor, ratio < 1 / speedup
    span = rag.get("accuracy_after_update_interval")
    return {"rag_accuracy_after_update": rag["accuracy_after_update"], "update_ratio": ratio,
            "accuracy_holds": accurate, "speed_holds": fast, "holds": accurate and fast,
            # with an interval: does all of it clear the floor (True), none of it (False), or is it undecided (None)?
            "accuracy_certain": None if span is None or span["low"] < accuracy_floor <= span["high"]
            else span["low"] >= accuracy_floor}


@dataclass
class Choice:
    approach: str                 # what the measurements pick
    passing: list[str]            # the approaches that met every requirement (empty: none did)
    notes: list[str]              # one line per approach: what it missed, or that it met everything

    def __str__(self) -> str:
        how = ("the cheapest update among those meeting every requirement" if self.passing else
               "no approach meets every requirement, so the most accurate after the update")
        return f"The measurements pick {self.approach!r} ({how}):\n" + "\n".join(f"  - {n}" for n in self.notes)


def measured_choice(results: dict, latency_budget_ms: float, accuracy_floor: float = 0.8) -> Choice:
    """What the numbers alone pick. The requirements: p95 latency within the budget, accuracy at least
    ``accuracy_floor`` on the held-out questions and on the changed ones after the update. Among the
    approaches that meet all of them, the one with the cheapest update wins; if none does, the most
    accurate after the update (the first on a tie)."""
    _check_results(results)
    notes, passing = [], []
    for name, r in results.items():
        problems = []
        if r["latency_ms_p95"] > latency_budget_ms:
            problems.append(f"p95 {r['latency_ms_p95']:,.0f} ms > budget {latency_budget_ms:,.0f} ms")
        for key, label in (("accuracy", "accuracy"), ("accuracy_after_update", "accuracy after update")):
            if r[key] < accuracy_floor:
                problems.append(f"{label} {r[key]:.2f} < {accuracy_floor}")
        notes.append(f"{name}: " + ("; ".join(problems) if problems else "meets every requirement"))
        if not problems:
            passing.append(name)
    if passing:
        return Choice(min(passing, key=lambda n: results[n]["update_seconds"]), passing, notes)
    return Choice(max(results, key=lambda n: results[n]["accuracy_after_update"]), [], notes)


def situation_from_measurements(results: dict, *, knowledge_change: str, latency_budget_ms: float, budget_usd: float,
                                pretrained_fit: str, needs_sources: bool):
    """A ``utils.decide.situation.Situation``: the labelled-data count is measured (what the supervised approaches
    needed), the rest are the business's answers, passed in by the notebook."""
    from utils.decide.situation import Situation

    _check_results(results)
    labelled = max(int(r["labelled_examples"]) for r in results.values())
    return Situation(labelled_examples=labelled, knowledge_change=knowledge_change,
                     latency_budget_ms=latency_budget_ms, budget_usd=budget_usd, pretrained_fit=pretrained_fit,
                     needs_sources=needs_sources)


if __name__ == "__main__":  # the serving process of ``measure_serving``
    answer_request(_serve)
