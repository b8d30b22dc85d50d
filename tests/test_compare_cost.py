"""Unit tests for utils.compare.cost: the 12-month table, break-even points, the figure and the budget checks.

The rows are made by ``side_by_side.approach_results`` from made-up seconds, as notebook 05 makes them from
measured ones; nothing is trained or loaded.
"""

import math
from dataclasses import replace

import pytest

from utils.compare import cost
from utils.compare import side_by_side as sbs


def row(build_seconds=1.0, update_seconds=1.0, seconds_per_answer=0.01, labels=100, update_labels=5):
    serving = sbs.ServingReport("rag", [1.0, 2.0], 0.1, 100.0, 200.0)
    return sbs.approach_results(accuracy=0.8, accuracy_stale=0.1, accuracy_after_update=0.8, serving=serving,
                                build_seconds=build_seconds, update_seconds=update_seconds, update_work="x",
                                labelled_examples=labels, update_labelled_examples=update_labels,
                                serving_seconds_per_answer=seconds_per_answer)


def results():
    """Notebook 05's shape: the classifier is fast to serve, the fine-tune slow, RAG needs no labels."""
    return {"custom": row(3.0, 3.0, 0.0001, 160, 9), "fine-tune": row(90.0, 30.0, 0.1, 160, 9),
            "rag": row(1.5, 0.3, 0.02, 0, 0)}


# --- the table ---------------------------------------------------------------------------------------------

def test_columns_add_up_to_the_total_and_follow_the_formulas():
    a = cost.Assumptions(labelling_minutes_per_example=2, labelling_usd_per_hour=30, engineer_usd_per_day=1000,
                         updates_per_year=4, monthly_queries=5000)
    table = cost.twelve_month_costs(results(), a)
    for c in table.values():
        assert set(c) == set(cost.COLUMNS)
        assert c["total"] == pytest.approx(sum(c[k] for k in cost.COLUMNS if k != "total"))
    custom, rows = table["custom"], results()
    assert custom["labelling"] == pytest.approx((160 + 9 * 4) * 2 / 60 * 30)
    assert custom["engineering"] == pytest.approx((20 + 0.5 * 4) * 1000)
    assert custom["compute"] == pytest.approx(rows["custom"]["build_cost_cpu_usd"] + 4 * rows["custom"]["update_cost_cpu_usd"])
    assert custom["serving"] == pytest.approx(rows["custom"]["serving_cost_per_1000_cpu_usd"] * 5000 * 12 / 1000)
    assert table["rag"]["labelling"] == 0 and table["rag"]["infrastructure"] == 70 * 12
    on_gpu = cost.twelve_month_costs(results(), replace(a, compute="gpu"))
    assert on_gpu["fine-tune"]["compute"] != custom["compute"]


def test_zero_volume_costs_no_serving_and_zero_updates_cost_only_the_build():
    table = cost.twelve_month_costs(results(), cost.Assumptions(monthly_queries=0, updates_per_year=0))
    assert all(c["serving"] == 0 for c in table.values())
    assert table["fine-tune"]["engineering"] == 5 * 800
    assert table["custom"]["labelling"] == pytest.approx(160 / 60 * 30)


@pytest.mark.parametrize("vary", list(cost.VARIABLES))
def test_totals_never_fall_as_volume_or_updates_grow(vary):
    totals = [cost.twelve_month_costs(results(), cost.Assumptions(**{vary: x}))
              for x in (0, 1, 10, 1e3, 1e6, 1e9)]
    for name in results():
        series = [t[name]["total"] for t in totals]
        assert series == sorted(series), f"{name}'s total fell as {vary} grew"


def test_tables_and_shares_for_the_notebook():
    a = cost.Assumptions()
    table = cost.twelve_month_costs(results(), a)
    text = cost.cost_table(table)
    assert text.splitlines()[0].startswith("| approach | labelling") and len(text.splitlines()) == 5
    assert "$840" in text                                   # RAG's year of index hosting
    described = cost.assumptions_table(a)
    assert all(name in described for name in cost.WHY) and "minutes per example" in described
    assert all(row["why"] and row["unit"] for row in a.describe())
    assert cost.cheapest(table) == "rag"
    assert all(0 <= share < 0.01 for share in cost.measured_share(table).values()), "people dominate at this volume"
    assert "less than 0.01 % of any approach's total" in cost.measured_share_sentence(table)
    busy = cost.twelve_month_costs(results(), cost.Assumptions(monthly_queries=1e10))
    assert "at most" in cost.measured_share_sentence(busy)
    assert cost.usd(0) == "$0" and cost.usd(12345.6) == "$12,346" and cost.usd(3.2) == "$3.20"
    assert cost.usd(0.000123) == "$0.00012"
    assert cost.Assumptions().as_record()["build_engineer_days"]["custom"] == 20


# --- break-even --------------------------------------------------------------------------------------------

def test_break_even_in_volume_is_where_the_totals_meet():
    a = cost.Assumptions()
    (point,) = cost.break_even(results(), a, "monthly_queries")
    assert (point.before, point.after) == ("rag", "custom"), "RAG is cheap to start, custom cheaper to serve"
    at = cost.twelve_month_costs(results(), replace(a, monthly_queries=point.at))
    assert at["rag"]["total"] == pytest.approx(at["custom"]["total"]) == pytest.approx(point.total_usd)
    below = cost.twelve_month_costs(results(), replace(a, monthly_queries=point.at * 0.99))
    above = cost.twelve_month_costs(results(), replace(a, monthly_queries=point.at * 1.01))
    assert cost.cheapest(below) == "rag" and cost.cheapest(above) == "custom"
    assert "billion questions per month" in str(point) and "from rag to custom" in str(point)
    assert point.as_record()["vary"] == "monthly_queries"


def test_break_even_in_updates_and_a_chain_of_two():
    no_updates = cost.Assumptions(updates_per_year=0)
    points = cost.break_even(results(), no_updates, "monthly_queries")
    assert [(p.before, p.after) for p in points] == [("fine-tune", "rag"), ("rag", "custom")]
    assert points[0].at < points[1].at
    (point,) = cost.break_even(results(), cost.Assumptions(), "updates_per_year")
    assert (point.before, point.after) == ("fine-tune", "rag") and 0 < point.at < 12


def test_no_break_even_when_one_approach_stays_cheapest():
    cheap_rag = {**results(), "rag": row(1.5, 0.3, 0.0, 0, 0)}      # serving as cheap as the classifier's
    assert cost.break_even(cheap_rag, cost.Assumptions(), "monthly_queries") == []
    assert cost.break_even(results(), cost.Assumptions(), "monthly_queries", high=1e6) == []
    summary = cost.break_even_summary(cheap_rag, cost.Assumptions())
    assert "never changes" in summary and "cheapest first year is rag" in summary


@pytest.mark.parametrize("kwargs, words", [({"vary": "price"}, "vary must be one of"),
                                           ({"low": -1}, "negative"), ({"low": 10, "high": 5}, "below high"),
                                           ({"high": math.inf}, "finite number")])
def test_break_even_rejects_bad_input(kwargs, words):
    with pytest.raises(ValueError, match=words):
        cost.break_even(results(), cost.Assumptions(), **kwargs)


# --- bad inputs --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, words", [
    ({"labelling_minutes_per_example": -1}, "negative amount of minutes per example"),
    ({"monthly_queries": math.nan}, "finite number"),
    ({"engineer_usd_per_day": "800"}, "finite number"),
    ({"updates_per_year": True}, "finite number"),
    ({"compute": "tpu"}, "'cpu' or 'gpu'"),
    ({"build_engineer_days": {"custom": 1, "fine-tune": 1, "rag": 1, "prompting": 1}}, "Unknown approach 'prompting'"),
    ({"build_engineer_days": {"custom": 1, "fine-tune": 1}}, "lacks 'rag'"),
    ({"update_engineer_days": {"custom": 1, "fine-tune": -1, "rag": 1}}, r"\['fine-tune'\].*negative"),
    ({"infrastructure_usd_per_month": 70}, "one number per approach"),
])
def test_assumptions_reject_bad_values(kwargs, words):
    with pytest.raises(ValueError, match=words):
        cost.Assumptions(**kwargs)


def test_bad_results_raise_clear_errors():
    with pytest.raises(ValueError, match="at least one approach"):
        cost.twelve_month_costs({})
    with pytest.raises(ValueError, match="Unknown approach 'finetune'.*Did you mean 'fine-tune'"):
        cost.twelve_month_costs({"finetune": row()})
    incomplete = {"rag": {k: v for k, v in row().items() if k != "serving_cost_per_1000_cpu_usd"}}
    with pytest.raises(ValueError, match="lacks serving_cost_per_1000_cpu_usd.*approach_results"):
        cost.twelve_month_costs(incomplete)
    with pytest.raises(ValueError, match="negative"):
        cost.twelve_month_costs({"rag": {**row(), "labelled_examples": -3}})
    with pytest.raises(ValueError, match="must be an Assumptions"):
        cost.twelve_month_costs(results(), {"monthly_queries": 10})
    with pytest.raises(ValueError, match="what twelve_month_costs returns"):
        cost.cost_table({"rag": {"total": 1}})
    with pytest.raises(ValueError, match="'hourly' is not one of"):
        cost.updates_per_year("hourly")
    assert cost.updates_per_year("monthly") == 12 and cost.updates_per_year("static") == 0


# --- the figure and the decision rules ---------------------------------------------------------------------

def test_plot_draws_both_panels_with_break_even_marks():
    import matplotlib

    matplotlib.use("Agg")
    fig = cost.plot_year_costs(results(), cost.Assumptions(updates_per_year=0))
    volume, updates = fig.axes
    assert volume.get_xscale() == "log" and updates.get_xscale() == "linear"
    assert len([line for line in volume.lines if line.get_marker() == "o"]) == 2, "two break-even points"
    assert {t.get_text() for t in volume.get_legend().get_texts()} >= {"custom", "fine-tune", "rag"}
    with pytest.raises(ValueError, match="0 <= low < high"):
        cost.plot_year_costs(results(), volumes=(10, 1))


def situation(**changes):
    from utils.decide.situation import Situation

    values = dict(labelled_examples=160, knowledge_change="static", latency_budget_ms=3000, budget_usd=20000,
                  pretrained_fit="partial", needs_sources=False)
    return Situation(**{**values, **changes})


def test_budget_checks_ask_the_rules_at_each_years_cost():
    from utils.decide.rules import recommend

    table = cost.twelve_month_costs(results(), cost.Assumptions())
    checks = cost.budget_checks(situation(), table, {"stated": 20000})
    assert [c.label for c in checks] == ["custom's 12-month cost", "fine-tune's 12-month cost", "rag's 12-month cost",
                                         "stated"]
    for check in checks:
        assert check.pick == recommend(replace(situation(), budget_usd=check.budget_usd)).approach
        assert check.pick_cost_usd == table[check.pick]["total"]
        assert set(check.affordable) == {n for n in table if table[n]["total"] <= check.budget_usd}
        assert str(check).startswith(f"With a budget of {cost.usd(check.budget_usd)} ({check.label}) the rules pick")
    assert checks[2].affordable == ("rag",) and checks[2].as_record()["affordable"] == ["rag"]
    with pytest.raises(ValueError, match="negative"):
        cost.budget_checks(situation(), table, {"stated": -5})
    with pytest.raises(ValueError, match="must be a utils.decide.situation.Situation"):
        cost.budget_checks({"budget_usd": 1}, table)


def test_budget_bands_say_where_the_pick_changes():
    plenty = situation(labelled_examples=100_000)      # enough labels that a big budget makes custom worth it
    bands = cost.budget_bands(plenty)
    assert bands[0][0] == 0 and bands[-1][1] is None and bands[0][2] == "fine-tune" and bands[-1][2] == "custom"
    assert all(a[2] != b[2] for a, b in zip(bands, bands[1:])), "neighbouring bands with the same pick are merged"
    sentence = cost.budget_sentence(plenty)
    assert sentence.startswith("As the build budget changes, the rules pick fine-tune under $")
    assert sentence == "As the build budget changes, the rules pick fine-tune under $50,000, custom from $50,000."
    assert "at any build budget" in cost.budget_sentence(situation(knowledge_change="daily", needs_sources=True))
