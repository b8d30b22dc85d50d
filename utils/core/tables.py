"""Markdown tables for notebook outputs and the report: one builder, used everywhere."""

import numbers

RULE = {"l": "---", "r": "---:", "c": ":---:"}


def show_value(value) -> str:
    """A number as a reader wants it in a table: 3,000 rather than 3000.0; anything else as ``str``."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Real):
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,}"
    return str(value)


def markdown_table(headers: list[str], rows: list[list], align: str | None = None) -> str:
    """A GitHub-flavoured Markdown table (display it with IPython.display.Markdown).

    ``align`` has one letter per column: ``l`` (default), ``r`` or ``c``. Strings are shown as they are,
    numbers through ``show_value``; a ``|`` or a line break inside a cell is escaped so the table holds.
    """
    align = align or "l" * len(headers)
    if len(align) != len(headers) or set(align) - set(RULE):
        raise ValueError(f"align needs one of l/r/c per column ({len(headers)} columns), got {align!r}.")

    def cell(value) -> str:
        text = value if isinstance(value, str) else show_value(value)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "".join(RULE[a] + "|" for a in align)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def records_table(records: list[dict], columns: list[str] | None = None, digits: int = 3) -> str:
    """A list of dicts (one per row) as a Markdown table; floats with ``digits`` decimals."""
    if not records:
        raise ValueError("No rows to show: records is empty.")
    columns = columns or list(records[0])
    return markdown_table(columns, [[f"{r[c]:.{digits}f}" if isinstance(r[c], float) else r[c] for c in columns]
                                    for r in records])


def show_table(records: list[dict], columns: list[str] | None = None, digits: int = 3) -> None:
    """Display ``records_table`` in a notebook."""
    from IPython.display import Markdown, display

    display(Markdown(records_table(records, columns, digits)))
