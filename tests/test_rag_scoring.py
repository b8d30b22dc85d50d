"""Answer scoring: normalisation, key-fact match, citations, abstentions (utils.rag.scoring)."""

import pytest

from utils.rag.documents import Chunk, Question
from utils.rag.pipeline import RagAnswer
from utils.rag.retrieval import Hit
from utils.rag.scoring import (
    StrictKey,
    is_abstention,
    is_correct,
    normalize_answer,
    parse_citations,
    score_answers,
    strict_verdict,
)


def test_normalize_answer():
    assert normalize_answer("It lasts Four Hours.") == "it lasts 4 hour"
    assert normalize_answer("About 4,000 hours; 1.8 litres!") == "about 4000 hour 1.8 litre"
    assert normalize_answer("A 10% fee, part WF-220, €49.") == "a 10 percent fee part wf 220 49"
    with pytest.raises(TypeError):
        normalize_answer(None)


@pytest.mark.parametrize("answer, accepted, expected", [
    ("The tank holds 1.8 litres [1].", ["1.8"], True),
    ("The tank holds 1.8 litres.", ["1.2"], False),
    ("It costs €149.", ["49"], False),                 # whole numbers only, not digits inside others
    ("The call-out fee is €49.", ["49"], True),
    ("You have two years of warranty.", ["2 year"], True),
    ("The warranty lasts 24 months.", ["2 year", "24 month"], True),
    ("Wait 4 hours before plugging in.", "4 hour", True),
])
def test_is_correct(answer, accepted, expected):
    assert is_correct(answer, accepted) is expected


def test_is_correct_needs_accepted_answers():
    with pytest.raises(ValueError, match="No accepted answers"):
        is_correct("anything", [])


def test_abstention_and_citations():
    assert is_abstention("I don't know.") and is_abstention("") and is_abstention("The sources do not mention it.")
    assert not is_abstention("The kettle uses 2200 W [1].")
    assert parse_citations("Yes [2], see also [1, 3] and [9].", n_sources=3) == [1, 2, 3]
    assert parse_citations("No citation here.") == []


def _question(qid, answerable=True, accept=("45 day",), after=("60 day",)):
    return Question(qid, "test", "q?", answerable, ("policy",) if answerable else (), "45 days",
                    accept if answerable else (), after is not None, None, after)


def test_score_answers_counts_abstentions_and_citations():
    source = Hit(Chunk("policy#0.1", "policy", "Returns", "", "45 days", 0, 7, 0), 0.8)
    other = Hit(Chunk("other#0.0", "other", "Other", "", "x", 0, 1, 0), 0.5)
    answers = [RagAnswer("q?", "You have 45 days [2].", False, "answered", 0.9, [other, source], [2]),
               RagAnswer("q?", "It is 30 days [1].", False, "answered", 0.9, [source], [1]),
               RagAnswer("q?", "I don't know.", True, "weak retrieval", 0.1, []),
               RagAnswer("q?", "I don't know.", True, "weak retrieval", 0.1, []),
               RagAnswer("q?", "Paris.", False, "answered", 0.7, [other])]
    questions = [_question("a"), _question("b"), _question("c"), _question("u1", False), _question("u2", False)]
    scores = score_answers(answers, questions)
    assert scores["accuracy"] == pytest.approx(1 / 3) and scores["abstain_rate_answerable"] == pytest.approx(1 / 3)
    assert scores["abstain_rate_unanswerable"] == 0.5 and scores["citation_precision"] == 1.0
    assert score_answers(answers[:3], questions[:3], after_update=True)["accuracy"] == 0.0
    closed = score_answers(["45 days.", "no idea"], questions[:2])
    assert closed["accuracy"] == 0.5 and "citation_precision" not in closed
    with pytest.raises(ValueError, match="one answer per question"):
        score_answers(answers[:2], questions)


# --- strict scoring ---------------------------------------------------------------------------------------

WARRANTY = StrictKey.from_fields([["2 year"]], "duration", ["standard warranty"], ["care", "extended"])
EXPRESS = StrictKey.from_fields([["9.90"]], "money")
PUMP = StrictKey.from_fields([["19 bar"]], "pressure", ["aerobrew 500"], ["aerobrew 300"])


@pytest.mark.parametrize("key, question, answer, correct, why", [
    (WARRANTY, "How long is the standard warranty?", "Every appliance has a 2-year warranty [1].", True, ""),
    (WARRANTY, "How long is the standard warranty?", "It lasts two years.", True, ""),
    (WARRANTY, "How long is the standard warranty?", "The Northwind Care+ extended warranty lasts for 3 years",
     False, "misses"),                                                   # the example: wrong plan
    (WARRANTY, "How long is the standard warranty?", "2 years, or 3 years with Care+.", False, "names"),
    (WARRANTY, "How long is the standard warranty?", "2 years, sometimes 3 years.", False, "also states 3"),
    (WARRANTY, "How long is the standard warranty?", "2.", False, "misses"),    # no unit
    (WARRANTY, "How long is the standard warranty?", "I don't know.", False, "abstained"),
    (EXPRESS, "How much does express delivery cost?", "Express delivery costs €9.90 [2].", True, ""),
    (EXPRESS, "How much does express delivery cost?", "It costs 9.90 euros.", True, ""),
    (EXPRESS, "How much does express delivery cost?", "It is 9.90.", False, "currency"),
    (EXPRESS, "How much does express delivery cost?", "€9.90, free over €50.", False, "also states 50"),
    (PUMP, "What pressure does the pump of the AeroBrew 500 reach?", "The AeroBrew 500 reaches 19 bar.", True, ""),
    (PUMP, "What pressure does the pump of the AeroBrew 500 reach?", "The AeroBrew 300 reaches 19 bar.", False,
     "names"),
    (PUMP, "What pressure does the pump of the AeroBrew 500 reach?", "The BreezeFan 3 reaches 19 bar.", False,
     "names 'breezefan'"),                                               # the worked example's product
    (PUMP, "What pressure does the pump of the AeroBrew 500 reach?", "19", False, "misses"),
])
def test_strict_verdicts(key, question, answer, correct, why):
    verdict = strict_verdict(answer, key, question)
    assert verdict.correct is correct and why in verdict.reason, verdict


def test_strict_key_rejects_malformed_fields():
    with pytest.raises(ValueError, match="require must be a non-empty list of facts"):
        StrictKey.from_fields(["19 bar"], "pressure", where="q002")       # a fact is a list of phrasings
    with pytest.raises(ValueError, match="unit_kind 'bars' is not one of"):
        StrictKey.from_fields([["19 bar"]], "bars", where="q002")
    with pytest.raises(TypeError, match="StrictKey"):
        strict_verdict("19 bar", ("19 bar",))


def test_agreement_counts_the_two_by_two_table():
    from utils.rag.scorer_check import GradedAnswer, agreement

    def row(grade, strict, lenient):
        return GradedAnswer("g", "rag", "q?", "a", grade, "why", strict, "", lenient)

    graded = [row(True, True, True), row(False, False, True), row(False, False, True), row(True, False, True)]
    strict, lenient = agreement(graded, "strict"), agreement(graded, "lenient")
    assert strict["agreement"].value == 0.75 and strict["agreement"].n == 4 and len(strict["false_rejects"]) == 1
    assert lenient["agreement"].value == 0.5 and len(lenient["false_accepts"]) == 2
    assert strict["table"] == {(True, True): 1, (True, False): 1, (False, True): 0, (False, False): 2}
    with pytest.raises(ValueError, match="'strict' or 'lenient'"):
        agreement(graded, "exact")


def test_score_both_reports_each_scorer_with_an_interval():
    from utils.rag.scorer_check import score_both

    class Gold:
        question = "What pressure does the pump of the AeroBrew 500 reach?"

        def gold(self, after_update=False):
            return ("19",)

        def strict_key(self, after_update=False):
            return PUMP

    scored = score_both(["19 bar.", "19", "The AeroBrew 300 reaches 19 bar."], [Gold()] * 3)
    assert (scored["lenient"].value, scored["strict"].value, scored["strict"].n) == (1.0, pytest.approx(1 / 3), 3)
    assert [r["strict"] for r in scored["rows"]] == [True, False, False] and "names" in scored["rows"][2]["why"]
    with pytest.raises(ValueError, match="one answer per question"):
        score_both(["19 bar"], [Gold()] * 2)


def test_the_lenient_scorer_against_the_hand_grades():
    """What datasets/northwind_kb/README.md says of the key-fact match: it agrees with 99 of the 116 hand-graded
    answers, and every disagreement is an answer it accepts that the person rejects."""
    from utils.compare.answer_cards import cards_by_id, load_cards
    from utils.core.jsonl import read_jsonl
    from utils.rag.documents import load_questions
    from utils.rag.scorer_check import GRADED_PATH

    questions, cards = {q.id: q for q in load_questions()}, cards_by_id(load_cards())
    rows = read_jsonl(GRADED_PATH, "it is committed with the knowledge base")
    assert len(rows) == 116 and all(isinstance(r["grade"], bool) and r["reason"].strip() for r in rows)
    said = [is_correct(r["answer"], questions[r["question_id"]].gold(r["after_update"]) if "question_id" in r
                       else cards[r["card_id"]].accept_for(r["after_update"])) for r in rows]
    assert sum(s == r["grade"] for s, r in zip(said, rows)) == 99
    assert all(s and not r["grade"] for s, r in zip(said, rows) if s != r["grade"])


def test_the_strict_scorer_agrees_with_the_hand_grades():
    """The strict scorer against the same 116 hand-graded answers: at least 95 % agreement. (The question
    annotations were written while these grades existed, so this is an in-sample check; new graded answers are
    the out-of-sample one.)"""
    from utils.rag.scorer_check import agreement, load_graded

    graded = load_graded()
    assert len(graded) >= 80 and len({g.source for g in graded}) >= 6
    strict, lenient = agreement(graded, "strict"), agreement(graded, "lenient")
    print(f"\nstrict agreement {strict['agreement']}, lenient agreement {lenient['agreement']}")
    for g in strict["false_accepts"] + strict["false_rejects"]:
        print(f"  disagrees: {g.id} {g.source}: {g.answer!r} — person: {g.grade} ({g.reason}); "
              f"strict: {g.strict} ({g.strict_reason})")
    assert strict["agreement"].value >= 0.95, f"strict agreement {strict['agreement']} is below 0.95"
    assert lenient["agreement"].value < strict["agreement"].value


def test_a_time_before_a_price_is_not_read_as_a_price():
    """Found by the fresh hand-graded batch: "before 16:00; €12.90" was read as a price of 00 euros."""
    from utils.rag.scoring import StrictKey, strict_verdict

    key = StrictKey((("12.90",),), "money")
    assert strict_verdict("Express: next working day when ordered before 16:00; €12.90 [1]", key).correct
    assert strict_verdict("Express costs 12.90 euros.", key).correct
    assert not strict_verdict("Express costs €9.90 or €12.90.", key).correct


def test_the_strict_scorer_agrees_with_fresh_hand_grades():
    """Out of sample: 180 answers to questions added after the strict fields of the first batch were written,
    graded by hand from the documents without any scorer's verdict in view. Before the currency fix above the
    strict scorer agreed on 174 (0.967); the lenient one agrees on 174 too, with the opposite errors."""
    from utils.rag.scorer_check import GRADED_FRESH_PATH, agreement, load_graded

    graded = load_graded(GRADED_FRESH_PATH)
    assert len(graded) == 180 and len({g.source for g in graded}) >= 6
    strict, lenient = agreement(graded, "strict"), agreement(graded, "lenient")
    print(f"\nfresh batch: strict agreement {strict['agreement']}, lenient agreement {lenient['agreement']}")
    assert strict["agreement"].value >= 0.95, f"strict agreement {strict['agreement']} is below 0.95"
    assert len(lenient["false_accepts"]) > len(strict["false_accepts"]), "the lenient scorer accepts more wrong answers"
