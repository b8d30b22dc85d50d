"""utils.course.results: the results contract, figures, peak memory."""

import json
import math

import numpy as np
import pytest
import torch

from utils.course import results


def test_record_results_writes_the_contract(build_dir):
    results.start_timer()
    assert results.record_results("99_demo", {"accuracy": np.float32(0.5), "curve": np.array([1, 2]),
                                              "nested": {"a": torch.tensor(3.0)}}, smoke=True) is None
    path = results.results_path("99_demo")
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


def test_peak_rss_is_this_process_and_child_peaks_are_recorded_as_given(build_dir):
    import subprocess
    import sys

    probe = "from utils.course.results import peak_rss_mb; print(peak_rss_mb())"
    kernel_size = results.peak_rss_mb()
    child = float(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout)
    assert 5 < child < kernel_size, "a child reports its own memory, not its parent's"
    results.record_results("99_demo", {"a": 1}, smoke=True, child_peak_rss_mb=child)
    record = json.loads(results.results_path("99_demo").read_text())
    assert record["child_peak_rss_mb"] == round(child, 1)
    for bad in (0, -5, "big"):
        with pytest.raises(ValueError, match="child_peak_rss_mb"):
            results.record_results("99_demo", {"a": 1}, smoke=True, child_peak_rss_mb=bad)
