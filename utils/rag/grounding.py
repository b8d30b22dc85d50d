"""The grounding check: does a generated answer say only what its sources say? If not, the pipeline
quotes the best source instead (or abstains, below the review threshold).
"""

import re

from utils.rag.focus import source_label
from utils.rag.retrieval import Hit

CITATION = re.compile(r"\[\s*\d*(?:\s*,\s*\d+)*\s*(?:\]|$)")          # "[2]", "[1, 3]", a cut-off "[1"


FUNCTION_WORDS = frozenset(
    "a an the and or but so if then than that this these those there it its it's is are was were be been being "
    "has have had do does did can could should would will may might must to of in on at by for from with about "
    "into over under after before up out also only just not no yes you your we our they their them he she his "
    "her which who what when where why how all any each some such very more most less uses use used".split())


NUMERIC_QUESTION = re.compile(r"^(how (many|much|long|often|heavy|big|tall|high|fast|far|loud|strong|quickly|soon)|"
                              r"what (\w+ )?(temperature|percentage|pressure|version|price|time)|"
                              r"which (\w+ )?(temperature|version)|until what time|at what (temperature|height|"
                              r"battery|level)|for how)\b", re.IGNORECASE)


def is_supported(answer: str, sources: list[Hit], question: str = "") -> bool:
    """Does ``answer`` say something new, and only what the sources say? All of these must hold:

    - it cites only sources that exist (a run of "[3] [4] [5]…" is a model stuck in a loop);
    - every number in it appears in a source or in the question (small models invent numbers);
    - it adds a word or number that is not in the question, and at least half of those are in a source;
    - a question asking for a quantity ("How long…", "What temperature…") gets a new number.
    Cheap and strict where small models fail most; a paraphrase of the right sentence passes.
    """
    from utils.rag.scoring import normalize_answer

    cited = [int(n) for n in re.findall(r"\d+", " ".join(CITATION.findall(answer)))]
    said = set(normalize_answer(CITATION.sub(" ", answer)).split())
    asked = set(normalize_answer(question).split())
    known = set(normalize_answer(" ".join(f"{source_label(h)} {h.text}" for h in sources)).split())
    numbers = {w for w in said if any(ch.isdigit() for ch in w)}
    new = said - asked - FUNCTION_WORDS
    return (all(1 <= n <= len(sources) for n in cited)
            and not numbers - known - asked
            and bool(new) and len(new & known) >= len(new) / 2
            and (bool(numbers - asked) or not NUMERIC_QUESTION.search(question.strip())))


def quote_answer(sources: list[Hit], best_last: bool = True) -> str:
    """The extractive fallback: the best source's sentence or table row, with its citation."""
    number = len(sources) if best_last else 1
    best = sources[number - 1]
    text = best.text.strip()
    if text.startswith("|"):                                  # "| Weight | 7.3 kg |" → "Weight: 7.3 kg"
        cells = [c.strip() for c in text.strip("|").split("|")]
        text = f"{cells[0]}: {'; '.join(cells[1:])}"
    return f"{source_label(best)}: {text} [{number}]"
