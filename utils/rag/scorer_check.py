"""Is the answer scorer itself right? Its verdicts against answers graded by hand.

``datasets/northwind_kb/graded_answers.jsonl`` holds real answers from the course's own runs (RAG, the
model's own RAG answers, quote-only, closed book, and the capstone's fine-tune and custom model), each graded
correct or incorrect by a person with a one-line reason. A scorer that disagrees with those grades more than
rarely would make every accuracy in the course mean something else than it says.
"""

from dataclasses import dataclass
from pathlib import Path

from utils.core.jsonl import read_jsonl
from utils.core.stats import proportion
from utils.rag.documents import KB_DIR, load_questions
from utils.rag.scoring import is_correct, strict_verdict

GRADED_PATH = KB_DIR / "graded_answers.jsonl"
# A second batch, graded after the strict fields were written and without any scorer's verdict in view: answers to
# questions added later (the update-changed and held-out ones), so agreement on it is measured out of sample.
GRADED_FRESH_PATH = KB_DIR / "graded_answers_fresh.jsonl"


@dataclass(frozen=True)
class GradedAnswer:
    id: str
    source: str                # "rag", "rag-model-own", "quote-only", "closed-book", "rag-fresh", "fine-tune", "custom", ...
    question: str
    answer: str
    grade: bool                # a person's verdict
    reason: str                # theirs, in one line
    strict: bool               # the strict scorer's verdict
    strict_reason: str
    lenient: bool              # the key-fact match's verdict


def load_graded(path: Path | str = GRADED_PATH) -> list[GradedAnswer]:
    """The hand-graded answers, each scored again by both scorers."""
    from utils.compare.answer_cards import cards_by_id, load_cards

    questions = {q.id: q for q in load_questions()}
    cards = cards_by_id(load_cards())
    graded = []
    for i, row in enumerate(read_jsonl(path, "it is committed with the knowledge base"), start=1):
        after = bool(row.get("after_update"))
        if "question_id" in row:
            gold = questions[row["question_id"]]
            key, accept = gold.strict_key(after), gold.gold(after)
        elif "card_id" in row:
            gold = cards[row["card_id"]]
            key, accept = gold.strict_key(after), gold.accept_for(after)
        else:
            raise ValueError(f"{Path(path).name} line {i}: needs a question_id or a card_id.")
        if not isinstance(row.get("grade"), bool) or not str(row.get("reason", "")).strip():
            raise ValueError(f"{Path(path).name} line {i}: grade must be true/false and reason a sentence.")
        verdict = strict_verdict(row["answer"], key, row["question"])
        graded.append(GradedAnswer(row["id"], row["source"], row["question"], row["answer"], row["grade"],
                                   row["reason"], verdict.correct, verdict.reason, is_correct(row["answer"], accept)))
    return graded


def agreement(graded: list[GradedAnswer], scorer: str) -> dict:
    """How often ``scorer`` ("strict" or "lenient") says what the person said, with its 95 % interval, and the
    2×2 table of (person, scorer) verdicts."""
    if scorer not in ("strict", "lenient"):
        raise ValueError(f"scorer must be 'strict' or 'lenient', got {scorer!r}.")
    same = [getattr(g, scorer) == g.grade for g in graded]
    table = {(person, said): sum(g.grade == person and getattr(g, scorer) == said for g in graded)
             for person in (True, False) for said in (True, False)}
    return {"agreement": proportion(same), "table": table,
            "false_accepts": [g for g in graded if getattr(g, scorer) and not g.grade],
            "false_rejects": [g for g in graded if not getattr(g, scorer) and g.grade]}


def score_both(answers, questions, after_update: bool = False) -> dict:
    """Lenient and strict accuracy of ``answers`` (texts or ``RagAnswer``) on ``questions``, each an ``Estimate``
    with its Wilson interval, plus each answer's strict verdict (to show where the two scorers part)."""
    texts = [a if isinstance(a, str) else a.text for a in answers]
    if len(texts) != len(questions) or not texts:
        raise ValueError(f"Need one answer per question: got {len(texts)} answers for {len(questions)} questions.")
    lenient = [is_correct(t, q.gold(after_update)) for t, q in zip(texts, questions)]
    verdicts = [strict_verdict(t, q.strict_key(after_update), q.question) for t, q in zip(texts, questions)]
    return {"lenient": proportion(lenient), "strict": proportion([v.correct for v in verdicts]),
            "rows": [{"question": q.question, "answer": t, "lenient": ok, "strict": v.correct, "why": v.reason}
                     for q, t, ok, v in zip(questions, texts, lenient, verdicts)]}


def question_outcomes(answers, questions) -> list[bool]:
    """One verdict per question, answerable or not: a strictly correct answer, or a refusal where the knowledge
    base has no answer. The measure for a choice that trades answering against abstaining."""
    if len(answers) != len(questions):
        raise ValueError(f"Need one answer per question: got {len(answers)} answers for {len(questions)} questions.")
    return [strict_verdict(a.text, q.strict_key(), q.question).correct if q.answerable else a.abstained
            for a, q in zip(answers, questions)]
