"""The lab generator and the course runner, on tiny notebooks made in the test."""

import nbformat
import pytest

from utils.course import labs
from utils.course import runner as course

SOLUTION_CELL = """\
def add(a, b):
    ### BEGIN SOLUTION
    # HINT: use the + operator
    total = a + b
    return total
    ### END SOLUTION

print(add(1, 2))"""


def test_stub_replaces_the_region_keeping_hints_and_indentation():
    source, regions = labs.stub_cell_source(SOLUTION_CELL)
    assert regions == 1
    assert source == ("def add(a, b):\n"
                      "    # HINT: use the + operator\n"
                      "    raise NotImplementedError('Exercise: use the + operator')\n"
                      "\nprint(add(1, 2))")
    compile(source, "lab", "exec")  # still valid Python


def test_stub_without_hint_still_tells_what_to_do():
    source, _ = labs.stub_cell_source("### BEGIN SOLUTION\nx = 1\n### END SOLUTION")
    assert "replace this line with your code" in source


@pytest.mark.parametrize("source, match", [
    ("### BEGIN SOLUTION\nx = 1", "never closed"),
    ("x = 1\n### END SOLUTION", "without a"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside another"),
])
def test_unbalanced_markers_are_reported_with_the_line(source, match):
    with pytest.raises(labs.LabMarkerError, match=match):
        labs.stub_cell_source(source, "demo.ipynb, cell 3")


def _notebook(*sources: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Demo")]
    nb.cells += [nbformat.v4.new_code_cell(source) for source in sources]
    return nb


def test_generate_lab_clears_outputs_and_marks_itself():
    solution = _notebook("SMOKE = False", SOLUTION_CELL)
    solution.cells[2].outputs = [nbformat.v4.new_output("stream", text="3\n")]
    solution.cells[2].execution_count = 4
    lab = labs.generate_lab(solution, "lab_demo.ipynb")
    assert "solutions/lab_demo.ipynb" in lab.cells[0].source
    assert lab.cells[3].outputs == [] and lab.cells[3].execution_count is None
    assert "NotImplementedError" in lab.cells[3].source and "total = a + b" not in lab.cells[3].source
    assert lab.cells[3].id == solution.cells[2].id, "cell ids let tests pair a stub with its solution"
    assert solution.cells[2].outputs, "the solution itself is left untouched"


def test_a_solution_without_exercises_is_refused():
    with pytest.raises(labs.LabMarkerError, match="no '### BEGIN SOLUTION' regions"):
        labs.generate_lab(_notebook("x = 1"), "lab_empty.ipynb")


def test_stale_labs_are_detected_and_rewritten(tmp_path):
    solutions, lab_dir = tmp_path / "solutions", tmp_path / "labs"
    solutions.mkdir()
    nbformat.write(_notebook(SOLUTION_CELL), solutions / "lab_demo.ipynb")
    assert labs.stale_labs(solutions, lab_dir) == ["lab_demo.ipynb"]          # missing
    labs.write_labs(solutions, lab_dir)
    assert labs.stale_labs(solutions, lab_dir) == []
    nbformat.write(_notebook(SOLUTION_CELL + "\n# changed"), solutions / "lab_demo.ipynb")
    assert labs.stale_labs(solutions, lab_dir) == ["lab_demo.ipynb"]          # edited solution
    (lab_dir / "lab_orphan.ipynb").write_text("{}")
    labs.write_labs(solutions, lab_dir)
    assert not (lab_dir / "lab_orphan.ipynb").exists()
    assert labs.stale_labs(solutions, lab_dir) == []


# --- course runner ---------------------------------------------------------------------------

def _write(folder, name, *sources):
    nb = _notebook(*sources)
    nb.cells[1].metadata["tags"] = ["parameters"]
    nbformat.write(nb, folder / name)


def test_course_notebooks_are_ordered_and_filterable(tmp_path):
    for name in ("02_b.ipynb", "01_a.ipynb", "notes.ipynb"):
        _write(tmp_path, name, "SMOKE = False")
    assert [p.name for p in course.course_notebooks(folder=tmp_path)] == ["01_a.ipynb", "02_b.ipynb"]
    assert [p.name for p in course.course_notebooks(["02"], tmp_path)] == ["02_b.ipynb"]
    with pytest.raises(ValueError, match="No notebook"):
        course.course_notebooks(["07"], tmp_path)


def test_course_runner_names_the_failing_notebook_and_cell(tmp_path, build_dir):
    record = ("from utils.course.results import record_results\n"
              "record_results('01_ok', {'smoke_was': SMOKE}, smoke=SMOKE)")
    _write(tmp_path, "01_ok.ipynb", "SMOKE = False", "print('\\r'.join(str(i) for i in range(500)))", record)
    _write(tmp_path, "02_broken.ipynb", "SMOKE = False", "x = 1", "raise ValueError('planted failure')")
    runs = course.run_course(smoke=True, folder=tmp_path, cell_timeout=60)
    assert [run.name for run in runs] == ["01_ok", "02_broken"]
    assert runs[0].error == ""
    assert runs[1].error.startswith("cell ") and "ValueError: planted failure" in runs[1].error
    executed = nbformat.read(build_dir / "smoke" / "executed" / "01_ok.ipynb", as_version=4)
    stream = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "stream"]
    assert stream[0].text.strip() == "499", "carriage returns are applied, so progress bars leave one line"
    results = (build_dir / "smoke" / "results" / "01_ok.json").read_text()
    assert '"smoke_was": true' in results
