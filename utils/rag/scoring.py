"""Scoring generated answers against short gold answers: normalised key-fact match, citations, abstentions.

A 135M model never phrases an answer like the gold text, so exact match would score almost
nothing. Each question instead lists short *key facts* ("4 hour", "wf 220", "frankfurt"); an
answer is correct when, after normalisation, one of them appears in it as a whole phrase. That
is strict about the fact (a wrong number fails, "149" does not match "49") and lenient about
wording ("four hours", "4 hrs" and "4 hours" all normalise to "4 hour").
"""

import re

import numpy as np

ABSTAIN_PATTERNS = re.compile(r"\b(i (do not|don't|dont|cannot|can't) (know|answer)|not (mentioned|provided|specified|"
                              r"stated) in|(sources|context) (do|does) not (say|mention|contain|provide))\b",
                              re.IGNORECASE)
NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
UNITS = {"years": "year", "months": "month", "weeks": "week", "days": "day", "hours": "hour", "hrs": "hour",
         "minutes": "minute", "mins": "minute", "min": "minute", "seconds": "second", "secs": "second",
         "sec": "second", "litres": "litre", "liters": "litre", "liter": "litre", "floors": "floor",
         "washes": "wash", "degrees": "degree", "parts": "part", "cycles": "cycle"}


def normalize_answer(text: str) -> str:
    """Lower case, number words → digits, units singular, "%" → "percent", other punctuation → spaces.

    Decimal points survive ("1.8"), thousands separators go ("4,000" → "4000").
    """
    if not isinstance(text, str):
        raise TypeError(f"Expected a string to normalise, got {type(text).__name__}.")
    text = text.lower().replace("%", " percent ").replace("’", "'")
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)                 # 4,000 → 4000
    text = re.sub(r"(?<=\d)\.(?!\d)|(?<!\d)\.", " ", text)          # keep only decimal points
    text = re.sub(r"[^a-z0-9.]+", " ", text)
    return " ".join(UNITS.get(w, w) for w in (NUMBER_WORDS.get(w, w) for w in text.split()))


def is_correct(answer: str, accepted) -> bool:
    """True when one normalised accepted key fact appears as a whole phrase in the normalised answer."""
    if isinstance(accepted, str):
        accepted = [accepted]
    if not accepted:
        raise ValueError("No accepted answers to compare with: unanswerable questions are scored by abstention.")
    padded = f" {normalize_answer(answer)} "
    return any(f" {normalize_answer(a)} " in padded for a in accepted)


def is_abstention(text: str) -> bool:
    """Did the model decline ("I don't know", "not mentioned in the sources") or say nothing?"""
    return not text.strip() or bool(ABSTAIN_PATTERNS.search(text))


def parse_citations(text: str, n_sources: int | None = None) -> list[int]:
    """Source numbers cited as [1], [2] or [1, 2]; numbers outside 1..n_sources are dropped."""
    numbers = [int(n) for group in re.findall(r"\[([\d,\s]+)\]", text) for n in re.findall(r"\d+", group)]
    return sorted({n for n in numbers if n >= 1 and (n_sources is None or n <= n_sources)})


def score_answers(answers, questions, after_update: bool = False) -> dict[str, float]:
    """Accuracy on answerable questions (abstaining counts as wrong), abstention on unanswerable ones,
    and how often correct answers cite a source from a gold document.

    ``answers`` are ``RagAnswer`` objects (or plain strings, for closed-book answers).
    """
    if len(answers) != len(questions):
        raise ValueError(f"{len(answers)} answers for {len(questions)} questions: give one answer per question.")
    correct, abstain_u, abstain_a, cited, cited_ok = [], [], [], 0, 0
    for answer, question in zip(answers, questions):
        text = answer if isinstance(answer, str) else answer.text
        abstained = is_abstention(text) if isinstance(answer, str) else answer.abstained
        if not question.answerable:
            abstain_u.append(abstained)
            continue
        ok = not abstained and is_correct(text, question.gold(after_update))
        correct.append(ok)
        abstain_a.append(abstained)
        if ok and not isinstance(answer, str) and answer.citations:
            cited += 1
            cited_ok += any(doc in question.doc_ids for doc in answer.cited_doc_ids)
    result = {"accuracy": float(np.mean(correct)) if correct else float("nan"),
              "n_answerable": len(correct),
              "abstain_rate_answerable": float(np.mean(abstain_a)) if abstain_a else float("nan"),
              "abstain_rate_unanswerable": float(np.mean(abstain_u)) if abstain_u else float("nan"),
              "n_unanswerable": len(abstain_u)}
    if not all(isinstance(a, str) for a in answers):
        result["cited_share"] = cited / max(1, sum(correct))
        result["citation_precision"] = cited_ok / cited if cited else float("nan")
    return result
