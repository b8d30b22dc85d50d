"""utils.course.runner: naming what failed."""

def test_failure_descriptions_name_the_cell_or_the_timeout():
    from nbclient.exceptions import CellTimeoutError
    from papermill.exceptions import PapermillExecutionError

    from utils.course.runner import describe_failure

    error = PapermillExecutionError(7, 3, "f(x)", "ValueError", "bad\n  input", [])
    assert describe_failure(error) == "cell 7: ValueError: bad input"
    assert describe_failure(CellTimeoutError("A cell timed out")).startswith("a cell ran past the per-cell timeout")
    assert describe_failure(RuntimeError("kernel died")).startswith("outside any cell")


def test_kernels_start_without_the_tcp_warning(tmp_path, capfd):
    """A notebook run prints nothing on the console but what the runner says (no kernel start-up warning)."""
    import nbformat

    from utils.course.runner import execute

    notebook = tmp_path / "tiny.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("SMOKE = False", metadata={"tags": ["parameters"]}),
                                         nbformat.v4.new_code_cell("print(6 * 7)")])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nbformat.write(nb, notebook)
    execute(notebook, tmp_path / "out.ipynb", smoke=True)
    assert "42" in nbformat.read(tmp_path / "out.ipynb", 4).cells[-1].outputs[0]["text"]
    assert "without encryption" not in capfd.readouterr().err
