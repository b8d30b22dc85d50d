"""Generate exercise notebooks (``labs/``) from their single source (``solutions/``).

In a solution notebook, the code between two marker lines is the answer::

    def recall_at_k(hits, relevant, k):
        ### BEGIN SOLUTION
        # HINT: count the relevant ids among the first k hits, then divide by len(relevant)
        found = sum(1 for h in hits[:k] if h in relevant)
        return found / len(relevant)
        ### END SOLUTION

In the lab, the region becomes its ``# HINT:`` lines plus a stub that raises
``NotImplementedError`` carrying the hint, indented like the markers. Outputs are cleared
and the notebook is marked as generated.

The solutions are also nbgrader source notebooks (see docs/grading.md). Their ``nbgrader`` cell metadata is
derived here from the notebook itself and stamped into ``solutions/``, never set by hand:

- a code cell with a solution region is an answer cell (``solution``, editable);
- a code cell without one that calls a self-check from ``utils.course.checks`` is an autograded test cell
  (``grade``, locked), worth ``POINTS_PER_CHECK``: it scores when it runs without an error;
- the ``parameters`` cell is locked (read-only), so a submission is graded with the course's parameters.

Run ``python -m utils.course.labs`` (``make labs``) after editing a solution: it stamps the metadata into
``solutions/`` and regenerates ``labs/``. ``python -m utils.course.labs --check`` fails when either is stale.
"""

import argparse
import ast
import copy
import sys
from pathlib import Path

import nbformat

from utils.core.paths import LABS_DIR, SOLUTIONS_DIR
from utils.course import checks

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
HINT = "# HINT:"
STUB_PREFIX = "Exercise: "
GENERATED_NOTE = ("> **This lab is generated from `solutions/{name}` by `make labs`.** "
                  "Edit the solution, not this file.")
POINTS_PER_CHECK = 1  # every self-check cell is worth one point in nbgrader
CHECK_FUNCTIONS = frozenset(name for name in vars(checks) if name.startswith("check"))


class LabMarkerError(ValueError):
    """A solution cell has unbalanced or malformed solution markers."""


def stub_cell_source(source: str, where: str = "cell") -> tuple[str, int]:
    """Replace each solution region in one cell's source; return the new source and the number of regions."""
    out, region, regions, indent = [], None, 0, ""
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith(BEGIN):
            if region is not None:
                raise LabMarkerError(f"{where}, line {number}: '{BEGIN}' inside another solution region.")
            region, indent = [], line[: len(line) - len(line.lstrip())]
        elif stripped.startswith(END):
            if region is None:
                raise LabMarkerError(f"{where}, line {number}: '{END}' without a '{BEGIN}' above it.")
            hints = [text.strip()[len(HINT):].strip() for text in region if text.strip().startswith(HINT)]
            out += [f"{indent}{HINT} {hint}" for hint in hints]
            message = STUB_PREFIX + (" ".join(hints) if hints else "replace this line with your code.")
            out.append(f"{indent}raise NotImplementedError({message!r})")
            region, regions = None, regions + 1
        elif region is not None:
            region.append(line)
        else:
            out.append(line)
    if region is not None:
        raise LabMarkerError(f"{where}: '{BEGIN}' is never closed by '{END}'.")
    return "\n".join(out), regions


def _has_solution_region(source: str) -> bool:
    return any(line.strip().startswith(BEGIN) for line in source.splitlines())


def _calls_a_check(source: str, where: str) -> bool:
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise LabMarkerError(f"{where} is not valid Python ({error.msg}, line {error.lineno}).") from None
    return any(isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in CHECK_FUNCTIONS
               for node in ast.walk(tree))


def grading_role(cell: nbformat.NotebookNode, where: str = "cell") -> str | None:
    """``"answer"``, ``"check"``, ``"parameters"`` or ``None``: what nbgrader makes of a solution cell."""
    if cell.cell_type != "code":
        return None
    if _has_solution_region(cell.source):
        if _calls_a_check(cell.source, where):
            raise LabMarkerError(f"{where} holds an exercise and a self-check; put the self-check in the next cell, "
                                 "so nbgrader can lock it.")
        return "answer"
    if "parameters" in cell.metadata.get("tags", []):
        return "parameters"
    return "check" if _calls_a_check(cell.source, where) else None


def nbgrader_metadata(cell: nbformat.NotebookNode, where: str = "cell") -> dict | None:
    """The ``nbgrader`` metadata (schema 3) a solution cell should carry, or ``None`` for an ordinary cell."""
    role = grading_role(cell, where)
    if role is None:
        return None
    meta = {"grade": role == "check", "grade_id": role if role == "parameters" else f"{role}-{cell.id}",
            "locked": role != "answer", "schema_version": 3, "solution": role == "answer"}
    if role == "check":
        meta["points"] = POINTS_PER_CHECK
    return meta


def stamp_solution(solution: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """A copy of the solution with the ``nbgrader`` metadata of every cell derived afresh."""
    stamped = copy.deepcopy(solution)
    for index, cell in enumerate(stamped.cells):
        meta = nbgrader_metadata(cell, f"{name}, cell {index}")
        if meta is None:
            cell.metadata.pop("nbgrader", None)
        else:
            cell.metadata["nbgrader"] = meta
    return stamped


def generate_lab(solution: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """The lab for one solution notebook (``name`` is its file name, for messages and the note)."""
    lab = copy.deepcopy(solution)
    total = 0
    for index, cell in enumerate(lab.cells):
        if cell.cell_type == "code":
            cell.source, regions = stub_cell_source(cell.source, f"{name}, cell {index}")
            cell.outputs, cell.execution_count = [], None
            total += regions
        cell.metadata.pop("execution", None)
    if total == 0:
        raise LabMarkerError(f"{name} has no '{BEGIN}' regions, so its lab would have no exercises.")
    note = nbformat.v4.new_markdown_cell(GENERATED_NOTE.format(name=name))
    note.id = "generated-note"
    lab.cells.insert(0, note)
    lab.metadata["crossroads"] = {"generated_from": f"solutions/{name}"}
    return lab


def render(notebook: nbformat.NotebookNode) -> str:
    text = nbformat.writes(notebook)
    return text if text.endswith("\n") else text + "\n"


def stamped_solutions(solutions_dir: Path = SOLUTIONS_DIR) -> dict[str, nbformat.NotebookNode]:
    """File name → solution notebook with its nbgrader metadata stamped, for every solution notebook."""
    return {path.name: stamp_solution(nbformat.read(path, as_version=4), path.name)
            for path in sorted(Path(solutions_dir).glob("*.ipynb"))}


def unstamped_solutions(solutions_dir: Path = SOLUTIONS_DIR) -> list[str]:
    """Names of solutions whose nbgrader metadata is missing or differs from what their cells imply."""
    return [name for name, solution in stamped_solutions(solutions_dir).items()
            if (Path(solutions_dir) / name).read_text() != render(solution)]


def stamp_solutions(solutions_dir: Path = SOLUTIONS_DIR) -> list[Path]:
    """Write the nbgrader metadata into the solutions that lack it (or carry a stale one); return those."""
    written = []
    for name in unstamped_solutions(solutions_dir):
        path = Path(solutions_dir) / name
        path.write_text(render(stamp_solution(nbformat.read(path, as_version=4), name)))
        written.append(path)
    return written


def expected_labs(solutions_dir: Path = SOLUTIONS_DIR) -> dict[str, str]:
    """File name → rendered lab text, for every solution notebook (generated from its stamped version)."""
    return {name: render(generate_lab(solution, name)) for name, solution in stamped_solutions(solutions_dir).items()}


def stale_labs(solutions_dir: Path = SOLUTIONS_DIR, labs_dir: Path = LABS_DIR) -> list[str]:
    """Names of labs that are missing, different from what their solution generates, or orphaned."""
    expected = expected_labs(solutions_dir)
    stale = [name for name, text in expected.items()
             if not (Path(labs_dir) / name).exists() or (Path(labs_dir) / name).read_text() != text]
    stale += [p.name for p in sorted(Path(labs_dir).glob("*.ipynb")) if p.name not in expected]
    return stale


def write_labs(solutions_dir: Path = SOLUTIONS_DIR, labs_dir: Path = LABS_DIR) -> list[Path]:
    labs_dir = Path(labs_dir)
    labs_dir.mkdir(parents=True, exist_ok=True)
    expected = expected_labs(solutions_dir)
    for orphan in labs_dir.glob("*.ipynb"):
        if orphan.name not in expected:
            orphan.unlink()
    written = []
    for name, text in expected.items():
        (labs_dir / name).write_text(text)
        written.append(labs_dir / name)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="fail if labs/ or the solutions' nbgrader metadata is stale instead of writing them")
    args = parser.parse_args(argv)
    if args.check:
        unstamped, stale = unstamped_solutions(), stale_labs()
        if unstamped:
            print(f"Solutions without current nbgrader metadata: {', '.join(unstamped)}.")
        if stale:
            print(f"Stale labs: {', '.join(stale)}.")
        if unstamped or stale:
            print("Run `make labs` and commit labs/ with solutions/.")
            return 1
        print("labs/ is up to date with solutions/, and solutions/ carry their nbgrader metadata.")
        return 0
    for path in stamp_solutions():
        print(f"stamped the nbgrader metadata into {path.relative_to(path.parent.parent)}")
    for path in write_labs():
        print(f"wrote {path.relative_to(path.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
