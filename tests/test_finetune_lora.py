"""Unit tests for utils.finetune.lora on a tiny random Llama and a tiny in-memory tokenizer (no download, a few seconds)."""

import pytest
import torch

from utils.finetune import lora

CHAT_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")


def tiny_tokenizer():
    """A byte-level BPE with SmolLM2's special tokens and chat format, trained in memory in milliseconds."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, show_progress=False,
                                  special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    backend.train_from_iterator(["Triage Northwind feedback as JSON. The battery is dead.",
                                 '{"product":"BV-3","topic":"battery","sentiment":"negative"}'], trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                        pad_token="<|im_end|>", unk_token="<|endoftext|>", padding_side="left")
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def tiny_llama(vocab_size: int, seed: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         tie_word_embeddings=True, pad_token_id=2, bos_token_id=1, eos_token_id=2,
                         initializer_range=0.3)  # big enough that the tied output layer can express a preference
    return LlamaForCausalLM(config).eval()


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer()


@pytest.fixture
def model(tokenizer):
    return tiny_llama(len(tokenizer))


PAIRS = [("<|im_start|>user\nThe battery is dead.<|im_end|>\n<|im_start|>assistant\n", '{"topic":"battery"}'),
         ("<|im_start|>user\nIt is loud.<|im_end|>\n<|im_start|>assistant\n", '{"topic":"noise"}'),
         ("<|im_start|>user\nLate again!<|im_end|>\n<|im_start|>assistant\n", '{"topic":"delivery"}'),
         ("<|im_start|>user\nLove it<|im_end|>\n<|im_start|>assistant\n", '{"topic":"praise"}')]


# --- tokenisation and masking ------------------------------------------------------------------

def test_build_examples_masks_the_prompt_and_appends_eos(tokenizer):
    (example,) = lora.build_examples(tokenizer, PAIRS[:1])
    prompt_ids = tokenizer(PAIRS[0][0], add_special_tokens=False).input_ids
    target_ids = tokenizer(PAIRS[0][1], add_special_tokens=False).input_ids
    assert example["input_ids"] == prompt_ids + target_ids + [tokenizer.eos_token_id]
    assert example["labels"] == [lora.IGNORE_INDEX] * len(prompt_ids) + target_ids + [tokenizer.eos_token_id]
    (no_eos,) = lora.build_examples(tokenizer, PAIRS[:1], add_eos=False)
    assert no_eos["labels"][-1] == target_ids[-1]


@pytest.mark.parametrize("pairs, error, words", [
    ([], ValueError, "empty"),
    (("prompt", "target"), TypeError, "wrap a single pair"),
    ([("prompt",)], TypeError, "pair of strings"),
    ([("prompt", "  ")], ValueError, "empty prompt or target"),
])
def test_build_examples_rejects_bad_pairs(tokenizer, pairs, error, words):
    with pytest.raises(error, match=words):
        lora.build_examples(tokenizer, pairs)


def test_build_examples_rejects_examples_longer_than_max_length(tokenizer):
    with pytest.raises(ValueError, match="more than max_length=8"):
        lora.build_examples(tokenizer, PAIRS, max_length=8)


def test_collate_pads_on_the_left_so_answers_end_together(tokenizer):
    examples = lora.build_examples(tokenizer, PAIRS[:2])
    batch = lora.collate(examples, tokenizer.pad_token_id)
    width = max(len(e["input_ids"]) for e in examples)
    assert batch["input_ids"].shape == batch["labels"].shape == (2, width)
    short = min(range(2), key=lambda i: len(examples[i]["input_ids"]))
    pad = width - len(examples[short]["input_ids"])
    assert batch["attention_mask"][short, :pad].sum() == 0 and batch["attention_mask"][short, pad:].all()
    assert (batch["labels"][short, :pad] == lora.IGNORE_INDEX).all()
    assert batch["position_ids"][short, pad].item() == 0 and batch["position_ids"][short, -1].item() == width - pad - 1
    assert (batch["labels"][:, -1] == tokenizer.eos_token_id).all()
    with pytest.raises(ValueError, match="empty batch"):
        lora.collate([], tokenizer.pad_token_id)


def test_loss_matches_transformers_own_causal_lm_loss(tokenizer, model):
    """Our loss (only the target logits) must equal the library's loss over the full sequence."""
    examples = lora.build_examples(tokenizer, PAIRS[:1])  # one row: no padding, so HF's positions match ours
    batch = lora.collate(examples, tokenizer.pad_token_id)
    ours, count = lora.causal_lm_loss(model, batch)
    theirs = model(input_ids=batch["input_ids"], labels=batch["labels"]).loss
    assert count == sum(label != lora.IGNORE_INDEX for label in examples[0]["labels"])
    assert torch.allclose(ours, theirs, atol=1e-5)


def test_loss_rejects_a_batch_without_targets(tokenizer, model):
    batch = lora.collate(lora.build_examples(tokenizer, PAIRS[:1]), tokenizer.pad_token_id)
    batch["labels"][:] = lora.IGNORE_INDEX
    with pytest.raises(ValueError, match="no target tokens"):
        lora.causal_lm_loss(model, batch)


# --- LoRA wrapping -------------------------------------------------------------------------------

def test_add_lora_trains_only_the_low_rank_matrices(model):
    hidden, inter, kv, layers, r = 32, 64, 16, 2, 4   # kv = num_key_value_heads * head_dim = 2 * 8
    before = lora.trainable_parameters(model)
    wrapped = lora.add_lora(model, lora.lora_config(r=r))
    report = lora.trainable_parameters(wrapped)
    # r * (d_in + d_out) per adapted layer: q, k, v, o, gate, up, down
    per_layer = r * ((hidden + hidden) + 2 * (hidden + kv) + (hidden + hidden) + 2 * (hidden + inter) + (inter + hidden))
    assert report["trainable"] == layers * per_layer
    assert report["total"] == before["total"] + report["trainable"]
    assert 0 < report["percent"] < 100
    assert all("lora_" in name for name, p in wrapped.named_parameters() if p.requires_grad)


def test_lora_starts_as_the_base_model(tokenizer, model):
    texts = [PAIRS[0][0]]
    base = tiny_llama(len(tokenizer))
    wrapped = lora.add_lora(model, lora.lora_config(r=4))
    assert lora.max_logit_difference(wrapped, base, tokenizer, texts) < 1e-6  # B starts at zero


@pytest.mark.parametrize("kwargs, words", [({"r": 0}, "positive integer"), ({"dropout": 1.5}, "dropout"),
                                           ({"target_modules": ()}, "target_modules is empty")])
def test_lora_config_rejects_bad_settings(kwargs, words):
    with pytest.raises(ValueError, match=words):
        lora.lora_config(**kwargs)


def test_add_lora_names_the_real_layers_when_targets_do_not_exist(model):
    with pytest.raises(ValueError, match="q_proj"):
        lora.add_lora(model, lora.lora_config(target_modules=("query", "value")))


# --- training ------------------------------------------------------------------------------------

def test_a_few_training_steps_reduce_the_loss_and_restore_the_best(tokenizer, model):
    wrapped = lora.add_lora(model, lora.lora_config(r=4, dropout=0.0))
    history = lora.train_lora(wrapped, tokenizer, PAIRS, PAIRS, steps=12, batch_size=4, lr=5e-2, eval_every=3,
                              patience=None, progress=False)
    assert history.steps == 12 and [s for s, _ in history.val_loss] == [0, 3, 6, 9, 12]
    assert history.val_loss[-1][1] < history.val_loss[0][1] - 0.5
    assert history.best_val_loss == min(loss for _, loss in history.val_loss)
    restored = lora.language_model_loss(wrapped, lora.build_examples(tokenizer, PAIRS), tokenizer.pad_token_id)
    assert restored == pytest.approx(history.best_val_loss, rel=1e-5)


def test_training_is_deterministic(tokenizer):
    losses = []
    for _ in range(2):
        wrapped = lora.add_lora(tiny_llama(len(tokenizer)), lora.lora_config(r=4), seed=1)
        history = lora.train_lora(wrapped, tokenizer, PAIRS, PAIRS[:2], steps=3, batch_size=2, eval_every=3,
                                  seed=1, progress=False)
        losses.append(history.train_loss + history.val_loss)
    assert losses[0] == losses[1]


def test_early_stopping_stops_when_validation_loss_stops_improving(tokenizer, model):
    wrapped = lora.add_lora(model, lora.lora_config(r=4, dropout=0.0))
    # Train on one answer, validate on the others: validation gets worse as the model memorises.
    history = lora.train_lora(wrapped, tokenizer, PAIRS[:1], PAIRS[1:], steps=60, batch_size=1, lr=5e-2,
                              eval_every=2, patience=2, progress=False)
    assert history.stopped_early and history.steps < 60
    assert history.best_step < history.steps


def test_train_lora_rejects_a_model_without_trainable_parameters(tokenizer, model):
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    with pytest.raises(ValueError, match="add_lora"):
        lora.train_lora(model, tokenizer, PAIRS, PAIRS, steps=1, progress=False)
    with pytest.raises(ValueError, match="positive"):
        lora.train_lora(model, tokenizer, PAIRS, PAIRS, steps=0, progress=False)


# --- save, load, merge ---------------------------------------------------------------------------

def test_saved_adapter_reproduces_the_logits_and_merges(tokenizer, model, tmp_path):
    wrapped = lora.add_lora(model, lora.lora_config(r=4))
    with torch.no_grad():  # make the adapter non-trivial without training
        for name, parameter in wrapped.named_parameters():
            if "lora_B" in name:
                parameter.normal_(std=0.5)
    texts = [prompt for prompt, _ in PAIRS]
    megabytes = lora.save_adapter(wrapped, tmp_path / "adapter")
    assert (tmp_path / "adapter" / "adapter_config.json").is_file() and 0 < megabytes < 1
    reloaded = lora.load_adapter(tiny_llama(len(tokenizer)), tmp_path / "adapter")
    assert lora.max_logit_difference(wrapped, reloaded, tokenizer, texts) < 1e-5
    assert lora.max_logit_difference(wrapped, tiny_llama(len(tokenizer)), tokenizer, texts) > 1e-3
    merged = lora.merge_adapter(reloaded)
    assert not hasattr(merged, "peft_config")
    assert lora.max_logit_difference(wrapped, merged, tokenizer, texts) < 1e-4


def test_adapter_helpers_reject_wrong_inputs(model, tmp_path):
    with pytest.raises(TypeError, match="add_lora"):
        lora.save_adapter(model, tmp_path / "x")
    with pytest.raises(FileNotFoundError, match="adapter_config.json"):
        lora.load_adapter(model, tmp_path)
    with pytest.raises(TypeError, match="peft model"):
        lora.merge_adapter(model)
    with pytest.raises(FileNotFoundError):
        lora.folder_megabytes(tmp_path)


def test_step_costs_validates_its_arguments():
    with pytest.raises(ValueError, match="target_length"):
        lora.step_costs(length=8, target_length=8)


def test_timed_steps_update_only_trainable_parameters(tokenizer, model):
    wrapped = lora.add_lora(model, lora.lora_config(r=4))
    batch = lora.collate(lora.build_examples(tokenizer, PAIRS), tokenizer.pad_token_id)
    frozen = {n: p.clone() for n, p in wrapped.named_parameters() if not p.requires_grad}
    seconds = lora._timed_steps(wrapped, batch, lr=1e-2)
    assert seconds > 0
    assert all(torch.equal(p, frozen[n]) for n, p in wrapped.named_parameters() if not p.requires_grad)
