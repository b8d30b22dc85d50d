"""Repository hygiene: clean notebooks, fresh labs, the notebook skeleton, lint."""

import ast
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from utils.labs import stale_labs
from utils.paths import LABS_DIR, NOTEBOOKS_DIR, REPO_ROOT, SOLUTIONS_DIR

ALL_NOTEBOOKS = sorted([*NOTEBOOKS_DIR.glob("*.ipynb"), *SOLUTIONS_DIR.glob("*.ipynb"), *LABS_DIR.glob("*.ipynb")])
TEACHING = sorted([*NOTEBOOKS_DIR.glob("*.ipynb"), *SOLUTIONS_DIR.glob("*.ipynb")])
PLAIN_VALUES = (ast.Constant, ast.List, ast.Tuple, ast.Dict, ast.UnaryOp)


def _name(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=_name)
def test_committed_notebooks_carry_no_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{_name(path)} has outputs in cells {dirty}; run `.venv/bin/nbstripout {_name(path)}`."


def test_labs_are_generated_from_current_solutions():
    assert SOLUTIONS_DIR.exists()
    stale = stale_labs()
    assert not stale, f"Stale labs {stale}: run `make labs` and commit labs/ together with solutions/."


@pytest.mark.parametrize("path", TEACHING, ids=_name)
def test_notebooks_follow_the_course_skeleton(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), "starts with a title"
    code = [c for c in nb.cells if c.cell_type == "code"]
    parameters = code[0]
    assert "parameters" in parameters.metadata.get("tags", []), "the first code cell is tagged `parameters`"
    for node in ast.parse(parameters.source).body:
        assert isinstance(node, ast.Assign) and isinstance(node.value, PLAIN_VALUES), (
            f"the parameters cell holds plain values only; move `{ast.unparse(node)}` to the next cell")
    assert "SMOKE" in parameters.source, "every notebook has a SMOKE parameter"
    assert "setup_notebook(" in code[1].source, "the cell after `parameters` calls utils.runtime.setup_notebook"
    headings = [line for c in nb.cells if c.cell_type == "markdown" for line in c.source.splitlines()]
    assert any(h.startswith("## Summary") for h in headings), "ends with a Summary section"
    if path.parent == NOTEBOOKS_DIR:
        assert any(h.startswith("## Your turn") for h in headings), "has a Your turn section"
        assert "record_results(" in code[-1].source, "the last code cell records the headline metrics"


def test_ruff_passes_on_code_and_notebooks():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=REPO_ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
