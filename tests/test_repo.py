"""Repository hygiene: clean notebooks, fresh labs, the notebook skeleton, lint."""

import ast
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from utils.core.paths import LABS_DIR, NOTEBOOKS_DIR, REPO_ROOT, SOLUTIONS_DIR
from utils.course.labs import stale_labs

ALL_NOTEBOOKS = sorted([*NOTEBOOKS_DIR.glob("*.ipynb"), *SOLUTIONS_DIR.glob("*.ipynb"), *LABS_DIR.glob("*.ipynb")])
TEACHING = sorted([*NOTEBOOKS_DIR.glob("*.ipynb"), *SOLUTIONS_DIR.glob("*.ipynb")])
PLAIN_VALUES = (ast.Constant, ast.List, ast.Tuple, ast.Dict, ast.UnaryOp)


def _name(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=_name)
def test_committed_notebooks_carry_no_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{_name(path)} has outputs in cells {dirty}; run `.venv/bin/nbstripout --keep-id {_name(path)}`."


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
    assert "setup_notebook(" in code[1].source, "the cell after `parameters` calls utils.core.runtime.setup_notebook"
    headings = [line for c in nb.cells if c.cell_type == "markdown" for line in c.source.splitlines()]
    assert any(h.startswith("## Summary") for h in headings), "ends with a Summary section"
    if path.parent == NOTEBOOKS_DIR:
        assert any(h.startswith("## Your turn") for h in headings), "has a Your turn section"
        assert "record_results(" in code[-1].source, "the last code cell records the headline metrics"


def test_ruff_passes_on_code_and_notebooks():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=REPO_ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _modules() -> list[str]:
    import utils

    return [m.name for m in pkgutil.walk_packages(utils.__path__, "utils.")
            if not m.ispkg and not m.name.endswith("__main__")]


def test_the_package_map_lists_every_module():
    """``utils/__init__.py`` is the map a reader starts from: every module is on it, under its sub-package."""
    import utils

    missing = []
    for module in _modules():
        package, name = module.split(".")[1:]
        section = utils.__doc__.split(f"\n{package}/ —", 1)[1].split("/ —", 1)[0]
        if not re.search(rf"^    {name}\b", section, re.M):
            missing.append(module)
    assert not missing, f"Add these modules to the map in utils/__init__.py: {missing}"


def test_importing_utils_stays_light():
    """``import utils`` must not pull in torch or transformers: the course runner and set-up check import it."""
    code = "import sys, utils; print(sorted(m for m in ('torch', 'transformers', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_nothing_points_outside_the_repository():
    """A learner has only this repository: no file may send them to the developers' design notes."""
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True).stdout.split()
    pattern = "COURSE" + ".md|STYLE" + ".md|\\.\\./shared"   # split so this file does not match itself
    offenders = [f for f in tracked if (REPO_ROOT / f).is_file() and f.endswith((".py", ".md", ".ipynb", ".toml", ".txt"))
                 and re.search(pattern, (REPO_ROOT / f).read_text(errors="ignore"))]
    assert not offenders, f"These files point to design notes outside the repository: {offenders}"
