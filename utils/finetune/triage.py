"""Northwind's feedback triage task: the taxonomy, the dataset, the prompts and the metrics.

Every customer message gets three labels in Northwind's own terms::

    {"product":"BV-3","topic":"battery","sentiment":"negative"}

A pre-trained model cannot know that "the Breeze" is product ``BV-3``, nor where Northwind draws the line
between ``performance`` and ``praise``: that is exactly what fine-tuning has to teach (notebook 03).
The answer format is deliberately compact (no spaces, short codes, ~17 tokens) because on a CPU every
generated token costs time.
"""

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from utils.core.jsonl import read_jsonl
from utils.core.paths import DATASETS_DIR

FEEDBACK_DIR = DATASETS_DIR / "feedback"
SPLITS = ("train", "val", "test")
FIELDS = ("product", "topic", "sentiment")

PRODUCTS = {
    "AK-1": "Aurora kettle",
    "BV-3": "Breeze cordless vacuum",
    "CM-2": "Crema espresso machine",
    "DW-5": "Dewdrop dishwasher",
    "FR-9": "Frost fridge-freezer",
    "PB-4": "Pulse portable blender",
    "RM-7": "Scout robot mop",
    "WM-6": "Cyclone washing machine",
    "none": "no Northwind product is named or implied",
}
TOPICS = {
    "battery": "charging and battery life",
    "delivery": "orders, shipping, arrival, damage in transit",
    "noise": "loud, rattling, beeping, vibrating",
    "app": "the Northwind Home app, pairing, Wi-Fi, firmware",
    "billing": "charges, refunds, invoices, prices",
    "leak": "water leaking or dripping",
    "performance": "how well it does its main job (heating, cleaning, cooling, suction, blending)",
    "praise": "general praise with no specific topic",
    "other": "anything else: off-topic messages, adverts, marketing emails, the website",
}
SENTIMENTS = ("positive", "neutral", "negative")
LABELS = {"product": tuple(PRODUCTS), "topic": tuple(TOPICS), "sentiment": SENTIMENTS}

# Short on purpose: the fine-tuned model learns the taxonomy from examples, so its prompt need not list it.
SYSTEM_PROMPT = "Triage Northwind feedback as JSON."


def taxonomy_prompt() -> str:
    """A system prompt that spells out the taxonomy, for the models that were never trained on it.

    Kept terse (~120 tokens) because every prompt token is paid for again on every request.
    """
    products = ", ".join(f"{code} {name}" for code, name in PRODUCTS.items() if code != "none") + ", none"
    return ("Triage Northwind Appliances customer feedback. Reply with JSON only, like "
            '{"product":"AK-1","topic":"noise","sentiment":"negative"}.\n'
            f"product: {products}.\ntopic: {', '.join(TOPICS)}.\nsentiment: {', '.join(SENTIMENTS)}.")


# ---------------------------------------------------------------------------------------------
# The dataset: JSON lines, one example per line
# ---------------------------------------------------------------------------------------------

def validate_example(example: dict, where: str = "example") -> dict:
    """Check one example has a non-empty ``text`` and a label from the taxonomy for every field."""
    if not isinstance(example, dict):
        raise TypeError(f"{where} must be a dict with 'text', {', '.join(FIELDS)}; got {type(example).__name__}.")
    text = example.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{where} has no text: every example needs a non-empty 'text' string.")
    for name in FIELDS:
        if name not in example:
            raise ValueError(f"{where} is missing the field {name!r}: every example needs {', '.join(FIELDS)}.")
        if example[name] not in LABELS[name]:
            raise ValueError(f"{where} has {name}={example[name]!r}, which is not in Northwind's taxonomy; "
                             f"choose one of {', '.join(LABELS[name])}.")
    return example


def validate_dataset(examples: list[dict], name: str = "dataset") -> list[dict]:
    if not isinstance(examples, (list, tuple)) or not examples:
        raise ValueError(f"The {name} is empty: it needs at least one example.")
    for index, example in enumerate(examples):
        validate_example(example, f"{name}[{index}]")
    return list(examples)


def load_feedback(split: str, folder: Path | None = None) -> list[dict]:
    """Read ``datasets/feedback/<split>.jsonl`` and validate every line."""
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}: choose one of {', '.join(SPLITS)}.")
    examples = read_jsonl(Path(folder or FEEDBACK_DIR) / f"{split}.jsonl",
                          "recreate it with `python datasets/feedback/generate.py`.")
    return validate_dataset(examples, f"{split} split")


def label_counts(examples: list[dict], name: str) -> Counter:
    """How often each label of one field occurs, e.g. ``label_counts(train, "topic")``."""
    if name not in FIELDS:
        raise ValueError(f"Unknown field {name!r}: choose one of {', '.join(FIELDS)}.")
    return Counter(example[name] for example in examples)


# ---------------------------------------------------------------------------------------------
# Prompts and targets
# ---------------------------------------------------------------------------------------------

def format_target(example: dict) -> str:
    """The answer we train on: compact JSON with the fields in a fixed order."""
    validate_example(example)
    return json.dumps({name: example[name] for name in FIELDS}, separators=(",", ":"))


def triage_prompt(tokenizer, text: str, system: str = SYSTEM_PROMPT) -> str:
    from utils.core.generation import chat_prompt

    return chat_prompt(tokenizer, text, system=system)


def fewshot_prompt(tokenizer, text: str, shots: list[dict], system: str | None = None) -> str:
    """A multi-turn chat prompt: each shot is a user message followed by the assistant's ideal answer."""
    if not shots:
        raise ValueError("A few-shot prompt needs at least one example shot.")
    from utils.core.generation import chat_prompt

    return chat_prompt(tokenizer, text, system=system or taxonomy_prompt(),
                       examples=[(shot["text"], format_target(shot)) for shot in shots])


def training_pairs(tokenizer, examples: list[dict], system: str = SYSTEM_PROMPT) -> list[tuple[str, str]]:
    """(chat-formatted prompt, JSON answer) pairs: the generic input of ``utils.finetune.lora``."""
    validate_dataset(examples)
    return [(triage_prompt(tokenizer, example["text"], system), format_target(example)) for example in examples]


# ---------------------------------------------------------------------------------------------
# Reading the model's answers and scoring them
# ---------------------------------------------------------------------------------------------

_JSON_OBJECT = re.compile(r"\{[^{}]*\}")


def parse_answer(answer: str) -> dict | None:
    """The first JSON object in ``answer`` that has all three fields as strings, else ``None``.

    Lenient on purpose about what surrounds the object (a base model likes to add prose or code
    fences), strict about the object itself: it must parse and carry every field.
    """
    if not isinstance(answer, str):
        raise TypeError(f"answer must be the generated text (a str), got {type(answer).__name__}.")
    for match in _JSON_OBJECT.finditer(answer):
        try:
            parsed = json.loads(match.group())
        except json.JSONDecodeError:
            continue
        if isinstance(parsed, dict) and all(isinstance(parsed.get(name), str) for name in FIELDS):
            return {name: parsed[name].strip() for name in FIELDS}
    return None


@dataclass
class TriageReport:
    """Generation-based scores on a labelled set; ``field_accuracy`` is the headline number."""
    n: int
    valid_json_rate: float
    accuracy: dict[str, float]                     # field -> share of examples with that field right
    exact_match: float                             # all three fields right
    confusion: dict[str, dict[str, Counter]]       # field -> true label -> Counter of predicted labels
    errors: list[dict] = field(default_factory=list)

    @property
    def field_accuracy(self) -> float:
        return sum(self.accuracy.values()) / len(self.accuracy)

    def row(self) -> dict[str, float]:
        """One row for a comparison table."""
        return {"valid_json": self.valid_json_rate, **self.accuracy, "field_accuracy": self.field_accuracy,
                "exact_match": self.exact_match}


INVALID = "(invalid)"


def score_triage(examples: list[dict], answers: list[str]) -> TriageReport:
    """Compare generated answers with the labels: valid-JSON rate, per-field accuracy, exact match, confusion.

    An answer that is not valid JSON counts as wrong on every field (predicted label ``(invalid)``).
    """
    validate_dataset(examples, "labelled set")
    if len(answers) != len(examples):
        raise ValueError(f"Got {len(answers)} answers for {len(examples)} examples: pass one answer per example.")
    correct = Counter()
    confusion = {name: {label: Counter() for label in LABELS[name]} for name in FIELDS}
    valid = exact = 0
    errors = []
    for example, answer in zip(examples, answers):
        parsed = parse_answer(answer)
        valid += parsed is not None
        predicted = parsed or dict.fromkeys(FIELDS, INVALID)
        right = {name: predicted[name] == example[name] for name in FIELDS}
        for name in FIELDS:
            correct[name] += right[name]
            confusion[name][example[name]][predicted[name]] += 1
        exact += all(right.values())
        if not all(right.values()):
            errors.append({"text": example["text"], "expected": format_target(example), "answer": answer})
    n = len(examples)
    return TriageReport(n=n, valid_json_rate=valid / n, accuracy={name: correct[name] / n for name in FIELDS},
                        exact_match=exact / n, confusion=confusion, errors=errors)


def field_accuracy(examples: list[dict], predictions: list[dict | None]) -> float:
    """Mean over the three fields of the share of examples whose field was predicted right (None = all wrong)."""
    if len(predictions) != len(examples) or not examples:
        raise ValueError(f"Need one prediction per example and at least one example; got {len(predictions)} "
                         f"predictions for {len(examples)} examples.")
    hits = sum((prediction or {}).get(name) == example[name]
               for example, prediction in zip(examples, predictions) for name in FIELDS)
    return hits / (len(examples) * len(FIELDS))


def field_confusion(report: TriageReport, name: str) -> tuple[list[str], list[str], list[list[int]]]:
    """(true labels, predicted labels, counts) for one field, ready for ``plt.imshow``.

    Predicted labels are the taxonomy plus anything else the model said (e.g. ``(invalid)``).
    """
    if name not in FIELDS:
        raise ValueError(f"Unknown field {name!r}: choose one of {', '.join(FIELDS)}.")
    rows = list(LABELS[name])
    extra = sorted({p for counts in report.confusion[name].values() for p in counts} - set(rows))
    columns = rows + extra
    return rows, columns, [[report.confusion[name][true][pred] for pred in columns] for true in rows]



# ---------------------------------------------------------------------------------------------
# Outcomes per message, for intervals and paired comparisons (utils.core.stats)
# ---------------------------------------------------------------------------------------------

BODY_PREFIXES = ("body:", "perf:", "noproduct:", "handwritten.")


def body_group(example: dict) -> str:
    """The piece that carries a message's topic and sentiment (its ``parts`` list it first), else its text.

    Generated test messages reuse a limited number of bodies with different greetings, intros and typos, so
    messages of one body tend to fail together: a paired bootstrap must resample whole bodies.
    """
    parts = example.get("parts") or []
    body = next((part for part in parts if part.startswith(BODY_PREFIXES)), None)
    return body or example["text"]


def field_outcomes(examples: list[dict], predictions: list[dict | None]) -> dict[str, list[bool]]:
    """Per message, 0/1 outcomes: each field right, ``exact`` (all three right) and ``valid`` (a prediction at all).

    ``predictions`` are parsed answers (``parse_answer``, ``None`` when invalid) or likelihood predictions.
    """
    if len(predictions) != len(examples) or not examples:
        raise ValueError(f"Need one prediction per example and at least one example; got {len(predictions)} "
                         f"predictions for {len(examples)} examples.")
    outcomes = {name: [] for name in (*FIELDS, "exact", "valid")}
    for example, prediction in zip(examples, predictions):
        right = [(prediction or {}).get(name) == example[name] for name in FIELDS]
        for name, ok in zip(FIELDS, right):
            outcomes[name].append(ok)
        outcomes["exact"].append(all(right))
        outcomes["valid"].append(prediction is not None)
    return outcomes


def field_estimates(outcomes: dict[str, list[bool]]) -> dict:
    """Each outcome list as an ``Estimate`` (share right, Wilson 95 % interval, n)."""
    from utils.core.stats import proportion

    return {name: proportion(values) for name, values in outcomes.items()}


def answer_outcomes(examples: list[dict], answers: list[str]) -> dict[str, list[bool]]:
    """``field_outcomes`` of generated answers: an answer that is not valid JSON is wrong on every field."""
    if len(answers) != len(examples):
        raise ValueError(f"Got {len(answers)} answers for {len(examples)} examples: pass one answer per example.")
    return field_outcomes(examples, [parse_answer(answer) for answer in answers])
