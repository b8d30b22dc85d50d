"""Scoring generated answers against short gold answers: normalised key-fact match, citations, abstentions.

A 135M model never phrases an answer like the gold text, so exact match would score almost
nothing. Each question instead lists short *key facts* ("4 hour", "wf 220", "frankfurt"); an
answer is correct when, after normalisation, one of them appears in it as a whole phrase. That
is strict about the fact (a wrong number fails, "149" does not match "49") and lenient about
wording ("four hours", "4 hrs" and "4 hours" all normalise to "4 hour").
"""

import re
from dataclasses import dataclass

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


# ---------------------------------------------------------------------------------------------
# Strict scoring: every required fact with its unit, the right entity, no conflicting value
# ---------------------------------------------------------------------------------------------
#
# The key-fact match above accepts an answer when *one* fact appears *anywhere*: "The Care+ extended warranty
# lasts 3 years" passes for the standard warranty, "19" passes for "19 bar". The strict scorer reads the
# hand-written fields of each question (``require``, ``unit_kind``, ``entity``, ``conflicts``) and accepts an
# answer only when all of these hold. Its agreement with hand grades is measured in tests/test_rag_scoring.py.

UNITS_OF_KIND = {
    "duration": ("second", "minute", "hour", "day", "week", "month", "year"),
    "volume": ("litre", "l", "ml"),
    "mass": ("kg", "g", "gram", "kilogram"),
    "length": ("cm", "mm", "m", "metre", "meter"),
    "pressure": ("bar",),
    "temperature": ("degree", "c"),
    "power": ("w", "watt", "kw"),
    "energy": ("kwh",),
    "noise": ("db",),
    "percent": ("percent",),
}
KINDS = (*UNITS_OF_KIND, "money", "count", "version", "time_of_day", "text")
NUMBER = r"\d+(?:\.\d+)?"
# The products of the knowledge base (and the worked example's BreezeFan): naming one the question is not about
# makes an answer wrong, whatever else it says.
CATALOGUE = ("aerobrew 300", "aerobrew 500", "cleanwave 7", "cleanwave 9", "crispair 5", "frostline 220",
             "heatwise", "pureair 40", "silentvac r10", "breezefan")


@dataclass(frozen=True)
class StrictKey:
    """What a strictly correct answer must say (the hand-written fields of a question or an answer card)."""
    require: tuple             # facts, all required; each a tuple of normalised alternatives ("19 bar",)
    unit_kind: str             # the kind of the first fact: another value of this kind is a conflict
    entity: tuple = ()         # normalised names of what is asked about
    conflicts: tuple = ()      # normalised names of what must not be named instead
    allowed: tuple = ()        # other values of the kind that the question's own documents state (not conflicts)

    @classmethod
    def from_fields(cls, require, unit_kind, entity=(), conflicts=(), where: str = "question") -> "StrictKey":
        if (not isinstance(require, (list, tuple)) or not require
                or not all(isinstance(f, (list, tuple)) and f and all(isinstance(a, str) and a.strip() for a in f)
                           for f in require)):
            raise ValueError(f"{where}: require must be a non-empty list of facts, each a non-empty list of "
                             f"normalised phrasings such as [\"19 bar\"]; got {require!r}.")
        if unit_kind not in KINDS:
            raise ValueError(f"{where}: unit_kind {unit_kind!r} is not one of {', '.join(KINDS)}.")
        return cls(tuple(tuple(f) for f in require), unit_kind, tuple(entity or ()), tuple(conflicts or ()))


@dataclass(frozen=True)
class Verdict:
    correct: bool
    reason: str                # why not, in a few words ("" when correct)


def _strict_text(text: str) -> str:
    text = re.sub(r"\beuros\b", "euro", text.replace("€", " euro "), flags=re.IGNORECASE)
    return f" {normalize_answer(text)} "


def _values_of_kind(padded: str, kind: str) -> set[str]:
    """The numbers in ``padded`` (normalised) that carry a unit of ``kind``: "2 year", "euro 9.90", "9.90 euro"."""
    if kind == "money":   # "€12.90" (euro first) wins over "12.90 euros": in "16:00; €12.90" the 00 is no price
        before = rf"(?<!\S)(?:euro|eur) ({NUMBER})(?!\S)"
        after = rf"(?<!\S)({NUMBER}) (?:euro|eur)(?!\S)"
        return set(re.findall(before, padded)) | set(re.findall(after, re.sub(before, " ", padded)))
    units = UNITS_OF_KIND.get(kind)
    if not units:
        return set()
    pattern = rf"(?<!\S)({NUMBER}) (?:working |business |calendar )?(?:{'|'.join(units)})(?!\S)"
    return set(re.findall(pattern, padded))


def strict_verdict(answer: str, key: StrictKey, question: str = "") -> Verdict:
    """Strictly correct? Every required fact (value *and* unit), no other product or plan named in place of
    the one asked about, and no second value of the same kind. Abstentions are never correct."""
    if not isinstance(key, StrictKey):
        raise TypeError(f"key must be a StrictKey (from a question's strict_key()), got {type(key).__name__}.")
    if is_abstention(answer):
        return Verdict(False, "abstained")
    padded, asked = _strict_text(answer), _strict_text(question)
    for fact in key.require:
        if not any(f" {normalize_answer(a)} " in padded for a in fact):
            return Verdict(False, f"misses {fact[0]!r}")
    required = {n for fact in key.require for a in fact for n in re.findall(NUMBER, normalize_answer(a))}
    if key.unit_kind == "money" and not required & _values_of_kind(padded, "money"):
        return Verdict(False, "the price has no currency")
    named = [c for c in key.conflicts if f" {normalize_answer(c)} " in padded]
    named += [p for p in CATALOGUE if f" {p} " in padded and f" {p} " not in asked
              and not any(p in normalize_answer(e) or normalize_answer(e) in p for e in key.entity)]
    if named:
        return Verdict(False, f"names {named[0]!r}, not what was asked")
    others = (_values_of_kind(padded, key.unit_kind) - required - _values_of_kind(asked, key.unit_kind)
              - set(key.allowed))
    if others:
        return Verdict(False, f"also states {sorted(others)[0]} ({key.unit_kind})")
    return Verdict(True, "")


def values_stated(texts: list[str], kind: str) -> tuple:
    """The values of ``kind`` that ``texts`` state: what a source may add next to the asked-for fact without it
    counting as a conflict ("100 ml of descaler with 900 ml of water" is one true sentence)."""
    return tuple(sorted(set().union(*(_values_of_kind(_strict_text(t), kind) for t in texts)))) if texts else ()


def is_correct_strict(answer: str, key: StrictKey, question: str = "") -> bool:
    """``strict_verdict(...).correct``."""
    return strict_verdict(answer, key, question).correct
