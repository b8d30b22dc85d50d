"""Custom model, fine-tune or RAG? A small, transparent scoring rule that turns a situation into advice.

    from utils.decide.situation import Situation
    from utils.decide.rules import recommend
    rec = recommend(Situation(labelled_examples=3000, knowledge_change="static", latency_budget_ms=500,
                              budget_usd=20000, pretrained_fit="partial", needs_sources=False))
    rec.approach   # "fine-tune"
    rec.scores     # {"custom": -1, "fine-tune": 6, "rag": 1}
    rec.reasons    # the criteria that decided it, then the main risk to watch

Every criterion of ``RULES`` puts the situation's value into one band, and every band gives
each approach a few points (plus helps, minus hurts). The approach with the most points wins.
Nothing is learned or hidden: notebook 01 prints ``RULES`` as a table, and the points are
rules of thumb from the course's decision material, meant to be argued with.
"""

from dataclasses import dataclass, field, fields, replace

from utils.core.tables import show_value
from utils.decide.situation import APPROACHES, KNOWLEDGE_CHANGE, Situation, did_you_mean

# When two approaches tie, start with the one that is quickest to prototype: RAG needs no
# training at all, a fine-tune needs days, a custom model weeks to months.
TIE_ORDER = ("rag", "fine-tune", "custom")


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
        return self.field in ("labelled_examples", "latency_budget_ms", "budget_usd")

    def band(self, value) -> Band:
        if self.numeric:  # the last band whose lower bound the value reaches
            return [b for b in self.bands if value >= b.key][-1]
        return next(b for b in self.bands if b.key == value)


# The rules. Points are (custom, fine-tune, rag); read each row as "in this band, this much for / against".
RULES: tuple[Criterion, ...] = (
    Criterion("labelled_examples", "Labelled data", (
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
        raise ValueError("rules must be a non-empty tuple of Criterion, like utils.decide.rules.RULES "
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
        raise ValueError(f"No criterion scores {field_name!r}.{did_you_mean(field_name, by_field)} "
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
                         "Build one with Situation(labelled_examples=..., knowledge_change=..., ...).")
    _check_rules(rules)
    by_field = {c.field: c for c in rules}
    points, bands, whys = {}, {}, {}
    for criterion in rules:
        value = getattr(situation, criterion.field)
        band = criterion.band(value)
        points[criterion.field] = dict(zip(APPROACHES, band.points))
        bands[criterion.field] = band.label
        whys[criterion.field] = band.why.format(value=show_value(value))
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
    if situation.pretrained_fit == "partial" and fresh_facts and situation.labelled_examples >= 200:
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
