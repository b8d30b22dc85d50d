"""The decision rule as Markdown tables: the rules themselves, and one recommendation's points.
"""
from utils.core.tables import markdown_table
from utils.decide.rules import RULES, Criterion, Recommendation
from utils.decide.situation import APPROACHES


def points_table(rec: Recommendation, rules: tuple[Criterion, ...] = RULES) -> str:
    """One recommendation's points as a Markdown table: one row per criterion, then the totals."""
    rows = [[c.name, rec.bands[c.field], *(f"{rec.points[c.field][a]:+d}" for a in APPROACHES)]
            for c in rules if c.field in rec.points]
    rows.append(["**total**", "", *(f"**{rec.scores[a]:+d}**" for a in APPROACHES)])
    return markdown_table(["criterion", "band", *APPROACHES], rows)


def rules_table(rules: tuple[Criterion, ...] = RULES) -> str:
    """The rules as a Markdown table: criterion, band, points for each approach."""
    rows = []
    for criterion in rules:
        for i, band in enumerate(criterion.bands):
            name = f"**{criterion.name}** (`{criterion.field}`)" if i == 0 else ""
            rows.append([name, band.label, *(f"{p:+d}" for p in band.points)])
    return markdown_table(["criterion", "band", *APPROACHES], rows)
