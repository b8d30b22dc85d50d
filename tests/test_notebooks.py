"""Execute every notebook, solution and lab in smoke mode, exactly as a learner would run them.

New notebooks join these tests just by being added to ``notebooks/``, ``solutions/`` or ``labs/``.
"""

import copy
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

from utils.core.paths import LABS_DIR, NOTEBOOKS_DIR, SOLUTIONS_DIR, build_dir
from utils.course.labs import STUB_PREFIX
from utils.course.runner import KERNEL_ARGUMENTS, execute

# What a learner should never see as a cell's output: the return value of a call made for its side effect.
STRAY_VALUE = re.compile(r"(PosixPath|WindowsPath)\(|\[?<matplotlib\.|Text\(")
TEACHING = sorted(NOTEBOOKS_DIR.glob("*.ipynb")) + sorted(SOLUTIONS_DIR.glob("*.ipynb"))
LABS = sorted(LABS_DIR.glob("*.ipynb"))


@pytest.mark.notebook
@pytest.mark.parametrize("notebook", TEACHING, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebook_runs_in_smoke_mode(notebook: Path):
    output = build_dir() / "test-executed" / notebook.parent.name / notebook.name
    execute(notebook, output, smoke=True)  # papermill raises, naming the cell, if anything fails
    stray = [(i, out["data"]["text/plain"][:60]) for i, cell in enumerate(nbformat.read(output, as_version=4).cells)
             if cell.cell_type == "code" for out in cell.get("outputs", [])
             if out.get("output_type") == "execute_result" and STRAY_VALUE.match(out["data"].get("text/plain", ""))]
    assert not stray, f"cells that show a stray return value (end them with the figure or a print): {stray}"


def _is_stub_error(error: CellExecutionError) -> bool:
    return error.ename == "NotImplementedError" and STUB_PREFIX in str(error.evalue)


def run_lab_substituting_solutions(lab_path: Path, solution_path: Path) -> int:
    """Run a lab cell by cell; when an exercise stub stops it, run the solution's version of every
    stubbed cell seen so far and carry on. Any other error fails. Returns how many stops happened."""
    lab = parameterize_notebook(load_notebook_node(str(lab_path)), {"SMOKE": True})  # adds the tags papermill needs
    solution_cells = {cell.id: cell for cell in nbformat.read(solution_path, as_version=4).cells}
    pending, stops = [], 0
    client = NotebookClient(lab, kernel_name="python3", timeout=600, extra_arguments=KERNEL_ARGUMENTS,
                            resources={"metadata": {"path": str(lab_path.parent)}})
    with client.setup_kernel():
        for index, cell in enumerate(lab.cells):
            if cell.cell_type != "code":
                continue
            if STUB_PREFIX in cell.source:
                pending.append(cell)
            try:
                client.execute_cell(cell, index)
                continue
            except CellExecutionError as error:
                if not _is_stub_error(error):
                    raise AssertionError(f"{lab_path.name}, cell {index} failed with {error.ename}: "
                                         f"{error.evalue}; a lab may only stop at its exercise stubs.") from None
            stops += 1
            for stub in pending:  # fill in the learner's work, then re-run the cell that stopped
                client.execute_cell(copy.deepcopy(solution_cells[stub.id]), index)
            pending = []
            if STUB_PREFIX not in cell.source:
                client.execute_cell(cell, index)
    return stops


@pytest.mark.notebook
@pytest.mark.parametrize("lab", LABS, ids=lambda p: p.name)
def test_lab_stops_only_at_its_own_exercise_stubs(lab: Path):
    solution = SOLUTIONS_DIR / lab.name
    assert solution.exists(), f"{lab.name} has no solution; labs are generated from solutions/ by `make labs`."
    stops = run_lab_substituting_solutions(lab, solution)
    assert stops >= 1, f"{lab.name} ran to the end without meeting an exercise stub"
