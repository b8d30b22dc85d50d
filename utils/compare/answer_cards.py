"""Northwind's question → answer-card data: the cards, the held-out questions, their scoring, and how far
the test wording is from the training wording.

An **answer card** is one fact from the knowledge base (``datasets/northwind_kb``) written as the answer a
support agent would give, with the document it comes from, its answer before and after the policy
update, and a few hand-written paraphrases of the question it answers::

    card = load_cards()[0]
    card.id, card.doc_id, card.answer_for(after_update=False), card.train[:2]

The held-out test questions (``test.jsonl``) are mostly the knowledge base's own evaluation questions,
so the custom model, the fine-tune and RAG (notebook 05) are all judged on the same wording that none
of them trained on.
"""

import re
from dataclasses import dataclass, replace
from pathlib import Path

from utils.core.jsonl import read_jsonl
from utils.core.paths import DATASETS_DIR
from utils.rag.scoring import StrictKey, is_correct, is_correct_strict

QA_DIR = DATASETS_DIR / "northwind_qa"


STATUSES = ("unchanged", "changed", "added")   # what the policy update does to a card


@dataclass(frozen=True)
class Card:
    id: str
    doc_id: str                          # the knowledge-base document that states the fact
    status: str                          # "unchanged", "changed" or "added" by the policy update
    answer: str | None                   # None only for a card the update adds
    accept: tuple | None                 # key facts a correct answer contains (see utils.rag.scoring.is_correct)
    answer_after_update: str | None      # None when the update does not change the answer
    accept_after_update: tuple | None
    train: tuple                         # hand-written paraphrases to train on
    val: str                             # one more paraphrase, for early stopping
    strict: StrictKey | None = None      # the strict scorer's key (utils.rag.scoring.strict_verdict)
    strict_after_update: StrictKey | None = None

    @property
    def changes_with_update(self) -> bool:
        return self.status != "unchanged"

    def exists(self, after_update: bool = False) -> bool:
        """A card the update adds does not exist before it."""
        return after_update or self.status != "added"

    def answer_for(self, after_update: bool = False) -> str:
        self._check_exists(after_update)
        return self.answer_after_update if after_update and self.changes_with_update else self.answer

    def accept_for(self, after_update: bool = False) -> tuple:
        self._check_exists(after_update)
        return self.accept_after_update if after_update and self.changes_with_update else self.accept

    def strict_key(self, after_update: bool = False) -> StrictKey:
        self._check_exists(after_update)
        key = self.strict_after_update if after_update and self.changes_with_update else self.strict
        if key is None:
            raise ValueError(f"Card {self.id!r} has no strict-scoring fields (require, unit_kind"
                             f"{', require_after_update' if after_update else ''}): add them to cards.jsonl.")
        from utils.rag.documents import stated_values

        return replace(key, allowed=stated_values((self.doc_id,), key.unit_kind, after_update))

    def _check_exists(self, after_update: bool) -> None:
        if not self.exists(after_update):
            raise ValueError(f"Card {self.id!r} is added by the policy update: it has no answer before it "
                             "(pass after_update=True).")


@dataclass(frozen=True)
class HeldOutQuestion:
    id: str
    card_id: str
    question: str
    source: str                          # "kb:q052" (the knowledge base's own question) or "handwritten"


def _strings(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) and v.strip() for v in value)


def validate_card(row: dict, where: str = "card") -> Card:
    """Turn one JSON row into a ``Card``, or raise a ValueError that says which field is wrong."""
    if not isinstance(row, dict):
        raise TypeError(f"{where} must be a JSON object, got {type(row).__name__}.")
    fields = ("id", "doc_id", "status", "answer", "accept", "answer_after_update", "accept_after_update",
              "train", "val")
    missing = [f for f in fields if f not in row]
    if missing:
        raise ValueError(f"{where} lacks {', '.join(missing)}; every card has the fields {', '.join(fields)}.")
    for name in ("id", "doc_id", "val"):
        if not isinstance(row[name], str) or not row[name].strip():
            raise ValueError(f"{where}: {name} must be a non-empty string, got {row[name]!r}.")
    status = row["status"]
    if status not in STATUSES:
        raise ValueError(f"{where}: status {status!r} is not one of {', '.join(STATUSES)}.")
    if not _strings(row["train"]):
        raise ValueError(f"{where}: train must be a non-empty list of paraphrases (strings).")
    before = row["answer"] is not None or row["accept"] is not None
    after = row["answer_after_update"] is not None or row["accept_after_update"] is not None
    expected = {"unchanged": (True, False), "changed": (True, True), "added": (False, True)}[status]
    if (before, after) != expected:
        raise ValueError(f"{where}: a card with status {status!r} needs "
                         f"{'an' if expected[0] else 'no'} answer before the update and "
                         f"{'an' if expected[1] else 'no'} answer after it (null where there is none).")
    for answer, accept in (("answer", "accept"), ("answer_after_update", "accept_after_update")):
        if row[answer] is None:
            continue
        if not isinstance(row[answer], str) or not row[answer].strip() or not _strings(row[accept]):
            raise ValueError(f"{where}: {answer} must be a sentence and {accept} a non-empty list of key facts.")
        if not is_correct(row[answer], row[accept]):
            raise ValueError(f"{where}: {answer} {row[answer]!r} contains none of {accept} {row[accept]}; "
                             "fix one of them.")
    tuples = {k: tuple(row[k]) if row[k] is not None else None for k in ("accept", "accept_after_update", "train")}
    strict = {}
    for name, require in (("strict", "require"), ("strict_after_update", "require_after_update")):
        if row.get(require) is not None:
            strict[name] = StrictKey.from_fields(row[require], row.get("unit_kind"), row.get("entity"),
                                                 row.get("conflicts"), where=f"{where} ({require})")
    if status == "added" and "strict_after_update" not in strict and "strict" in strict:
        strict["strict_after_update"] = strict.pop("strict")        # an added card has only an after-update fact
    return Card(**{**{f: row[f] for f in fields}, **tuples}, **strict)


def _read_jsonl(path: Path) -> list[dict]:
    return read_jsonl(path, f"the Northwind QA data lives in {QA_DIR}.")


def load_cards(folder: Path | str = QA_DIR) -> list[Card]:
    """Every answer card in ``cards.jsonl``, validated; ids must be unique."""
    path = Path(folder) / "cards.jsonl"
    cards = [validate_card(row, f"{path.name} line {i}") for i, row in enumerate(_read_jsonl(path), start=1)]
    if not cards:
        raise ValueError(f"{path} holds no cards.")
    ids = [c.id for c in cards]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"Duplicate card ids in {path.name}: {', '.join(duplicates)}.")
    return cards


def load_held_out(folder: Path | str = QA_DIR, cards: list[Card] | None = None,
                        kb_dir: Path | str | None = None) -> list[HeldOutQuestion]:
    """The held-out questions of ``test.jsonl``; a row with ``kb_question`` takes its text from the knowledge base."""
    from utils.rag.documents import KB_DIR, load_questions

    path = Path(folder) / "test.jsonl"
    card_ids = {c.id for c in (cards if cards is not None else load_cards(folder))}
    kb = {q.id: q for q in load_questions(kb_dir=kb_dir or KB_DIR)}
    tests = []
    for i, row in enumerate(_read_jsonl(path), start=1):
        where = f"{path.name} line {i}"
        if row.get("card_id") not in card_ids:
            raise ValueError(f"{where}: card_id {row.get('card_id')!r} is not a card in cards.jsonl.")
        if ("kb_question" in row) == ("question" in row):
            raise ValueError(f"{where}: give either 'kb_question' (an id in questions.jsonl) or 'question' (text).")
        if "kb_question" in row:
            if row["kb_question"] not in kb:
                raise ValueError(f"{where}: {row['kb_question']!r} is not a question id in the knowledge base.")
            text, source = kb[row["kb_question"]].question, f"kb:{row['kb_question']}"
        else:
            text, source = row["question"], "handwritten"
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{where}: the question is empty.")
        tests.append(HeldOutQuestion(str(row.get("id", f"t{i:02d}")), row["card_id"], text, source))
    if not tests:
        raise ValueError(f"{path} holds no test questions.")
    return tests


def cards_by_id(cards: list[Card]) -> dict[str, Card]:
    return {c.id: c for c in cards}


def live_cards(cards: list[Card], after_update: bool = False) -> list[Card]:
    """The cards that exist before (or after) the update, in file order."""
    return [c for c in cards if c.exists(after_update)]


def select_questions(tests: list[HeldOutQuestion], cards: list[Card], after_update: bool = False,
             changed_only: bool = False) -> list[HeldOutQuestion]:
    """The test questions that can be asked at that time; ``changed_only`` keeps those the update affects."""
    by_id = cards_by_id(cards)
    return [t for t in tests if by_id[t.card_id].exists(after_update)
            and (not changed_only or by_id[t.card_id].changes_with_update)]


def labelled_pairs(cards: list[Card], split: str = "train", after_update: bool = False) -> list[tuple[str, str]]:
    """``(question, card id)`` pairs of one split ("train" or "val") for the cards alive at that time."""
    if split not in ("train", "val"):
        raise ValueError(f"Unknown split {split!r}: choose 'train' or 'val' (the test questions are held out).")
    pairs = []
    for card in live_cards(cards, after_update):
        questions = card.train if split == "train" else (card.val,)
        pairs += [(q, card.id) for q in questions]
    return pairs


def labelled_examples(cards: list[Card], after_update: bool = False) -> int:
    """How many labelled questions a supervised approach needs: every train and validation paraphrase."""
    return sum(len(c.train) + 1 for c in live_cards(cards, after_update))


def score(answers: list[str], tests: list[HeldOutQuestion], cards: list[Card], after_update: bool = False,
          strict: bool = False) -> list[bool]:
    """Is each answer right? Lenient: it contains one of its card's key facts (normalised phrase match, as in RAG).
    Strict: ``utils.rag.scoring.strict_verdict`` with the card's strict key (facts with units, the entity)."""
    if isinstance(answers, str):
        raise TypeError("answers must be a list of strings, one per test question.")
    if len(answers) != len(tests):
        raise ValueError(f"Got {len(answers)} answers for {len(tests)} test questions: pass one answer per question.")
    by_id = cards_by_id(cards)
    if strict:
        return [is_correct_strict(a, by_id[t.card_id].strict_key(after_update), t.question)
                for a, t in zip(answers, tests)]
    return [is_correct(a, by_id[t.card_id].accept_for(after_update)) for a, t in zip(answers, tests)]


def accuracy(answers: list[str], tests: list[HeldOutQuestion], cards: list[Card], after_update: bool = False,
             strict: bool = False) -> float:
    right = score(answers, tests, cards, after_update, strict)
    if not right:
        raise ValueError("No test questions to score.")
    return sum(right) / len(right)


def words(text: str) -> list[str]:
    """Lower-case words and numbers ("1.2" stays whole)."""
    return re.findall(r"[a-z0-9]+(?:\.[0-9]+)?", text.lower())


def wording_overlap(a: str, b: str) -> float:
    """Jaccard overlap of the two questions' word sets: 1.0 for the same words, 0.0 for none in common."""
    x, y = set(words(a)), set(words(b))
    return len(x & y) / len(x | y) if x | y else 0.0


def closest_paraphrases(tests: list[HeldOutQuestion], cards: list[Card]) -> list[tuple[HeldOutQuestion, str, float]]:
    """For each test question, the training/validation paraphrase (of any card) whose wording is closest."""
    paraphrases = [q for c in cards for q in (*c.train, c.val)]
    result = []
    for test in tests:
        best = max(paraphrases, key=lambda p: wording_overlap(test.question, p))
        result.append((test, best, wording_overlap(test.question, best)))
    return result
