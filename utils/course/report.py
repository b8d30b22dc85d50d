"""Merge every notebook's results file into one report: ``report.md`` and a self-contained ``report.html``.

The HTML embeds the saved figures as base64 and carries its own small stylesheet, so it opens offline in any
browser, prints, and can be mailed as one file. The course's time and memory budgets (below) are checked and
marked, never enforced here: a slow notebook is a finding to read in the report, not a crashed build.

Every number is shown with its unit: ``UNIT_RULES`` maps metric names to a unit of ``utils.course.units``
(first matching rule wins), a measured figure with an interval as ``78.2 % [68.4 %, 85.5 %] · n = 87``, and
``EXPLANATIONS`` says in a line what each family of metrics measures, under each table. With
``glossary_url`` the terms of those lines link to the course glossary; without it the report stands alone.
"""

import base64
import datetime
import html
import os
import platform
import re
from pathlib import Path

from utils.core.tables import markdown_table
from utils.course.glossary import GLOSSARY_PATH, github_slug, markdown_headings
from utils.course.results import load_results
from utils.course.units import MISSING, format_number, is_missing
from utils.decide.situation import APPROACHES

BUDGET_SECONDS = {"full": 240, "smoke": 60}   # any one notebook
BUDGET_TOTAL_SECONDS = {"full": 18 * 60, "smoke": 10 * 60}
BUDGET_RSS_MB = 3 * 1024
CHILD_NOTE = ("Peak memory is the notebook's kernel, which the memory budget applies to. Work a notebook runs in "
              "a separate process on purpose (the full fine-tuning step of notebook 03, the serving processes of "
              "notebook 05) is measured apart and shown in its own column.")
HEADLINE_NOTEBOOK = "05_side_by_side"     # its comparison is the report's first screen
READING_NOTE = ("How to read the numbers: a measured share is shown as 78.2 % [68.4 %, 85.5 %] · n = 87, the value "
                "with its 95 % interval and the number of test items it was measured on; a difference of two shares "
                "is in percentage points (pp), and an interval that spans 0 pp means no difference was detected at "
                "that n. – means not measured or not defined.")


ESTIMATE_KEYS = {"value", "n", "low", "high"}    # how utils.core.stats.Estimate.as_record stores a figure


def is_estimate(value) -> bool:
    return isinstance(value, dict) and set(value) == ESTIMATE_KEYS


# ---------------------------------------------------------------------------------------------
# Units: metric name → unit. Searched in the dotted, lower-case name ("rag.latency_ms_p50"), in order;
# the first rule that matches decides. Every key the notebooks record is covered (tests/test_course_report.py
# checks a copy of real results); a name no rule matches is shown as a plain number, never as a guess.
# ---------------------------------------------------------------------------------------------

UNIT_RULES = [
    # a difference of two shares is in percentage points, whatever it is a difference of
    (r"minus|_gain\b|augmentation_gain", "pp"),
    (r"_usd\b|cost", "usd"),
    (r"per_hour$", "usd_per_hour"),
    (r"_percent$", "percent_value"),
    (r"tokens_per_second", "tokens_per_s"),
    (r"gflops$", "gflops"),
    (r"gbps$", "gbps"),
    (r"_gflop$", "score"),
    (r"speedup|_ratio$", "ratio"),
    (r"(^|[._])(latency|embed|retrieval|generation)_ms|_ms($|_)|ms_per_", "ms"),
    (r"seconds|(^|_)s$", "s"),
    (r"minutes$", "min"),
    (r"(^|_)kib$", "kib"),
    (r"megabytes$", "mb"),
    (r"(^|_)(mb|mib)$", "mib"),
    (r"(^|_)(gb|gib)$", "gib"),
    (r"parameters_m$", "millions"),
    (r"threshold|load_average", "score"),
    (r"(^|_)steps?($|_)|parameters$|examples$|questions$|scenarios|close_calls|flips|cores$|vectors$|flags|"
     r"tokens|(^|_)n$|count", "count"),
    (r"accuracy|recall|precision|mrr|ndcg|(^|_)rate$|_rate_|fractions?$|shares?$|agreement|attack_success|_right|"
     r"exact|(^|\.)valid$|(^|_)(zero|few)_shot|lora_json|strict|lenient|wrong_fact", "percent"),
]
_COMPILED_RULES = [(re.compile(pattern), unit) for pattern, unit in UNIT_RULES]


def unit_for(name: str) -> str:
    """The unit of the metric ``name`` (a dotted path such as ``"rag.latency_ms_p50"``); ``"plain"`` if unknown."""
    lowered = name.lower()
    return next((unit for pattern, unit in _COMPILED_RULES if pattern.search(lowered)), "plain")


def format_estimate(record: dict, unit: str = "plain") -> str:
    """``{"value", "n", "low", "high"}`` as ``78.2 % [68.4 %, 85.5 %] · n = 87``."""
    n = record["n"]
    count = f"{n:,}" if isinstance(n, int) and not isinstance(n, bool) else str(n)
    return (f"{format_number(record['value'], unit)} [{format_number(record['low'], unit)}, "
            f"{format_number(record['high'], unit)}] · n = {count}")


def format_value(value, name: str | None = None) -> str:
    """One metric as a reader wants it: the unit comes from ``name`` (see ``unit_for``); without a name, plain."""
    unit = unit_for(name) if name else "plain"
    if is_missing(value):
        return MISSING
    if is_estimate(value):
        return format_estimate(value, unit)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return format_number(value, unit)
    if isinstance(value, list):
        shown = ", ".join(format_value(v, name) for v in value[:8])
        return f"[{shown}{', …' if len(value) > 8 else ''}]"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {format_value(v, f'{name}.{k}' if name else str(k))}" for k, v in value.items())
    return str(value)


# Lists of measured figures recorded against a list of settings: each figure becomes a row named by its setting.
LIST_AXES = {"scarcity_": ("scarcity_fractions", "{} of the training data"),
             "label_noise_": ("label_noise_shares", "{} of the labels flipped")}


def _share(value) -> str:
    """A setting such as 0.5 as "50 %" (a label, not a measurement: no decimals unless needed)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1:
        return f"{100 * value:.4g} %"
    return format_value(value)


def _axis_labels(name: str, length: int, siblings: dict) -> list[str]:
    for prefix, (axis, template) in LIST_AXES.items():
        values = siblings.get(axis)
        if name.startswith(prefix) and name != axis and isinstance(values, list) and len(values) == length:
            return [template.format(_share(v)) for v in values]
    return [f"#{i}" for i in range(1, length + 1)]


def flatten(metrics: dict, prefix: str = "") -> list[tuple[str, str]]:
    """``{"rag": {"accuracy": 0.9}}`` → ``[("rag.accuracy", "90.0 %")]``: nested dicts become dotted rows.

    A value ``X`` with a sibling ``X_interval`` (notebook 05's rows) is shown once, with the interval. A list of
    measured figures becomes one row per figure, named by its setting (``LIST_AXES``) or by its position;
    a list of records (dicts) one row per record.
    """
    rows = []
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if key.endswith("_interval") and key[: -len("_interval")] in metrics and is_estimate(value):
            continue                                             # shown with the value it belongs to
        interval = metrics.get(f"{key}_interval")
        if is_estimate(interval) and isinstance(value, (int, float)) and not isinstance(value, bool):
            rows.append((name, format_value(interval, name)))
        elif isinstance(value, dict) and value and not is_estimate(value):
            rows += flatten(value, f"{name}.")
        elif isinstance(value, list) and value and all(isinstance(v, dict) and v for v in value):
            labels = _axis_labels(str(key), len(value), metrics)
            rows += [(f"{name} · {label}", format_value(v, name)) for label, v in zip(labels, value)]
        else:
            rows.append((name, format_value(value, name)))
    return rows


# ---------------------------------------------------------------------------------------------
# What the metrics measure: (pattern searched in the dotted, lower-case name; term; glossary headings to try;
# a line for a learner). Each table lists the families its metric names match, in this order.
# ---------------------------------------------------------------------------------------------

EXPLANATIONS = [
    (r"strict", "strict accuracy", ("Strict accuracy", "Strict scoring"),
     "share of answers the strict scorer accepts: every required fact with its unit, about the product asked "
     "about, and no conflicting value."),
    (r"lenient|(closed_book|rag_model_only|quote_only|^rag|fresh)_accuracy(_after_update)?$",
     "lenient accuracy", ("Lenient accuracy", "Key-fact match", "Accuracy"),
     "share of answers in which one of the question's key facts appears, however it is worded."),
    (r"accuracy", "accuracy", ("Accuracy",),
     "share of held-out test items (images, messages, questions) labelled or answered right; for generated "
     "answers, by the scorer the results name (lenient or strict)."),
    (r"stale|after_update", "stale / after update", ("Knowledge update", "Freshness", "Accuracy"),
     "accuracy on the questions whose facts changed: stale = before any update work, after update = once the "
     "approach has taken in the new facts."),
    (r"(^|[._])exact", "exact match", ("Exact match",),
     "share of messages with every field (product, topic, sentiment) right at once."),
    (r"(^|\.)valid$", "valid JSON", ("JSON", "Valid JSON"),
     "share of answers that parse as the JSON the prompt asks for."),
    (r"(^|[._])(product|topic|sentiment)$|fields_right", "field accuracy", ("Accuracy",),
     "share of messages with that field right (fields right: the three fields pooled)."),
    (r"recall_at_\d|recall@\d", "recall@k", ("Recall@k", "Recall at k", "Recall"),
     "share of questions for which a passage holding the answer is among the top k retrieved (answer_recall@k: "
     "the fact itself is in the top k chunks); hnsw_recall_at_10: share of the exact 10 nearest neighbours the "
     "approximate index also returns."),
    (r"(^|[._])recall$|defect_recall", "recall", ("Precision and recall", "Recall"),
     "of the items truly in a class, the share the model puts there (defect recall: defective parts caught)."),
    (r"precision", "precision", ("Precision and recall", "Precision"),
     "of the items the model puts in a class, the share truly in it."),
    (r"mrr", "MRR", ("MRR", "Mean reciprocal rank"),
     "mean reciprocal rank: 1 / the rank of the first relevant passage, averaged over questions "
     "(100 % = always first)."),
    (r"ndcg", "nDCG", ("nDCG", "NDCG"),
     "normalised discounted cumulative gain: how close the ranking is to the ideal order, relevant passages "
     "near the top counting most (100 % = ideal)."),
    (r"p50|p95|latency", "p50 / p95 latency", ("p50 / p95", "p50 and p95", "Latency"),
     "median and 95th-percentile time for one answer (p95: the slow tail one request in twenty waits)."),
    (r"attack_success", "attack success rate", ("Attack success rate", "Prompt injection"),
     "share of planted prompt-injection attacks the answer obeyed, per defence (lower is better)."),
    (r"false_alarm", "false-alarm rate", ("False-alarm rate", "False alarm"),
     "share of genuine documents the injection filter wrongly flags (lower is better)."),
    (r"abstain_rate", "abstain rate", ("Abstain rate", "Abstention"),
     "share of questions the system declines to answer: high on unanswerable questions, low on answerable ones."),
    (r"threshold", "abstention threshold", ("Abstention", "Threshold"),
     "retrieval-confidence score below which the system abstains (review: below which an answer is sent for "
     "review), calibrated on the dev questions."),
    (r"scorer_agreement", "scorer agreement", ("Scorer agreement", "Inter-rater agreement"),
     "share of answers on which the automatic scorer agrees with hand grades."),
    (r"minus|_gain\b", "difference", ("Percentage points", "Paired difference", "Confidence interval"),
     "first minus second on the same test items, in percentage points, with a paired-bootstrap 95 % interval."),
    (r"speedup", "speed-up", ("Speed-up", "ANN"),
     "how many times faster than the baseline (HNSW: than exact search; GPU: the assumed GPU speed-up)."),
    (r"build_seconds|update_seconds|reindex_seconds|train_seconds|step_seconds|load_seconds",
     "build / update time", ("Wall-clock time", "Latency"),
     "wall-clock time to train or index (build), to take in changed facts (update), or to load the model."),
    (r"_usd\b|cost|per_hour", "cost", ("Cost", "Compute cost"),
     "measured seconds × an assumed price per hour of a CPU or a GPU machine (the prices notebook 05 "
     "records); serving cost is per 1,000 questions."),
    (r"peak|rss", "peak memory", ("Peak memory", "Peak memory (RSS)", "RSS"),
     "the most resident memory (RAM) the process used at any moment."),
    (r"tokens_per_second", "tokens per second", ("Tokens per second", "Throughput"),
     "text-generation speed of the small LLM, prompts batched."),
    (r"trainable_percent|adapter", "LoRA adapter", ("LoRA",),
     "share of the model's weights that LoRA trains, and the size of the saved adapter."),
    (r"labelled_examples", "labelled examples", ("Labelled examples", "Label"),
     "labelled examples the approach needed to build, and to update."),
    (r"parameters", "parameters", ("Parameters", "Parameter"),
     "the number of learned weights in the model (M = million)."),
    (r"scenarios|close_calls|flips", "decision scenarios", ("Decision guide", "Scenario"),
     "worked cases the rules of thumb score: agreeing = the rules pick the case's expected approach; close call = "
     "the top two approaches within 2 points; flips = single changes to the situation that change the pick."),
    (r"(^|_)ram_|disk_free|cpu_cores|estimated_course", "this machine", ("Environment", "Machine"),
     "memory, free disk and CPU cores of the machine the course ran on, and the course time expected on it "
     "(the reference machine's time scaled by this machine's generation speed)."),
]
_COMPILED_EXPLANATIONS = [(re.compile(pattern), term, headings, text) for pattern, term, headings, text in EXPLANATIONS]


def explanations_for(names) -> list[tuple[str, tuple, str]]:
    """The ``(term, glossary headings, line)`` of every family that one of ``names`` belongs to, in table order."""
    lowered = [name.lower() for name in names]
    return [(term, headings, text) for pattern, term, headings, text in _COMPILED_EXPLANATIONS
            if any(pattern.search(name) for name in lowered)]


GLOSSARY_SOURCE = GLOSSARY_PATH


def glossary_slugs(path: Path | None = None) -> set[str] | None:
    """The anchors of the glossary's headings (``docs/glossary.md`` by default), or None when there is no
    glossary source to check links against."""
    path = Path(path or GLOSSARY_SOURCE)
    if not path.is_file():
        return None
    return {github_slug(h) for h in markdown_headings(path.read_text(encoding="utf-8"))}


def glossary_link(headings: tuple, glossary_url: str | None, slugs: set[str] | None) -> str | None:
    """``{glossary_url}#{slug}`` for the first of ``headings`` the glossary has (any first one when unknown)."""
    if not glossary_url:
        return None
    candidates = [github_slug(h) for h in headings]
    found = candidates[:1] if slugs is None else [s for s in candidates if s in slugs][:1]
    return f"{glossary_url}#{found[0]}" if found else None


# ---------------------------------------------------------------------------------------------
# Collecting the data
# ---------------------------------------------------------------------------------------------

def headline(build: Path, results: dict) -> dict | None:
    """The side-by-side comparison: one row per metric, one column per approach, plus its figure."""
    metrics = results.get(HEADLINE_NOTEBOOK, {}).get("metrics", {})
    approaches = [a for a in APPROACHES if isinstance(metrics.get(a), dict)]
    if not approaches:
        return None
    cells = {a: dict(flatten(metrics[a])) for a in approaches}
    names = list(dict.fromkeys(name for a in approaches for name in cells[a]))
    rows = [[name, *(cells[a].get(name, MISSING) for a in approaches)] for name in names]
    figure = build / "figures" / HEADLINE_NOTEBOOK / "side_by_side.png"
    return {"approaches": approaches, "rows": rows, "names": names, "figure": figure if figure.exists() else None,
            "caption": headline_caption(metrics)}


def headline_caption(metrics: dict) -> str:
    """What the comparison was measured on and what it decided, from notebook 05's own results."""
    held, changed, scorer = (metrics.get(k) for k in ("held_out_questions", "changed_questions", "scorer"))
    measured_on = []
    if isinstance(held, int) and isinstance(changed, int):
        measured_on.append(f"measured on {held:,} held-out questions and {changed:,} whose facts changed")
    if isinstance(scorer, str):
        measured_on.append(f"scored by the {scorer} scorer")
    sentences = [", ".join(measured_on)] if measured_on else []
    rules, measured = metrics.get("recommendation"), metrics.get("measured_choice")
    if isinstance(rules, str) and isinstance(measured, str):
        sentences.append(f"the rules of thumb (notebook 01) recommend {rules}; the measurements pick {measured}")
    return " ".join(f"{sentence[0].upper()}{sentence[1:]}." for sentence in sentences)


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
        within_time = seconds is not None and seconds <= BUDGET_SECONDS[mode]
        within_memory = rss is not None and rss <= BUDGET_RSS_MB
        within = status == "ok" and within_time and within_memory
        figures = [f for f in sorted((build / "figures" / name).glob("*.png"))
                   if not (name == HEADLINE_NOTEBOOK and f.stem == "side_by_side")]  # already on the first screen
        rows.append({"name": name, "status": status, "error": run.error if run else "", "seconds": seconds,
                     "recorded_seconds": record.get("seconds"), "peak_rss_mb": rss,
                     "child_peak_rss_mb": record.get("child_peak_rss_mb"), "within_budget": within,
                     "within_time": within_time, "within_memory": within_memory,
                     "metrics": flatten(record.get("metrics", {})), "figures": figures,
                     "smoke": record.get("smoke", smoke)})
    total = sum(row["seconds"] or 0 for row in rows)
    return {"mode": mode, "rows": rows, "total_seconds": total, "headline": headline(build, results),
            "total_within_budget": total <= BUDGET_TOTAL_SECONDS[mode],
            "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores, "
                       f"Python {platform.python_version()}",
            "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M")}


# ---------------------------------------------------------------------------------------------
# Shared pieces of both writers
# ---------------------------------------------------------------------------------------------

def _mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def _duration(seconds) -> str:
    return format_number(seconds, "s")


def _memory(mib) -> str:
    return format_number(mib, "mib")


def _budget(seconds: int | None = None, mib: int | None = None) -> str:
    """A budget as people say it: "4 min", "3 GiB"."""
    if seconds is not None:
        return f"{seconds // 60} min" if seconds % 60 == 0 else _duration(seconds)
    return f"{mib // 1024} GiB" if mib % 1024 == 0 else _memory(mib)


def _budget_mark(row: dict) -> str:
    if row["status"] != "ok":
        return f"✗ ({row['status']})"
    over = [what for what, ok in (("time", row["within_time"]), ("memory", row["within_memory"])) if not ok]
    return "✓" if not over else f"✗ ({', '.join(over)})"


def _budget_table(data: dict) -> tuple[list[str], list[list[str]]]:
    """The per-notebook budget table as a header and rows of cells: one definition for markdown and HTML."""
    header = ["notebook", "status", "time", "peak memory", "largest child process",
              f"within budget (≤ {_budget(seconds=BUDGET_SECONDS[data['mode']])}, ≤ {_budget(mib=BUDGET_RSS_MB)})"]
    rows = [[r["name"], r["status"], _duration(r["seconds"]), _memory(r["peak_rss_mb"]),
             _memory(r["child_peak_rss_mb"]), _budget_mark(r)] for r in data["rows"]]
    return header, rows


def _summary_line(data: dict) -> str:
    mode = data["mode"]
    return (f"{data['date']} · {data['machine']} · all notebooks {_duration(data['total_seconds'])} "
            f"{_mark(data['total_within_budget'])} (budget {_budget(seconds=BUDGET_TOTAL_SECONDS[mode])})")


def _section_line(row: dict) -> str:
    parts = [row["status"], f"took {_duration(row['seconds'])}", f"peak memory {_memory(row['peak_rss_mb'])}"]
    if row["child_peak_rss_mb"] is not None:
        parts.append(f"largest child process {_memory(row['child_peak_rss_mb'])}")
    return " · ".join(parts)


TITLE = "AI Crossroads — course report"
HEADLINE_TITLE = "Custom vs fine-tune vs RAG, measured on one task"


# ---------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------

def _markdown_explanations(names, glossary_url: str | None, slugs: set[str] | None) -> list[str]:
    found = explanations_for(names)
    if not found:
        return []
    lines = ["", "What these measure:", ""]
    for term, headings, text in found:
        link = glossary_link(headings, glossary_url, slugs)
        lines.append(f"- **[{term}]({link})**: {text}" if link else f"- **{term}**: {text}")
    return lines


def to_markdown(data: dict, build: Path, glossary_url: str | None = None) -> str:
    slugs = glossary_slugs() if glossary_url else None
    lines = [f"# {TITLE} ({data['mode']} mode)", "", _summary_line(data), "", READING_NOTE, ""]
    top = data["headline"]
    if top:
        lines += [f"## {HEADLINE_TITLE}", ""] + ([top["caption"], ""] if top["caption"] else [])
        lines += [markdown_table(["metric", *top["approaches"]], top["rows"], "l" + "r" * len(top["approaches"]))]
        lines += _markdown_explanations(top["names"], glossary_url, slugs)
        if top["figure"]:
            lines += ["", f"![side by side]({top['figure'].relative_to(build).as_posix()})"]
        lines += ["", "## Notebooks", ""]
    lines += [markdown_table(*_budget_table(data), align="llrrrc")]
    lines += ["", CHILD_NOTE]
    for row in data["rows"]:
        lines += ["", f"## {row['name']}", "", _section_line(row), ""]
        if row["error"]:
            lines += [f"**Failed** in {row['error']}", ""]
        if row["metrics"]:
            lines += [markdown_table(["metric", "value"], [list(m) for m in row["metrics"]], "lr")]
            lines += _markdown_explanations([m[0] for m in row["metrics"]], glossary_url, slugs)
        for figure in row["figures"]:
            lines += ["", f"![{figure.stem}]({figure.relative_to(build).as_posix()})"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------

def _html_table(header: list[str], rows: list[list[str]], numeric_from: int = 1, first_column_links=False) -> str:
    """A table whose columns from ``numeric_from`` on are right-aligned figures."""
    def cls(i: int) -> str:
        return ' class="num"' if i >= numeric_from else ""

    def first(text: str) -> str:
        return f'<a href="#{html.escape(text)}">{html.escape(text)}</a>' if first_column_links else html.escape(text)

    head = "".join(f"<th{cls(i)}>{html.escape(h)}</th>" for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f"<td{cls(i)}>{first(str(c)) if i == 0 else html.escape(str(c))}</td>"
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _embedded_image(path: Path, css_class: str = "") -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    attribute = f' class="{html.escape(css_class)}"' if css_class else ""
    return f'<figure{attribute}><img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">' \
           f"<figcaption>{html.escape(path.stem.replace('_', ' '))}</figcaption></figure>"


def _html_explanations(names, glossary_url: str | None, slugs: set[str] | None) -> str:
    found = explanations_for(names)
    if not found:
        return ""
    items = []
    for term, headings, text in found:
        link = glossary_link(headings, glossary_url, slugs)
        shown = f'<a href="{html.escape(link)}">{html.escape(term)}</a>' if link else html.escape(term)
        items.append(f"<li><strong>{shown}</strong>: {html.escape(text)}</li>")
    return f'<div class="explain"><p>What these measure:</p><ul>{"".join(items)}</ul></div>'


STYLE = """:root{--ink:#1f2328;--muted:#59636e;--rule:#d1d9e0;--head:#f6f8fa;--bad:#b00020}
*{box-sizing:border-box}
body{font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--ink);
max-width:1100px;margin:2em auto;padding:0 1em}
h1{font-size:1.8em;margin:0 0 .3em}h2{font-size:1.35em;margin:2em 0 .4em;padding-bottom:.2em;
border-bottom:1px solid var(--rule)}
.meta,.note,.explain{color:var(--muted);font-size:.92em}.explain ul{margin:.2em 0 0;padding-left:1.3em}
.explain p{margin:.6em 0 0}
table{border-collapse:collapse;margin:.8em 0;font-size:.93em;max-width:100%;display:block;overflow-x:auto}
td,th{border:1px solid var(--rule);padding:4px 10px;text-align:left;vertical-align:top}
th{background:var(--head);font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tbody tr:nth-child(even){background:#fbfcfd}
a{color:#0b57d0}
figure{display:inline-block;vertical-align:top;margin:.6em 1em .6em 0;max-width:100%}
figure img{display:block;max-width:100%;height:auto}
figure.headline{display:block;width:100%;max-width:100%;margin:1em 0}figure.headline img{width:100%}
figcaption{color:var(--muted);font-size:.85em;text-align:center}
.failed{color:var(--bad);font-weight:bold}
@media print{body{max-width:none;margin:0;font-size:11pt}a{color:inherit;text-decoration:none}
h2{break-after:avoid}figure,table{break-inside:avoid}table{display:table}}"""


def to_html(data: dict, glossary_url: str | None = None) -> str:
    slugs = glossary_slugs() if glossary_url else None
    parts = [f"<h1>{html.escape(TITLE)} ({data['mode']} mode)</h1>",
             f'<p class="meta">{html.escape(_summary_line(data))}</p>',
             f'<p class="note">{html.escape(READING_NOTE)}</p>']
    top = data["headline"]
    if top:
        parts += [f"<h2>{html.escape(HEADLINE_TITLE)}</h2>",
                  f'<p>{html.escape(top["caption"])}</p>' if top["caption"] else "",
                  _html_table(["metric", *top["approaches"]], top["rows"]),
                  _html_explanations(top["names"], glossary_url, slugs)]
        parts += [_embedded_image(top["figure"], "headline")] if top["figure"] else []
        parts.append("<h2>Notebooks</h2>")
    header, rows = _budget_table(data)
    parts += [_html_table(header, rows, numeric_from=2, first_column_links=True),
              f'<p class="note">{html.escape(CHILD_NOTE)}</p>']
    for row in data["rows"]:
        parts.append(f'<h2 id="{html.escape(row["name"])}">{html.escape(row["name"])}</h2>')
        parts.append(f'<p class="meta">{html.escape(_section_line(row))}</p>')
        if row["error"]:
            parts.append(f'<p class="failed">Failed in {html.escape(row["error"])}</p>')
        if row["metrics"]:
            parts.append(_html_table(["metric", "value"], [list(m) for m in row["metrics"]]))
            parts.append(_html_explanations([m[0] for m in row["metrics"]], glossary_url, slugs))
        parts += [_embedded_image(figure) for figure in row["figures"]]
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>AI Crossroads report</title><style>{STYLE}</style></head><body>{''.join(parts)}</body></html>\n")


def write_report(build: Path, runs: list, smoke: bool = False, glossary_url: str | None = None) -> Path:
    """Write ``report.md`` and ``report.html`` into ``build``; return the HTML path.

    ``glossary_url`` (such as ``"glossary.html"``, for a site that has it next to the report): link the
    explained terms to ``{glossary_url}#{slug}``. Left out, the report has no links outside itself.
    """
    build = Path(build)
    build.mkdir(parents=True, exist_ok=True)
    data = collect(build, runs, smoke)
    (build / "report.md").write_text(to_markdown(data, build, glossary_url))
    path = build / "report.html"
    path.write_text(to_html(data, glossary_url))
    return path
