"""The answer cards as (prompt, answer) pairs for the LLM: the chat prompt the fine-tune learns and
is asked with, and the pairs of a policy update (changed cards plus replayed old ones).
"""
from utils.compare.answer_cards import Card, cards_by_id, labelled_pairs

QA_SYSTEM = "Northwind support."  # short on purpose: every prompt token costs training and generation time


def qa_prompt(tokenizer, question: str, system: str = QA_SYSTEM) -> str:
    from utils.core.generation import chat_prompt

    return chat_prompt(tokenizer, question, system=system)


def finetune_pairs(tokenizer, cards: list[Card], split: str = "train", after_update: bool = False,
                   only: list[str] | None = None, system: str = QA_SYSTEM) -> list[tuple[str, str]]:
    """(chat prompt, card answer) pairs for ``utils.finetune.lora.train_lora``; ``only`` keeps just those card ids."""
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
