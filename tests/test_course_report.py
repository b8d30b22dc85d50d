"""utils.course.report: the merged course report."""

from utils.course import report, results


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
    for text in ("01_first", "02_second", "accuracy", "per_approach.rag.accuracy", "cell 4: ValueError"):
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
    assert "| accuracy | 0.5 | 0.6 | 0.7 |" in markdown
    assert page.count("data:image/png") == 1, "the headline figure is shown once, on the first screen"
    for name in [*names, report.HEADLINE_NOTEBOOK]:
        assert f"## {name}" in markdown and f'id="{name}"' in page


def test_an_estimate_is_shown_with_its_interval_and_n():
    from utils.core.stats import proportion

    record = {"rag": {"accuracy_strict": proportion([1] * 8 + [0] * 2).as_record(), "latency_ms_p50": 12.5}}
    assert dict(report.flatten(record)) == {"rag.accuracy_strict": "0.800 [0.490, 0.943], n = 10",
                                            "rag.latency_ms_p50": "12.5"}
