"""Merge every notebook's results file into one report: ``report.md`` and a self-contained ``report.html``.

The HTML embeds the saved figures as base64, so it opens offline in any browser and can be
mailed as one file. The course's time and memory budgets (below) are checked and marked, never enforced here: a
slow notebook is a finding to read in the report, not a crashed build.
"""

import base64
import datetime
import html
import os
import platform
from pathlib import Path

from utils.core.tables import markdown_table
from utils.course.results import load_results
from utils.decide.situation import APPROACHES

BUDGET_SECONDS = {"full": 240, "smoke": 60}   # any one notebook
BUDGET_TOTAL_SECONDS = {"full": 18 * 60, "smoke": 10 * 60}
BUDGET_RSS_MB = 3 * 1024
CHILD_NOTE = ("Peak RSS is the notebook's kernel, which the memory budget applies to. Work a notebook runs in a "
              "separate process on purpose (the full fine-tuning step of notebook 03, the serving processes of "
              "notebook 05) is measured apart and shown in its own column.")
HEADLINE_NOTEBOOK = "05_side_by_side"     # its comparison is the report's first screen


ESTIMATE_KEYS = {"value", "n", "low", "high"}    # how utils.core.stats.Estimate.as_record stores a figure


def is_estimate(value) -> bool:
    return isinstance(value, dict) and set(value) == ESTIMATE_KEYS


def format_value(value) -> str:
    if is_estimate(value):
        return f"{value['value']:.3f} [{value['low']:.3f}, {value['high']:.3f}], n = {value['n']}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        shown = ", ".join(format_value(v) for v in value[:8])
        return f"[{shown}{', …' if len(value) > 8 else ''}]"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {format_value(v)}" for k, v in value.items())
    return str(value)


def flatten(metrics: dict, prefix: str = "") -> list[tuple[str, str]]:
    """``{"rag": {"accuracy": 0.9}}`` → ``[("rag.accuracy", "0.9")]``: nested dicts become dotted rows."""
    rows = []
    for key, value in metrics.items():
        if isinstance(value, dict) and value and not is_estimate(value):
            rows += flatten(value, f"{prefix}{key}.")
        else:
            rows.append((f"{prefix}{key}", format_value(value)))
    return rows


def headline(build: Path, results: dict) -> dict | None:
    """The side-by-side comparison: one row per metric, one column per approach, plus its figure."""
    metrics = results.get(HEADLINE_NOTEBOOK, {}).get("metrics", {})
    approaches = [a for a in APPROACHES if isinstance(metrics.get(a), dict)]
    if not approaches:
        return None
    names = list(dict.fromkeys(name for a in approaches for name in metrics[a]))
    rows = [[name, *(format_value(metrics[a].get(name, "–")) for a in approaches)] for name in names]
    figure = build / "figures" / HEADLINE_NOTEBOOK / "side_by_side.png"
    return {"approaches": approaches, "rows": rows, "figure": figure if figure.exists() else None}


def collect(build: Path, runs: list, smoke: bool) -> dict:
    """Everything the report shows, as plain data (the markdown and HTML writers only format it)."""
    mode = "smoke" if smoke else "full"
    results = load_results(build / "results")
    runs_by_name = {run.name: run for run in runs}
    names = list(dict.fromkeys([*runs_by_name, *results]))
    rows = []
    for name in sorted(names):
        record, run = results.get(name, {}), runs_by_name.get(name)
        seconds = run.seconds if run else record.get("seconds")
        rss = record.get("peak_rss_mb")
        status = "failed" if run and run.error else ("ok" if record else "no results recorded")
        within = (status == "ok" and seconds is not None and seconds <= BUDGET_SECONDS[mode]
                  and rss is not None and rss <= BUDGET_RSS_MB)
        figures = [f for f in sorted((build / "figures" / name).glob("*.png"))
                   if not (name == HEADLINE_NOTEBOOK and f.stem == "side_by_side")]  # already on the first screen
        rows.append({"name": name, "status": status, "error": run.error if run else "", "seconds": seconds,
                     "recorded_seconds": record.get("seconds"), "peak_rss_mb": rss,
                     "child_peak_rss_mb": record.get("child_peak_rss_mb"), "within_budget": within,
                     "metrics": flatten(record.get("metrics", {})), "figures": figures,
                     "smoke": record.get("smoke", smoke)})
    total = sum(row["seconds"] or 0 for row in rows)
    return {"mode": mode, "rows": rows, "total_seconds": total, "headline": headline(build, results),
            "total_within_budget": total <= BUDGET_TOTAL_SECONDS[mode],
            "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores, "
                       f"Python {platform.python_version()}",
            "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M")}


def _mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def _number(value, digits: int = 0) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _budget_table(data: dict) -> tuple[list[str], list[list[str]]]:
    """The per-notebook budget table as a header and rows of cells: one definition for markdown and HTML."""
    header = ["notebook", "status", "wall s", "peak RSS MiB", "largest child process MiB",
              f"within budget (≤ {BUDGET_SECONDS[data['mode']]} s, ≤ {BUDGET_RSS_MB} MiB)"]
    rows = [[r["name"], r["status"], _number(r["seconds"]), _number(r["peak_rss_mb"]),
             _number(r["child_peak_rss_mb"]), _mark(r["within_budget"])] for r in data["rows"]]
    return header, rows


def to_markdown(data: dict, build: Path) -> str:
    mode = data["mode"]
    lines = [f"# AI Crossroads — course report ({mode} mode)", "",
             f"{data['date']} · {data['machine']} · total {data['total_seconds'] / 60:.1f} min "
             f"{_mark(data['total_within_budget'])} (budget {BUDGET_TOTAL_SECONDS[mode] // 60} min)", ""]
    top = data["headline"]
    if top:
        lines += ["## Custom vs fine-tune vs RAG, measured on one task", "",
                  markdown_table(["metric", *top["approaches"]], top["rows"], "l" + "r" * len(top["approaches"]))]
        if top["figure"]:
            lines += ["", f"![side by side]({top['figure'].relative_to(build).as_posix()})"]
        lines += ["", "## Notebooks", ""]
    lines += [markdown_table(*_budget_table(data), align="llrrrc")]
    lines += ["", CHILD_NOTE]
    for row in data["rows"]:
        lines += ["", f"## {row['name']}", ""]
        if row["error"]:
            lines += [f"**Failed** in {row['error']}", ""]
        if row["metrics"]:
            lines += [markdown_table(["metric", "value"], [list(m) for m in row["metrics"]])]
        for figure in row["figures"]:
            lines += ["", f"![{figure.stem}]({figure.relative_to(build).as_posix()})"]
    return "\n".join(lines) + "\n"


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _embedded_image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<figure><img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">' \
           f"<figcaption>{html.escape(path.stem)}</figcaption></figure>"


STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}
th{background:#f3f3f3}img{max-width:100%}figure{display:inline-block;margin:0.5em;max-width:520px}
.failed{color:#b00020;font-weight:bold}"""


def to_html(data: dict) -> str:
    mode = data["mode"]
    parts = [f"<h1>AI Crossroads — course report ({mode} mode)</h1>",
             f"<p>{html.escape(data['date'])} · {html.escape(data['machine'])} · total "
             f"{data['total_seconds'] / 60:.1f} min {_mark(data['total_within_budget'])} "
             f"(budget {BUDGET_TOTAL_SECONDS[mode] // 60} min)</p>"]
    top = data["headline"]
    if top:
        parts += ["<h2>Custom vs fine-tune vs RAG, measured on one task</h2>",
                  _html_table(["metric", *top["approaches"]], top["rows"])]
        parts += [_embedded_image(top["figure"])] if top["figure"] else []
        parts.append("<h2>Notebooks</h2>")
    parts += [_html_table(*_budget_table(data)), f"<p>{html.escape(CHILD_NOTE)}</p>"]
    for row in data["rows"]:
        parts.append(f'<h2 id="{html.escape(row["name"])}">{html.escape(row["name"])}</h2>')
        if row["error"]:
            parts.append(f'<p class="failed">Failed in {html.escape(row["error"])}</p>')
        if row["metrics"]:
            parts.append(_html_table(["metric", "value"], [list(m) for m in row["metrics"]]))
        parts += [_embedded_image(figure) for figure in row["figures"]]
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>AI Crossroads report</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>\n")


def write_report(build: Path, runs: list, smoke: bool = False) -> Path:
    """Write ``report.md`` and ``report.html`` into ``build``; return the HTML path."""
    build = Path(build)
    build.mkdir(parents=True, exist_ok=True)
    data = collect(build, runs, smoke)
    (build / "report.md").write_text(to_markdown(data, build))
    path = build / "report.html"
    path.write_text(to_html(data))
    return path
