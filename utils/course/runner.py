"""Run the whole course: execute every notebook in order, then write the report.

    python -m utils.course            # full mode: build/executed/, build/results/, build/report.{md,html}
    python -m utils.course --smoke    # every notebook with SMOKE=True, into build/smoke/
    python -m utils.course --only 02  # just the notebooks whose names contain "02"
    python -m utils.course --report   # rebuild the report from existing results

Each notebook runs in a fresh ``python3`` kernel with papermill, in the ``notebooks/`` folder,
with a per-cell timeout. Stream outputs are coalesced (carriage returns applied), so progress
bars leave one line in the executed copy instead of thousands. A failing notebook does not
stop the others; the runner names it, and the failing cell, and exits non-zero at the end.
"""

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from utils.core.paths import NOTEBOOKS_DIR, build_dir

CELL_TIMEOUT_SECONDS = 600


# Every kernel logs "Kernel is running over TCP without encryption" at start-up. The kernels the runner starts
# listen on 127.0.0.1 only and live as long as one notebook, so there is nothing a user can do about it: we set
# the kernel's own log level to ERROR. Errors inside cells still reach the notebook (they travel as messages,
# not as log lines). We tried the IPC transport, which has no such warning, and one notebook run hung with both
# ends idle, so we stay on the default TCP transport.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR"]


@dataclass
class NotebookRun:
    name: str
    seconds: float
    error: str = ""  # empty when the notebook ran to the end


def course_notebooks(only: list[str] | None = None, folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The teaching sequence, in order (files named ``NN_*.ipynb``), optionally filtered by substring."""
    notebooks = sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"))
    if only:
        notebooks = [nb for nb in notebooks if any(pattern in nb.stem for pattern in only)]
        if not notebooks:
            raise ValueError(f"No notebook in {folder} matches {only}; names look like '02_custom_cnn'.")
    return notebooks


def describe_failure(error: Exception) -> str:
    """One line naming the failing cell and the exception, from papermill's error."""
    cell = getattr(error, "cell_index", None)
    if cell is not None:
        where = f"cell {cell}"
    elif isinstance(error, TimeoutError):  # nbclient's CellTimeoutError carries no index; its message names the cell
        where = "a cell ran past the per-cell timeout (--cell-timeout)"
    else:
        where = "outside any cell (kernel start-up or papermill)"
    ename, evalue = getattr(error, "ename", type(error).__name__), getattr(error, "evalue", str(error))
    evalue = " ".join(str(evalue).split())
    return f"{where}: {ename}: {evalue[:400]}"


def execute(notebook: Path, output: Path, smoke: bool, cell_timeout: int = CELL_TIMEOUT_SECONDS,
            cwd: Path | None = None, parameters: dict | None = None) -> None:
    """Execute one notebook with papermill; raises papermill's error if a cell fails."""
    import papermill

    output.parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(
        str(notebook), str(output),
        parameters={"SMOKE": smoke, **(parameters or {})},
        kernel_name="python3",
        language="python",
        cwd=str(cwd or notebook.parent),
        execution_timeout=cell_timeout,
        progress_bar=False,
        coalesce_streams=True,
        extra_arguments=KERNEL_ARGUMENTS,
    )


def output_dir(smoke: bool) -> Path:
    """Full runs write to ``build/``; smoke runs to ``build/smoke/`` so they never mix."""
    return build_dir() / "smoke" if smoke else build_dir()


def run_course(smoke: bool = False, only: list[str] | None = None, cell_timeout: int = CELL_TIMEOUT_SECONDS,
               folder: Path = NOTEBOOKS_DIR) -> list[NotebookRun]:
    out = output_dir(smoke)
    os.environ["CROSSROADS_BUILD_DIR"] = str(out)  # the kernels inherit it: results land beside the report
    runs = []
    notebooks = course_notebooks(only, folder)
    for number, notebook in enumerate(notebooks, start=1):
        (out / "results" / f"{notebook.stem}.json").unlink(missing_ok=True)  # no stale figures in the report
        print(f"[{number}/{len(notebooks)}] {notebook.name} ({'smoke' if smoke else 'full'} mode) ...", flush=True)
        started = time.perf_counter()
        try:
            execute(notebook, out / "executed" / notebook.name, smoke, cell_timeout)
            run = NotebookRun(notebook.stem, time.perf_counter() - started)
            print(f"    done in {run.seconds:.0f} s", flush=True)
        except Exception as error:  # papermill raises several types; all mean "this notebook failed"
            run = NotebookRun(notebook.stem, time.perf_counter() - started, describe_failure(error))
            print(f"    FAILED after {run.seconds:.0f} s in {run.error}\n"
                  f"    The executed copy with the traceback: {out / 'executed' / notebook.name}", flush=True)
        runs.append(run)
    return runs


def main(argv: list[str] | None = None) -> int:
    from utils.course.report import write_report

    parser = argparse.ArgumentParser(description="Execute the course notebooks and write the report.")
    parser.add_argument("--smoke", action="store_true", help="run every notebook with SMOKE=True")
    parser.add_argument("--only", nargs="+", help="run only notebooks whose names contain these strings")
    parser.add_argument("--cell-timeout", type=int, default=CELL_TIMEOUT_SECONDS, help="seconds per cell")
    parser.add_argument("--report", action="store_true", help="only rebuild the report from existing results")
    args = parser.parse_args(argv)

    out = output_dir(args.smoke)  # before run_course points CROSSROADS_BUILD_DIR at it
    runs = [] if args.report else run_course(args.smoke, args.only, args.cell_timeout)
    report = write_report(out, runs, smoke=args.smoke)
    print(f"Report: {report} (and {report.with_suffix('.md').name})")
    failed = [run for run in runs if run.error]
    for run in failed:
        print(f"FAILED: notebooks/{run.name}.ipynb, {run.error}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
