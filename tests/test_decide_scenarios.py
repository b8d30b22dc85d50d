"""Unit tests for the scenario gallery (utils.decide.scenarios) and the pictures and panel (utils.decide.widgets)."""

import matplotlib

matplotlib.use("Agg")  # headless, like CI

import matplotlib.pyplot as plt
import pytest

from utils.decide.rules import RULES, recommend
from utils.decide.scenarios import GALLERY, NORTHWIND, GalleryResult, Scenario, gallery_table, run_gallery, scenario
from utils.decide.situation import APPROACHES, Situation
from utils.decide.widgets import COLORS, DEFAULT, STOPS, DecisionPanel, plot_gallery, plot_scores

# ---------------------------------------------------------------- the gallery


def test_gallery_has_at_least_twelve_distinct_scenarios_covering_every_approach():
    names = [s.name for s in GALLERY]
    assert len(GALLERY) >= 12 and len(set(names)) == len(names)
    assert {s.expected for s in GALLERY} == set(APPROACHES)
    assert all(isinstance(s.situation, Situation) and len(s.story) > 40 and s.why for s in GALLERY)


@pytest.mark.parametrize("kind", ["medical imaging", "fraud", "predictive maintenance", "legal", "quality control",
                                  "feedback triage", "support", "case-law", "enterprise search"])
def test_gallery_includes_the_situations_the_issue_names(kind):
    assert any(kind in s.name.lower() for s in GALLERY), kind


@pytest.mark.parametrize("item", GALLERY, ids=lambda s: s.name)
def test_every_gallery_scenario_agrees_with_its_expected_approach(item):
    rec = recommend(item.situation)
    assert rec.approach == item.expected, f"{item.name}: {rec}"
    criteria = [c.name for c in RULES]
    assert rec.reasons[0].split(" (")[0] in criteria  # the first reason names a deciding criterion


def test_northwind_scenarios_are_the_three_approaches_in_story_order():
    assert [scenario(name).expected for name in NORTHWIND] == ["custom", "fine-tune", "rag"]


def test_scenario_lookup_is_case_insensitive_and_suggests_on_typos():
    assert scenario("support ASSISTANT").name == "Support assistant"
    with pytest.raises(ValueError, match="Did you mean 'Medical imaging'"):
        scenario("Medical imagin")


def test_scenario_rejects_an_unknown_expected_approach():
    with pytest.raises(ValueError, match="expected must be one of"):
        Scenario("x", "a story", DEFAULT, "prompting", "why")


def test_run_gallery_and_its_table():
    results = run_gallery()
    assert len(results) == len(GALLERY) and all(isinstance(r, GalleryResult) for r in results)
    assert sum(r.agrees for r in results) == len(GALLERY)
    wrong = Scenario("Deliberately wrong", "A scenario whose expectation is wrong on purpose.",
                     scenario("Support assistant").situation, "custom", "testing")
    assert not run_gallery([wrong])[0].agrees
    lines = gallery_table(results + run_gallery([wrong])).splitlines()
    assert len(lines) == len(GALLERY) + 3 and "✗" in lines[-1] and "✓" in lines[2]
    case_law = next(line for line in lines if line.startswith("| Case-law research"))
    assert case_law.endswith("| Consider fine-tune + RAG |")  # notes show their tag only
    with pytest.raises(ValueError, match="Scenario objects"):
        run_gallery(["Support assistant"])


# ---------------------------------------------------------------- pictures


def test_plot_scores_draws_one_bar_per_approach_with_the_winner_solid():
    rec = recommend(DEFAULT)
    fig = plot_scores(rec)
    bars = fig.axes[0].patches
    assert [b.get_width() for b in bars] == [rec.scores[a] for a in APPROACHES]
    assert [b.get_alpha() for b in bars] == [1.0 if a == rec.approach else 0.35 for a in APPROACHES]
    assert set(COLORS) == set(APPROACHES)
    plt.close(fig)


def test_plot_gallery_boxes_each_recommendation():
    results = run_gallery()
    fig = plot_gallery(results)
    ax = fig.axes[0]
    assert len(ax.patches) == len(results)  # one box per row
    assert len(ax.texts) == len(results) * len(APPROACHES)
    plt.close(fig)


# ---------------------------------------------------------------- the panel


def test_panel_has_a_control_for_every_situation_field_and_starts_from_default():
    panel = DecisionPanel()
    assert set(panel.controls) == {c.field for c in RULES}
    assert panel.situation() == DEFAULT and panel.updates == 1
    assert "fine-tune" in panel.headline.value and "Main risk" in panel.reasons.value
    assert len(panel.chart.outputs) <= 1  # one picture, replaced on each update (empty outside a kernel)
    plt.close("all")


def test_moving_controls_updates_the_recommendation_live():
    panel = DecisionPanel()
    panel.controls["needs_sources"].value = True  # what a click does
    assert panel.recommendation().approach == "rag" and "rag" in panel.headline.value
    assert panel.updates == 2
    rec = panel.set(needs_sources=False, pretrained_fit="none", labelled_examples=200_000, budget_usd=300_000)
    assert rec.approach == "custom" and panel.updates == 3  # several changes, one redraw
    plt.close("all")


def test_loading_a_scenario_copies_it_and_a_drag_marks_it_as_your_own():
    panel = DecisionPanel()
    panel.picker.value = "Card fraud detection"
    assert panel.situation() == scenario("Card fraud detection").situation
    assert panel.recommendation().approach == "custom"
    assert 2_000_000 in panel.slider_values("labelled_examples")
    assert panel.controls["labelled_examples"].label == "2,000,000"  # what the learner reads
    panel.controls["pretrained_fit"].value = "partial"
    assert panel.picker.value == "(your own)"
    assert panel.load("Support assistant").approach == "rag" and panel.picker.value == "Support assistant"
    plt.close("all")


def test_panel_accepts_values_between_stops_and_rejects_invalid_ones_without_changing():
    panel = DecisionPanel()
    panel.set(labelled_examples=1234)
    assert 1234 in panel.slider_values("labelled_examples") and 1234 not in STOPS["labelled_examples"]
    before = panel.situation()
    with pytest.raises(ValueError, match="budget_usd=-3 is negative"):
        panel.set(budget_usd=-3)
    with pytest.raises(ValueError, match="Did you mean 'daily'"):
        panel.set(knowledge_change="dialy")
    assert panel.situation() == before
    with pytest.raises(ValueError, match="No scenario called"):
        panel.load("Time travel")
    with pytest.raises(ValueError, match="start must be a Situation"):
        DecisionPanel(start={"labelled_examples": 3})
    plt.close("all")
