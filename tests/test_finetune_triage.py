"""Unit tests for utils.finetune.triage and the committed feedback dataset (no model needed)."""

import json
import subprocess
import sys

import pytest
from test_finetune_lora import tiny_tokenizer

from utils.core.paths import DATASETS_DIR
from utils.finetune import triage

GOOD = {"text": "The Breeze battery dies after ten minutes.", "product": "BV-3", "topic": "battery",
        "sentiment": "negative"}


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer()


# --- the taxonomy and the dataset ------------------------------------------------------------------

def test_taxonomy_has_about_eight_values_per_field():
    assert 8 <= len(triage.PRODUCTS) <= 10 and 8 <= len(triage.TOPICS) <= 10
    assert triage.SENTIMENTS == ("positive", "neutral", "negative")
    prompt = triage.taxonomy_prompt()
    assert all(label in prompt for name in triage.FIELDS for label in triage.LABELS[name])


@pytest.mark.parametrize("change, error, words", [
    ({"text": " "}, ValueError, "no text"),
    ({"product": "XX-9"}, ValueError, "not in Northwind's taxonomy"),
    ({"sentiment": "angry"}, ValueError, "positive, neutral, negative"),
])
def test_validate_example_explains_what_is_wrong(change, error, words):
    with pytest.raises(error, match=words):
        triage.validate_example({**GOOD, **change})


def test_validate_example_rejects_missing_fields_and_non_dicts():
    with pytest.raises(ValueError, match="missing the field 'topic'"):
        triage.validate_example({k: v for k, v in GOOD.items() if k != "topic"})
    with pytest.raises(TypeError, match="must be a dict"):
        triage.validate_example("The kettle leaks")
    with pytest.raises(ValueError, match="empty"):
        triage.validate_dataset([])


def test_committed_splits_are_valid_large_enough_and_balanced():
    splits = {name: triage.load_feedback(name) for name in triage.SPLITS}
    assert len(splits["train"]) >= 300 and len(splits["test"]) >= 100 and len(splits["val"]) >= 30
    for examples in splits.values():
        for name in triage.FIELDS:
            counts = triage.label_counts(examples, name)
            assert len(counts) >= 3 and max(counts.values()) <= 0.55 * len(examples), (name, counts)
    assert len(triage.label_counts(splits["test"], "topic")) == len(triage.TOPICS)  # every topic is tested


def test_test_phrasings_never_occur_in_training():
    train, test = triage.load_feedback("train"), triage.load_feedback("test")
    train_parts = {part for example in train for part in example["parts"]}
    assert not any(set(example["parts"]) & train_parts for example in test)
    assert not {e["text"].lower() for e in test} & {e["text"].lower() for e in train}
    assert {e["source"] for e in test} == {"generated", "handwritten"}


def test_generator_is_seeded_and_reproduces_the_committed_files(tmp_path):
    script = DATASETS_DIR / "feedback" / "generate.py"
    subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], check=True, capture_output=True)
    for name in triage.SPLITS:
        assert (tmp_path / f"{name}.jsonl").read_text() == (triage.FEEDBACK_DIR / f"{name}.jsonl").read_text(), name


def test_load_feedback_rejects_unknown_splits_and_broken_files(tmp_path):
    with pytest.raises(ValueError, match="train, val, test"):
        triage.load_feedback("dev")
    with pytest.raises(FileNotFoundError, match="generate.py"):
        triage.load_feedback("train", tmp_path)
    (tmp_path / "val.jsonl").write_text(json.dumps(GOOD) + "\n{not json\n")
    with pytest.raises(ValueError, match="line 2"):
        triage.load_feedback("val", tmp_path)
    (tmp_path / "test.jsonl").write_text(json.dumps({**GOOD, "topic": "weather"}) + "\n")
    with pytest.raises(ValueError, match="not in Northwind's taxonomy"):
        triage.load_feedback("test", tmp_path)


# --- prompts and targets -------------------------------------------------------------------------

def test_format_target_is_compact_json_in_field_order():
    assert triage.format_target(GOOD) == '{"product":"BV-3","topic":"battery","sentiment":"negative"}'


def test_prompts_end_where_the_assistant_answers(tokenizer):
    prompt = triage.triage_prompt(tokenizer, GOOD["text"])
    assert triage.SYSTEM_PROMPT in prompt and GOOD["text"] in prompt
    assert prompt.endswith("<|im_start|>assistant\n")
    shots = [{**GOOD, "text": "Kettle leaks", "product": "AK-1", "topic": "leak"}]
    fewshot = triage.fewshot_prompt(tokenizer, GOOD["text"], shots)
    assert fewshot.count("<|im_start|>user") == 2 and triage.format_target(shots[0]) in fewshot
    assert fewshot.endswith("<|im_start|>assistant\n")
    with pytest.raises(ValueError, match="at least one"):
        triage.fewshot_prompt(tokenizer, GOOD["text"], [])


def test_training_pairs_pair_each_prompt_with_its_answer(tokenizer):
    ((prompt, target),) = triage.training_pairs(tokenizer, [GOOD])
    assert GOOD["text"] in prompt and target == triage.format_target(GOOD)


# --- parsing and scoring -------------------------------------------------------------------------

@pytest.mark.parametrize("answer, expected", [
    ('{"product":"BV-3","topic":"battery","sentiment":"negative"}', ("BV-3", "battery", "negative")),
    ('Sure! ```json\n{"product": "BV-3", "topic": "noise", "sentiment": "neutral"}\n```', ("BV-3", "noise", "neutral")),
    ('{"product":"BV-3"} then {"product":"AK-1","topic":"leak","sentiment":"negative"}', ("AK-1", "leak", "negative")),
    ('{"product":"BV-3","topic":"battery"', None),          # cut off by max_new_tokens
    ('{"product":"BV-3","topic":"battery","sentiment":1}', None),
    ("The customer is unhappy about the battery.", None),
])
def test_parse_answer(answer, expected):
    parsed = triage.parse_answer(answer)
    assert (tuple(parsed[name] for name in triage.FIELDS) if parsed else None) == expected


def test_parse_answer_rejects_non_strings():
    with pytest.raises(TypeError, match="generated text"):
        triage.parse_answer(None)


def test_score_triage_counts_fields_exact_matches_and_confusion():
    examples = [GOOD, {**GOOD, "product": "RM-7"}, {**GOOD, "sentiment": "positive"}, GOOD]
    answers = ['{"product":"BV-3","topic":"battery","sentiment":"negative"}',   # all right
               '{"product":"BV-3","topic":"battery","sentiment":"negative"}',   # product wrong
               '{"product":"BV-3","topic":"noise","sentiment":"negative"}',     # topic and sentiment wrong
               "no idea"]                                                        # invalid: all wrong
    report = triage.score_triage(examples, answers)
    assert report.n == 4 and report.valid_json_rate == 0.75
    assert report.accuracy == {"product": 0.5, "topic": 0.5, "sentiment": 0.5}
    assert report.field_accuracy == pytest.approx(0.5)
    assert report.exact_match == 0.25 and len(report.errors) == 3
    assert report.confusion["product"]["RM-7"]["BV-3"] == 1
    assert report.confusion["topic"]["battery"][triage.INVALID] == 1
    rows, columns, counts = triage.field_confusion(report, "topic")
    assert rows == list(triage.TOPICS) and columns[-1] == triage.INVALID
    assert sum(map(sum, counts)) == 4 and counts[rows.index("battery")][columns.index("battery")] == 2
    assert report.row()["field_accuracy"] == report.field_accuracy


def test_field_accuracy_matches_the_report():
    examples = [GOOD, {**GOOD, "topic": "noise"}]
    predictions = [dict(GOOD), None]
    assert triage.field_accuracy(examples, predictions) == pytest.approx(3 / 6)
    with pytest.raises(ValueError, match="one prediction per example"):
        triage.field_accuracy(examples, predictions[:1])


def test_scoring_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match="one answer per example"):
        triage.score_triage([GOOD], [])
    with pytest.raises(ValueError, match="Unknown field"):
        triage.field_confusion(triage.score_triage([GOOD], ["x"]), "colour")
    with pytest.raises(ValueError, match="Unknown field"):
        triage.label_counts([GOOD], "colour")
