"""Custom model, fine-tune or RAG? A small, transparent scoring rule that turns a situation into advice.

    from utils.decide import Situation, recommend
    rec = recommend(Situation(labeled_examples=3000, knowledge_change="static", latency_budget_ms=500,
                              budget_usd=20000, pretrained_fit="partial", needs_sources=False))
    rec.approach   # "fine-tune"
    rec.scores     # {"custom": -1, "fine-tune": 6, "rag": 1}
    rec.reasons    # the criteria that decided it, then the main risk to watch

Every criterion of ``RULES`` puts the situation's value into one band, and every band gives
each approach a few points (plus helps, minus hurts). The approach with the most points wins.
Nothing is learned or hidden: notebook 01 prints ``RULES`` as a table, and the points are
rules of thumb from the course's decision material, meant to be argued with.
"""

import difflib
import inspect
import math
import numbers
from dataclasses import dataclass, field, fields, replace

APPROACHES = ("custom", "fine-tune", "rag")
# When two approaches tie, start with the one that is quickest to prototype: RAG needs no
# training at all, a fine-tune needs days, a custom model weeks to months.
TIE_ORDER = ("rag", "fine-tune", "custom")
KNOWLEDGE_CHANGE = ("static", "yearly", "monthly", "weekly", "daily")
PRETRAINED_FIT = ("none", "partial", "good")

FIELD_HELP = {  # what each field accepts, then what it means
    "labeled_examples": "a whole number >= 0, e.g. 3000 (labelled task examples you own)",
    "knowledge_change": "one of " + ", ".join(map(repr, KNOWLEDGE_CHANGE)) + " (how often the facts change)",
    "latency_budget_ms": "a number > 0, e.g. 500 (what one response may take, in milliseconds)",
    "budget_usd": "a number >= 0, e.g. 20000 (US dollars for building it: people, data, compute)",
    "pretrained_fit": "one of " + ", ".join(map(repr, PRETRAINED_FIT))
                      + " (does an existing pre-trained model know this domain or modality?)",
    "needs_sources": "True or False (must each answer cite the documents it came from?)",
}


def _did_you_mean(word, allowed) -> str:
    close = difflib.get_close_matches(str(word).lower(), [str(a) for a in allowed], n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def _numpy_bool(value) -> bool:
    return type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_")


def _check_field(name: str, value):
    """Return ``value`` if it is allowed for field ``name``, else raise a ValueError that says what is."""
    problem = None
    if name == "labeled_examples":
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
        hint = _did_you_mean(value, allowed) if name in ("knowledge_change", "pretrained_fit") else ""
        raise ValueError(f"{name}={value!r} {problem}. Allowed: {FIELD_HELP[name]}.{hint}")
    return bool(value) if name == "needs_sources" else value


@dataclass(frozen=True, init=False)
class Situation:
    """The six facts about a business problem that the decision rests on. Keyword arguments only."""

    labeled_examples: int
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
                raise ValueError(f"Situation has no field {name!r}.{_did_you_mean(name, names)} "
                                 f"Its fields are: {', '.join(names)}.")
        missing = [name for name in names if name not in values]
        if missing:
            raise ValueError("Situation is missing " + "; ".join(f"{m}: {FIELD_HELP[m]}" for m in missing) + ".")
        for name in names:
            object.__setattr__(self, name, _check_field(name, values[name]))

    def brief(self) -> str:
        """One line a reader can scan in a table."""
        return (f"{self.labeled_examples:,} examples · facts {self.knowledge_change} · "
                f"{self.latency_budget_ms:,g} ms · ${self.budget_usd:,.0f} · fit {self.pretrained_fit} · "
                f"{'cites sources' if self.needs_sources else 'no citations'}")


# help(Situation) and tab completion should show the six keyword arguments, not **values.
Situation.__init__.__signature__ = inspect.Signature(
    [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    + [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY) for name in FIELD_HELP])


@dataclass(frozen=True)
class Band:
    """One band of a criterion: which values fall in it, and the points it gives each approach."""

    key: object                  # numeric criteria: the band's lower bound (inclusive); others: the value
    label: str                   # how the band reads in a table
    points: tuple[int, int, int]  # (custom, fine-tune, rag)
    why: str                     # one sentence; "{value}" is replaced by the situation's value


@dataclass(frozen=True)
class Criterion:
    field: str
    name: str
    bands: tuple[Band, ...]      # in increasing order of key

    @property
    def numeric(self) -> bool:
        return self.field in ("labeled_examples", "latency_budget_ms", "budget_usd")

    def band(self, value) -> Band:
        if self.numeric:  # the last band whose lower bound the value reaches
            return [b for b in self.bands if value >= b.key][-1]
        return next(b for b in self.bands if b.key == value)


# The rules. Points are (custom, fine-tune, rag); read each row as "in this band, this much for / against".
RULES: tuple[Criterion, ...] = (
    Criterion("labeled_examples", "Labelled data", (
        Band(0, "under 200", (-3, -2, +1),
             "{value} labelled examples is too few to train a model and risky even for a fine-tune, "
             "while RAG needs none"),
        Band(200, "200 to 9,999", (-1, +2, 0),
             "{value} labelled examples are enough to fine-tune a pre-trained model but thin for training one "
             "from scratch"),
        Band(10_000, "10,000 to 99,999", (+1, +2, 0),
             "{value} labelled examples are plenty for a fine-tune and a fair start for a custom model"),
        Band(100_000, "100,000 or more", (+3, +1, 0),
             "{value} labelled examples are enough to train a model of your own from scratch"),
    )),
    Criterion("knowledge_change", "Knowledge change", (
        Band("static", "static", (+1, +1, 0),
             "the facts are static, so knowledge learned into the weights stays correct"),
        Band("yearly", "yearly", (0, 0, +1),
             "the facts change about once a year: a yearly retrain is bearable, re-indexing is easier"),
        Band("monthly", "monthly", (-1, -1, +2),
             "the facts change monthly: retraining that often is costly, while RAG just re-indexes the new documents"),
        Band("weekly", "weekly", (-2, -2, +3),
             "the facts change weekly: weights go stale within days, retrieved documents do not"),
        Band("daily", "daily", (-3, -3, +4),
             "the facts change daily: only retrieval at question time keeps answers current"),
    )),
    Criterion("latency_budget_ms", "Latency budget", (
        Band(0, "under 50 ms", (+2, -1, -3),
             "a {value} ms budget leaves no room for a retrieval step or a large model; a small dedicated model fits"),
        Band(50, "50 to 299 ms", (+1, 0, -2),
             "a {value} ms budget is tight: RAG's extra retrieval step and long prompts hurt"),
        Band(300, "300 to 999 ms", (0, 0, -1),
             "a {value} ms budget leaves little room for retrieval plus generation"),
        Band(1000, "1 s or more", (0, 0, 0),
             "a {value} ms budget is relaxed, so latency does not decide here"),
    )),
    Criterion("budget_usd", "Build budget", (
        Band(0, "under $10k", (-3, 0, +1),
             "a ${value} budget cannot pay for collecting, labelling and training from scratch"),
        Band(10_000, "$10k to $49,999", (-1, +1, +1),
             "a ${value} budget covers a fine-tune or a RAG pipeline, rarely a custom model"),
        Band(50_000, "$50k to $199,999", (+1, 0, 0),
             "a ${value} budget can pay for a custom model's data and training"),
        Band(200_000, "$200k or more", (+2, 0, 0),
             "a ${value} budget can fund a full custom build: data, labelling, training and infrastructure"),
    )),
    Criterion("pretrained_fit", "Pre-trained fit", (
        Band("none", "none", (+3, -2, -3),
             "no pre-trained model knows this domain or modality, so fine-tuning and RAG have nothing to start from"),
        Band("partial", "partial", (0, +2, +1),
             "a pre-trained model knows the language but not your jargon, taxonomy or tone: the gap fine-tuning "
             "closes"),
        Band("good", "good", (-2, +1, +1),
             "a pre-trained model already knows this domain, so building a new one wastes what exists"),
    )),
    Criterion("needs_sources", "Cited sources", (
        Band(False, "not needed", (0, 0, 0),
             "answers need not cite documents, so this does not decide"),
        Band(True, "required", (-2, -2, +4),
             "each answer must cite the documents it came from, which only retrieval provides"),
    )),
)
RULES_BY_FIELD = {c.field: c for c in RULES}


def _check_rules(rules) -> None:
    names = [f.name for f in fields(Situation)]
    if not isinstance(rules, tuple) or not rules or not all(isinstance(c, Criterion) for c in rules):
        raise ValueError("rules must be a non-empty tuple of Criterion, like utils.decide.RULES "
                         "(build a variant with with_points).")
    for c in rules:
        if c.field not in names:
            raise ValueError(f"Criterion {c.name!r} scores unknown field {c.field!r}; fields are {', '.join(names)}.")


def with_points(field_name: str, key, points: tuple[int, int, int], rules: tuple[Criterion, ...] = RULES):
    """A copy of ``rules`` where the band ``key`` of ``field_name`` gives new (custom, fine-tune, rag) points.

        strict = with_points("needs_sources", True, (-4, -4, +6))   # citations matter even more
        recommend(situation, strict)
    """
    _check_rules(rules)
    if (not isinstance(points, tuple) or len(points) != len(APPROACHES)
            or not all(isinstance(p, int) and not isinstance(p, bool) for p in points)):
        raise ValueError(f"points must be a tuple of {len(APPROACHES)} whole numbers for "
                         f"({', '.join(APPROACHES)}), got {points!r}.")
    by_field = {c.field: c for c in rules}
    if field_name not in by_field:
        raise ValueError(f"No criterion scores {field_name!r}.{_did_you_mean(field_name, by_field)} "
                         f"Criteria: {', '.join(by_field)}.")
    criterion = by_field[field_name]
    keys = [b.key for b in criterion.bands]
    if key not in keys or isinstance(key, bool) != isinstance(keys[0], bool):
        raise ValueError(f"{field_name} has no band {key!r}; its bands start at {', '.join(map(repr, keys))}.")
    bands = tuple(replace(b, points=points) if b.key == key else b for b in criterion.bands)
    return tuple(replace(c, bands=bands) if c is criterion else c for c in rules)

MAIN_RISK = {
    "custom": "Main risk: too little good labelled data. Start with a small proof of concept, augment, label "
              "carefully, and fix the success criterion before collecting data.",
    "fine-tune": "Main risk: overfitting a small dataset. Hold out validation data, watch the validation loss, "
                 "stop early, regularise (LoRA trains only a small fraction of weights), and keep the data "
                 "representative and balanced.",
    "rag": "Main risk: retrieval missing the best passage or overflowing the context window. Invest in chunking, "
           "embeddings and indexing, and measure retrieval (recall@k) apart from the answers.",
}


def _show(value) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Real):
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,}"
    return str(value)


@dataclass(frozen=True)
class Recommendation:
    approach: str                          # the winner: "custom" | "fine-tune" | "rag"
    scores: dict[str, int]                 # total points per approach, in APPROACHES order
    reasons: list[str]                     # deciding criteria first, then what works against it, then the risk
    notes: list[str] = field(default_factory=list)  # "Tag: sentence" for combinations, close calls, nothing fits
    points: dict[str, dict[str, int]] = field(default_factory=dict)  # criterion field -> approach -> points
    bands: dict[str, str] = field(default_factory=dict)              # criterion field -> band label

    @property
    def ranking(self) -> list[str]:
        """Approaches from best to worst (ties in TIE_ORDER)."""
        return sorted(APPROACHES, key=lambda a: (-self.scores[a], TIE_ORDER.index(a)))

    @property
    def runner_up(self) -> str:
        return self.ranking[1]

    @property
    def margin(self) -> int:
        return self.scores[self.approach] - self.scores[self.runner_up]

    def __str__(self) -> str:
        scores = ", ".join(f"{a} {s:+d}" for a, s in self.scores.items())
        lines = [f"Recommendation: {self.approach}   (scores: {scores})"]
        lines += [f"  - {r}" for r in self.reasons]
        lines += [f"  Note: {n}" for n in self.notes]
        return "\n".join(lines)


def recommend(situation: Situation, rules: tuple[Criterion, ...] = RULES) -> Recommendation:
    """Score every approach under ``rules`` and explain the winner. Also accepts a dict of Situation fields.

    Pass a variant of ``RULES`` (see ``with_points``) to see what a different weighting would say.
    """
    if isinstance(situation, dict):
        situation = Situation(**situation)
    if not isinstance(situation, Situation):
        raise ValueError(f"recommend expects a Situation (or a dict of its fields), got {type(situation).__name__}. "
                         "Build one with Situation(labeled_examples=..., knowledge_change=..., ...).")
    _check_rules(rules)
    by_field = {c.field: c for c in rules}
    points, bands, whys = {}, {}, {}
    for criterion in rules:
        value = getattr(situation, criterion.field)
        band = criterion.band(value)
        points[criterion.field] = dict(zip(APPROACHES, band.points))
        bands[criterion.field] = band.label
        whys[criterion.field] = band.why.format(value=_show(value))
    scores = {a: sum(p[a] for p in points.values()) for a in APPROACHES}
    winner = min(APPROACHES, key=lambda a: (-scores[a], TIE_ORDER.index(a)))
    runner_up = min((a for a in APPROACHES if a != winner), key=lambda a: (-scores[a], TIE_ORDER.index(a)))

    # The deciding criteria are those that put the winner ahead of the runner-up, biggest lead first.
    lead = {f: p[winner] - p[runner_up] for f, p in points.items()}
    deciding = sorted((f for f in lead if lead[f] > 0), key=lambda f: -lead[f])[:3]
    reasons = [f"{by_field[f].name} ({bands[f]}, {lead[f]:+d} for {winner} over {runner_up}): "
               f"{whys[f][0].upper()}{whys[f][1:]}." for f in deciding]
    if scores[winner] == scores[runner_up]:
        reasons.append(f"{winner} and {runner_up} tie at {scores[winner]:+d}; the tie goes to {winner}, "
                       "the quicker one to prototype.")
    against = min(points, key=lambda f: points[f][winner])
    if points[against][winner] < 0:
        reasons.append(f"Working against {winner}: {by_field[against].name.lower()} "
                       f"({bands[against]}, {points[against][winner]:+d}): {whys[against]}.")
    reasons.append(MAIN_RISK[winner])
    return Recommendation(winner, scores, reasons, _notes(situation, scores, winner, runner_up), points, bands)


def _notes(situation: Situation, scores: dict, winner: str, runner_up: str) -> list[str]:
    notes = []
    fresh_facts = situation.needs_sources or KNOWLEDGE_CHANGE.index(situation.knowledge_change) >= 2
    if situation.pretrained_fit == "partial" and fresh_facts and situation.labeled_examples >= 200:
        notes.append("Consider fine-tune + RAG: fine-tune the generator on your examples for jargon and tone, "
                     "and retrieve the facts that change or must be cited.")
    elif winner == "fine-tune" and fresh_facts:
        notes.append("Consider adding RAG: retrieve the facts that change or must be cited, and let the "
                     "fine-tune handle the wording.")
    if scores[winner] - scores[runner_up] <= 1:
        notes.append(f"Close call: {runner_up} is within one point. Prototype both against the same success "
                     "criterion before committing.")
    if scores[winner] <= 0:
        notes.append("No approach scores above zero: revisit the problem framing, the data or the budget before "
                     "choosing any of them.")
    return notes


def score_range(rules: tuple[Criterion, ...] = RULES) -> tuple[int, int]:
    """The lowest and highest total any approach can reach under ``rules`` (fixes plot axes)."""
    # criteria are independent, so each approach's extreme total is the sum of its per-criterion extremes
    low = min(sum(min(b.points[i] for b in c.bands) for c in rules) for i in range(len(APPROACHES)))
    high = max(sum(max(b.points[i] for b in c.bands) for c in rules) for i in range(len(APPROACHES)))
    return low, high


# ---------------------------------------------------------------- what would change my mind


@dataclass(frozen=True)
class Flip:
    field: str
    before: object
    after: object
    band: str                 # the band the new value falls in
    approach_before: str
    approach_after: str
    scores_after: dict[str, int]

    @property
    def tie(self) -> bool:
        """True when the new winner only ties the old one and wins on TIE_ORDER."""
        return self.scores_after[self.approach_after] == self.scores_after[self.approach_before]

    def __str__(self) -> str:
        text = (f"{self.field}: {_show(self.before)} -> {_show(self.after)} ({self.band}) turns "
                f"{self.approach_before} into {self.approach_after}")
        return text + (" (on a tie, which goes to the quicker prototype)" if self.tie else "")


def _band_value(criterion: Criterion, index: int, current):
    """The value in band ``index`` closest to ``current`` (for numeric criteria), else the band's key."""
    band = criterion.bands[index]
    if not criterion.numeric:
        return band.key
    if band.key > current:
        return band.key
    upper = criterion.bands[index + 1].key  # the band lies below current, so a next band exists
    return upper - 1


def flips(situation: Situation, rules: tuple[Criterion, ...] = RULES) -> list[Flip]:
    """Every single-field change that changes the recommendation, the smallest per field and direction.

    Scores only change when a value crosses into another band, so it is enough to try, for
    each field, the nearest value of each other band, walking outwards from the current one.
    """
    if not isinstance(situation, Situation):
        raise ValueError(f"flips expects a Situation, got {type(situation).__name__}.")
    before = recommend(situation, rules).approach
    found = []
    for criterion in rules:
        current = getattr(situation, criterion.field)
        here = criterion.bands.index(criterion.band(current))
        for direction in (-1, +1):
            index = here + direction
            while 0 <= index < len(criterion.bands):
                value = _band_value(criterion, index, current)
                rec = recommend(replace(situation, **{criterion.field: value}), rules)
                if rec.approach != before:
                    found.append(Flip(criterion.field, current, value, criterion.bands[index].label,
                                      before, rec.approach, rec.scores))
                    break
                index += direction
    return found


def differences(a: Situation, b: Situation) -> dict[str, tuple]:
    """Fields where two situations differ: ``{field: (value_in_a, value_in_b)}``."""
    if not isinstance(a, Situation) or not isinstance(b, Situation):
        raise ValueError("differences expects two Situations.")
    return {f.name: (getattr(a, f.name), getattr(b, f.name)) for f in fields(Situation)
            if getattr(a, f.name) != getattr(b, f.name)}


# ---------------------------------------------------------------- success criteria and tables

_METRIC = (r"accura|precision|recall|\bf1\b|f-score|error|false (positive|negative|alarm)|miss|\bauc\b|\bmae\b|"
           r"\brmse\b|latenc|\bp9[059]\b|response time|resol|deflect|escalat|satisf|\bcsat\b|\bnps\b|hit rate|"
           r"faithful|grounded|citation|\bcite|correct|agree|throughput|cost|defect|detect|top-\d|exact match|"
           r"win rate|@\d")
_UNIT_OR_CONDITION = (r"%|percent|\bms\b|millisecond|second|\d\s*s\b|minute|hour|\bday|week|month|\$|\busd\b|dollar|"
                      r"€|\beur\b|\bper\b|out of|held[- ]out|hold[- ]?out|test set|validation|\bon (a|an|the|our)\b|"
                      r"within|\bover (a|an|the)\b|during|for (each|every)|\bmeasured\b|baseline")


def success_criterion_gaps(text: str) -> list[str]:
    """What a written success criterion still lacks: a metric, a threshold number, a unit or condition.

    An empty list means it is measurable: "recall of at least 95 % on a held-out set of
    1,000 images" passes; "make the support bot better" lacks all three.
    """
    import re

    if not isinstance(text, str):
        raise ValueError(f"A success criterion is a sentence (str), got {type(text).__name__}.")
    lowered = text.lower()
    gaps = []
    if not re.search(_METRIC, lowered):
        gaps.append("name the metric you will measure (accuracy, recall, false alarms, latency, "
                    "resolution rate, cost per answer, ...)")
    if not re.search(r"\d", lowered):
        gaps.append("give the threshold as a number (e.g. 'at least 95', 'under 800')")
    if not re.search(_UNIT_OR_CONDITION, lowered):
        gaps.append("say the unit or the condition it is measured under ('%', 'ms', '$ per month', "
                    "'on a held-out set of 500 tickets', ...)")
    return gaps


def markdown_table(headers: list[str], rows: list[list]) -> str:
    """A GitHub-flavoured Markdown table (display it with IPython.display.Markdown)."""
    def cell(value) -> str:
        return _show(value).replace("|", "\\|") if not isinstance(value, str) else value.replace("|", "\\|")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def points_table(rec: Recommendation, rules: tuple[Criterion, ...] = RULES) -> str:
    """One recommendation's points as a Markdown table: one row per criterion, then the totals."""
    rows = [[c.name, rec.bands[c.field], *(f"{rec.points[c.field][a]:+d}" for a in APPROACHES)]
            for c in rules if c.field in rec.points]
    rows.append(["**total**", "", *(f"**{rec.scores[a]:+d}**" for a in APPROACHES)])
    return markdown_table(["criterion", "band", *APPROACHES], rows)


def rules_table(rules: tuple[Criterion, ...] = RULES) -> str:
    """The rules as a Markdown table: criterion, band, points for each approach."""
    rows = []
    for criterion in rules:
        for i, band in enumerate(criterion.bands):
            name = f"**{criterion.name}** (`{criterion.field}`)" if i == 0 else ""
            rows.append([name, band.label, *(f"{p:+d}" for p in band.points)])
    return markdown_table(["criterion", "band", *APPROACHES], rows)
