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
and the notebook is marked as generated. Run ``python -m utils.course.labs`` (``make labs``) after
editing a solution; ``python -m utils.course.labs --check`` fails when ``labs/`` is stale.
"""

import argparse
import copy
import sys
from pathlib import Path

import nbformat

from utils.core.paths import LABS_DIR, SOLUTIONS_DIR

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
HINT = "# HINT:"
STUB_PREFIX = "Exercise: "
GENERATED_NOTE = ("> **This lab is generated from `solutions/{name}` by `make labs`.** "
                  "Edit the solution, not this file.")


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


def expected_labs(solutions_dir: Path = SOLUTIONS_DIR) -> dict[str, str]:
    """File name → rendered lab text, for every solution notebook."""
    labs = {}
    for path in sorted(Path(solutions_dir).glob("*.ipynb")):
        solution = nbformat.read(path, as_version=4)
        labs[path.name] = render(generate_lab(solution, path.name))
    return labs


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
    parser.add_argument("--check", action="store_true", help="fail if labs/ is stale instead of writing it")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_labs()
        if stale:
            print(f"Stale labs: {', '.join(stale)}. Run `make labs` and commit labs/ with solutions/.")
            return 1
        print("labs/ is up to date with solutions/.")
        return 0
    for path in write_labs():
        print(f"wrote {path.relative_to(path.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
