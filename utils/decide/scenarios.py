"""A gallery of business situations, each with the approach a careful practitioner would pick.

The expected approach was written beside each scenario from the course's decision material,
before looking at what ``recommend`` says; notebook 01 and the tests check that the rules
agree with every one. The three Northwind scenarios are the ones the course goes on to build.

    from utils.decide.scenarios import GALLERY, scenario, run_gallery
    results = run_gallery()
    sum(r.agrees for r in results)   # how many the rules get right
"""

from dataclasses import dataclass

from utils.core.tables import markdown_table
from utils.decide.rules import Recommendation, recommend
from utils.decide.situation import APPROACHES, Situation, did_you_mean


@dataclass(frozen=True)
class Scenario:
    name: str
    story: str            # two sentences a business reader recognises
    situation: Situation
    expected: str         # the approach a careful practitioner would choose
    why: str              # the practitioner's one-line reason

    def __post_init__(self):
        if self.expected not in APPROACHES:
            raise ValueError(f"Scenario {self.name!r}: expected must be one of {', '.join(APPROACHES)}, "
                             f"got {self.expected!r}.")


def _s(examples, change, latency_ms, budget, fit, sources) -> Situation:
    return Situation(labelled_examples=examples, knowledge_change=change, latency_budget_ms=latency_ms,
                     budget_usd=budget, pretrained_fit=fit, needs_sources=sources)


GALLERY: tuple[Scenario, ...] = (
    Scenario("Visual quality control",
             "Northwind photographs every part leaving its own production line and wants the scratched and "
             "dented ones flagged. No public model has seen these parts, and the line moves on every 100 ms.",
             _s(6_000, "static", 100, 60_000, "none", False), "custom",
             "a one-of-a-kind image task with no pre-trained fit and a tight line speed"),
    Scenario("Customer feedback triage",
             "Northwind sorts incoming reviews and e-mails into its own product, topic and sentiment taxonomy. "
             "The taxonomy is revised once a year and 1,500 messages are already labelled.",
             _s(1_500, "yearly", 5_000, 15_000, "partial", False), "fine-tune",
             "a capable language model needs to learn Northwind's own labels from a modest dataset"),
    Scenario("Support assistant",
             "Northwind's assistant answers customers from manuals and warranty policies that change every "
             "week, and each answer must point to the page it came from.",
             _s(0, "weekly", 3_000, 20_000, "good", True), "rag",
             "fast-changing documents and mandatory citations"),
    Scenario("Medical imaging",
             "A hospital group wants to flag a rare condition in scans from its own specialised scanner. It has "
             "120,000 labelled scans and a research budget; no public model was trained on this modality.",
             _s(120_000, "static", 2_000, 400_000, "none", False), "custom",
             "a niche modality with plenty of data and budget and nothing pre-trained to start from"),
    Scenario("Card fraud detection",
             "A payment provider scores each card transaction for fraud before authorising it, within 30 ms. "
             "Fraud patterns are specific to its product and drift monthly; it has two million labelled "
             "transactions.",
             _s(2_000_000, "monthly", 30, 300_000, "none", False), "custom",
             "product-specific patterns, huge labelled history and a millisecond latency budget"),
    Scenario("Predictive maintenance",
             "A manufacturer predicts failures of its bespoke presses from vibration and temperature logs. "
             "40,000 labelled sensor windows exist; no pre-trained model knows these machines.",
             _s(40_000, "static", 1_000, 80_000, "none", False), "custom",
             "bespoke machines and signals that no pre-trained model covers"),
    Scenario("Legal contract review",
             "A law firm tags clauses in supplier contracts with its compliance taxonomy and flags risky "
             "wording. The taxonomy is stable and 5,000 clauses are tagged.",
             _s(5_000, "static", 2_000, 30_000, "partial", False), "fine-tune",
             "compliance wording and a firm's own taxonomy on top of a model that reads legal English"),
    Scenario("Case-law research",
             "Lawyers ask questions and want the relevant rulings quoted. New rulings are published every day "
             "and every answer must cite them.",
             _s(300, "daily", 5_000, 60_000, "partial", True), "rag",
             "knowledge that changes daily and must be cited"),
    Scenario("Enterprise search",
             "Employees ask questions across the company wiki, tickets and shared drives, which change daily. "
             "Answers should link to the documents they came from.",
             _s(0, "daily", 1_500, 40_000, "good", True), "rag",
             "a large, private, fast-changing corpus that no model weights could hold"),
    Scenario("Brand-voice copywriting",
             "A retailer wants product descriptions in its house style. It has 2,000 approved examples and the "
             "style guide has not changed in years.",
             _s(2_000, "static", 3_000, 12_000, "good", False), "fine-tune",
             "tone and style are exactly what a fine-tune teaches a capable model"),
    Scenario("HR policy questions",
             "Staff ask about leave, travel and expense rules, which HR updates every month. A small team has "
             "a few thousand dollars to spend and answers must quote the policy.",
             _s(0, "monthly", 2_000, 8_000, "good", True), "rag",
             "monthly policy updates, mandatory quotes and a tiny budget"),
    Scenario("Demand forecasting",
             "A grocery chain forecasts next week's demand per store and product from five years of sales, "
             "prices and weather, refreshed nightly for 100 ms dashboard queries.",
             _s(500_000, "monthly", 100, 150_000, "none", False), "custom",
             "tabular history unique to the business and plenty of it"),
    Scenario("Clinical coding",
             "A hospital assigns billing codes to discharge notes. The code set is revised yearly; 20,000 notes "
             "are coded and a general language model reads clinical English reasonably well.",
             _s(20_000, "yearly", 1_000, 50_000, "partial", False), "fine-tune",
             "domain jargon and a fixed code set, with a large labelled history to adapt a pre-trained model"),
    Scenario("On-device voice commands",
             "An appliance maker wants its ovens to understand spoken commands offline, replying within 80 ms. "
             "The command set is fixed and 3,000 recordings are labelled.",
             _s(3_000, "static", 80, 25_000, "partial", False), "fine-tune",
             "a fixed command set, a tight latency budget and a pre-trained speech model to adapt"),
    Scenario("Pharmacy drug-interaction assistant",
             "Pharmacists ask about interactions in their hospital's own shorthand. Drug monographs are updated "
             "weekly, every answer must cite the monograph, and 2,500 past questions are labelled.",
             _s(2_500, "weekly", 2_000, 70_000, "partial", True), "rag",
             "weekly updates and citations, with a fine-tune for the shorthand worth adding"),
)

NORTHWIND = ("Visual quality control", "Customer feedback triage", "Support assistant")


def scenario(name: str) -> Scenario:
    """The gallery scenario called ``name`` (exact, case-insensitive)."""
    for s in GALLERY:
        if s.name.lower() == str(name).lower():
            return s
    names = [s.name for s in GALLERY]
    raise ValueError(f"No scenario called {name!r}.{did_you_mean(name, names)} "
                     f"The gallery has: {', '.join(names)}.")


@dataclass(frozen=True)
class GalleryResult:
    scenario: Scenario
    recommendation: Recommendation

    @property
    def agrees(self) -> bool:
        return self.recommendation.approach == self.scenario.expected


def run_gallery(scenarios=GALLERY) -> list[GalleryResult]:
    """Run ``recommend`` on every scenario."""
    results = []
    for s in scenarios:
        if not isinstance(s, Scenario):
            raise ValueError(f"run_gallery expects Scenario objects, got {type(s).__name__}.")
        results.append(GalleryResult(s, recommend(s.situation)))
    return results


def gallery_table(results: list[GalleryResult]) -> str:
    """A Markdown table: scenario, expected, recommended, agreement, scores and the top deciding criterion."""
    rows = []
    for r in results:
        rec = r.recommendation
        top = rec.reasons[0].split(" (")[0] if rec.margin > 0 else "tie"
        rows.append([r.scenario.name, r.scenario.expected, f"**{rec.approach}**", "✓" if r.agrees else "✗",
                     " / ".join(f"{rec.scores[a]:+d}" for a in APPROACHES), top,
                     "; ".join(note.split(":")[0] for note in rec.notes)])
    return markdown_table(["scenario", "expected", "recommended", "agrees", "custom / fine-tune / rag",
                           "top deciding criterion", "notes"], rows)
