"""Wrong answers must fail the labs' self-checks, with a message that names the real bug.

Each lab's solution notebook runs in this process in smoke mode, cell by cell. At every answer cell (one with a
solution region), each wrong answer listed in ``WRONG`` first replaces the region(s) and runs, on a copy of the
namespace, with the code cells that follow up to the next answer cell (the exercise's self-checks). It must fail, and
the failure must match the wrong answer's ``expect`` pattern: the hint (or, for a crash, the error) that points at
the mistake. Then the real solution runs, and it must pass. ``STAND_INS`` replaces a few slow cells that no
self-check depends on (training runs, generation) by a line that sets the names later cells read.

The wrong answers are the ones a tester handed in, and other plausible ones: at least three per exercise.
"""

import copy
import functools
import os
import re
import textwrap
from typing import NamedTuple

import matplotlib.pyplot as plt
import nbformat
import pytest

from utils.core import models
from utils.core.paths import SOLUTIONS_DIR
from utils.course import labs


class Wrong(NamedTuple):
    name: str
    code: str | dict[int, str]  # the new text of the answer's solution region, or {region index: text}
    expect: str                 # a regex the failure's "ErrorType: message" must match


A_B_C = '''
spare_parts = Situation(labelled_examples={a_examples}, knowledge_change="weekly", latency_budget_ms={a_ms},
                        budget_usd={a_usd}, pretrained_fit="good", needs_sources=True)
acoustic_test = Situation(labelled_examples=150000, knowledge_change="static", latency_budget_ms=40,
                          budget_usd={b_usd}, pretrained_fit="none", needs_sources={b_sources})
claim_coding = Situation(labelled_examples=4000, knowledge_change="yearly", latency_budget_ms={c_ms},
                         budget_usd=25000, pretrained_fit="partial", needs_sources=False)
'''
STORIES = dict(a_examples=0, a_ms=2000, a_usd=15000, b_usd=250000, b_sources=False, c_ms=1000)
CITE = ("If every coded claim had to cite the warranty document it relied on, only retrieval could show that "
        "source; a fine-tuned model answers from its weights and cannot point to a page.")
SLIP_C = "claim_coding = replace(claim_coding, needs_sources=True)  # a slip in exercise 1: C already comes out rag\n"


def stories(**wrong) -> str:
    return A_B_C.format(**{**STORIES, **wrong})


def flip(change: str, explanation: str = CITE, before: str = "") -> str:
    return f"{before}changed = replace(claim_coding, {change})\nexplanation = {explanation!r}"


YEAR = '''
labelling = offer["labels"] * offer["minutes_per_label"]{hours} * HOURLY_RATE
engineering = ({days}) * DAY_RATE
serving = {months}monthly_queries / 1000 * offer["usd_per_1000"]
return labelling + engineering + serving + 12 * offer["hosting_per_month"]
'''
BREAK_EVEN = '''
fixed_a, fixed_b = year_cost(a, 0), year_cost(b, 0)
slope_a, slope_b = year_cost(a, 1) - fixed_a, year_cost(b, 1) - fixed_b
{guard}volume = ({numerator}) / (slope_a - slope_b)
return {result}
'''
GUARD = "if slope_a == slope_b:\n    return None\n"


def year(hours=" / 60", days='offer["build_days"] + offer["update_days"] * offer["updates_per_year"]',
         months="12 * ") -> dict[int, str]:
    return {0: YEAR.format(hours=hours, days=days, months=months)}


def crossing(guard=GUARD, numerator="fixed_b - fixed_a", result="volume if volume > 0 else None") -> dict[int, str]:
    return {1: BREAK_EVEN.format(guard=guard, numerator=numerator, result=result)}


CNN_INIT = '''
blocks, c_in = [], 1
for c_out in {channels}:
    blocks.append(nn.Sequential({layers}))
    c_in = c_out
self.features = nn.Sequential(*blocks)
self.pool = {pool}
self.classifier = nn.Linear({channels}[-1], num_classes)
'''
LAYERS = "nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)"


def cnn(channels="channels", layers=LAYERS, pool="nn.AdaptiveMaxPool2d(1)") -> str:
    return CNN_INIT.format(channels=channels, layers=layers, pool=pool)


STEP = ("optimizer.zero_grad()\nlogits = model(*inputs)\nloss = loss_fn(logits, y)\nloss.backward()\n"
        "optimizer.step()\nreturn loss.item(), int((logits.argmax(dim=1) == y).sum())")
SHIFT = '''
shifts = {draw}
padded = F.pad(x, (1, 1, 1, 1))
h, w = x.shape[2:]
return torch.stack([padded[i, :, 1 + dy:1 + dy + h, 1 + dx:1 + dx + w] for i, (dy, dx) in enumerate(shifts)])
'''
SMALLEST = '''
for fraction, accuracy in {pairs}:
    if accuracy {compare} target:
        return {value}
return None
'''
MASK = "input_ids = {ids}\nlabels = {labels}\nreturn input_ids, labels"
LORA = ("return LoraConfig(r=r, lora_alpha={alpha}, lora_dropout={dropout}, {task}"
        "target_modules={targets})")
SEVEN = '["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]'
WINDOWS = '''
windows, start = [], 0
while True:
    end = {end}
    windows.append((start, end))
    if end >= n_tokens:
        return windows
    start += {step}
'''
RRF = '''
scores = {{}}
for ranking in rankings:
    for rank, item in enumerate(ranking, start={start}):
        scores[item] = {add}
return sorted(scores.items(), {order})
'''
RRF_SUM = "scores.get(item, 0.0) + 1.0 / (k + rank)"
FIT = '''
empty = n_tokens(render(question, []))
if empty > budget:
    raise ValueError({message})
chosen = []
for passage in passages:
    if n_tokens(render(question, chosen + [passage])) {compare} budget:
        {misfit}
    chosen.append(passage)
return render(question, chosen), len(chosen)
'''
FIT_MESSAGE = 'f"A budget of {budget} tokens cannot hold the prompt without sources ({empty} tokens)."'


def fit(message=FIT_MESSAGE, compare=">", misfit="break") -> str:
    return FIT.format(message=message, compare=compare, misfit=misfit)


AUDIT = '''
def labels(example):
    return {labels}

train_labels = {{}}
for example in train:
    train_labels.setdefault({key}, set()).add(labels(example))
test_texts = {{{key} for example in {against}}}
found = {{"duplicate": [], "conflict": [], "leak": []}}
for example in batch:
    text = {key}
    if text in test_texts:
        found["leak"].append(example["id"])
    elif text in train_labels:
        same = {same}
        found["duplicate" if same else "conflict"].append(example["id"])
return {{group: sorted(ids) for group, ids in found.items()}}
'''
ALL_LABELS = "tuple(example[name] for name in triage.FIELDS)"


def audit(labels=ALL_LABELS, key='normalise(example["text"])', against="test",
          same="train_labels[text] == {labels(example)}") -> dict[int, str]:
    return {1: AUDIT.format(labels=labels, key=key, against=against, same=same)}


THRESHOLD = '''
for threshold in sorted(set(scores.tolist()), reverse={reverse}):
    if np.mean(scores {compare} threshold) >= min_keep:
        return float(threshold)
'''


# lab -> answer cell id (one exercise) -> wrong answers
WRONG: dict[str, dict[str, list[Wrong]]] = {
    "lab_01_choosing": {
        "lab01-04": [  # 1. encode three stories
            Wrong("A: 150 labelled examples", stories(a_examples=150), r"labelled_examples: expected 0, got 150"),
            Wrong("A: the budget in thousands", stories(a_usd=15), r"budget_usd: expected 15000, got 15"),
            Wrong("B: a budget of $25,000", stories(b_usd=25000), r"budget_usd: expected 250000"),
            Wrong("B: needs citations", stories(b_sources=True), r"needs_sources: expected False"),
            Wrong("C: latency in seconds", stories(c_ms=1), r"latency_budget_ms: expected 1000, got 1"),
        ],
        "lab01-07": [  # 2. predict before you look
            Wrong("consistent with a wrong Situation", SLIP_C + 'stories["claim_coding"] = claim_coding\n'
                  'predictions = {"spare_parts": "rag", "acoustic_test": "custom", "claim_coding": "rag"}',
                  r"your Situation differs from the story"),
            Wrong("acoustic test as a fine-tune",
                  'predictions = {"spare_parts": "rag", "acoustic_test": "fine-tune", "claim_coding": "fine-tune"}',
                  r"which criterion outweighed"),
            Wrong("claim coding as RAG",
                  'predictions = {"spare_parts": "rag", "acoustic_test": "custom", "claim_coding": "rag"}',
                  r"which criterion outweighed"),
            Wrong("misspelt keys", 'predictions = {"spare parts": "rag", "acoustic": "custom", "claims": "fine-tune"}',
                  r"use exactly these keys"),
            Wrong("not an approach", 'predictions = {"spare_parts": "RAG", "acoustic_test": "custom", '
                  '"claim_coding": "fine-tune"}', r"choose one of"),
        ],
        "lab01-10": [  # 3. the success criterion
            Wrong("not measurable", 'criterion_project = "acoustic_test"\n'
                  'success_criterion = "The model works well on most dishwashers."', r"still missing"),
            Wrong("no number", 'criterion_project = "acoustic_test"\n'
                  'success_criterion = "High recall on faulty pumps, measured on held-out recordings."',
                  r"still missing"),
            Wrong("an unknown project", 'criterion_project = "dishwashers"\n'
                  'success_criterion = "Recall of at least 98% on 2,000 held-out recordings."', r"one of \["),
        ],
        "lab01-13": [  # 4. what would change your mind
            Wrong("flips a situation that was already RAG", flip('knowledge_change="weekly"', before=SLIP_C),
                  r"already differs from the story in \['needs_sources'\]"),
            Wrong("two facts changed", flip('needs_sources=True, knowledge_change="weekly"'), r"exactly one fact"),
            Wrong("no flip", flip("budget_usd=30000"), r"flips the recommendation"),
            Wrong("explanation passes on a keyword",
                  flip("needs_sources=True", "Sources matter a lot for this project, so this change is the right "
                       "one for the whole team."), r"says what needs_sources becomes|why retrieval beats"),
            Wrong("explanation without the comparison",
                  flip("needs_sources=True", "Sources matter a lot here: every answer must show its source, so this "
                       "change is the right one."), r"why retrieval beats the fine-tune"),
            Wrong("explanation of another criterion",
                  flip("needs_sources=True", "With weekly updates RAG keeps up with the codes, while a fine-tuned "
                       "model would need retraining all the time."), r"names the criterion behind needs_sources"),
            Wrong("explanation without the new value",
                  flip('knowledge_change="weekly"', "If the code list were updated more often, RAG would keep up by "
                       "re-indexing while a fine-tuned model's weights go stale."),
                  r"says what knowledge_change becomes"),
            Wrong("explanation of three words", flip("needs_sources=True", "Citations need RAG."),
                  r"a sentence or two"),
        ],
        "lab01-cost-answer": [  # 5. a year's cost (region 0) and the break-even (region 1)
            Wrong("minutes priced as hours", year(hours=""), r"minutes become hours"),
            Wrong("updates cost nothing", year(days='offer["build_days"]'), r"every update costs its engineer days"),
            Wrong("one month of serving", year(months=""), r"a year has 12 of them"),
            Wrong("the difference the wrong way round", crossing(numerator="fixed_a - fixed_b"),
                  r"fixed cost of b - fixed cost of a"),
            Wrong("parallel lines divide by zero", crossing(guard=""), r"ZeroDivisionError"),
            Wrong("a crossing at a negative volume", crossing(result="volume"), r"negative volume is no crossing"),
        ],
    },
    "lab_02_custom_cnn": {
        "cell-05": [  # 1. define the CNN (region 0: __init__, region 1: forward)
            Wrong("global average pool", cnn(pool="nn.AdaptiveAvgPool2d(1)"), r"you use AdaptiveAvgPool2d"),
            Wrong("average pooling in the blocks",
                  cnn(layers=LAYERS.replace("nn.MaxPool2d(2)", "nn.AvgPool2d(2)")), r"you use AvgPool2d"),
            Wrong("no batch norm", cnn(layers=LAYERS.replace(" nn.BatchNorm2d(c_out),", "")),
                  r"three conv, three batch-norm"),
            Wrong("ReLU before batch norm",
                  cnn(layers="nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(c_out), nn.MaxPool2d(2)"),
                  r"order conv → batch norm → ReLU"),
            Wrong("channels ignored", cnn(channels="(16, 32, 64)"), r"parameter count"),
            Wrong("no flatten", {1: "return self.classifier(self.pool(self.features(x)))"}, r"RuntimeError"),
        ],
        "cell-08": [  # 2. the training step
            Wrong("no optimizer.zero_grad()", STEP.replace("optimizer.zero_grad()\n", ""),
                  r"step 2: the weights moved.*\n.*optimizer\.zero_grad\(\) at the start of every step"),
            Wrong("zero_grad after backward", STEP.replace("optimizer.zero_grad()\n", "").replace(
                "loss.backward()\n", "loss.backward()\noptimizer.zero_grad()\n"), r"step 1: the weights moved"),
            Wrong("no optimizer.step()", STEP.replace("optimizer.step()\n", ""), r"then optimizer\.step\(\)"),
            Wrong("the loss as a tensor", STEP.replace("loss.item()", "loss"), r"a Python float, not a tensor"),
            Wrong("the loss after the update", STEP.replace("return loss.item()", "return loss_fn(model(*inputs), y).item()"),
                  r"before updating the weights"),
        ],
        "cell-13": [  # 3. random_pixel_shift
            Wrong("one shift for the whole batch", "dy, dx = torch.randint(-1, 2, (2,), generator=generator).tolist()\n"
                  "padded = F.pad(x, (1, 1, 1, 1))\nh, w = x.shape[2:]\n"
                  "return padded[:, :, 1 + dy:1 + dy + h, 1 + dx:1 + dx + w]", r"not one shift for the whole batch"),
            Wrong("torch.roll wraps around", "shifts = torch.randint(-1, 2, (len(x), 2), generator=generator)\n"
                  "return torch.stack([torch.roll(x[i], (int(dy), int(dx)), dims=(1, 2)) "
                  "for i, (dy, dx) in enumerate(shifts)])", r"not torch\.roll"),
            Wrong("the global random generator", SHIFT.format(draw="torch.randint(-1, 2, (len(x), 2)).tolist()"),
                  r"generator=generator"),
            Wrong("horizontal shifts only",
                  SHIFT.format(draw="[(0, dx) for dx in torch.randint(-1, 2, (len(x),), generator=generator).tolist()]"),
                  r"both vertically and horizontally"),
            Wrong("dx equal to dy",
                  SHIFT.format(draw="[(d, d) for d in torch.randint(-1, 2, (len(x),), generator=generator).tolist()]"),
                  r"drawn independently"),
        ],
        "cell-18": [  # 4. read the curve (region 0: smallest_fraction_reaching, region 1: gain_when_scarce)
            Wrong("> instead of >=", SMALLEST.format(pairs="sorted(zip(fractions, accuracies))", compare=">",
                                                    value="fraction"), r"accuracy >= target, not accuracy > target"),
            Wrong("fractions not sorted", SMALLEST.format(pairs="zip(fractions, accuracies)", compare=">=",
                                                          value="fraction"), r"sort the pairs"),
            Wrong("returns the accuracy", SMALLEST.format(pairs="sorted(zip(fractions, accuracies))", compare=">=",
                                                          value="accuracy"), r"first fraction over 90"),
            Wrong("gain at the largest fraction", {1: "gain_when_scarce = with_shift[-1] - without[-1]"},
                  r"at the smallest fraction"),
            Wrong("gain the wrong way round", {1: "gain_when_scarce = without[0] - with_shift[0]"},
                  r"with augmentation minus"),
        ],
    },
    "lab_03_lora": {
        "lab03-04": [  # 1. the LoRA configuration
            Wrong("dropout 0.1", LORA.format(alpha="alpha", dropout=0.1, task='task_type="CAUSAL_LM", ', targets=SEVEN),
                  r"lora_dropout: expected 0\.05"),
            Wrong("no task_type", LORA.format(alpha="alpha", dropout=0.05, task="", targets=SEVEN),
                  r"task_type: expected 'CAUSAL_LM'"),
            Wrong("a classification task", LORA.format(alpha="alpha", dropout=0.05, task='task_type="SEQ_CLS", ',
                                                       targets=SEVEN), r"task_type: expected 'CAUSAL_LM'"),
            Wrong("attention layers only", LORA.format(alpha="alpha", dropout=0.05, task='task_type="CAUSAL_LM", ',
                                                       targets='["q_proj", "k_proj", "v_proj", "o_proj"]'),
                  r"three in the MLP"),
            Wrong("alpha / r as lora_alpha", LORA.format(alpha="alpha / r", dropout=0.05,
                                                         task='task_type="CAUSAL_LM", ', targets=SEVEN),
                  r"lora_alpha: expected 16"),
        ],
        "lab03-07": [  # 2. mask the prompt
            Wrong("no end token", MASK.format(ids="prompt_ids + target_ids", labels="[-100] * len(prompt_ids) + target_ids"),
                  r"then the end token"),
            Wrong("end token masked", MASK.format(ids="prompt_ids + target_ids + [eos_id]",
                                                  labels="[-100] * len(prompt_ids) + target_ids + [-100]"),
                  r"labels: expected"),
            Wrong("prompt masked with 0", MASK.format(ids="prompt_ids + target_ids + [eos_id]",
                                                      labels="[0] * len(prompt_ids) + target_ids + [eos_id]"),
                  r"-100 for every prompt token"),
            Wrong("nothing masked", MASK.format(ids="prompt_ids + target_ids + [eos_id]", labels="list(input_ids)"),
                  r"-100 for every prompt token"),
            Wrong("the answer masked too", MASK.format(ids="prompt_ids + target_ids + [eos_id]",
                                                       labels="[-100] * (len(prompt_ids) + len(target_ids)) + [eos_id]"),
                  r"-100 for every prompt token"),
        ],
        "lab03-10": [  # 3. field accuracy
            Wrong("divided by the examples only", "hits = 0\nfor example, prediction in zip(examples, predictions):\n"
                  "    for name in triage.FIELDS:\n"
                  "        hits += prediction is not None and prediction.get(name) == example[name]\n"
                  "return hits / len(examples)", r"out of 3 examples x 3 fields"),
            Wrong("whole answers, not fields", "return sum(p is not None and all(p.get(f) == e[f] for f in triage.FIELDS)"
                  " for e, p in zip(examples, predictions)) / len(examples)", r"field accuracy on the toy"),
            Wrong("invalid answers left out", "pairs = [(e, p) for e, p in zip(examples, predictions) if p is not None]\n"
                  "return sum(p.get(f) == e[f] for e, p in pairs for f in triage.FIELDS) / (3 * len(pairs))",
                  r"0 right \(None\)"),
            Wrong("None not handled", "return sum(p.get(f) == e[f] for e, p in zip(examples, predictions) "
                  "for f in triage.FIELDS) / (3 * len(examples))", r"AttributeError"),
        ],
        "lab03-14": [  # 4. the step with the lowest validation loss
            Wrong("the last evaluation", "return val_loss[-1][0]", r"the last evaluation is not always the best"),
            Wrong("the highest loss", "return max(val_loss, key=lambda pair: pair[1])[0]", r"the last evaluation"),
            Wrong("the loss, not the step", "return min(val_loss, key=lambda pair: pair[1])[1]", r"expected 10, got 1\.4"),
            Wrong("the position, not the step", "losses = [loss for _, loss in val_loss]\n"
                  "return losses.index(min(losses))", r"expected 10, got 1\b"),
            Wrong("the first evaluation", "return val_loss[0][0]", r"expected 10, got 5"),
        ],
        "audit-answer": [  # 6. audit a new batch: normalise (region 0) and audit (region 1)
            Wrong("no normalisation at all", {0: "return text"}, r"text\.lower\(\), then"),
            Wrong("only one label compared", audit(labels='example["sentiment"]'), r"ANY of product, topic or sentiment"),
            Wrong("text only, labels ignored", audit(same="True"), r"ANY of product, topic or sentiment"),
            Wrong("leaks looked up in the training split", audit(against="train"), r"in the TEST split"),
            Wrong("raw text compared in audit", audit(key='example["text"]'), r"normalise both sides"),
        ],
    },
    "lab_04_rag": {
        "cell-04": [  # 1. token windows
            Wrong("no overlap", WINDOWS.format(end="min(start + size, n_tokens)", step="size"), r"size - overlap = 3"),
            Wrong("last window past the end", WINDOWS.format(end="start + size", step="size - overlap"),
                  r"single window \(0, n_tokens\)"),
            Wrong("overlap off by one", WINDOWS.format(end="min(start + size, n_tokens)", step="size - overlap + 1"),
                  r"windows of 4 with overlap 1"),
            Wrong("an extra window at the end", "windows, start = [], 0\nwhile start < n_tokens:\n"
                  "    windows.append((start, min(start + size, n_tokens)))\n    start += size - overlap\n"
                  "return windows", r"windows of 4 with overlap 1"),
        ],
        "cell-10": [  # 2. recall@k (region 0) and the reciprocal rank (region 1)
            Wrong("recall divided by k", "top = set(ranking[:k])\nreturn sum(1 for r in set(relevant) if r in top) / k",
                  r"not by k"),
            Wrong("repeated ids counted twice", "return sum(1 for h in ranking[:k] if h in relevant) / len(set(relevant))",
                  r"counts once"),
            Wrong("reciprocal rank of the last relevant id", {1: "best = 0.0\nfor position, item in enumerate(ranking, "
                  "start=1):\n    if item in relevant:\n        best = 1.0 / position\nreturn best"},
                  r"first relevant id in the ranking counts"),
            Wrong("positions from 0", {1: "for position, item in enumerate(ranking):\n    if item in relevant:\n"
                  "        return 1.0 / max(position, 1)\nreturn 0.0"}, r"Positions start at 1"),
        ],
        "cell-15": [  # 3. reciprocal-rank fusion
            Wrong("no tie-break by id", RRF.format(start=1, add=RRF_SUM, order="key=lambda pair: -pair[1]"),
                  r"ties go to the smaller id"),
            Wrong("ties broken by id, descending",
                  RRF.format(start=1, add=RRF_SUM, order="key=lambda pair: (pair[1], pair[0]), reverse=True"),
                  r"ties go to the smaller id"),
            Wrong("ranks from 0", RRF.format(start=0, add=RRF_SUM, order="key=lambda pair: (-pair[1], pair[0])"),
                  r"Ranks start at 1"),
            Wrong("the best rank, not the sum", RRF.format(start=1, add="max(scores.get(item, 0.0), 1.0 / (k + rank))",
                                                          order="key=lambda pair: (-pair[1], pair[0])"),
                  r"scores add up"),
            Wrong("worst first", RRF.format(start=1, add=RRF_SUM, order="key=lambda pair: (pair[1], pair[0])"),
                  r"the id both rankings contain wins"),
        ],
        "cell-20": [  # 4. fit the sources into the budget
            Wrong("skips a misfit and keeps going", fit(misfit="continue"), r"stop \(break\) at the first misfit"),
            Wrong("off by one at the budget", fit(compare=">="), r"means n_tokens\(\.\.\.\) <= budget"),
            Wrong("no error for a tiny budget", "chosen = []\nfor passage in passages:\n"
                  "    if n_tokens(render(question, chosen + [passage])) > budget:\n        break\n"
                  "    chosen.append(passage)\nreturn render(question, chosen), len(chosen)",
                  r"Compare the empty prompt with the budget first"),
            Wrong("an error that hides the budget", fit(message='"The budget is too small."'),
                  r"the error names the budget"),
        ],
        "abstain-answer": [  # 5. the refusal threshold, chosen on dev
            Wrong("answered only above the threshold", THRESHOLD.format(reverse=True, compare=">"),
                  r"score is >= the threshold"),
            Wrong("the lowest threshold that keeps enough", THRESHOLD.format(reverse=False, compare=">="),
                  r"HIGHEST threshold"),
            Wrong("a quantile, not a score", "return float(np.quantile(scores, 1 - min_keep))", r"HIGHEST threshold"),
            Wrong("min_keep ignored", "return float(scores.min())", r"HIGHEST threshold"),
        ],
    },
}

# Slow cells that no self-check needs, replaced by the names that later cells read.
STAND_INS = {
    "lab_02_custom_cnn": {
        "cell-11": "",  # trains on the parts: checks only in full mode
        "cell-16": "FRACTIONS, without, with_shift = [0.05, 0.2, 1.0], [0.62, 0.81, 0.93], [0.7, 0.85, 0.94]",
    },
    "lab_03_lora": {
        # a curve whose best evaluation is not the last one
        "lab03-13": "from types import SimpleNamespace\n"
                    "history = SimpleNamespace(val_loss=[(1, 3.6), (2, 1.6), (3, 1.8)], best_step=2)",
        "lab03-17": "accuracy = my_field_accuracy(test, [None] * len(test))",  # instead of generating answers
    },
    "lab_04_rag": {"cell-23": ""},  # generates one answer
}


def solution_cells(lab: str) -> list:
    return [cell for cell in nbformat.read(SOLUTIONS_DIR / f"{lab}.ipynb", as_version=4).cells
            if cell.cell_type == "code"]


def is_answer(cell) -> bool:
    return labs.grading_role(cell) == "answer"


def with_answer(source: str, code: str | dict[int, str]) -> str:
    """``source`` with its solution regions replaced (a str replaces region 0), indented like the markers."""
    code = {0: code} if isinstance(code, str) else code
    out, region, inside = [], -1, False
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith(labs.BEGIN):
            region, inside = region + 1, True
            if region in code:
                indent = line[: len(line) - len(line.lstrip())]
                out += [indent + text if text else text for text in textwrap.dedent(code[region]).strip("\n").splitlines()]
        elif stripped.startswith(labs.END):
            inside = False
        elif not inside or region not in code:
            out.append(line)
    assert set(code) <= set(range(region + 1)), f"the answer has {region + 1} regions, not {sorted(code)}"
    return "\n".join(out)


def run(source: str, namespace: dict, where: str) -> None:
    exec(compile(source, where, "exec"), namespace)


def copy_namespace(namespace: dict) -> dict:
    """A copy whose dicts, lists and sets are copies too, so a wrong answer cannot change what the next one sees."""
    return {name: copy.copy(value) if type(value) in (dict, list, set) else value for name, value in namespace.items()}


def outcome(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


def test_every_exercise_has_at_least_three_wrong_answers():
    answers = {lab: [cell.id for cell in solution_cells(lab) if is_answer(cell)] for lab in WRONG}
    assert sorted(WRONG) == sorted(p.stem for p in SOLUTIONS_DIR.glob("*.ipynb")), "a lab without wrong answers"
    for lab, ids in answers.items():
        assert sorted(WRONG[lab]) == sorted(ids), f"{lab}: wrong answers for {sorted(WRONG[lab])}, answer cells {ids}"
        for cell_id, wrongs in WRONG[lab].items():
            assert len(wrongs) >= 3, f"{lab}, {cell_id}: only {len(wrongs)} wrong answers"
        for cell_id in STAND_INS.get(lab, {}):
            assert cell_id in {cell.id for cell in solution_cells(lab)}, f"{lab}: no cell {cell_id} to stand in for"
    cells = {(lab, cell.id): cell for lab in WRONG for cell in solution_cells(lab)}
    for lab, exercises in WRONG.items():
        for cell_id, wrongs in exercises.items():
            for wrong in wrongs:  # each wrong answer fits its cell and is valid Python
                compile(with_answer(cells[lab, cell_id].source, wrong.code), f"{lab} {cell_id} {wrong.name}", "exec")


@pytest.fixture
def isolated_process(monkeypatch, tmp_path):
    """The notebooks run in this process: keep its environment, and load each model once for all wrong answers."""
    saved = dict(os.environ)
    monkeypatch.setattr(models, "load_llm", functools.cache(models.load_llm))
    monkeypatch.setattr(models, "load_embedder", functools.cache(models.load_embedder))
    monkeypatch.chdir(SOLUTIONS_DIR)  # where the course runner executes a solution
    yield
    plt.close("all")
    os.environ.clear()
    os.environ.update(saved)


@pytest.mark.parametrize("lab", sorted(WRONG))
def test_wrong_answers_fail_their_self_checks_and_the_solution_passes(lab, isolated_process):
    cells = solution_cells(lab)
    namespace, problems, caught = {"__name__": "__main__"}, [], 0
    for index, cell in enumerate(cells):
        if is_answer(cell):
            nxt = next((i for i in range(index + 1, len(cells)) if is_answer(cells[i])), len(cells))
            checks = cells[index + 1: nxt]
            for wrong in WRONG[lab][cell.id]:
                trial = copy_namespace(namespace)
                try:
                    run(with_answer(cell.source, wrong.code), trial, f"{cell.id} with {wrong.name!r}")
                    for after in checks:
                        run(STAND_INS.get(lab, {}).get(after.id, after.source), trial, after.id)
                except Exception as error:  # any failure stops the learner; the pattern says which
                    if re.search(wrong.expect, outcome(error)):
                        caught += 1
                    else:
                        problems.append(f"{cell.id}, {wrong.name!r}: failed, but not as expected "
                                        f"({wrong.expect!r}):\n    {outcome(error)}")
                else:
                    problems.append(f"{cell.id}, {wrong.name!r}: passed every self-check of its exercise")
        source = STAND_INS.get(lab, {}).get(cell.id, cell.source)
        try:
            run(source, namespace, cell.id)
        except Exception as error:
            pytest.fail(f"{lab}: the solution's cell {cell.id} failed: {outcome(error)}")
        if "parameters" in cell.metadata.get("tags", []):
            namespace["SMOKE"] = True
    assert not problems, f"{lab}: {len(problems)} wrong answers not caught as expected:\n" + "\n".join(problems)
    assert caught == sum(len(wrongs) for wrongs in WRONG[lab].values())
