"""The custom model of the capstone: hashed word and character n-grams -> embedding bag -> MLP ->
answer card, trained from scratch on the cards' paraphrases alone.

Its weights hold *which card*, not *what the card says*, which is why a changed answer is a
relabel rather than a new model (see ``CardClassifier.relabel``).
"""

import contextlib
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from utils.compare.answer_cards import Card, labelled_pairs, live_cards, words

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
        from utils.core.checkpoint import save_checkpoint

        folder = Path(folder)
        config = {"model": self.model.config, "featurizer": {"buckets": self.featurizer.buckets,
                  "word_ngrams": self.featurizer.word_ngrams, "char_ngrams": list(self.featurizer.char_ngrams)},
                  "card_ids": self.card_ids, "answers": self.answers}
        return save_checkpoint(self.model, folder / "card_classifier.safetensors", config=config)

    @classmethod
    def load(cls, folder) -> "CardClassifier":
        from utils.core.checkpoint import load_checkpoint

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

    The loop is the course's generic ``utils.core.training.train_classifier`` (AdamW, cosine schedule, early
    stopping on the validation paraphrases, best epoch restored).
    """
    from utils.core.training import train_classifier

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
