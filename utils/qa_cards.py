"""Northwind's question → answer-card data, and a small text classifier trained on it from scratch.

An **answer card** is one fact from the knowledge base (``datasets/northwind_kb``) written as the answer a
support agent would give, with the document it comes from, its answer before and after the policy
update, and a few hand-written paraphrases of the question it answers::

    card = load_cards()[0]
    card.id, card.doc_id, card.answer_for(after_update=False), card.train[:2]

The held-out test questions (``test.jsonl``) are mostly the knowledge base's own evaluation questions,
so the custom model, the fine-tune and RAG (notebook 05) are all judged on the same wording that none
of them trained on.

The **custom model** knows nothing but these pairs: it hashes each question into word and character
n-grams (like fastText), averages their learned embeddings and classifies the result into a card; the
answer is then read from the card. Its weights hold *which card*, not *what the card says*, which is why
a changed answer is a relabel rather than a new model (see ``CardClassifier.relabel``).
"""

import contextlib
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from utils.jsonl import read_jsonl
from utils.paths import DATASETS_DIR
from utils.rag_eval import is_correct

QA_DIR = DATASETS_DIR / "northwind_qa"
STATUSES = ("unchanged", "changed", "added")   # what the policy update does to a card
QA_SYSTEM = "Northwind support."  # short on purpose: every prompt token costs training and generation time


# ---------------------------------------------------------------------------------------------
# The data: cards and held-out test questions
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Card:
    id: str
    doc_id: str                          # the knowledge-base document that states the fact
    status: str                          # "unchanged", "changed" or "added" by the policy update
    answer: str | None                   # None only for a card the update adds
    accept: tuple | None                 # key facts a correct answer contains (see utils.rag_eval.is_correct)
    answer_after_update: str | None      # None when the update does not change the answer
    accept_after_update: tuple | None
    train: tuple                         # hand-written paraphrases to train on
    val: str                             # one more paraphrase, for early stopping

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
    return Card(**{**{f: row[f] for f in fields}, **tuples})


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
    from utils.documents import KB_DIR, load_questions

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


def score(answers: list[str], tests: list[HeldOutQuestion], cards: list[Card], after_update: bool = False) -> list[bool]:
    """Is each answer right? It must contain one of its card's key facts (normalised phrase match, as in RAG)."""
    if isinstance(answers, str):
        raise TypeError("answers must be a list of strings, one per test question.")
    if len(answers) != len(tests):
        raise ValueError(f"Got {len(answers)} answers for {len(tests)} test questions: pass one answer per question.")
    by_id = cards_by_id(cards)
    return [is_correct(a, by_id[t.card_id].accept_for(after_update)) for a, t in zip(answers, tests)]


def accuracy(answers: list[str], tests: list[HeldOutQuestion], cards: list[Card], after_update: bool = False) -> float:
    right = score(answers, tests, cards, after_update)
    if not right:
        raise ValueError("No test questions to score.")
    return sum(right) / len(right)


# ---------------------------------------------------------------------------------------------
# How different is the test wording from the training wording?
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# The custom model: hashed n-grams → embedding bag → MLP → card
# ---------------------------------------------------------------------------------------------

PAD = 0  # feature id 0 is padding; real features hash into 1..buckets-1


@contextlib.contextmanager
def one_thread():
    """Run PyTorch on one thread for a while. A model this small spends more time coordinating threads
    than computing, and on a busy machine extra threads wait for each other (10x slower, measured)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def ngram_features(text: str, word_ngrams: int = 2, char_ngrams: tuple[int, int] = (3, 5)) -> list[str]:
    """Word n-grams up to ``word_ngrams`` and character n-grams of each ``<word>`` (sizes in ``char_ngrams``).

    Character n-grams let the model relate words it has never seen together: "descaled" and
    "descaling" share "<des", "esca", "scal"; "AB300" and "aerobrew 300" share little, which is why
    the paraphrases in the data name products in several ways.
    """
    tokens = words(text)
    features = [f"w{n}:" + " ".join(tokens[i:i + n]) for n in range(1, word_ngrams + 1)
                for i in range(len(tokens) - n + 1)]
    low, high = char_ngrams
    for token in tokens:
        padded = f"<{token}>"
        features += [f"c:{padded[i:i + n]}" for n in range(low, high + 1) for i in range(len(padded) - n + 1)]
    return features


@dataclass(frozen=True)
class HashedNgrams:
    """Text → padded ``(N, T)`` tensor of feature ids, with no vocabulary to build or store.

    ``crc32`` (not Python's ``hash``, which changes between runs) maps each feature to one of
    ``buckets - 1`` ids; two features may share an id, a small price for never meeting an unknown word.
    """
    buckets: int = 2 ** 13
    word_ngrams: int = 2
    char_ngrams: tuple = (3, 5)

    def ids(self, text: str) -> list[int]:
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"Cannot encode {text!r}: a question must be a non-empty string.")
        return [zlib.crc32(f.encode()) % (self.buckets - 1) + 1
                for f in ngram_features(text, self.word_ngrams, tuple(self.char_ngrams))]

    def encode(self, texts: list[str]) -> torch.Tensor:
        if isinstance(texts, str):
            raise TypeError("texts must be a list of strings; wrap a single question as [question].")
        if not texts:
            raise ValueError("Nothing to encode: the list of texts is empty.")
        rows = [self.ids(t) for t in texts]
        width = max(len(r) for r in rows)
        return torch.tensor([r + [PAD] * (width - len(r)) for r in rows], dtype=torch.long)   # (N, T)


class BagOfNgrams(nn.Module):
    """Average the embeddings of a question's n-grams, then a one-hidden-layer MLP gives a score per card."""

    def __init__(self, num_classes: int, buckets: int = 2 ** 13, dim: int = 64, hidden: int = 128,
                 dropout: float = 0.2):
        super().__init__()
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an integer of at least 2, got {num_classes!r}.")
        if min(buckets, dim, hidden) < 1:
            raise ValueError(f"buckets, dim and hidden must be positive, got {buckets}, {dim}, {hidden}.")
        self.config = {"num_classes": num_classes, "buckets": buckets, "dim": dim, "hidden": hidden,
                       "dropout": dropout}
        self.embed = nn.EmbeddingBag(buckets, dim, mode="mean", padding_idx=PAD)   # padding left out of the mean
        self.classify = nn.Sequential(nn.Dropout(dropout), nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout(dropout),
                                      nn.Linear(hidden, num_classes))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.classify(self.embed(ids))   # (B, T) -> (B, dim) -> (B, num_classes)


class CardClassifier:
    """Question → card id → the card's answer. The answer table sits beside the model, not inside it."""

    def __init__(self, model: BagOfNgrams, featurizer: HashedNgrams, card_ids: list[str], answers: dict[str, str]):
        if len(card_ids) != model.config["num_classes"]:
            raise ValueError(f"The model has {model.config['num_classes']} outputs but {len(card_ids)} card ids.")
        self.model, self.featurizer, self.card_ids, self.answers = model.eval(), featurizer, list(card_ids), answers

    @torch.no_grad()
    def predict_cards(self, questions: list[str]) -> list[str]:
        with one_thread():
            logits = self.model(self.featurizer.encode(questions))        # (N, K)
        return [self.card_ids[i] for i in logits.argmax(dim=1).tolist()]

    def answer(self, questions: list[str]) -> list[str]:
        return [self.answers[c] for c in self.predict_cards(questions)]

    def relabel(self, cards: list[Card], after_update: bool) -> list[str]:
        """Point every known card at its answer before/after the update; returns the ids whose answer changed.

        Nothing is retrained: the model still picks the same card for a question, only what the
        card says is new. A card the model has never seen (added by the update) needs a retrain.
        """
        changed = []
        for card in cards:
            if card.id in self.answers and card.exists(after_update):
                new = card.answer_for(after_update)
                if new != self.answers[card.id]:
                    self.answers[card.id] = new
                    changed.append(card.id)
        return changed

    def unknown_cards(self, cards: list[Card], after_update: bool) -> list[str]:
        """Cards alive at that time that this model cannot predict (it must be retrained to learn them)."""
        return [c.id for c in live_cards(cards, after_update) if c.id not in self.answers]

    def save(self, folder) -> Path:
        from utils.checkpoint import save_checkpoint

        folder = Path(folder)
        config = {"model": self.model.config, "featurizer": {"buckets": self.featurizer.buckets,
                  "word_ngrams": self.featurizer.word_ngrams, "char_ngrams": list(self.featurizer.char_ngrams)},
                  "card_ids": self.card_ids, "answers": self.answers}
        return save_checkpoint(self.model, folder / "card_classifier.safetensors", config=config)

    @classmethod
    def load(cls, folder) -> "CardClassifier":
        from utils.checkpoint import load_checkpoint

        state, config = load_checkpoint(Path(folder) / "card_classifier.safetensors")
        model = BagOfNgrams(**config["model"])
        model.load_state_dict(state)
        featurizer = HashedNgrams(**{**config["featurizer"], "char_ngrams": tuple(config["featurizer"]["char_ngrams"])})
        return cls(model, featurizer, config["card_ids"], config["answers"])


def train_card_classifier(cards: list[Card], after_update: bool = False, *, featurizer: HashedNgrams | None = None,
                          dim: int = 64, hidden: int = 128, dropout: float = 0.2, epochs: int = 60,
                          lr: float = 5e-3, batch_size: int = 32, patience: int | None = 15, seed: int = 0,
                          progress: bool = False):
    """Train a fresh ``CardClassifier`` on the cards alive at that time; returns it and its ``TrainingHistory``.

    The loop is the course's generic ``utils.training.train_classifier`` (AdamW, cosine schedule, early
    stopping on the validation paraphrases, best epoch restored).
    """
    from utils.training import train_classifier

    featurizer = featurizer or HashedNgrams()
    alive = live_cards(cards, after_update)
    if len(alive) < 2:
        raise ValueError(f"Need at least two cards to classify between, got {len(alive)}.")
    index = {c.id: i for i, c in enumerate(alive)}

    def tensors(split):
        pairs = labelled_pairs(cards, split, after_update)
        return featurizer.encode([q for q, _ in pairs]), torch.tensor([index[c] for _, c in pairs])   # (N, T), (N,)

    torch.manual_seed(seed)  # the same initial weights for the same seed
    model = BagOfNgrams(len(alive), featurizer.buckets, dim, hidden, dropout)
    with one_thread():
        history = train_classifier(model, tensors("train"), tensors("val"), epochs=epochs, lr=lr,
                                   batch_size=batch_size, patience=patience, seed=seed, progress=progress,
                                   device="cpu", description="card classifier")
    answers = {c.id: c.answer_for(after_update) for c in alive}
    return CardClassifier(model, featurizer, [c.id for c in alive], answers), history


# ---------------------------------------------------------------------------------------------
# The same pairs for the LLM: chat prompts and the answer text to learn
# ---------------------------------------------------------------------------------------------

def qa_prompt(tokenizer, question: str, system: str = QA_SYSTEM) -> str:
    from utils.generation import chat_prompt

    return chat_prompt(tokenizer, question, system=system)


def finetune_pairs(tokenizer, cards: list[Card], split: str = "train", after_update: bool = False,
                   only: list[str] | None = None, system: str = QA_SYSTEM) -> list[tuple[str, str]]:
    """(chat prompt, card answer) pairs for ``utils.lora.train_lora``; ``only`` keeps just those card ids."""
    by_id = cards_by_id(cards)
    if only is not None:
        unknown = sorted(set(only) - set(by_id))
        if unknown:
            raise ValueError(f"Unknown card ids in only: {', '.join(unknown)}.")
    return [(qa_prompt(tokenizer, q, system), by_id[c].answer_for(after_update))
            for q, c in labelled_pairs(cards, split, after_update) if only is None or c in only]


def update_pairs(tokenizer, cards: list[Card], replay: float = 1.0, seed: int = 0,
                 system: str = QA_SYSTEM) -> list[tuple[str, str]]:
    """Fine-tune pairs for the policy update: every changed or added card with its *new* answer, plus
    ``replay`` times as many pairs of unchanged cards, drawn with ``seed``.

    Training on the changed cards alone would pull the adapter towards them and make it forget the
    rest; mixing in old examples ("replay") is the usual, cheap counter-measure.
    """
    import random

    if replay < 0:
        raise ValueError(f"replay must be >= 0 (a share of the changed pairs), got {replay}.")
    changed = [c.id for c in cards if c.changes_with_update]
    if not changed:
        raise ValueError("No card changes with the update: there is nothing to retrain.")
    fresh = finetune_pairs(tokenizer, cards, "train", after_update=True, only=changed, system=system)
    unchanged = finetune_pairs(tokenizer, cards, "train", after_update=True,
                               only=[c.id for c in cards if not c.changes_with_update], system=system)
    return fresh + random.Random(seed).sample(unchanged, min(len(unchanged), round(replay * len(fresh))))
