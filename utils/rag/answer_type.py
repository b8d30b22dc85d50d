"""Does a source answer the *kind* of question asked? Two checks a quoting assistant makes before it quotes.

Retrieval confidence says whether the knowledge base talks about the question's topic, not whether it holds
the answer: "How much does a new mop pad for the SilentVac R10 cost?" retrieves the SilentVac's mop-pad
sentence with high confidence, and that sentence has no price. Question-answering systems have long checked
the **answer type** first (a "how much ... cost" question needs a money amount, "how heavy" a mass), and
that is the first check here: a source is a candidate answer only if it states a value of the asked kind.

The second check is the **unknown product**: a question about the "PureAir 60" retrieves the PureAir 40's
manual, whose figures are true of another product. Product names are read from the index itself (a
CamelCase family name and its model number, "CleanWave 9", "SilentVac R10"), so a question naming a family
the index knows with a model number it never mentions is about a product the knowledge base does not cover.

Both are rules, and rules have blind spots (a kind the patterns do not know is not checked at all): notebook 04
measures on dev whether turning them on helps, and reports the questions that still slip through on test.
"""

import re

from utils.rag.scoring import NUMBER_WORDS, values_stated

# (pattern over the lower-cased question, the kinds of value that answer it). Kinds are the strict scorer's
# (utils.rag.scoring.KINDS) plus "date". "how long" is a duration or a length ("How long is the power cord?").
ASKED_KINDS = (
    (r"\b(cost|costs|price|prices|fee|fees|surcharge|charge for|how much do i pay|how much is it)\b", ("money",)),
    (r"\bhow (long|soon|quickly|often)\b|\bhow many (seconds|minutes|hours|days|weeks|months|years)\b",
     ("duration",)),
    (r"\bhow long\b|\bhow (high|tall|wide|deep|far)\b|\b(height|width|depth|diameter|dimensions|length)\b",
     ("length",)),
    (r"\b(weigh|weighs|weight|how heavy)\b", ("mass",)),
    (r"\b(litres?|liters?|capacity|volume)\b|\bhow much (water|milk|coffee|detergent|descaler)\b", ("volume",)),
    (r"\b(temperature|how hot|degrees)\b", ("temperature",)),
    (r"\b(power rating|wattage|watts|how powerful)\b", ("power",)),
    (r"\b(kwh|energy use|energy consumption)\b", ("energy",)),
    (r"\b(how loud|noise level|decibels)\b", ("noise",)),
    (r"\bversion\b", ("version",)),
    (r"\b(what time|until when|until what time|opening hours)\b", ("time_of_day",)),
    (r"^\s*when\b", ("date", "time_of_day", "duration")),
)
HOW_MANY = re.compile(r"\bhow many\b")
PRODUCT_NAME = re.compile(r"\b([A-Z][a-z]+[A-Z][a-z]+) ([A-Z]?\d+)\b")          # "CleanWave 9", "SilentVac R10"
MODEL_AFTER = r"\s+([a-z]?\d+)\b"
MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
PATTERNS = {"version": re.compile(r"\b\d+\.\d+(?:\.\d+)?\b"), "time_of_day": re.compile(r"\b\d{1,2}[:.]\d{2}\b"),
            "date": re.compile(rf"\b(?:{MONTHS})\b|\b(?:19|20)\d{{2}}\b", re.IGNORECASE)}
NUMBER = re.compile(r"\b\d+(?:[.,]\d+)?\b")


def asked_kinds(question: str) -> tuple:
    """The kinds of value that would answer ``question`` (``()`` when the rules cannot tell).

    A specific kind wins over a bare count: "How many litres ..." asks for a volume, "How many floors ..."
    for any number.
    """
    if not isinstance(question, str):
        raise TypeError(f"question must be a string, got {type(question).__name__}.")
    text = question.lower()
    kinds = tuple(dict.fromkeys(k for pattern, found in ASKED_KINDS if re.search(pattern, text) for k in found))
    if kinds:
        return kinds
    return ("count",) if HOW_MANY.search(text) else ()


def states_kind(text: str, kinds: tuple) -> bool:
    """Does ``text`` state a value of one of ``kinds``? (True when ``kinds`` is empty: nothing to check.)

    Model numbers in product names ("AeroBrew 500") are not counts.
    """
    if not kinds:
        return True
    plain = PRODUCT_NAME.sub(" ", text)
    for kind in kinds:
        if kind in PATTERNS:
            found = PATTERNS[kind].search(plain)
        elif kind == "count":
            found = NUMBER.search(plain) or any(w in NUMBER_WORDS for w in re.findall(r"[a-z]+", plain.lower()))
        else:
            found = values_stated([plain], kind)
        if found:
            return True
    return False


def product_names(texts) -> set[str]:
    """Lower-cased product names ("cleanwave 9") the texts mention, by the CamelCase-family-and-model pattern."""
    return {f"{family} {model}".lower() for text in texts for family, model in PRODUCT_NAME.findall(text)}


def unknown_products(question: str, known: set[str]) -> list[str]:
    """Products ``question`` names that are not in ``known``: a known family with a model number never indexed.

    Case-insensitive, so "price of the crispair 7?" is caught as well as "CrispAir 7".
    """
    families = sorted({name.split()[0] for name in known})
    if not families:
        return []
    text = question.lower()
    asked = {f"{m.group(1)} {m.group(2)}" for m in re.finditer(rf"\b({'|'.join(map(re.escape, families))})"
                                                            rf"{MODEL_AFTER}", text)}
    return sorted(asked - known)
