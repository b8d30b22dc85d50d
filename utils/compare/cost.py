"""A year's cost of each approach: labelling, engineering, compute, serving and infrastructure, in US dollars.

Notebook 05 measures seconds and counts labels; priced as compute alone, every approach looks free. This module
adds what people and hosting cost, as stated assumptions a reader can change:

    assumptions = Assumptions(updates_per_year=updates_per_year("monthly"), monthly_queries=10_000)
    costs = twelve_month_costs(results, assumptions)      # {approach: {"labelling": ..., ..., "total": ...}}
    break_even(results, assumptions, "monthly_queries")   # where the cheapest approach changes, if anywhere
    plot_year_costs(results, assumptions)                 # total vs questions per month, and vs updates per year

**Measured** (notebook 05's rows from ``side_by_side.approach_results``): the labelled examples each approach
trained on and each update needed, the compute dollars of one build and of one update, the serving dollars per
1,000 questions. **Assumed** (``Assumptions``, printed beside the table, each with its unit and why): what a
person's time costs, how long the people work, how often the facts change, how many questions arrive, what
hosting costs. Serving is priced per busy second, as on a pay-per-use service; an always-on server's monthly price
belongs in ``infrastructure_usd_per_month``. Left out because it is the same for all three: the held-out questions
every approach is tested on.

With everything else fixed, each total is a straight line in the monthly question volume and in the updates per
year, so ``break_even`` returns exact crossing points rather than a search on a grid.
"""

import math
import numbers
from dataclasses import asdict, dataclass, field, fields, replace

from utils.course.units import format_number
from utils.decide.situation import APPROACHES, KNOWLEDGE_CHANGE, did_you_mean

MONTHS = 12
COLUMNS = ("labelling", "engineering", "compute", "serving", "infrastructure", "total")
# how often the facts change (utils.decide's knowledge_change) as updates per year
UPDATES_PER_YEAR = {"static": 0, "yearly": 1, "monthly": 12, "weekly": 52, "daily": 365}
VARIABLES = {"monthly_queries": "questions per month", "updates_per_year": "updates per year"}
SEARCH_UP_TO = {"monthly_queries": 1e12, "updates_per_year": 365.0}   # break_even's default upper end
TIE_ORDER = ("rag", "fine-tune", "custom")  # equal cost: the quicker to prototype (as in utils.decide.rules)
PER_APPROACH = ("build_engineer_days", "update_engineer_days", "infrastructure_usd_per_month")


@dataclass(frozen=True)
class Assumptions:
    """What the measurements cannot tell: people's time and prices, update frequency, volume, hosting.

    The per-approach fields are dicts ``{"custom": ..., "fine-tune": ..., "rag": ...}``. ``describe()`` gives
    each field's value with its unit and a one-line reason; change any of them with keyword arguments.
    """
    labelling_minutes_per_example: float = 1.0
    labelling_usd_per_hour: float = 30.0
    engineer_usd_per_day: float = 800.0
    build_engineer_days: dict = field(default_factory=lambda: {"custom": 20.0, "fine-tune": 5.0, "rag": 5.0})
    update_engineer_days: dict = field(default_factory=lambda: {"custom": 0.5, "fine-tune": 1.0, "rag": 0.25})
    updates_per_year: float = 12.0
    monthly_queries: float = 10_000.0
    infrastructure_usd_per_month: dict = field(default_factory=lambda: {"custom": 0.0, "fine-tune": 0.0,
                                                                        "rag": 70.0})
    compute: str = "cpu"

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "compute":
                if value not in ("cpu", "gpu"):
                    raise ValueError(f"Assumptions.compute must be 'cpu' or 'gpu' (which measured price column to "
                                     f"use), got {value!r}.")
            elif f.name in PER_APPROACH:
                if not isinstance(value, dict):
                    raise ValueError(f"Assumptions.{f.name} must be a dict with one number per approach, e.g. "
                                     f"{{'custom': 1, 'fine-tune': 1, 'rag': 1}}; got {value!r}.")
                for name in value:
                    if name not in APPROACHES:
                        raise ValueError(f"Unknown approach {name!r} in Assumptions.{f.name}: choose from "
                                         f"{', '.join(APPROACHES)}.{did_you_mean(name, APPROACHES)}")
                missing = [a for a in APPROACHES if a not in value]
                if missing:
                    raise ValueError(f"Assumptions.{f.name} lacks {', '.join(map(repr, missing))}: give a number "
                                     "for every approach.")
                for name, number in value.items():
                    _check_amount(f"Assumptions.{f.name}[{name!r}]", number, WHY[f.name][0])
            else:
                _check_amount(f"Assumptions.{f.name}", value, WHY[f.name][0])

    def describe(self) -> list[dict]:
        """One row per assumption: its name, value, unit and why it is a sensible default."""
        rows = []
        for f in fields(self):
            value = getattr(self, f.name)
            shown = (", ".join(f"{k} {v:g}" for k, v in value.items()) if isinstance(value, dict)
                     else value if isinstance(value, str) else f"{value:,g}")
            rows.append({"assumption": f.name, "value": shown, "unit": WHY[f.name][0], "why": WHY[f.name][1]})
        return rows

    def as_record(self) -> dict:
        """For a results file."""
        return asdict(self)


WHY = {  # unit, then one line of why
    "labelling_minutes_per_example": ("minutes per example", "a person reads a question and writes or checks its "
                                                             "answer"),
    "labelling_usd_per_hour": ("USD per hour", "a support agent's time, overheads included"),
    "engineer_usd_per_day": ("USD per day", "an ML engineer's day, overheads included"),
    "build_engineer_days": ("days, once", "custom: design, data and training from scratch (weeks); fine-tune and "
                                          "RAG start from a pre-trained model (days)"),
    "update_engineer_days": ("days per update", "a retrain means re-checking every answer for regressions; a "
                                                "re-index, spot-checking the changed ones"),
    "updates_per_year": ("updates per year", "how often the facts change: 12 for knowledge that changes monthly"),
    "monthly_queries": ("questions per month", "a small support desk's volume"),
    "infrastructure_usd_per_month": ("USD per month", "RAG: a small hosted vector index (0 if the index lives in "
                                                      "the serving process, as in notebook 05)"),
    "compute": ("'cpu' or 'gpu'", "which of notebook 05's measured compute prices to use (its Prices)"),
}


def _check_amount(name: str, value, unit: str) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number ({unit}), got {value!r}.")
    if value < 0:
        raise ValueError(f"{name} is {value!r}, a negative amount of {unit}: use 0 or more.")


def updates_per_year(knowledge_change: str) -> int:
    """Updates per year for utils.decide's ``knowledge_change`` word ("monthly" -> 12)."""
    if knowledge_change not in UPDATES_PER_YEAR:
        raise ValueError(f"knowledge_change={knowledge_change!r} is not one of {', '.join(map(repr, KNOWLEDGE_CHANGE))}."
                         f"{did_you_mean(knowledge_change, KNOWLEDGE_CHANGE)}")
    return UPDATES_PER_YEAR[knowledge_change]


# ---------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------

def _needed(compute: str) -> tuple[str, ...]:
    return ("labelled_examples", "update_labelled_examples", f"build_cost_{compute}_usd",
            f"update_cost_{compute}_usd", f"serving_cost_per_1000_{compute}_usd")


def _check_results(results, assumptions) -> None:
    if not isinstance(assumptions, Assumptions):
        raise ValueError(f"assumptions must be an Assumptions (utils.compare.cost.Assumptions()), got "
                         f"{type(assumptions).__name__}.")
    if not isinstance(results, dict) or not results:
        raise ValueError("results must be notebook 05's {approach: row} from side_by_side.approach_results, "
                         "with at least one approach.")
    for name, row in results.items():
        if name not in APPROACHES:
            raise ValueError(f"Unknown approach {name!r} in results: choose from {', '.join(APPROACHES)}."
                             f"{did_you_mean(name, APPROACHES)}")
        missing = [key for key in _needed(assumptions.compute) if key not in row]
        if missing:
            raise ValueError(f"results[{name!r}] lacks {', '.join(missing)}: pass the rows that "
                             "side_by_side.approach_results builds (they carry the measured costs).")
        for key in _needed(assumptions.compute):
            _check_amount(f"results[{name!r}][{key!r}]", row[key], "labels" if "labelled" in key else "USD")


def twelve_month_costs(results: dict, assumptions: Assumptions = Assumptions()) -> dict[str, dict[str, float]]:
    """The first year of each approach, in USD: ``{approach: {labelling, engineering, compute, serving,
    infrastructure, total}}``. A build, ``updates_per_year`` updates and 12 months of ``monthly_queries``:

    - labelling   = (labels to build + labels per update × updates) × minutes per label / 60 × hourly rate
    - engineering = (build days + days per update × updates) × day rate
    - compute     = measured build cost + measured update cost × updates
    - serving     = measured cost per 1,000 questions × questions per month × 12 / 1,000
    - infrastructure = hosting per month × 12
    """
    _check_results(results, assumptions)
    a, unit = assumptions, assumptions.compute
    table = {}
    for name, row in results.items():
        labels = row["labelled_examples"] + row["update_labelled_examples"] * a.updates_per_year
        costs = {"labelling": labels * a.labelling_minutes_per_example / 60 * a.labelling_usd_per_hour,
                 "engineering": (a.build_engineer_days[name] + a.update_engineer_days[name] * a.updates_per_year)
                 * a.engineer_usd_per_day,
                 "compute": row[f"build_cost_{unit}_usd"] + row[f"update_cost_{unit}_usd"] * a.updates_per_year,
                 "serving": row[f"serving_cost_per_1000_{unit}_usd"] * a.monthly_queries * MONTHS / 1000,
                 "infrastructure": a.infrastructure_usd_per_month[name] * MONTHS}
        costs["total"] = sum(costs.values())
        table[name] = costs
    return table


def _check_costs(costs) -> None:
    if (not isinstance(costs, dict) or not costs
            or not all(isinstance(c, dict) and set(COLUMNS) <= set(c) for c in costs.values())):
        raise ValueError("costs must be what twelve_month_costs returns: {approach: {column: USD}} with the "
                         f"columns {', '.join(COLUMNS)}.")
    unknown = [name for name in costs if name not in APPROACHES]
    if unknown:
        raise ValueError(f"Unknown approach {unknown[0]!r} in costs: choose from {', '.join(APPROACHES)}.")


def usd(value: float) -> str:
    """Dollars as a reader wants them (the report's rule): $12,345 / $3.20 / $0.00012."""
    return format_number(value, "usd")


def cost_table(costs: dict) -> str:
    """The 12-month costs as a Markdown table, one row per approach (display with IPython.display.Markdown)."""
    from utils.core.tables import markdown_table

    _check_costs(costs)
    return markdown_table(["approach", *COLUMNS], [[name, *(usd(c[k]) for k in COLUMNS)] for name, c in costs.items()],
                          "l" + "r" * len(COLUMNS))


def assumptions_table(assumptions: Assumptions = Assumptions()) -> str:
    """The assumptions behind the table, each with its value, unit and why, as Markdown."""
    from utils.core.tables import markdown_table

    rows = assumptions.describe()
    return markdown_table(["assumption", "value", "unit", "why"], [list(r.values()) for r in rows])


def cheapest(costs: dict) -> str:
    """The approach with the lowest total (on a tie, the quicker to prototype)."""
    _check_costs(costs)
    return min(costs, key=lambda n: (costs[n]["total"], TIE_ORDER.index(n)))


def measured_share(costs: dict) -> dict[str, float]:
    """The share of each total that comes from measured seconds (compute and serving), the rest being assumptions."""
    _check_costs(costs)
    return {n: (c["compute"] + c["serving"]) / c["total"] if c["total"] else 0.0 for n, c in costs.items()}


def measured_share_sentence(costs: dict) -> str:
    """How much of the totals the measured seconds decide, in words."""
    share = max(measured_share(costs).values())
    amount = "less than 0.01 %" if share < 1e-4 else f"at most {100 * share:.2g} %"
    return (f"Measured seconds (compute and serving; one timed run each, so no interval) make up {amount} of any "
            "approach's total; the rest is the assumed prices of people's time and hosting, times the measured "
            "label counts.")


# ---------------------------------------------------------------------------------------------
# Break-even: where the cheapest approach changes
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BreakEven:
    vary: str          # "monthly_queries" or "updates_per_year"
    at: float          # the value of ``vary`` where the two totals are equal
    before: str        # the cheapest approach just below ``at``
    after: str         # the cheapest just above
    total_usd: float   # what both cost in the year at ``at``

    def __str__(self) -> str:
        return (f"At {_quantity(self.at)} {VARIABLES[self.vary]} the cheapest approach changes from {self.before} "
                f"to {self.after} (both {usd(self.total_usd)} a year).")

    def as_record(self) -> dict:
        return asdict(self)


def _quantity(value: float) -> str:
    if value >= 1e9:
        return f"{value / 1e9:,.3g} billion"
    if value >= 1e6:
        return f"{value / 1e6:,.3g} million"
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _check_vary(vary: str) -> None:
    if vary not in VARIABLES:
        raise ValueError(f"vary must be one of {', '.join(map(repr, VARIABLES))}, got {vary!r}."
                         f"{did_you_mean(vary, VARIABLES)}")


def cost_lines(results: dict, assumptions: Assumptions, vary: str) -> dict[str, tuple[float, float]]:
    """Each approach's 12-month total as a straight line in ``vary``: ``{approach: (total at 0, USD per unit)}``."""
    _check_vary(vary)
    at_zero = twelve_month_costs(results, replace(assumptions, **{vary: 0.0}))
    at_one = twelve_month_costs(results, replace(assumptions, **{vary: 1.0}))
    return {n: (at_zero[n]["total"], at_one[n]["total"] - at_zero[n]["total"]) for n in results}


def break_even(results: dict, assumptions: Assumptions = Assumptions(), vary: str = "monthly_queries",
               low: float = 0.0, high: float | None = None) -> list[BreakEven]:
    """Where, between ``low`` and ``high`` of ``vary`` (everything else as in ``assumptions``), the cheapest
    approach changes. Empty when one approach stays cheapest across the whole range.

    ``high`` defaults to a trillion questions a month, or 365 updates a year (daily).
    """
    _check_vary(vary)
    high = SEARCH_UP_TO[vary] if high is None else high
    for name, value in (("low", low), ("high", high)):
        _check_amount(name, value, VARIABLES[vary])
    if not low < high:
        raise ValueError(f"low must be below high, got low={low!r} and high={high!r}.")
    lines = cost_lines(results, assumptions, vary)

    def total(name: str, x: float) -> float:
        return lines[name][0] + lines[name][1] * x

    # cheapest at ``low``; among equals, the one that stays cheaper to the right (the smaller slope)
    current = min(lines, key=lambda n: (total(n, low), lines[n][1], TIE_ORDER.index(n)))
    x, found = low, []
    while True:
        crossings = []
        for name, (intercept, slope) in lines.items():
            if slope < lines[current][1]:        # only a line that grows more slowly can undercut it later
                at = (intercept - lines[current][0]) / (lines[current][1] - slope)
                if x < at <= high:
                    crossings.append((at, slope, TIE_ORDER.index(name), name))
        if not crossings:
            return found
        at, _, _, name = min(crossings)
        found.append(BreakEven(vary, at, current, name, total(name, at)))
        x, current = at, name


def break_even_summary(results: dict, assumptions: Assumptions = Assumptions()) -> str:
    """Sentences for both variables: where the cheapest approach changes, or that it never does in range."""
    costs = twelve_month_costs(results, assumptions)
    lines = [f"With the assumptions above ({assumptions.monthly_queries:,g} questions a month, "
             f"{assumptions.updates_per_year:g} updates a year) the cheapest first year is {cheapest(costs)}, "
             f"{usd(costs[cheapest(costs)]['total'])}."]
    for vary in VARIABLES:
        points = break_even(results, assumptions, vary)
        lines += [str(p) for p in points] or [
            f"From 0 to {_quantity(SEARCH_UP_TO[vary])} {VARIABLES[vary]} (the rest as assumed), the cheapest "
            "approach never changes."]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The figure
# ---------------------------------------------------------------------------------------------

def _axis(assumptions, vary, points, span):
    import numpy as np

    if span is not None:
        low, high = span
        if not 0 <= low < high:
            raise ValueError(f"The range of {vary} must be (low, high) with 0 <= low < high, got {span!r}.")
    elif vary == "monthly_queries":
        top = max([assumptions.monthly_queries * 100, 1e6] + [10 * p.at for p in points])
        low, high = 100.0, min(top, SEARCH_UP_TO[vary])
    else:
        high = min(max([52.0, 2 * assumptions.updates_per_year] + [1.5 * p.at for p in points]), SEARCH_UP_TO[vary])
        low = 0.0
    if vary == "monthly_queries":
        return np.logspace(math.log10(max(low, 1.0)), math.log10(high), 200)
    return np.linspace(low, high, 200)


def plot_year_costs(results: dict, assumptions: Assumptions = Assumptions(), volumes: tuple | None = None,
                    updates: tuple | None = None):
    """Two panels: the 12-month total of each approach against questions per month (log scale) and against
    updates per year, with the break-even points marked and the assumed value as a dotted line."""
    import matplotlib.pyplot as plt

    from utils.compare.side_by_side import COLORS

    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for ax, vary, span in zip(axes, VARIABLES, (volumes, updates)):
        points = break_even(results, assumptions, vary)
        xs = _axis(assumptions, vary, points, span)
        lines = cost_lines(results, assumptions, vary)
        for name, (intercept, slope) in lines.items():
            ax.plot(xs, intercept + slope * xs, color=COLORS.get(name, "gray"), label=name, linewidth=2)
        for p in points:
            if xs[0] <= p.at <= xs[-1]:
                ax.plot(p.at, p.total_usd, "ko", markersize=7, zorder=5)
                ax.annotate(f"break-even\n{_quantity(p.at)}", (p.at, p.total_usd), textcoords="offset points",
                            xytext=(6, -26), fontsize=8)
        ax.axvline(getattr(assumptions, vary), color="gray", linestyle=":", linewidth=1, label="assumed")
        ax.set(xlabel=VARIABLES[vary], ylabel="12-month cost, USD", title=f"First-year cost vs {VARIABLES[vary]}")
        if vary == "monthly_queries":  # log-log: the flat part is people, the rising part is serving
            ax.set(xscale="log", yscale="log")
        else:
            ax.set_ylim(bottom=0)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# What the decision rules say at these budgets
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BudgetCheck:
    label: str                 # where the budget comes from: "stated", "custom's 12-month cost", ...
    budget_usd: float
    pick: str                  # what utils.decide.rules.recommend picks with this budget
    pick_cost_usd: float       # the pick's own 12-month cost under the assumptions
    affordable: tuple          # the approaches whose 12-month cost fits within the budget

    def __str__(self) -> str:
        fits = "within it" if self.pick in self.affordable else "more than the budget"
        return (f"With a budget of {usd(self.budget_usd)} ({self.label}) the rules pick {self.pick}, whose first "
                f"year costs {usd(self.pick_cost_usd)} here ({fits}); affordable: "
                f"{', '.join(self.affordable) or 'none of the three'}.")

    def as_record(self) -> dict:
        return {**asdict(self), "affordable": list(self.affordable)}


def _check_situation(situation) -> None:
    from utils.decide.situation import Situation

    if not isinstance(situation, Situation):
        raise ValueError(f"situation must be a utils.decide.situation.Situation (notebook 05 builds one with "
                         f"side_by_side.situation_from_measurements), got {type(situation).__name__}.")


def budget_checks(situation, costs: dict, budgets: dict | None = None, rules=None) -> list[BudgetCheck]:
    """What ``recommend`` picks with ``budget_usd`` set to each approach's 12-month cost, then to each of
    ``budgets`` (``{"label": USD}``, e.g. the stated budget), everything else as in ``situation``; and whether
    the pick's own first year fits. The rules read ``budget_usd`` as money for building; a first year's total
    (build, a year of updates and serving) is the honest figure for what the choice commits."""
    from utils.decide.rules import RULES, recommend

    _check_situation(situation)
    _check_costs(costs)
    candidates = {f"{name}'s 12-month cost": c["total"] for name, c in costs.items()}
    for label, value in (budgets or {}).items():
        _check_amount(f"budgets[{label!r}]", value, "USD")
        candidates[label] = value
    checks = []
    for label, budget in candidates.items():
        pick = recommend(replace(situation, budget_usd=budget), rules or RULES).approach
        affordable = tuple(n for n in costs if costs[n]["total"] <= budget)
        pick_cost = costs[pick]["total"] if pick in costs else math.nan
        checks.append(BudgetCheck(label, float(budget), pick, pick_cost, affordable))
    return checks


def budget_bands(situation, rules=None) -> list[tuple[float, float | None, str]]:
    """The rules' pick in each build-budget band, everything else as in ``situation``: ``[(from, to, pick)]``
    (``to`` is None for the last band); neighbouring bands with the same pick are merged."""
    from utils.decide.rules import RULES, recommend

    _check_situation(situation)
    rules = rules or RULES
    bands = next(c for c in rules if c.field == "budget_usd").bands
    merged = []
    for i, band in enumerate(bands):
        pick = recommend(replace(situation, budget_usd=band.key), rules).approach
        upper = bands[i + 1].key if i + 1 < len(bands) else None
        if merged and merged[-1][2] == pick:
            merged[-1] = (merged[-1][0], upper, pick)
        else:
            merged.append((band.key, upper, pick))
    return merged


def budget_sentence(situation, rules=None) -> str:
    """``budget_bands`` in words: "The rules pick rag under $10,000, fine-tune from $10,000 to $49,999, ..."."""
    parts = []
    for low, high, pick in budget_bands(situation, rules):
        if low == 0 and high is None:
            return f"The rules pick {pick} at any build budget (the rest of the situation decides)."
        span = (f"under {usd(high)}" if low == 0 else f"from {usd(low)}" if high is None
                else f"from {usd(low)} to {usd(high - 1)}")
        parts.append(f"{pick} {span}")
    return "As the build budget changes, the rules pick " + ", ".join(parts) + "."
