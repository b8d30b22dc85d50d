"""Record a notebook's headline figures: one JSON file per notebook, merged later into the course report.

    from utils.course.results import record_results
    record_results("02_custom_cnn", {"digits_test_accuracy": 0.99}, smoke=SMOKE)

writes ``build/results/02_custom_cnn.json`` as
``{"notebook", "smoke", "seconds", "peak_rss_mb", "child_peak_rss_mb", "metrics"}``. The helper measures
the seconds (since ``start_timer``, else since the kernel started) and the kernel's peak resident memory
itself, so no notebook can forget or fudge them. A notebook that runs work in child processes on purpose
(notebook 03's full fine-tuning step, notebook 05's serving processes) passes their measured peak as
``child_peak_rss_mb``.
"""

import json
import math
import re
import resource
import sys
import time
from pathlib import Path

import numpy as np

from utils.core.paths import build_dir

_started_at: float | None = None
NOTEBOOK_NAME = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_.-]*$")


def start_timer() -> None:
    global _started_at
    _started_at = time.time()


def elapsed_seconds() -> float:
    if _started_at is not None:
        return time.time() - _started_at
    import psutil  # the process start time, for a notebook that never called start_timer

    return time.time() - psutil.Process().create_time()


def peak_rss_mb() -> float:
    """Peak resident memory of *this* process image so far, in MiB.

    On Linux we read ``VmHWM`` from ``/proc/self/status``: ``getrusage``'s ``ru_maxrss`` survives fork and
    exec, so a process started from a 2 GB notebook kernel would report at least 2 GB whatever it loads
    itself, and ``RUSAGE_CHILDREN`` inherits the same error. Elsewhere (macOS) ``ru_maxrss`` is the fallback.
    """
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024                                  # kB -> MiB
    scale = 1 if sys.platform == "darwin" else 1024  # macOS reports bytes, Linux kibibytes
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def latency_percentiles(latencies_ms) -> dict[str, float]:
    """Median and 95th percentile (linear interpolation). With few samples the p95 is close to the maximum."""
    values = np.asarray(list(latencies_ms), dtype=float)
    if values.size == 0:
        raise ValueError("No latencies to summarise: time at least one answer.")
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError("Latencies must be finite numbers >= 0 (milliseconds).")
    return {"p50": float(np.percentile(values, 50)), "p95": float(np.percentile(values, 95))}


def _check_json_value(name: str, value):
    """Metrics must be plain JSON: numbers, strings, booleans, and lists/dicts of them."""
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:  # numpy / torch scalar
        value = value.item()
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"Metric {name!r} is {value}: record a finite number (did training diverge?).")
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_check_json_value(name, v) for v in value]
    if isinstance(value, dict):
        return {str(k): _check_json_value(f"{name}.{k}", v) for k, v in value.items()}
    raise TypeError(f"Metric {name!r} has type {type(value).__name__}; record numbers, strings, "
                    "or lists/dicts of them.")


def results_path(notebook: str) -> Path:
    """Where ``record_results`` writes a notebook's figures: ``build/results/<notebook>.json``."""
    return build_dir() / "results" / f"{notebook}.json"


def record_results(notebook: str, metrics: dict, smoke: bool, child_peak_rss_mb: float | None = None) -> None:
    """Write ``build/results/<notebook>.json`` (``results_path``) and say so. Returns nothing, so that a
    notebook's last cell shows the printed line only.

    ``child_peak_rss_mb``: the largest peak of the processes the notebook started on purpose, as they
    measured it themselves (``peak_rss_mb()`` inside the child); the kernel cannot see it reliably.
    """
    if not isinstance(notebook, str) or not NOTEBOOK_NAME.match(notebook):
        raise ValueError(f"notebook must be the notebook's file stem such as '02_custom_cnn', got {notebook!r}.")
    if not isinstance(metrics, dict) or not metrics:
        raise ValueError("metrics must be a non-empty dict of headline figures, e.g. {'accuracy': 0.97}.")
    if child_peak_rss_mb is not None and not (isinstance(child_peak_rss_mb, (int, float)) and child_peak_rss_mb > 0):
        raise ValueError(f"child_peak_rss_mb must be a positive number of MiB or None, got {child_peak_rss_mb!r}.")
    record = {
        "notebook": notebook,
        "smoke": bool(smoke),
        "seconds": round(elapsed_seconds(), 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "child_peak_rss_mb": None if child_peak_rss_mb is None else round(float(child_peak_rss_mb), 1),
        "metrics": {str(k): _check_json_value(str(k), v) for k, v in metrics.items()},
    }
    path = results_path(notebook)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")
    children = f", largest child process {record['child_peak_rss_mb']:.0f} MiB" if record["child_peak_rss_mb"] else ""
    print(f"Recorded {len(metrics)} metrics to {path} "
          f"({record['seconds']:.1f} s, peak {record['peak_rss_mb']:.0f} MiB{children})")


def load_results(folder: Path | None = None) -> dict[str, dict]:
    """Every recorded results file, keyed by notebook name, in notebook order."""
    folder = Path(folder) if folder else build_dir() / "results"
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def save_figure(fig, notebook: str, name: str) -> Path:
    """Save a matplotlib figure to ``build/figures/<notebook>/<name>.png`` so the report can show it."""
    if not NOTEBOOK_NAME.match(notebook) or not NOTEBOOK_NAME.match(name):
        raise ValueError(f"Use plain file names for notebook and figure, got {notebook!r} and {name!r}.")
    path = build_dir() / "figures" / notebook / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    return path
