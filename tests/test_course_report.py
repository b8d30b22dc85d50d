"""utils.course.report: the merged course report."""

import json
import math
import re

import pytest

from utils.course import report, results


def E(value, n, low, high):  # noqa: N802 - reads like the Estimate it stands for
    """An ``Estimate.as_record()`` as a results file stores it."""
    return {"value": value, "n": n, "low": low, "high": high}


# Every key the notebooks record, with values from a real smoke run (repeated families shortened).
APPROACH = {
    "accuracy": 0.8, "accuracy_stale": 0, "accuracy_after_update": 1.0, "latency_ms_p50": 20.521,
    "latency_ms_p95": 20.521, "build_seconds": 2.341, "update_seconds": 0.25, "update_work": "re-index changed docs",
    "labelled_examples": 0, "update_labelled_examples": 0, "peak_mb": 567.363, "load_seconds": 3.152,
    "serving_seconds_per_answer": 0.105, "build_cost_cpu_usd": 6.5e-05, "build_cost_gpu_usd": 0.00016,
    "update_cost_cpu_usd": 7e-06, "update_cost_gpu_usd": 1.7e-05, "serving_cost_per_1000_cpu_usd": 0.003,
    "serving_cost_per_1000_gpu_usd": 0.007, "accuracy_interval": E(0.8, 5, 0.376, 0.964),
    "accuracy_stale_interval": E(0, 3, 0, 0.561), "accuracy_after_update_interval": E(1.0, 3, 0.439, 1.0),
}
REAL_METRICS = {
    "00_environment_check": {
        "device": "cpu", "cpu_cores": 2, "ram_gb": 23.5, "ram_available_gb": 22.9, "disk_free_gb": 77.6,
        "models_verified": True, "llm_parameters_m": 134.5, "llm_load_seconds": 20.1, "llm_tokens_per_second": 43.7,
        "embed_ms_per_sentence": 40.24, "network_reachable": False, "estimated_course_minutes": 36.0,
    },
    "01_choosing_an_approach": {
        "scenarios": 15, "scenarios_agreeing": 15, "close_calls": 2, "flips_for_flip_scenario": 3,
        "scenarios_without_single_flip": 8,
    },
    "02_custom_cnn": {
        "digits_test_accuracy": E(0.462, 359, 0.411, 0.514),
        "digits_baseline_accuracy": E(0.964, 359, 0.939, 0.979),
        "digits_cnn_minus_baseline": E(-0.501, 359, -0.554, -0.448),
        "digits_validation_accuracy": E(0.459, 270, 0.401, 0.519),
        "parts_test_accuracy": E(0.275, 40, 0.161, 0.428),
        "parts_baseline_accuracy": E(0.2, 40, 0.105, 0.348),
        "parts_cnn_minus_baseline": E(0.075, 40, -0.125, 0.275),
        "parts_validation_accuracy": E(0.25, 24, 0.12, 0.449),
        "parts_best_single_statistic": "max",
        "parts_best_single_statistic_accuracy": E(0.375, 40, 0.242, 0.53),
        "parts_defect_recall": E(1.0, 30, 0.886, 1.0),
        "parts_per_class": {"good": {"recall": E(0, 10, 0, 0.278), "precision": None},
                            "scratch": {"recall": E(0.9, 10, 0.596, 0.982), "precision": E(0.281, 32, 0.156, 0.454)}},
        "cnn_parameters": 23668,
        "model_kib": 95.086,
        "train_seconds": 0.076,
        "digits_train_seconds": 0.11,
        "latency_ms_per_image": 120.023,
        "latency_ms_per_image_batched": 0.5,
        "scarcity_fractions": [0.5, 1.0],
        "scarcity_steps_per_run": {"without augmentation": [20, 19], "with augmentation": [20, 19]},
        "scarcity_accuracy_without_augmentation": [E(0.646, 359, 0.595, 0.694), E(0.565, 359, 0.514, 0.616)],
        "scarcity_accuracy_with_augmentation": [E(0.627, 359, 0.576, 0.675), E(0.462, 359, 0.411, 0.514)],
        "scarcity_minus_full_data": [E(0.081, 359, 0.045, 0.12), E(0, 359, 0, 0)],
        "scarcity_augmentation_gain": [E(-0.019, 359, -0.072, 0.036), E(-0.103, 359, -0.162, -0.045)],
        "scarcity_gain_at_scarcest_minus_gain_at": {"1": E(0.084, 359, 0.025, 0.142)},
        "label_noise_shares": [0, 0.3],
        "label_noise_accuracy": [E(0.462, 359, 0.411, 0.514), E(0.465, 359, 0.414, 0.517)],
        "label_noise_minus_clean": [E(0, 359, 0, 0), E(0.003, 359, -0.033, 0.039)],
        "label_noise_validation_accuracy_on_noisy_labels": [0.459, 0.348],
        "criterion_met": False,
        "criterion_met_by_interval": False,
        "device": "cpu",
    },
    "03_lora_finetuning": {
        "test_examples": 8,
        "zero_shot_json": {"product": E(0, 8, 0, 0.324), "topic": E(0, 8, 0, 0.324), "sentiment": E(0, 8, 0, 0.324),
                           "exact": E(0, 8, 0, 0.324), "valid": E(0, 8, 0, 0.324)},
        "zero_shot_likelihood": {"topic": E(0.375, 8, 0.137, 0.694)},
        "few_shot_json": {"topic": E(0.375, 8, 0.137, 0.694)},
        "few_shot_likelihood": {"topic": E(0.5, 8, 0.215, 0.785)},
        "lora_json": {"topic": E(0, 8, 0, 0.324)},
        "lora_field_accuracy": E(0, 24, 0, 0),
        "lora_minus_baseline_fields_right": {"few_shot_json": E(-0.375, 24, -0.542, -0.208)},
        "lora_minus_baseline_exact_match": {"few_shot_json": E(0, 8, 0, 0)},
        "trainable_percent": 1.783,
        "adapter_megabytes": 9.83,
        "train_steps": 3,
        "best_step": 3,
        "train_seconds": 13.43,
        "lora_step_seconds": 0.231,
        "full_step_seconds": 0.903,
        "lora_step_peak_mb": 1043.492,
        "full_step_peak_mb": 2954.633,
    },
    "04_rag_pipeline": {
        "dense_recall_at_5_dev": E(1.0, 6, 1.0, 1.0),
        "bm25_recall_at_5_dev": E(1.0, 6, 1.0, 1.0),
        "hybrid_recall_at_5_dev": E(1.0, 6, 1.0, 1.0),
        "best_retriever": "hybrid",
        "mrr_dev": E(1.0, 6, 1.0, 1.0),
        "answer_mode": "extract",
        "answer_type_check": False,
        "all_dev_right_without_kind_check": E(1.0, 8, 0.676, 1.0),
        "all_dev_right_with_kind_check": E(1.0, 8, 0.676, 1.0),
        "scorer_agreement_strict_fresh": E(0.978, 180, 0.944, 0.991),
        "scorer_agreement_lenient_fresh": E(0.967, 180, 0.929, 0.985),
        "closed_book_accuracy": E(0, 4, 0, 0.49),
        "closed_book_accuracy_strict": E(0, 4, 0, 0.49),
        "rag_model_only_accuracy": E(0, 4, 0, 0.49),
        "rag_model_only_accuracy_strict": E(0, 4, 0, 0.49),
        "rag_grounded_accuracy_strict": E(0.75, 4, 0.301, 0.954),
        "quote_only_accuracy": E(0.75, 4, 0.301, 0.954),
        "quote_only_accuracy_strict": E(0.75, 4, 0.301, 0.954),
        "rag_accuracy": E(0.75, 4, 0.301, 0.954),
        "rag_accuracy_strict": E(0.75, 4, 0.301, 0.954),
        "abstain_rate": E(0, 2, 0, 0.658),
        "abstain_rate_answerable": E(0, 4, 0, 0.49),
        "abstain_threshold": 0.672,
        "review_threshold": 0.672,
        "fresh_accuracy_after_update": E(1.0, 2, 0.342, 1.0),
        "fresh_accuracy_after_update_strict": E(1.0, 2, 0.342, 1.0),
        "reindex_seconds": 0.21,
        "attack_success": {"none": E(0, 3, 0, 0.561), "filter + provenance": E(0, 3, 0, 0.561)},
        "attack_success_model_writing": {"none": E(0, 3, 0, 0.561), "filter": E(0, 3, 0, 0.561)},
        "injection_filter_flags_planted": 2,
        "injection_filter_false_alarm_rate": E(0, 34, 0, 0.102),
        "retrieval_ms_p50": 39.662,
        "generation_ms_p50": 666.482,
        "hnsw_recall_at_10": 0.955,
        "hnsw_speedup": 1.179,
        "ann_vectors": 5000,
        "chunk_sweep": [{"chunk tokens": 128, "heading-aware": True, "recall@5": 1.0, "answer_recall@3": 1.0,
                         "context_tokens@3": 159.667}],
    },
    "05_side_by_side": {
        "custom": {**APPROACH, "accuracy": 0.4, "accuracy_interval": E(0.4, 5, 0.118, 0.769)},
        "fine-tune": {**APPROACH, "accuracy": 0, "accuracy_interval": E(0, 5, 0, 0.434)},
        "rag": APPROACH,
        "scorer": "strict",
        "rag_answer_mode": "extract",
        "rag_check_answer_type": True,
        "hybrid": {"accuracy_after_update": E(0.333, 3, 0.061, 0.792), "update_seconds": 0.25},
        "accuracy_all_after_update": {"custom": E(0.167, 6, 0.03, 0.564), "fine-tune": E(0, 6, 0, 0.39)},
        "accuracy_by_scorer": {"rag": {"held-out, lenient": E(0.8, 5, 0.376, 0.964),
                                       "changed after update, strict": E(1.0, 3, 0.439, 1.0)}},
        "rag_minus_finetune_after_update": E(1.0, 3, 1.0, 1.0),
        "claim_certain": None,
        "claim_holds": True,
        "claim_update_ratio": 0.097,
        "recommendation": "rag",
        "measured_choice": "rag",
        "held_out_questions": 5,
        "changed_questions": 3,
        "prices": {"cpu_per_hour": 0.1, "gpu_per_hour": 2.5, "gpu_speedup": 10.0},
        "load_average_1min": 1.899,
        "device": "cpu",
    },
}


def numeric_leaves(metrics: dict, prefix: str = ""):
    """(dotted name, value) of every number, list of numbers or measured figure in ``metrics``."""
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and not report.is_estimate(value):
            yield from numeric_leaves(value, f"{name}.")
        elif isinstance(value, list) and value and isinstance(value[0], dict) and not report.is_estimate(value[0]):
            for item in value:
                yield from numeric_leaves(item, f"{name}.")
        elif report.is_estimate(value) or (isinstance(value, (int, float)) and not isinstance(value, bool)) or (
                isinstance(value, list) and value):
            yield name, value


def write_real_results(build_dir, smoke=True):
    folder = build_dir / "results"
    folder.mkdir(parents=True, exist_ok=True)
    for name, metrics in REAL_METRICS.items():
        record = {"notebook": name, "smoke": smoke, "seconds": 12.5, "peak_rss_mb": 812.0,
                  "child_peak_rss_mb": 2954.6 if name == "03_lora_finetuning" else None, "metrics": metrics}
        (folder / f"{name}.json").write_text(json.dumps(record))


# ---------------------------------------------------------------------------------------------
# The report as a whole
# ---------------------------------------------------------------------------------------------

def test_report_merges_results_and_figures(build_dir):
    import matplotlib.pyplot as plt

    from utils.course.runner import NotebookRun

    results.record_results("01_first", {"accuracy": 0.9, "per_approach": {"rag": {"accuracy": 0.8}}}, smoke=False)
    fig = plt.figure()
    results.save_figure(fig, "01_first", "curve")
    plt.close(fig)
    runs = [NotebookRun("01_first", 12.0), NotebookRun("02_second", 3.0, "cell 4: ValueError: bad")]
    html_path = report.write_report(build_dir, runs)
    markdown = (build_dir / "report.md").read_text()
    page = html_path.read_text()
    for text in ("01_first", "02_second", "accuracy", "per_approach.rag.accuracy", "cell 4: ValueError", "90.0 %"):
        assert text in markdown and text in page
    assert "data:image/png;base64," in page
    assert "![curve](figures/01_first/curve.png)" in markdown


def test_format_value_shortens_long_lists():
    assert report.format_value(list(range(20))).endswith(", …]")
    assert report.format_value(0.123456) == "0.1235"
    assert report.format_value(True) == "yes"


def test_report_opens_with_the_side_by_side_and_has_a_section_per_notebook(build_dir):
    import matplotlib.pyplot as plt

    from utils.course.runner import course_notebooks

    names = [nb.stem for nb in course_notebooks()]
    for name in names:
        results.record_results(name, {"seconds_metric": 1.0}, smoke=False)
    approaches = {a: {"accuracy": 0.5 + i / 10, "update_seconds": 10.0 * i} for i, a in enumerate(report.APPROACHES)}
    results.record_results(report.HEADLINE_NOTEBOOK, approaches, smoke=False)
    fig = plt.figure()
    results.save_figure(fig, report.HEADLINE_NOTEBOOK, "side_by_side")
    plt.close(fig)
    report.write_report(build_dir, [])
    markdown = (build_dir / "report.md").read_text()
    page = (build_dir / "report.html").read_text()
    assert markdown.index("Custom vs fine-tune vs RAG") < markdown.index("| notebook |")
    assert "| accuracy | 50.0 % | 60.0 % | 70.0 % |" in markdown
    assert "| update_seconds | 0 s | 10.0 s | 20.0 s |" in markdown
    assert page.count("data:image/png") == 1, "the headline figure is shown once, on the first screen"
    assert '<figure class="headline"><img' in page, "the side-by-side figure gets the full-width class"
    assert re.search(r"figure\.headline\{[^}]*width:100%", page) and re.search(r"figure\.headline img\{width:100%",
                                                                                 page)
    for name in [*names, report.HEADLINE_NOTEBOOK]:
        assert f"## {name}" in markdown and f'id="{name}"' in page


def test_an_estimate_is_shown_with_its_interval_and_n():
    from utils.core.stats import proportion

    record = {"rag": {"accuracy_strict": proportion([1] * 8 + [0] * 2).as_record(), "latency_ms_p50": 12.5}}
    assert dict(report.flatten(record)) == {"rag.accuracy_strict": "80.0 % [49.0 %, 94.3 %] · n = 10",
                                            "rag.latency_ms_p50": "12.5 ms"}


def test_the_real_results_read_as_a_person_would_write_them():
    rows = {nb: dict(report.flatten(metrics)) for nb, metrics in REAL_METRICS.items()}
    expected = {
        "00_environment_check": {"ram_gb": "23.5 GiB", "llm_parameters_m": "134.5 M", "llm_load_seconds": "20.1 s",
                                 "llm_tokens_per_second": "43.7 tokens/s", "embed_ms_per_sentence": "40.2 ms",
                                 "estimated_course_minutes": "36 min", "models_verified": "yes", "device": "cpu"},
        "02_custom_cnn": {
            "digits_test_accuracy": "46.2 % [41.1 %, 51.4 %] · n = 359",
            "digits_cnn_minus_baseline": "-50.1 pp [-55.4 pp, -44.8 pp] · n = 359",
            "parts_cnn_minus_baseline": "+7.5 pp [-12.5 pp, +27.5 pp] · n = 40",
            "parts_per_class.good.precision": "–",
            "cnn_parameters": "23,668", "model_kib": "95.1 KiB", "train_seconds": "76.0 ms",
            "scarcity_accuracy_without_augmentation · 50 % of the training data": "64.6 % [59.5 %, 69.4 %] · n = 359",
            "label_noise_minus_clean · 30 % of the labels flipped": "+0.3 pp [-3.3 pp, +3.9 pp] · n = 359",
            "scarcity_steps_per_run.with augmentation": "[20, 19]",
            "label_noise_validation_accuracy_on_noisy_labels": "[45.9 %, 34.8 %]",
        },
        "03_lora_finetuning": {"trainable_percent": "1.8 %", "adapter_megabytes": "9.8 MB",
                               "full_step_peak_mb": "2.89 GiB", "lora_step_peak_mb": "1.02 GiB",
                               "zero_shot_json.valid": "0.0 % [0.0 %, 32.4 %] · n = 8", "test_examples": "8"},
        "04_rag_pipeline": {"mrr_dev": "100.0 % [100.0 %, 100.0 %] · n = 6", "abstain_threshold": "0.672",
                            "hnsw_speedup": "1.18×", "ann_vectors": "5,000", "generation_ms_p50": "666 ms",
                            "attack_success.filter + provenance": "0.0 % [0.0 %, 56.1 %] · n = 3",
                            "chunk_sweep · #1": "chunk tokens: 128; heading-aware: yes; recall@5: 100.0 %; "
                                                "answer_recall@3: 100.0 %; context_tokens@3: 159.7"},
        "05_side_by_side": {"rag.accuracy": "80.0 % [37.6 %, 96.4 %] · n = 5", "rag.build_cost_cpu_usd": "$0.000065",
                            "rag.serving_cost_per_1000_cpu_usd": "$0.003", "rag.peak_mb": "567 MiB",
                            "prices.cpu_per_hour": "$0.10 per hour", "prices.gpu_speedup": "10×",
                            "claim_certain": "–", "load_average_1min": "1.90", "held_out_questions": "5"},
    }
    for notebook, cells in expected.items():
        for name, text in cells.items():
            assert rows[notebook][name] == text, (notebook, name)
    assert "rag.accuracy_interval" not in rows["05_side_by_side"], "an interval is shown with its value, once"
    for notebook, cells in rows.items():
        for name, text in cells.items():
            assert not re.search(r"(?<![$\d.])\d+\.\d{5,}|e[-+]\d", text), f"{notebook} {name}: raw float {text!r}"


def test_every_recorded_number_gets_a_unit():
    names = [name for metrics in REAL_METRICS.values() for name, _ in numeric_leaves(metrics)]
    assert len(names) > 100
    unknown = [name for name in names if report.unit_for(name) == "plain"]
    assert not unknown, f"no unit rule for {unknown}: add one to report.UNIT_RULES"


@pytest.mark.parametrize("name, unit", [
    ("rag_accuracy_strict", "percent"), ("parts_per_class.scratch.precision", "percent"),
    ("hybrid_recall_at_5_dev", "percent"), ("chunk_sweep.recall@5", "percent"), ("mrr_dev", "percent"),
    ("ndcg_at_10", "percent"), ("injection_filter_false_alarm_rate", "percent"), ("scarcity_fractions", "percent"),
    ("attack_success.none", "percent"), ("zero_shot_json.topic", "percent"),
    ("lora_minus_baseline_fields_right.zero_shot_json", "pp"), ("scarcity_augmentation_gain", "pp"),
    ("trainable_percent", "percent_value"), ("rag.latency_ms_p95", "ms"), ("latency_ms_per_image", "ms"),
    ("serving_seconds_per_answer", "s"), ("seconds", "s"), ("full_step_seconds", "s"),
    ("estimated_course_minutes", "min"), ("model_kib", "kib"), ("adapter_megabytes", "mb"), ("peak_rss_mb", "mib"),
    ("rag.peak_mb", "mib"), ("ram_available_gb", "gib"), ("rag.serving_cost_per_1000_gpu_usd", "usd"),
    ("prices.gpu_per_hour", "usd_per_hour"), ("prices.gpu_speedup", "ratio"), ("claim_update_ratio", "ratio"),
    ("llm_parameters_m", "millions"), ("cnn_parameters", "count"), ("chunk_sweep.context_tokens@3", "count"),
    ("best_step", "count"), ("scarcity_steps_per_run.with augmentation", "count"), ("load_average_1min", "score"),
    ("review_threshold", "score"), ("llm_tokens_per_second", "tokens_per_s"),
])
def test_unit_rules_read_the_name_right(name, unit):
    assert report.unit_for(name) == unit


def test_unknown_keys_fall_back_to_plain_sensible_formatting():
    assert report.unit_for("mystery_metric") == "plain"
    assert report.format_value(0.123456, "mystery_metric") == "0.1235", "no percentage guessed from the value"
    assert report.format_value(1234567.0, "mystery_metric") == "1,234,567"
    assert report.format_value(12345.678, "mystery_metric") == "12,346"
    assert report.format_value(-2.5, "mystery_metric") == "-2.5"
    assert report.format_value(1e-7, "mystery_metric") == "1e-07"
    assert report.format_value(None, "mystery_metric") == report.format_value(math.nan, "mystery_metric") == "–"
    assert report.format_value("hybrid", "mystery_metric") == "hybrid"
    assert report.format_value(E(3.5, 20, 2.0, 5.25), "mystery_metric") == "3.5 [2, 5.25] · n = 20"


def test_a_value_that_does_not_fit_its_unit_is_shown_plain_not_wrong():
    assert report.format_value(97.0, "accuracy") == "97", "an accuracy already in percent is not 9,700 %"
    assert report.format_value(2.5, "test_examples") == "2.5"


# ---------------------------------------------------------------------------------------------
# Intervals
# ---------------------------------------------------------------------------------------------

def test_intervals_carry_the_unit_on_both_ends_and_n_with_separators():
    assert report.format_estimate(E(0.782, 87, 0.684, 0.855), "percent") == "78.2 % [68.4 %, 85.5 %] · n = 87"
    assert report.format_estimate(E(-0.052, 1234, -0.1, 0.0), "pp") == "-5.2 pp [-10.0 pp, 0.0 pp] · n = 1,234"
    assert report.format_estimate(E(120.0, 40, 95.5, 180.0), "ms") == "120 ms [95.5 ms, 180 ms] · n = 40"
    assert report.format_value(E(0, 8, 0, 0.324), "lora_json.topic") == "0.0 % [0.0 %, 32.4 %] · n = 8"


def test_a_list_of_estimates_becomes_one_row_per_setting():
    rows = report.flatten({"label_noise_shares": [0, 0.1], "label_noise_accuracy": [E(0.9, 10, 0.6, 0.98)] * 2,
                           "other": [E(0.5, 4, 0.2, 0.8)]})
    names = [name for name, _ in rows]
    assert names == ["label_noise_shares", "label_noise_accuracy · 0 % of the labels flipped",
                     "label_noise_accuracy · 10 % of the labels flipped", "other · #1"]


# ---------------------------------------------------------------------------------------------
# Explanations and the glossary
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, term", [
    ("rag_accuracy_strict", "strict accuracy"), ("closed_book_accuracy", "lenient accuracy"),
    ("digits_test_accuracy", "accuracy"), ("zero_shot_json.exact", "exact match"),
    ("dense_recall_at_5_dev", "recall@k"), ("parts_per_class.crack.recall", "recall"),
    ("parts_per_class.crack.precision", "precision"), ("mrr_dev", "MRR"), ("ndcg_at_10", "nDCG"),
    ("rag.latency_ms_p50", "p50 / p95 latency"), ("attack_success.none", "attack success rate"),
    ("injection_filter_false_alarm_rate", "false-alarm rate"), ("abstain_rate", "abstain rate"),
    ("rag.peak_mb", "peak memory"), ("rag.build_cost_cpu_usd", "cost"), ("digits_cnn_minus_baseline", "difference"),
    ("rag.accuracy_stale", "stale / after update"), ("scorer_agreement_strict_fresh", "scorer agreement"),
    ("hnsw_speedup", "speed-up"), ("rag.update_seconds", "build / update time"),
])
def test_the_main_metric_families_are_explained(name, term):
    assert term in [t for t, _, _ in report.explanations_for([name])]


def test_every_section_of_the_real_report_says_what_its_metrics_measure(build_dir):
    write_real_results(build_dir)
    report.write_report(build_dir, [], smoke=True)
    markdown = (build_dir / "report.md").read_text()
    sections = markdown.split("\n## ")[1:]
    assert len(sections) == 2 + len(REAL_METRICS)                   # the headline, "Notebooks", one per notebook
    for section in sections:
        if "| metric |" in section:
            assert "What these measure:" in section, section.splitlines()[0]
    for name, cells in ((n, dict(report.flatten(m))) for n, m in REAL_METRICS.items()):
        assert report.explanations_for(cells), f"{name}: no metric of this notebook is explained"
    assert "Measured on 5 held-out questions and 3 whose facts changed, scored by the strict scorer." in markdown
    assert "| 03_lora_finetuning | ok | 12.5 s | 812 MiB | 2.89 GiB | ✓ |" in markdown
    assert "within budget (≤ 1 min, ≤ 3 GiB)" in markdown


def test_github_slugs_match_the_glossary_headings():
    assert report.github_slug("nDCG") == "ndcg"
    assert report.github_slug("MRR") == "mrr"
    assert report.github_slug("p50 / p95") == "p50--p95"
    assert report.github_slug("Attack success rate") == "attack-success-rate"
    assert report.github_slug("Recall@k") == "recallk"


def test_terms_link_to_the_glossary_only_when_asked(build_dir, tmp_path, monkeypatch):
    write_real_results(build_dir)
    report.write_report(build_dir, [], smoke=True)
    plain_md, plain_html = (build_dir / "report.md").read_text(), (build_dir / "report.html").read_text()
    assert "glossary" not in plain_md.lower() and "glossary" not in plain_html.lower()
    assert all(href.startswith("#") for href in re.findall(r'href="([^"]*)"', plain_html))

    glossary = tmp_path / "glossary.md"
    glossary.write_text("# Glossary\n\n## MRR\n\ntext\n\n## p50 / p95\n\ntext\n\n## Attack success rate\n")
    monkeypatch.setattr(report, "GLOSSARY_SOURCE", glossary)
    report.write_report(build_dir, [], smoke=True, glossary_url="glossary.html")
    markdown, page = (build_dir / "report.md").read_text(), (build_dir / "report.html").read_text()
    assert "- **[MRR](glossary.html#mrr)**:" in markdown
    assert '<a href="glossary.html#p50--p95">p50 / p95 latency</a>' in page
    assert '<a href="glossary.html#attack-success-rate">' in page
    links = {href for href in re.findall(r'href="([^"#][^"]*)"', page)}
    assert links == {"glossary.html#mrr", "glossary.html#p50--p95", "glossary.html#attack-success-rate"}, \
        "only terms the glossary has are linked"


def test_without_a_glossary_source_every_term_links_to_its_first_heading(monkeypatch, tmp_path):
    monkeypatch.setattr(report, "GLOSSARY_SOURCE", tmp_path / "missing.md")
    assert report.glossary_slugs() is None
    assert report.glossary_link(("nDCG", "NDCG"), "glossary.html", None) == "glossary.html#ndcg"
    assert report.glossary_link(("nDCG",), None, None) is None
    assert report.glossary_link(("nDCG",), "glossary.html", {"mrr"}) is None


# ---------------------------------------------------------------------------------------------
# The HTML page
# ---------------------------------------------------------------------------------------------

def test_the_html_has_no_external_resources(build_dir):
    import matplotlib.pyplot as plt

    write_real_results(build_dir)
    for notebook, name in ((report.HEADLINE_NOTEBOOK, "side_by_side"), ("02_custom_cnn", "curve")):
        fig = plt.figure()
        results.save_figure(fig, notebook, name)
        plt.close(fig)
    page = report.write_report(build_dir, [], smoke=True).read_text()
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert all(src.startswith("data:image/png;base64,") for src in re.findall(r'src="([^"]*)"', page))
    assert not re.search(r"url\(|https?://|//fonts", page)
    assert "@media print" in page
    assert page.count('<figure class="headline">') == 1 and page.count("<figure") == 2

