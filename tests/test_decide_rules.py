"""Unit tests for utils.decide: every rule, every band, every invalid input, flips and success criteria."""

import dataclasses
import itertools
import math

import pytest

from utils.core.tables import markdown_table
from utils.decide.criteria import success_criterion_gaps
from utils.decide.flips import differences, flips
from utils.decide.rules import (
    MAIN_RISK,
    RULES,
    RULES_BY_FIELD,
    TIE_ORDER,
    Recommendation,
    recommend,
    score_range,
    with_points,
)
from utils.decide.situation import APPROACHES, KNOWLEDGE_CHANGE, PRETRAINED_FIT, Situation
from utils.decide.tables import points_table, rules_table

BASE = dict(labelled_examples=3000, knowledge_change="static", latency_budget_ms=500, budget_usd=20000,
            pretrained_fit="partial", needs_sources=False)


def situation(**changes) -> Situation:
    return Situation(**{**BASE, **changes})


# ---------------------------------------------------------------- the rules the issue names


def test_issue_example_is_a_fine_tune_with_scores_and_reasons():
    rec = recommend(situation())
    assert rec.approach == "fine-tune"
    assert list(rec.scores) == list(APPROACHES)
    assert all(isinstance(r, str) and r for r in rec.reasons)
    assert rec.reasons[-1] == MAIN_RISK["fine-tune"]


def test_unique_problem_with_plenty_of_data_and_budget_and_no_pretrained_fit_is_custom():
    rec = recommend(situation(labelled_examples=150_000, budget_usd=300_000, pretrained_fit="none"))
    assert rec.approach == "custom"
    assert rec.reasons[0].startswith("Pre-trained fit")  # the biggest lead comes first
    assert "overfitting" not in " ".join(rec.reasons) and rec.reasons[-1] == MAIN_RISK["custom"]


def test_adapting_a_capable_model_with_a_modest_stable_dataset_is_fine_tune():
    for examples in (200, 1_000, 9_999):
        assert recommend(situation(labelled_examples=examples)).approach == "fine-tune"


@pytest.mark.parametrize("change", ["weekly", "daily"])
def test_fast_changing_knowledge_is_rag(change):
    rec = recommend(situation(knowledge_change=change, latency_budget_ms=2000))
    assert rec.approach == "rag"
    assert any(r.startswith("Knowledge change") for r in rec.reasons)


def test_knowledge_that_must_be_cited_is_rag():
    rec = recommend(situation(needs_sources=True))
    assert rec.approach == "rag"
    assert rec.reasons[0].startswith("Cited sources")


def test_faster_changing_knowledge_never_helps_weights_and_always_helps_rag():
    scores = [recommend(situation(knowledge_change=k)).scores for k in KNOWLEDGE_CHANGE]
    for before, after in zip(scores, scores[1:]):
        assert after["rag"] > before["rag"]
        assert after["custom"] <= before["custom"] and after["fine-tune"] <= before["fine-tune"]


def test_tight_latency_counts_against_the_retrieval_step():
    rag_scores = [recommend(situation(latency_budget_ms=ms)).scores["rag"] for ms in (2000, 500, 100, 20)]
    assert rag_scores == sorted(rag_scores, reverse=True) and rag_scores[0] > rag_scores[-1]
    # A situation RAG wins on a relaxed budget goes to fine-tune once the budget is tight.
    relaxed = situation(labelled_examples=500, knowledge_change="monthly", pretrained_fit="good", latency_budget_ms=2000)
    assert recommend(relaxed).approach == "rag"
    assert recommend(dataclasses.replace(relaxed, latency_budget_ms=100)).approach == "fine-tune"


def test_small_budget_counts_against_custom():
    custom_scores = [recommend(situation(budget_usd=b)).scores["custom"] for b in (500_000, 100_000, 20_000, 5_000)]
    assert custom_scores == sorted(custom_scores, reverse=True) and custom_scores[0] > custom_scores[-1]
    rich = situation(labelled_examples=6_000, budget_usd=100_000, pretrained_fit="none", latency_budget_ms=2000)
    assert recommend(rich).approach == "custom"
    assert recommend(dataclasses.replace(rich, budget_usd=5_000)).approach != "custom"


# ---------------------------------------------------------------- the scoring table itself


def _value_in(criterion, index):
    """A value inside band ``index``: its lower edge, or just under the next band's edge."""
    band = criterion.bands[index]
    if not criterion.numeric:
        return [band.key]
    low = band.key if band.key > 0 or criterion.field != "latency_budget_ms" else 1
    if index + 1 < len(criterion.bands):
        return [low, criterion.bands[index + 1].key - 1]
    return [low, low * 10]


@pytest.mark.parametrize("criterion", RULES, ids=lambda c: c.field)
def test_every_band_gives_exactly_its_points(criterion):
    for index, band in enumerate(criterion.bands):
        for value in _value_in(criterion, index):
            rec = recommend(situation(**{criterion.field: value}))
            assert rec.points[criterion.field] == dict(zip(APPROACHES, band.points)), (criterion.field, value)
            assert rec.bands[criterion.field] == band.label


def test_band_edges_are_inclusive_below():
    assert recommend(situation(labelled_examples=199)).bands["labelled_examples"] == "under 200"
    assert recommend(situation(labelled_examples=200)).bands["labelled_examples"] == "200 to 9,999"
    assert recommend(situation(latency_budget_ms=49.9)).bands["latency_budget_ms"] == "under 50 ms"
    assert recommend(situation(latency_budget_ms=50)).bands["latency_budget_ms"] == "50 to 299 ms"


def test_scores_are_the_sums_of_the_points_and_the_winner_has_the_most():
    rec = recommend(situation(knowledge_change="monthly", needs_sources=True))
    for approach in APPROACHES:
        assert rec.scores[approach] == sum(p[approach] for p in rec.points.values())
    assert rec.scores[rec.approach] == max(rec.scores.values())
    assert rec.ranking[0] == rec.approach and rec.margin >= 0


def test_every_criterion_field_is_a_situation_field_and_covers_its_words():
    assert [c.field for c in RULES] == [f.name for f in dataclasses.fields(Situation)]
    assert [b.key for b in RULES_BY_FIELD["knowledge_change"].bands] == list(KNOWLEDGE_CHANGE)
    assert [b.key for b in RULES_BY_FIELD["pretrained_fit"].bands] == list(PRETRAINED_FIT)


def test_score_range_matches_brute_force_over_every_band_combination():
    values = [[v for i in range(len(c.bands)) for v in _value_in(c, i)[:1]] for c in RULES]
    every = [recommend(Situation(**dict(zip(BASE, combo)))).scores for combo in itertools.product(*values)]
    assert len(every) == 4 * 5 * 4 * 4 * 3 * 2
    assert score_range() == (min(min(s.values()) for s in every), max(max(s.values()) for s in every))


def test_ties_go_to_the_quicker_prototype():
    # monthly facts and a modest dataset: fine-tune and RAG both reach +4
    rec = recommend(situation(knowledge_change="monthly", latency_budget_ms=2000, budget_usd=20000))
    assert rec.scores["fine-tune"] == rec.scores["rag"]
    assert rec.approach == TIE_ORDER[0] == "rag"
    assert any("tie" in r for r in rec.reasons)
    assert any(n.startswith("Close call") for n in rec.notes)


def test_reasons_name_the_deciding_criteria_and_what_works_against_the_winner():
    rec = recommend(situation(latency_budget_ms=30))  # fine-tune wins, but pays for the tight budget
    names = [c.name for c in RULES]
    deciding = [r for r in rec.reasons if r.split(" (")[0] in names]
    assert 1 <= len(deciding) <= 3 and all(f"for {rec.approach} over {rec.runner_up}" in r for r in deciding)
    assert any(r.startswith("Working against fine-tune: latency budget") for r in rec.reasons)


def test_notes_suggest_fine_tune_plus_rag_when_both_are_needed():
    rec = recommend(situation(knowledge_change="daily", needs_sources=True))
    assert rec.approach == "rag"
    assert any("fine-tune + RAG" in n for n in rec.notes)
    assert not recommend(situation()).notes


def test_notes_warn_when_nothing_scores_above_zero():
    bleak = situation(labelled_examples=0, knowledge_change="static", latency_budget_ms=20, budget_usd=0,
                      pretrained_fit="none")
    rec = recommend(bleak)
    assert max(rec.scores.values()) <= 0
    assert any("No approach scores above zero" in n for n in rec.notes)


def test_str_shows_approach_scores_and_reasons():
    text = str(recommend(situation()))
    assert text.startswith("Recommendation: fine-tune") and "custom -1" in text and "Main risk" in text


# ---------------------------------------------------------------- invalid input


@pytest.mark.parametrize("field, value, message", [
    ("labelled_examples", -1, "is negative"),
    ("labelled_examples", 3000.0, "not a whole number"),
    ("labelled_examples", "3000", "not a whole number"),
    ("labelled_examples", True, "not a whole number"),
    ("labelled_examples", None, "not a whole number"),
    ("latency_budget_ms", 0, "not above zero"),
    ("latency_budget_ms", -5, "not above zero"),
    ("latency_budget_ms", math.inf, "not finite"),
    ("latency_budget_ms", "fast", "not a number"),
    ("budget_usd", -1, "is negative"),
    ("budget_usd", math.nan, "not finite"),
    ("budget_usd", "20k", "not a number"),
    ("knowledge_change", "montly", "Did you mean 'monthly'?"),
    ("knowledge_change", "Static", "Did you mean 'static'?"),
    ("knowledge_change", "hourly", "not one of the allowed words"),
    ("knowledge_change", 7, "not one of the allowed words"),
    ("pretrained_fit", "partal", "Did you mean 'partial'?"),
    ("pretrained_fit", "excellent", "not one of the allowed words"),
    ("pretrained_fit", None, "not one of the allowed words"),
    ("needs_sources", "yes", "without quotes"),
    ("needs_sources", 1, "not True or False"),
])
def test_invalid_values_raise_a_value_error_that_says_what_is_allowed(field, value, message):
    with pytest.raises(ValueError) as error:
        situation(**{field: value})
    text = str(error.value)
    assert message in text and text.startswith(f"{field}=")
    assert "Allowed: " in text
    if field == "knowledge_change":
        assert all(repr(word) in text for word in KNOWLEDGE_CHANGE)
    if field == "pretrained_fit":
        assert all(repr(word) in text for word in PRETRAINED_FIT)


def test_a_misspelt_or_missing_field_is_named():
    values = dict(BASE)
    values["labeled_examples"] = values.pop("labelled_examples")   # the American spelling
    with pytest.raises(ValueError, match="no field 'labeled_examples'. Did you mean 'labelled_examples'"):
        Situation(**values)
    with pytest.raises(ValueError, match="missing needs_sources"):
        Situation(**{k: v for k, v in BASE.items() if k != "needs_sources"})
    with pytest.raises(TypeError):  # keyword arguments only: six positional numbers are too easy to mix up
        Situation(*BASE.values())


def test_situations_are_frozen_and_replace_validates():
    s = situation()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.budget_usd = 1
    assert dataclasses.replace(s, budget_usd=1).budget_usd == 1
    with pytest.raises(ValueError, match="Did you mean 'weekly'"):
        dataclasses.replace(s, knowledge_change="weakly")


def test_numpy_values_are_accepted():
    np = pytest.importorskip("numpy")
    s = situation(labelled_examples=np.int64(300), budget_usd=np.float64(1e4), needs_sources=np.bool_(True))
    assert s.needs_sources is True and recommend(s).approach in APPROACHES


def test_recommend_accepts_a_dict_and_rejects_anything_else():
    assert recommend(dict(BASE)).approach == recommend(situation()).approach
    with pytest.raises(ValueError, match="expects a Situation"):
        recommend("fine-tune please")
    with pytest.raises(ValueError, match="Did you mean 'static'"):
        recommend({**BASE, "knowledge_change": "statc"})


def test_brief_reads_as_one_line():
    assert situation().brief() == ("3,000 examples · facts static · 500 ms · $20,000 · fit partial · no citations")


# ---------------------------------------------------------------- what would change my mind


def test_flips_are_real_single_changes_and_the_smallest_ones():
    s = situation(labelled_examples=1500, knowledge_change="yearly", latency_budget_ms=5000, budget_usd=15000)
    found = flips(s)
    assert {f.field for f in found} == {"labelled_examples", "knowledge_change", "needs_sources"}
    for flip in found:
        changed = dataclasses.replace(s, **{flip.field: flip.after})
        assert list(differences(s, changed)) == [flip.field]
        assert recommend(changed).approach == flip.approach_after != flip.approach_before
        assert flip.scores_after == recommend(changed).scores
        assert str(flip).startswith(f"{flip.field}: ")
    by_field = {f.field: f for f in found}
    assert by_field["labelled_examples"].after == 199  # the nearest value in the first band that flips
    assert by_field["knowledge_change"].after == "monthly"  # yearly -> monthly flips, no need to go to daily
    assert recommend(dataclasses.replace(s, labelled_examples=200)).approach == "fine-tune"


def test_a_robust_decision_has_no_flips():
    support = situation(labelled_examples=0, knowledge_change="weekly", latency_budget_ms=3000, pretrained_fit="good",
                        needs_sources=True)
    assert flips(support) == []


def test_flip_reports_a_tie():
    s = situation(knowledge_change="yearly", latency_budget_ms=2000)  # fine-tune +5, rag +3
    tie = [f for f in flips(s) if f.tie]
    assert tie and all("on a tie" in str(f) for f in tie)


def test_flips_and_differences_reject_non_situations():
    with pytest.raises(ValueError):
        flips(dict(BASE))
    with pytest.raises(ValueError):
        differences(situation(), dict(BASE))
    assert differences(situation(), situation()) == {}
    assert differences(situation(), situation(budget_usd=1)) == {"budget_usd": (20000, 1)}


# ---------------------------------------------------------------- success criteria and tables


@pytest.mark.parametrize("text", [
    "Recall of at least 95% on a held-out set of 1,000 part photos.",
    "Resolve 70 % of warranty questions without escalation, measured over the first month.",
    "p95 latency under 800 ms",
    "Macro F1 >= 0.80 on the 300-message test set",
])
def test_measurable_success_criteria_pass(text):
    assert success_criterion_gaps(text) == []


def test_vague_success_criteria_say_what_is_missing():
    gaps = success_criterion_gaps("Make the support bot better.")
    assert len(gaps) == 3 and "metric" in gaps[0] and "number" in gaps[1] and "unit" in gaps[2]
    assert [g.split()[0] for g in success_criterion_gaps("High accuracy")] == ["give", "say"]
    assert len(success_criterion_gaps("accuracy 90")) == 1
    with pytest.raises(ValueError, match="sentence"):
        success_criterion_gaps(0.95)


def test_tables_are_markdown():
    assert markdown_table(["a", "b"], [[1, "x|y"]]).splitlines() == ["| a | b |", "|---|---|", "| 1 | x\\|y |"]
    lines = rules_table().splitlines()
    assert len(lines) == 2 + sum(len(c.bands) for c in RULES)
    assert all(line.count("|") == 6 for line in lines)


def test_recommendation_is_a_plain_dataclass():
    rec = recommend(situation())
    assert isinstance(rec, Recommendation) and rec.runner_up in APPROACHES and rec.runner_up != rec.approach


def test_points_table_has_one_row_per_criterion_and_the_totals():
    rec = recommend(situation())
    lines = points_table(rec).splitlines()
    assert len(lines) == 2 + len(RULES) + 1
    assert lines[-1] == "| **total** |  | **-1** | **+6** | **+1** |"


# ---------------------------------------------------------------- variants of the rules


def test_with_points_changes_one_band_and_leaves_the_rules_alone():
    original = RULES_BY_FIELD["needs_sources"].bands[1].points
    soft = with_points("needs_sources", True, (0, 0, 1))
    assert RULES_BY_FIELD["needs_sources"].bands[1].points == original
    cited = situation(needs_sources=True)
    assert recommend(cited).approach == "rag"
    assert recommend(cited, soft).approach == "fine-tune"  # citations barely matter any more
    assert flips(cited, soft) != flips(cited)
    assert score_range(soft) != score_range()
    assert "| +0 | +0 | +1 |" in rules_table(soft)


def test_with_points_and_custom_rules_reject_bad_input():
    with pytest.raises(ValueError, match="Did you mean 'budget_usd'"):
        with_points("budget", 0, (0, 0, 0))
    with pytest.raises(ValueError, match="no band 'hourly'"):
        with_points("knowledge_change", "hourly", (0, 0, 0))
    with pytest.raises(ValueError, match="no band 1"):
        with_points("needs_sources", 1, (0, 0, 0))  # the band is True, not 1
    with pytest.raises(ValueError, match="tuple of 3 whole numbers"):
        with_points("needs_sources", True, (0, 0))
    with pytest.raises(ValueError, match="tuple of 3 whole numbers"):
        with_points("needs_sources", True, (0.5, 0, 0))
    with pytest.raises(ValueError, match="non-empty tuple of Criterion"):
        recommend(situation(), rules=list(RULES))
    renamed = (dataclasses.replace(RULES[0], field="examples"),)
    with pytest.raises(ValueError, match="unknown field 'examples'"):
        recommend(situation(), rules=renamed)


def test_a_subset_of_the_rules_scores_only_those_criteria():
    rec = recommend(situation(needs_sources=True), rules=(RULES_BY_FIELD["needs_sources"],))
    assert rec.approach == "rag" and rec.scores == {"custom": -2, "fine-tune": -2, "rag": 4}
    assert list(rec.points) == ["needs_sources"]


def test_notes_suggest_adding_rag_to_a_fine_tune_when_facts_change():
    rec = recommend(situation(pretrained_fit="good", knowledge_change="monthly", latency_budget_ms=100))
    assert rec.approach == "fine-tune"
    assert [n.split(":")[0] for n in rec.notes] == ["Consider adding RAG", "Close call"]
