"""Unit tests for utils.compare.side_by_side: costs, latency, the serving process, the RAG glue, table, figure, claim, decision.

No LLM and no embedding model is loaded: RAG is built around a hashing "embedder", the serving process
serves the tiny custom classifier, and generation runs on a random two-layer Llama.
"""


import numpy as np
import pytest

from utils.compare import side_by_side as sbs
from utils.compare.answer_cards import Card
from utils.compare.card_classifier import HashedNgrams, train_card_classifier
from utils.course.results import latency_percentiles
from utils.decide.situation import APPROACHES

TINY = [Card("kettle", "d1", "unchanged", "Kettle answer 1.", ("1",), None, None,
             ("kettle boil water", "how hot kettle", "kettle tea temperature"), "kettle for tea"),
        Card("vacuum", "d2", "unchanged", "Vacuum answer 2.", ("2",), None, None,
             ("vacuum battery charge", "robot vacuum runtime", "vacuum dust bin"), "robot vacuum battery")]


# --- time and money ----------------------------------------------------------------------------------------

def test_compute_cost_on_cpu_and_gpu():
    prices = sbs.Prices(cpu_per_hour=0.10, gpu_per_hour=2.50, gpu_speedup=10)
    cost = sbs.compute_cost(3600, prices)
    assert cost["cpu_usd"] == pytest.approx(0.10)
    assert cost["gpu_usd"] == pytest.approx(0.25)          # 360 GPU seconds at $2.50 an hour
    on_gpu = sbs.compute_cost(360, prices, measured_on="cuda")  # measured on a GPU: the CPU column is the estimate
    assert on_gpu["gpu_usd"] == pytest.approx(0.25) and on_gpu["cpu_usd"] == pytest.approx(0.10)
    assert sbs.serving_cost_per_1000(3.6, prices)["cpu_usd"] == pytest.approx(0.10)
    assert sbs.compute_cost(0)["cpu_usd"] == 0


@pytest.mark.parametrize("kwargs", [{"cpu_per_hour": 0}, {"gpu_per_hour": -1}, {"gpu_speedup": float("nan")},
                                    {"cpu_per_hour": "0.1"}])
def test_prices_must_be_positive_numbers(kwargs):
    with pytest.raises(ValueError, match="positive number"):
        sbs.Prices(**kwargs)


@pytest.mark.parametrize("seconds, measured_on, words", [(-1, "cpu", "seconds"), (float("inf"), "cpu", "seconds"),
                                                         (1, "tpu", "measured_on")])
def test_compute_cost_rejects_bad_input(seconds, measured_on, words):
    with pytest.raises(ValueError, match=words):
        sbs.compute_cost(seconds, measured_on=measured_on)


def test_latency_percentiles_match_numpy():
    values = [5.0, 1.0, 3.0, 2.0, 4.0, 100.0]
    result = latency_percentiles(values)
    assert result == {"p50": float(np.percentile(values, 50)), "p95": float(np.percentile(values, 95))}
    for bad in ([], [1.0, -2.0], [float("nan")]):
        with pytest.raises(ValueError):
            latency_percentiles(bad)


def test_stopwatch_and_peak_rss():
    import time

    with sbs.Stopwatch() as watch:
        time.sleep(0.02)
    assert 0.015 < watch.seconds < 1
    assert sbs.peak_rss_mb() > 10


def test_answer_questions_reuses_known_answers_and_scores_them():
    from utils.compare.answer_cards import HeldOutQuestion

    questions = [HeldOutQuestion("t1", "kettle", "kettle?", "handwritten"),
                 HeldOutQuestion("t2", "vacuum", "vacuum?", "handwritten")]
    calls = []

    def answer(texts):
        calls.append(list(texts))
        return [f"It is {1 if 'kettle' in t else 3}." for t in texts]

    first = sbs.answer_questions(answer, questions[:1])
    assert first.by_id == {"t1": "It is 1."} and first.count == 1 and first.seconds_per_answer >= 0
    both = sbs.answer_questions(answer, questions, known=first)
    assert calls == [["kettle?"], ["vacuum?"]], "only the new question is answered"
    assert both.count == 1 and set(both.by_id) == {"t1", "t2"}
    assert sbs.accuracy_on(both, questions, TINY) == 0.5
    with pytest.raises(ValueError, match="No answer yet for t2"):
        sbs.accuracy_on(first, questions, TINY)
    with pytest.raises(ValueError, match="returned 0 answers"):
        sbs.answer_questions(lambda texts: [], questions)
    with pytest.raises(ValueError, match="non-empty list"):
        sbs.answer_questions(answer, [])


# --- the serving process ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def saved_classifier(tmp_path_factory):
    folder = tmp_path_factory.mktemp("custom")
    clf, _ = train_card_classifier(TINY, featurizer=HashedNgrams(buckets=256), dim=8, hidden=8, epochs=30, lr=2e-2,
                                   batch_size=2, patience=None)
    clf.save(folder)
    return folder, clf


def test_serve_in_process_times_each_question_alone(saved_classifier):
    folder, clf = saved_classifier
    questions = ["kettle tea", "vacuum battery", "kettle boil"]
    report = sbs.ServingReport(**sbs._serve("custom", {"folder": str(folder)}, questions, warmup=1))
    assert report.answers == clf.answer(questions)
    assert len(report.latencies_ms) == 3 and all(ms > 0 for ms in report.latencies_ms)
    assert report.peak_mb >= report.baseline_mb > 0 and report.load_seconds >= 0
    assert report.p50 <= report.p95


def test_measure_serving_runs_a_fresh_process(saved_classifier):
    folder, clf = saved_classifier
    report = sbs.measure_serving("custom", {"folder": str(folder)}, ["kettle tea", "robot vacuum"], warmup=0)
    assert report.answers == clf.answer(["kettle tea", "robot vacuum"])
    assert report.peak_mb > 50, "a process that imported torch holds far more than 50 MB"


@pytest.mark.parametrize("approach, questions, warmup, words", [
    ("llama", ["q"], 1, "Unknown approach"), ("custom", [], 1, "non-empty list"),
    ("custom", "one question", 1, "non-empty list"), ("custom", ["q"], -1, "warmup")])
def test_measure_serving_rejects_bad_input(approach, questions, warmup, words):
    with pytest.raises(ValueError, match=words):
        sbs.measure_serving(approach, {}, questions, warmup)


def test_load_answerer_rejects_unknown_approach():
    with pytest.raises(ValueError, match="Unknown approach"):
        sbs.load_answerer("prompting", {})


def test_finetune_answers_generate_in_the_training_prompt_format(make_tiny_llama):
    model, tokenizer = make_tiny_llama(
        16, 32, layers=1, heads=2, kv_heads=1,
        chat_template="{% for m in messages %}{{ m['role'] + ': ' + m['content'] + '\n' }}{% endfor %}")
    out = sbs.finetune_answers(model, tokenizer, ["How long is the warranty?", "Two?"], max_new_tokens=3)
    assert len(out.texts) == 2 and 0 < out.new_tokens <= 6


# --- table, figure, claim, decision ------------------------------------------------------------------------

def results(**rag_changes):
    row = {"accuracy": 0.9, "latency_ms_p50": 1.0, "latency_ms_p95": 2.0, "build_seconds": 3.0, "update_seconds": 3.0,
           "accuracy_stale": 0.0, "accuracy_after_update": 0.9, "labelled_examples": 195, "peak_mb": 300.0,
           "update_work": "relabel + retrain"}
    return {"custom": row,
            "fine-tune": {**row, "latency_ms_p50": 900.0, "latency_ms_p95": 1500.0, "update_seconds": 40.0,
                          "accuracy_after_update": 0.5, "peak_mb": 1500.0},
            "rag": {**row, "latency_ms_p50": 2500.0, "latency_ms_p95": 4000.0, "update_seconds": 1.0,
                    "labelled_examples": 0, "peak_mb": 1800.0, **rag_changes}}


def test_comparison_table_has_a_row_per_approach():
    table = sbs.comparison_table(results())
    lines = table.splitlines()
    assert len(lines) == 2 + 3 and lines[2].startswith("| custom |") and "0.00 → 0.90" in lines[2]
    assert "2,500.0 / 4,000.0" in table
    bad = results()
    del bad["rag"]["peak_mb"]
    with pytest.raises(ValueError, match="lacks peak_mb"):
        sbs.comparison_table(bad)
    with pytest.raises(ValueError, match="at least one approach"):
        sbs.comparison_table({})


def test_plot_side_by_side_draws_four_panels():
    import matplotlib

    matplotlib.use("Agg")
    fig = sbs.plot_side_by_side(results())
    assert len(fig.axes) == 4 and "Accuracy" in fig.axes[0].get_title()


def test_check_claim_both_ways():
    claim = sbs.check_claim(results())
    assert claim["holds"] and claim["update_ratio"] == pytest.approx(1 / 40)
    slow = sbs.check_claim(results(update_seconds=5.0))
    assert slow["accuracy_holds"] and not slow["speed_holds"] and not slow["holds"]
    wrong = sbs.check_claim(results(accuracy_after_update=0.7))
    assert not wrong["accuracy_holds"] and not wrong["holds"]
    with pytest.raises(ValueError, match="needs both"):
        sbs.check_claim({"custom": results()["custom"]})


def test_measured_choice_filters_by_latency_and_accuracy():
    choice = sbs.measured_choice(results(), latency_budget_ms=5000)
    assert choice.approach == "rag" and choice.passing == ["custom", "rag"], "rag has the cheapest update"
    assert any("fine-tune: accuracy after update 0.50" in n for n in choice.notes)
    assert "cheapest update" in str(choice)
    choice = sbs.measured_choice(results(), latency_budget_ms=100)
    assert choice.approach == "custom" and any("rag: p95 4,000 ms > budget 100 ms" in n for n in choice.notes)
    choice = sbs.measured_choice(results(), latency_budget_ms=100, accuracy_floor=0.95)
    assert choice.approach == "custom" and choice.passing == [], "nothing passes: the most accurate, first on a tie"
    assert "no approach meets every requirement" in str(choice)


def test_situation_from_measurements_feeds_recommend():
    from utils.decide.rules import recommend

    situation = sbs.situation_from_measurements(results(), knowledge_change="monthly", latency_budget_ms=3000,
                                                budget_usd=20000, pretrained_fit="partial", needs_sources=False)
    assert situation.labelled_examples == 195
    assert recommend(situation).approach in APPROACHES
    with pytest.raises(ValueError, match="knowledge_change"):
        sbs.situation_from_measurements(results(), knowledge_change="hourly", latency_budget_ms=3000,
                                        budget_usd=1, pretrained_fit="partial", needs_sources=False)


def test_check_claim_reads_the_interval():
    span = lambda low, high: {"value": 0.85, "n": 50, "low": low, "high": high}  # noqa: E731
    assert sbs.check_claim(results())["accuracy_certain"] is None               # no interval recorded
    assert sbs.check_claim(results(accuracy_after_update_interval=span(0.81, 0.9)))["accuracy_certain"] is True
    assert sbs.check_claim(results(accuracy_after_update_interval=span(0.72, 0.9)))["accuracy_certain"] is None
    assert sbs.check_claim(results(accuracy_after_update=0.7,
                                   accuracy_after_update_interval=span(0.6, 0.79)))["accuracy_certain"] is False


def test_approach_results_keep_intervals_and_the_plot_draws_them():
    import matplotlib

    matplotlib.use("Agg")
    from utils.core.stats import proportion

    serving = sbs.ServingReport("rag", [1.0, 2.0], 0.1, 100.0, 200.0)
    estimate = proportion([1, 1, 0, 1])
    row = sbs.approach_results(accuracy=0.75, accuracy_stale=0.0, accuracy_after_update=0.75, serving=serving,
                               build_seconds=1.0, update_seconds=0.1, update_work="re-index", labelled_examples=0,
                               update_labelled_examples=0, serving_seconds_per_answer=0.01,
                               intervals={"accuracy": estimate})
    assert row["accuracy_interval"] == estimate.as_record()
    with pytest.raises(ValueError, match="Estimate of one of this row's accuracies"):
        sbs.approach_results(**{**dict(accuracy=0.75, accuracy_stale=0.0, accuracy_after_update=0.75,
                                       serving=serving, build_seconds=1.0, update_seconds=0.1, update_work="x",
                                       labelled_examples=0, update_labelled_examples=0,
                                       serving_seconds_per_answer=0.01)}, intervals={"latency": estimate})
    with_spans = results(accuracy_interval={"value": 0.9, "n": 40, "low": 0.77, "high": 0.96})
    for name in ("custom", "fine-tune"):
        with_spans[name] = {**with_spans[name], "accuracy_interval": {"value": 0.9, "n": 40, "low": 0.8, "high": 0.95}}
    fig = sbs.plot_side_by_side(with_spans)
    assert any(type(c).__name__ == "ErrorbarContainer" for c in fig.axes[0].containers)
