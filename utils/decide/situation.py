"""A business situation, in the six fields the decision rule reads, validated on the way in.

    Situation(labelled_examples=3000, knowledge_change="static", latency_budget_ms=500,
              budget_usd=20000, pretrained_fit="partial", needs_sources=False)

A wrong value fails at once with what the field accepts; a misspelt field name gets a
"did you mean".
"""

import difflib
import inspect
import math
import numbers
from dataclasses import dataclass, fields

APPROACHES = ("custom", "fine-tune", "rag")


KNOWLEDGE_CHANGE = ("static", "yearly", "monthly", "weekly", "daily")


PRETRAINED_FIT = ("none", "partial", "good")


FIELD_HELP = {  # what each field accepts, then what it means
    "labelled_examples": "a whole number >= 0, e.g. 3000 (labelled task examples you own)",
    "knowledge_change": "one of " + ", ".join(map(repr, KNOWLEDGE_CHANGE)) + " (how often the facts change)",
    "latency_budget_ms": "a number > 0, e.g. 500 (what one response may take, in milliseconds)",
    "budget_usd": "a number >= 0, e.g. 20000 (US dollars for building it: people, data, compute)",
    "pretrained_fit": "one of " + ", ".join(map(repr, PRETRAINED_FIT))
                      + " (does an existing pre-trained model know this domain or modality?)",
    "needs_sources": "True or False (must each answer cite the documents it came from?)",
}


def did_you_mean(word, allowed) -> str:
    close = difflib.get_close_matches(str(word).lower(), [str(a) for a in allowed], n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def _numpy_bool(value) -> bool:
    return type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_")


def _check_field(name: str, value):
    """Return ``value`` if it is allowed for field ``name``, else raise a ValueError that says what is."""
    problem = None
    if name == "labelled_examples":
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            problem = "is not a whole number"
        elif value < 0:
            problem = "is negative"
    elif name in ("latency_budget_ms", "budget_usd"):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            problem = "is not a number"
        elif not math.isfinite(value):
            problem = "is not finite (for 'no real limit' use a large number such as 60000)"
        elif name == "latency_budget_ms" and value <= 0:
            problem = "is not above zero"
        elif value < 0:
            problem = "is negative"
    elif name in ("knowledge_change", "pretrained_fit"):
        allowed = KNOWLEDGE_CHANGE if name == "knowledge_change" else PRETRAINED_FIT
        if value not in allowed:  # also rejects non-strings
            problem = "is not one of the allowed words"
    elif name == "needs_sources":
        if not isinstance(value, bool) and not _numpy_bool(value):
            problem = "is not True or False"
            if isinstance(value, str):
                problem += " (write the Python value True or False, without quotes)"
    if problem:
        hint = did_you_mean(value, allowed) if name in ("knowledge_change", "pretrained_fit") else ""
        raise ValueError(f"{name}={value!r} {problem}. Allowed: {FIELD_HELP[name]}.{hint}")
    return bool(value) if name == "needs_sources" else value


@dataclass(frozen=True, init=False)
class Situation:
    """The six facts about a business problem that the decision rests on. Keyword arguments only."""

    labelled_examples: int
    knowledge_change: str
    latency_budget_ms: float
    budget_usd: float
    pretrained_fit: str
    needs_sources: bool

    def __init__(self, **values):
        # Hand-written so that a misspelt field (say the British 'labelled_examples') gets a
        # ValueError naming the right one, instead of a bare "unexpected keyword argument".
        names = [f.name for f in fields(self)]
        for name in values:
            if name not in names:
                raise ValueError(f"Situation has no field {name!r}.{did_you_mean(name, names)} "
                                 f"Its fields are: {', '.join(names)}.")
        missing = [name for name in names if name not in values]
        if missing:
            raise ValueError("Situation is missing " + "; ".join(f"{m}: {FIELD_HELP[m]}" for m in missing) + ".")
        for name in names:
            object.__setattr__(self, name, _check_field(name, values[name]))

    def brief(self) -> str:
        """One line a reader can scan in a table."""
        return (f"{self.labelled_examples:,} examples · facts {self.knowledge_change} · "
                f"{self.latency_budget_ms:,g} ms · ${self.budget_usd:,.0f} · fit {self.pretrained_fit} · "
                f"{'cites sources' if self.needs_sources else 'no citations'}")


# help(Situation) and tab completion should show the six keyword arguments, not **values.
Situation.__init__.__signature__ = inspect.Signature(
    [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    + [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY) for name in FIELD_HELP])
