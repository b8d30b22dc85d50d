"""Unit tests for utils.finetune.likelihood: the pure pieces, then the real embedded model on three messages.

The model tests check the cached, batched scorer against the slow obvious computation (one full forward
pass per candidate, no cache) and its greedy answers against ``utils.core.generation.generate``.
"""

import math

import pytest
import torch

from utils.finetune import likelihood, triage
from utils.finetune.likelihood import answer_prefix, argmax, label_logprob, needs_closing, normalise

# --- the pure pieces ---------------------------------------------------------------------------------

def test_answer_prefix_follows_the_compact_json_order():
    assert answer_prefix({}, "product") == '{"product":"'
    assert answer_prefix({"product": "BV-3"}, "topic") == '{"product":"BV-3","topic":"'
    done = {"text": "x", "product": "BV-3", "topic": "battery"}
    assert answer_prefix(done, "sentiment") + 'negative"}' == triage.format_target({**done, "sentiment": "negative"})
    with pytest.raises(ValueError, match="earlier fields"):
        answer_prefix({}, "topic")
    with pytest.raises(ValueError, match="Unknown field"):
        answer_prefix({}, "colour")


def test_label_logprob_sums_the_label_tokens_and_optionally_its_end():
    logp = torch.log(torch.tensor([[0.5, 0.25, 0.25, 0.0], [0.1, 0.2, 0.3, 0.4], [0.4, 0.1, 0.1, 0.4]]))
    first, steps = logp[0], logp[1:]
    assert label_logprob(first, None, [1]) == pytest.approx(math.log(0.25))
    assert label_logprob(first, steps, [0, 3]) == pytest.approx(math.log(0.5 * 0.4))
    closing = torch.tensor([True, False, False, True])
    assert label_logprob(first, steps, [0, 3], closing) == pytest.approx(math.log(0.5 * 0.4 * 0.8))
    with pytest.raises(ValueError, match="distributions after 1"):
        label_logprob(first, None, [0, 3])
    with pytest.raises(ValueError, match="at least one token"):
        label_logprob(first, steps, [])


def test_needs_closing_only_when_a_label_begins_another():
    assert needs_closing([[5], [6, 7], [8]]) == [False, False, False]
    assert needs_closing([[5], [5, 7], [5, 7, 9]]) == [True, True, False]


def test_normalise_is_a_softmax_and_argmax_breaks_ties_by_taxonomy_order():
    probabilities = normalise({"a": math.log(1), "b": math.log(3), "c": -math.inf})
    assert probabilities == pytest.approx({"a": 0.25, "b": 0.75, "c": 0.0})
    assert argmax({"a": -1.0, "b": -0.5, "c": -0.5}) == "b"
    with pytest.raises(ValueError, match="-inf"):
        normalise({"a": -math.inf})
    with pytest.raises(ValueError, match="No candidate"):
        argmax({})


def test_common_prefix_keeps_a_token_per_prompt():
    assert likelihood.common_prefix_length([[1, 2, 3, 4], [1, 2, 5]]) == 2
    assert likelihood.common_prefix_length([[1, 2], [1, 2, 3]]) == 1
    assert likelihood.common_prefix_length([[1, 2], [3]]) == 0


def test_outcomes_estimates_and_groups():
    examples = [{"text": "a", "product": "BV-3", "topic": "battery", "sentiment": "negative",
                 "parts": ["body:battery.negative.0", "intro.1"]},
                {"text": "b", "product": "AK-1", "topic": "leak", "sentiment": "negative", "parts": ["intro.2"]}]
    outcomes = triage.field_outcomes(examples, [dict(examples[0]), None])
    assert outcomes == {"product": [True, False], "topic": [True, False], "sentiment": [True, False],
                        "exact": [True, False], "valid": [True, False]}
    estimates = triage.field_estimates(outcomes)
    assert estimates["exact"].value == 0.5 and estimates["exact"].n == 2 and estimates["exact"].low < 0.5
    assert triage.answer_outcomes(examples, ['{"product":"BV-3","topic":"battery","sentiment":"negative"}',
                                             "no"])["valid"] == [True, False]
    assert [triage.body_group(e) for e in examples] == ["body:battery.negative.0", "b"]
    with pytest.raises(ValueError, match="one prediction per example"):
        triage.field_outcomes(examples, [None])


def test_every_test_message_has_a_body_group():
    test = triage.load_feedback("test")
    groups = [triage.body_group(e) for e in test]
    assert all(g.startswith(triage.BODY_PREFIXES) for g in groups)
    assert 30 < len(set(groups)) < len(test)  # bodies repeat: differences need the grouped bootstrap


def test_score_prompts_rejects_bad_input():
    with pytest.raises(TypeError, match="list of strings"):
        likelihood.score_prompts(None, None, "one prompt")
    with pytest.raises(ValueError, match="empty"):
        likelihood.score_prompts(None, None, [])


# --- the real embedded model, three messages -----------------------------------------------------------

@pytest.fixture(scope="module")
def real():
    from utils.core.models import load_llm

    model, tokenizer = load_llm(device="cpu")
    messages = triage.load_feedback("val")[:3]
    prompts = [triage.triage_prompt(tokenizer, m["text"], system=triage.taxonomy_prompt()) for m in messages]
    return model, tokenizer, messages, prompts


@torch.no_grad()
def _slow_logprob(model, tokenizer, prompt: str, answer_so_far: str, label: str) -> float:
    """log P(label | prompt + answer so far) from one uncached forward pass over the whole text."""
    context = tokenizer(prompt + answer_so_far, add_special_tokens=False).input_ids
    tokens = likelihood.continuation(tokenizer, answer_so_far, label)
    logits = model(input_ids=torch.tensor([context + tokens])).logits.float()
    logp = torch.log_softmax(logits[0, len(context) - 1:-1], dim=-1)              # (len(tokens), V)
    return float(sum(logp[i, t] for i, t in enumerate(tokens)))


def test_cached_batched_scores_match_the_slow_computation(real):
    model, tokenizer, messages, prompts = real
    run = likelihood.score_prompts(model, tokenizer, prompts, max_new_tokens=None, batch_size=2)
    assert run.texts is None and run.shared_tokens > 100          # the taxonomy prompt is read once
    assert run.prompt_tokens > run.shared_tokens * len(prompts)
    for index in (0, 2):
        predicted = run.predictions[index]
        for name in triage.FIELDS:
            so_far = answer_prefix(predicted, name)
            for label in ("none", "BV-3") if name == "product" else triage.LABELS[name][:3]:
                slow = _slow_logprob(model, tokenizer, prompts[index], so_far, label)
                assert run.scores[index][name][label] == pytest.approx(slow, abs=2e-3), (index, name, label)
            assert predicted[name] == argmax(run.scores[index][name])
            assert sum(run.probabilities(index, name).values()) == pytest.approx(1)


def test_cached_greedy_answers_match_generate(real):
    from utils.core.generation import generate

    model, tokenizer, _, prompts = real
    run = likelihood.score_prompts(model, tokenizer, prompts, max_new_tokens=8, batch_size=2)
    reference = generate(model, tokenizer, prompts, max_new_tokens=8, progress=False)
    assert run.texts == reference.texts
    assert run.generate_seconds > 0 and run.likelihood_seconds > 0


def test_cache_bytes_per_token_follows_the_config():
    from types import SimpleNamespace

    class Fake(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))
            self.config = SimpleNamespace(num_hidden_layers=30, num_key_value_heads=3, num_attention_heads=9,
                                          hidden_size=576, head_dim=None)

    assert likelihood.cache_bytes_per_token(Fake()) == 30 * 2 * 3 * 64 * 4   # SmolLM2-135M: 46 KB per token
