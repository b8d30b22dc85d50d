"""Unit tests for the foundation modules: runtime, results, checks, report."""

import json
import math

import numpy as np
import pytest
import torch

from utils import checks, report, results, runtime

# --- runtime ---------------------------------------------------------------------------------

def test_pick_device_defaults_to_an_available_device(monkeypatch):
    monkeypatch.delenv("CROSSROADS_DEVICE", raising=False)
    assert runtime.pick_device() in runtime.DEVICES
    assert runtime.pick_device("CPU") == "cpu"


def test_pick_device_honours_the_environment(monkeypatch):
    monkeypatch.setenv("CROSSROADS_DEVICE", "cpu")
    assert runtime.pick_device() == "cpu"


def test_pick_device_rejects_unknown_and_unavailable_devices(monkeypatch):
    with pytest.raises(ValueError, match="choose one of cuda, mps, cpu"):
        runtime.pick_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="not available"):
        runtime.pick_device("cuda")


def test_seed_everything_makes_runs_repeat():
    runtime.seed_everything(7)
    first = (torch.rand(3), np.random.rand(3))
    runtime.seed_everything(7)
    second = (torch.rand(3), np.random.rand(3))
    assert torch.equal(first[0], second[0]) and np.array_equal(first[1], second[1])


@pytest.mark.parametrize("seed", [-1, 1.5, "0"])
def test_seed_everything_rejects_bad_seeds(seed):
    with pytest.raises(ValueError, match="non-negative integer"):
        runtime.seed_everything(seed)


def test_set_offline_sets_variables_but_keeps_a_users_choice(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    runtime.set_offline()
    import os
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert os.environ["HF_DATASETS_OFFLINE"] == "1"
    assert os.environ["TRANSFORMERS_OFFLINE"] == "0"


def test_banner_names_versions_and_device():
    text = runtime.banner("cpu")
    assert "torch" in text and "transformers" in text and "Device: cpu" in text


def test_setup_notebook_starts_the_timer(capsys):
    assert runtime.setup_notebook(seed=0, device="cpu") == "cpu"
    assert results.elapsed_seconds() < 60
    assert "Device: cpu" in capsys.readouterr().out


# --- results ---------------------------------------------------------------------------------

def test_record_results_writes_the_contract(build_dir):
    results.start_timer()
    path = results.record_results("99_demo", {"accuracy": np.float32(0.5), "curve": np.array([1, 2]),
                                              "nested": {"a": torch.tensor(3.0)}}, smoke=True)
    record = json.loads(path.read_text())
    assert path == build_dir / "results" / "99_demo.json"
    assert set(record) == {"notebook", "smoke", "seconds", "peak_rss_mb", "child_peak_rss_mb", "metrics"}
    assert record["smoke"] is True and record["notebook"] == "99_demo"
    assert 0 <= record["seconds"] < 60 and record["peak_rss_mb"] > 10 and record["child_peak_rss_mb"] is None
    assert record["metrics"] == {"accuracy": 0.5, "curve": [1, 2], "nested": {"a": 3.0}}
    assert results.load_results() == {"99_demo": record}


@pytest.mark.parametrize("notebook, metrics, error, match", [
    ("", {"a": 1}, ValueError, "file stem"),
    ("../escape", {"a": 1}, ValueError, "file stem"),
    ("01_x", {}, ValueError, "non-empty dict"),
    ("01_x", {"loss": math.nan}, ValueError, "finite"),
    ("01_x", {"model": object()}, TypeError, "record numbers"),
])
def test_record_results_rejects_bad_input(build_dir, notebook, metrics, error, match):
    with pytest.raises(error, match=match):
        results.record_results(notebook, metrics, smoke=False)


def test_save_figure_writes_a_png(build_dir):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1])
    path = results.save_figure(fig, "99_demo", "line")
    plt.close(fig)
    assert path.read_bytes().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="plain file names"):
        results.save_figure(fig, "99_demo", "a/b")


# --- checks ----------------------------------------------------------------------------------

def test_checks_pass_quietly_with_a_tick(capsys):
    checks.check(True, "truth")
    checks.check_equal(3, 3, "three")
    checks.check_close(0.1 + 0.2, 0.3, "sum")
    checks.check_between(5, 1, 10, "range")
    checks.check_shape(torch.zeros(2, 3), (2, None), "shape")
    assert capsys.readouterr().out.count("✓") == 5


@pytest.mark.parametrize("call", [
    lambda: checks.check(False, "truth", hint="think"),
    lambda: checks.check_equal(3, 4, "three", hint="think"),
    lambda: checks.check_close(1.0, 2.0, "value", hint="think"),
    lambda: checks.check_between(50, 1, 10, "range", hint="think"),
    lambda: checks.check_shape(torch.zeros(2, 3), (3, 2), "shape", hint="think"),
])
def test_checks_explain_failures_with_a_hint(call):
    with pytest.raises(checks.LabCheckError, match=r"(?s)expected .*Hint: think"):
        call()


# --- report ----------------------------------------------------------------------------------

def test_report_merges_results_and_figures(build_dir):
    import matplotlib.pyplot as plt

    from utils.course import NotebookRun

    results.record_results("01_first", {"accuracy": 0.9, "per_approach": {"rag": {"accuracy": 0.8}}}, smoke=False)
    fig = plt.figure()
    results.save_figure(fig, "01_first", "curve")
    plt.close(fig)
    runs = [NotebookRun("01_first", 12.0), NotebookRun("02_second", 3.0, "cell 4: ValueError: bad")]
    html_path = report.write_report(build_dir, runs)
    markdown = (build_dir / "report.md").read_text()
    page = html_path.read_text()
    for text in ("01_first", "02_second", "accuracy", "per_approach.rag.accuracy", "cell 4: ValueError"):
        assert text in markdown and text in page
    assert "data:image/png;base64," in page
    assert "![curve](figures/01_first/curve.png)" in markdown


def test_format_value_shortens_long_lists():
    assert report.format_value(list(range(20))).endswith(", …]")
    assert report.format_value(0.123456) == "0.1235"
    assert report.format_value(True) == "yes"


# --- envcheck --------------------------------------------------------------------------------

def test_machine_summary_and_estimate():
    from utils import envcheck

    summary = envcheck.machine_summary()
    assert summary["cpu_cores"] >= 1 and summary["ram_gb"] > 0 and summary["disk_free_gb"] >= 0
    reference = envcheck.estimate_course_minutes(envcheck.REFERENCE_TOKENS_PER_SECOND)
    assert reference == envcheck.REFERENCE_COURSE_MINUTES
    assert envcheck.estimate_course_minutes(envcheck.REFERENCE_TOKENS_PER_SECOND * 2) == reference / 2
    with pytest.raises(ValueError, match="positive"):
        envcheck.estimate_course_minutes(0)


def test_network_check_answers_false_for_a_closed_port():
    from utils import envcheck

    assert envcheck.network_reachable("127.0.0.1", 9, timeout=0.5) is False


def test_report_opens_with_the_side_by_side_and_has_a_section_per_notebook(build_dir):
    import matplotlib.pyplot as plt

    from utils.course import course_notebooks

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
    assert "| accuracy | 0.5 | 0.6 | 0.7 |" in markdown
    assert page.count("data:image/png") == 1, "the headline figure is shown once, on the first screen"
    for name in [*names, report.HEADLINE_NOTEBOOK]:
        assert f"## {name}" in markdown and f'id="{name}"' in page


def test_failure_descriptions_name_the_cell_or_the_timeout():
    from nbclient.exceptions import CellTimeoutError
    from papermill.exceptions import PapermillExecutionError

    from utils.course import describe_failure

    error = PapermillExecutionError(7, 3, "f(x)", "ValueError", "bad\n  input", [])
    assert describe_failure(error) == "cell 7: ValueError: bad input"
    assert describe_failure(CellTimeoutError("A cell timed out")).startswith("a cell ran past the per-cell timeout")
    assert describe_failure(RuntimeError("kernel died")).startswith("outside any cell")


def test_peak_rss_is_this_process_and_child_peaks_are_recorded_as_given(build_dir):
    import subprocess
    import sys

    probe = "from utils.results import peak_rss_mb; print(peak_rss_mb())"
    kernel_size = results.peak_rss_mb()
    child = float(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout)
    assert 5 < child < kernel_size, "a child reports its own memory, not its parent's"
    record = json.loads(results.record_results("99_demo", {"a": 1}, smoke=True, child_peak_rss_mb=child).read_text())
    assert record["child_peak_rss_mb"] == round(child, 1)
    for bad in (0, -5, "big"):
        with pytest.raises(ValueError, match="child_peak_rss_mb"):
            results.record_results("99_demo", {"a": 1}, smoke=True, child_peak_rss_mb=bad)


def test_run_in_fresh_process_names_the_work_that_failed():
    with pytest.raises(RuntimeError, match="The demo process failed"):
        runtime.run_in_fresh_process("utils.no_such_module", {}, "demo", timeout=60)
