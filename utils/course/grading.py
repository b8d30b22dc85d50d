"""Grade the labs with nbgrader: ``solutions/`` are the source notebooks, one assignment per lab.

    python -m utils.course.grading ~/course   # source/<lab>/<lab>.ipynb from solutions/, and nbgrader_config.py

Which cells nbgrader grades is stamped into ``solutions/`` by ``make labs`` (see ``utils.course.labs``).
``configure`` is what the course's ``nbgrader_config.py`` calls. It makes ``nbgrader generate_assignment``
write the same student notebooks as ``labs/``: the solution regions become the labs' stubs, with their
``# HINT:`` lines, not nbgrader's bare ``# YOUR CODE HERE``. It also gives autograde the course runner's
per-cell timeout and kernel arguments. docs/grading.md has the instructor's commands.
"""

import argparse
import shutil
import sys
from pathlib import Path

from nbgrader.converters import GenerateAssignment
from nbgrader.preprocessors import ClearSolutions

from utils.core.paths import SOLUTIONS_DIR
from utils.course.labs import STUB_PREFIX, stub_cell_source
from utils.course.runner import CELL_TIMEOUT_SECONDS, KERNEL_ARGUMENTS

COURSE_ID = "ai-crossroads"
# What a solution cell with no region becomes (the labs give every region its own stub; this is nbgrader's fallback).
CODE_STUB = f"raise NotImplementedError({STUB_PREFIX + 'replace this line with your code.'!r})"
CONFIG_FILE = '''\
"""nbgrader configuration of the AI Crossroads labs (written by `python -m utils.course.grading`)."""

from utils.course.grading import configure

c = get_config()  # noqa: F821 (nbgrader defines get_config)
c.CourseDirectory.course_id = {course_id!r}
configure(c)
'''


class ClearSolutionsWithHints(ClearSolutions):
    """nbgrader's ``ClearSolutions`` with the labs' stub: each region keeps its ``# HINT:`` lines and raises a
    ``NotImplementedError`` that carries them, exactly as ``make labs`` writes it."""

    def _replace_solution_region(self, cell, language):
        if cell.cell_type != "code":
            return super()._replace_solution_region(cell, language)
        cell.source, regions = stub_cell_source(cell.source, f"cell {cell.get('id', '?')}")
        return regions > 0


def configure(c) -> None:
    """Set the course's nbgrader options on the config object ``c`` of an ``nbgrader_config.py``."""
    defaults = GenerateAssignment.class_traits()["preprocessors"].default()
    c.GenerateAssignment.preprocessors = [ClearSolutionsWithHints if p is ClearSolutions else p for p in defaults]
    c.ClearSolutions.code_stub = {"python": CODE_STUB}
    # Autograde runs each submission like the course runner does: the python3 kernel, with its log quietened.
    # nbgrader's default of 30 s per cell is too short for the labs' training cells.
    c.Execute.kernel_name = "python3"
    c.Execute.timeout = CELL_TIMEOUT_SECONDS
    c.Execute.extra_arguments = ["--HistoryManager.hist_file=:memory:", *KERNEL_ARGUMENTS]
    # A learner who deleted a self-check cell gets it back, run against their answers.
    c.OverwriteCells.add_missing_cells = True


def assignments(solutions_dir: Path = SOLUTIONS_DIR) -> list[str]:
    """The assignment names: one per lab, named after its notebook (``lab_01_choosing``, ...)."""
    return [path.stem for path in sorted(Path(solutions_dir).glob("*.ipynb"))]


def write_course(root: Path, names: list[str] | None = None, course_id: str = COURSE_ID,
                 solutions_dir: Path = SOLUTIONS_DIR) -> list[Path]:
    """Copy the solutions into ``root/source/<lab>/<lab>.ipynb`` and write ``root/nbgrader_config.py`` (kept if
    it exists, so an instructor's edits survive an update). Returns the source notebooks written."""
    root = Path(root)
    config = root / "nbgrader_config.py"
    if not config.exists():
        root.mkdir(parents=True, exist_ok=True)
        config.write_text(CONFIG_FILE.format(course_id=course_id))
    written = []
    for name in names or assignments(solutions_dir):
        target = root / "source" / name / f"{name}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(solutions_dir) / f"{name}.ipynb", target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="the nbgrader course directory (created if missing)")
    parser.add_argument("--course-id", default=COURSE_ID, help=f"nbgrader course id (default {COURSE_ID})")
    parser.add_argument("--only", nargs="+", help="just these labs, e.g. lab_01_choosing")
    args = parser.parse_args(argv)
    for path in write_course(args.root, args.only, args.course_id):
        print(f"wrote {path}")
    print(f"config: {args.root / 'nbgrader_config.py'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
