"""Answer scoring: normalisation, key-fact match, citations, abstentions (utils.rag.scoring)."""

import pytest

from utils.rag.documents import Chunk, Question
from utils.rag.pipeline import RagAnswer
from utils.rag.retrieval import Hit
from utils.rag.scoring import is_abstention, is_correct, normalize_answer, parse_citations, score_answers


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
