"""The labs under nbgrader: metadata stamped from the solutions, releases equal to labs/, autograde scores.

The integration tests run the nbgrader commands docs/grading.md gives, in a temporary course directory
written by ``utils.course.grading.write_course`` (its own gradebook, so nothing is shared with a real course).
"""

import copy
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.nbgraderformat import MetadataValidator
from traitlets.config import Config

from utils.core.paths import LABS_DIR, SOLUTIONS_DIR
from utils.course import grading, labs

LABS = grading.assignments()
NBGRADER = Path(sys.executable).parent / "nbgrader"


def _notebook(*sources: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Demo")] + [nbformat.v4.new_code_cell(s) for s in sources]
    nb.cells[1].metadata["tags"] = ["parameters"]
    return nb


# --- the metadata, stamped from the notebook ------------------------------------------------------------------

def test_cells_get_their_role_from_markers_and_checks():
    nb = labs.stamp_solution(_notebook(
        "SMOKE = False",
        "from utils.course.checks import check",
        "x = 0\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION",
        "check(x == 1, 'x is one')",
    ), "demo.ipynb")
    meta = [cell.metadata.get("nbgrader") for cell in nb.cells]
    assert meta[0] is None and meta[2] is None, "markdown and ordinary code cells stay ordinary"
    assert meta[1] == {"grade": False, "grade_id": "parameters", "locked": True, "schema_version": 3,
                       "solution": False}
    assert meta[3] == {"grade": False, "grade_id": f"answer-{nb.cells[3].id}", "locked": False,
                       "schema_version": 3, "solution": True}
    assert meta[4] == {"grade": True, "grade_id": f"check-{nb.cells[4].id}", "locked": True,
                       "points": labs.POINTS_PER_CHECK, "schema_version": 3, "solution": False}
    MetadataValidator().validate_nb(nb)  # what nbgrader itself checks


def test_stamping_is_idempotent_and_drops_stale_metadata():
    nb = labs.stamp_solution(_notebook("SMOKE = False", "check(True, 'ok')"), "demo.ipynb")
    assert labs.stamp_solution(nb, "demo.ipynb") == nb
    nb.cells[2].source = "print('no check any more')"
    assert "nbgrader" not in labs.stamp_solution(nb, "demo.ipynb").cells[2].metadata


def test_a_self_check_inside_an_answer_cell_is_refused():
    nb = _notebook("SMOKE = False", "### BEGIN SOLUTION\nx = 1\n### END SOLUTION\ncheck(x == 1, 'x')")
    with pytest.raises(labs.LabMarkerError, match="cell 2 holds an exercise and a self-check"):
        labs.stamp_solution(nb, "demo.ipynb")


def test_solutions_carry_their_current_nbgrader_metadata():
    assert not labs.unstamped_solutions(), "Run `make labs`: it stamps the nbgrader metadata into solutions/."


@pytest.mark.parametrize("name", LABS)
def test_every_lab_has_answers_and_points(name):
    nb = nbformat.read(SOLUTIONS_DIR / f"{name}.ipynb", as_version=4)
    MetadataValidator().validate_nb(nb)
    meta = [cell.metadata["nbgrader"] for cell in nb.cells if "nbgrader" in cell.metadata]
    assert sum(m["solution"] for m in meta) >= 1
    assert sum(m.get("points", 0) for m in meta if m["grade"]) >= 1


def test_configure_sets_the_course_options():
    c = Config()
    grading.configure(c)
    assert grading.ClearSolutionsWithHints in c.GenerateAssignment.preprocessors
    assert c.Execute.timeout >= 600 and c.Execute.kernel_name == "python3"


# --- nbgrader itself, in a temporary course directory -------------------------------------------------------

def nbgrader(root: Path, *args: str) -> str:
    """Run one nbgrader command in the course directory; fail with its log if it reports an error."""
    env = {**os.environ, "PATH": f"{NBGRADER.parent}{os.pathsep}{os.environ['PATH']}",  # nbgrader calls `alembic`
           "JUPYTER_CONFIG_DIR": str(root / ".jupyter")}  # no instructor's ~/.jupyter config
    result = subprocess.run([str(NBGRADER), *args, f"--CourseDirectory.root={root}"], cwd=root, env=env,
                            capture_output=True, text=True, timeout=900)
    log = result.stdout + result.stderr
    assert result.returncode == 0 and "| ERROR]" not in log, log[-4000:]
    assert "Exception while loading config file" not in log, log[-4000:]
    return log


def released(root: Path, name: str) -> nbformat.NotebookNode:
    return nbformat.read(root / "release" / name / f"{name}.ipynb", as_version=4)


def submit(root: Path, name: str, student: str, answered: set[str]) -> None:
    """Hand in the released notebook with the solution's code in the answer cells whose ids are in ``answered``."""
    solution = {cell.id: cell.source for cell in nbformat.read(SOLUTIONS_DIR / f"{name}.ipynb", as_version=4).cells}
    nb = released(root, name)
    for cell in nb.cells:
        if cell.id in answered:
            cell.source = solution[cell.id]
    path = root / "submitted" / student / name / f"{name}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def answer_ids(name: str) -> list[str]:
    return [cell.id for cell in nbformat.read(SOLUTIONS_DIR / f"{name}.ipynb", as_version=4).cells
            if cell.metadata.get("nbgrader", {}).get("solution")]


def scores(root: Path, name: str, students: list[str]) -> dict[str, tuple[float, float]]:
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", grading.COURSE_ID) as gb:
        return {s: (gb.find_submission(name, s).score, gb.find_submission(name, s).max_score) for s in students}


# What the release adds that labs/ leave out, and why. Everything else (cell types, ids, sources, tags, the
# nbgrader metadata, empty outputs, the kernelspec) must be identical.
LOCK_FLAGS = ("editable", "deletable")  # LockCells makes locked cells read-only; labs/ stay editable for SMOKE = True
BOOKKEEPING = ("checksum", "cell_type")  # ComputeChecksums: autograde's record of each released cell


def lab_as_released(lab: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """labs/ less what only a repository file needs: the "generated, edit the solution" note and its metadata."""
    nb = copy.deepcopy(lab)
    assert nb.cells[0].id == "generated-note"
    del nb.cells[0]
    del nb.metadata["crossroads"]
    return nb


def release_without_bookkeeping(release: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        for key in LOCK_FLAGS:
            cell.metadata.pop(key, None)
        for key in BOOKKEEPING:
            cell.metadata.get("nbgrader", {}).pop(key, None)
    return nb


def test_generate_assignment_releases_the_labs(tmp_path):
    grading.write_course(tmp_path)
    nbgrader(tmp_path, "generate_assignment", "*", "--force")
    problems = []
    for name in LABS:
        release = released(tmp_path, name)
        expected = lab_as_released(nbformat.read(LABS_DIR / f"{name}.ipynb", as_version=4))
        got = release_without_bookkeeping(release)
        if got.metadata != expected.metadata:
            problems.append(f"{name}: notebook metadata {got.metadata} != {expected.metadata}")
        if [c.id for c in got.cells] != [c.id for c in expected.cells]:
            problems.append(f"{name}: cells {[c.id for c in got.cells]} != {[c.id for c in expected.cells]}")
            continue
        for mine, theirs in zip(expected.cells, got.cells):
            if mine != theirs:
                problems.append(f"{name}, cell {mine.id}:\n--- labs/\n{mine}\n--- release\n{theirs}")
        read_only = {c.id for c in release.cells if c.metadata.get("editable") is False}
        locked = {c.id for c in expected.cells if c.metadata.get("nbgrader", {}).get("locked")}
        if read_only != locked:
            problems.append(f"{name}: read-only cells {sorted(read_only)}, locked ones {sorted(locked)}")
    assert not problems, "\n".join(problems)


def test_autograde_scores_full_none_and_part(tmp_path):
    name = "lab_01_choosing"
    grading.write_course(tmp_path, [name])
    nbgrader(tmp_path, "generate_assignment", name, "--force")
    answers = answer_ids(name)
    submit(tmp_path, name, "solution", set(answers))
    submit(tmp_path, name, "untouched", set())
    submit(tmp_path, name, "first-only", {answers[0]})
    nbgrader(tmp_path, "autograde", name, "--force")
    got = scores(tmp_path, name, ["solution", "untouched", "first-only"])
    (full, out_of), (none, _), (part, _) = got.values()
    assert out_of == 5 and full == out_of and none == 0 and 0 < part < out_of, got
    nbgrader(tmp_path, "generate_feedback", name, "--force")
    feedback = (tmp_path / "feedback" / "first-only" / name / f"{name}.html").read_text()
    assert f"Score: {part} / {out_of}" in feedback


@pytest.mark.grading
@pytest.mark.parametrize("name", [name for name in LABS if name != "lab_01_choosing"])
def test_the_solution_scores_full_marks_in_smoke_mode(tmp_path, name):
    """Every check passes under autograde, and no graded cell writes to stderr (nbgrader scores that as a failure).
    Smoke mode for speed: the source's parameters are the ones autograde runs with (the cell is locked)."""
    (source,) = grading.write_course(tmp_path, [name])
    nb = nbformat.read(source, as_version=4)
    parameters = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    parameters.source = parameters.source.replace("SMOKE = False", "SMOKE = True")
    assert "SMOKE = True" in parameters.source
    nbformat.write(nb, source)
    nbgrader(tmp_path, "generate_assignment", name, "--force")
    submit(tmp_path, name, "solution", set(answer_ids(name)))
    nbgrader(tmp_path, "autograde", name, "--force")
    (full, out_of), = scores(tmp_path, name, ["solution"]).values()
    assert out_of > 0 and full == out_of
