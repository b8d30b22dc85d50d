"""Shared test set-up: keep every test's outputs out of the learner's build/ folder."""

import os
from pathlib import Path

import pytest

from utils.core.paths import REPO_ROOT

# Set before any kernel starts, so notebooks executed by the tests record into build/test/, away
# from the results of `make course`.
os.environ.setdefault("CROSSROADS_BUILD_DIR", str(REPO_ROOT / "build" / "test"))
os.environ.setdefault("MPLBACKEND", "Agg")
# Under pytest-xdist two workers share the cores; two torch threads each would oversubscribe them,
# which makes small training steps many times slower. One thread per worker (and its kernels).
if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")


@pytest.fixture
def build_dir(tmp_path, monkeypatch) -> Path:
    """A private build folder for one test."""
    folder = tmp_path / "build"
    monkeypatch.setenv("CROSSROADS_BUILD_DIR", str(folder))
    return folder


@pytest.fixture(scope="module")
def one_torch_thread():
    """For modules of tiny-tensor tests: threads gain nothing there, and on a busy 2-core machine they wait on
    each other. Use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch  # not at the top: the thread variables above must be set before torch starts

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_llama(hidden_size: int, intermediate_size: int, layers: int, heads: int, kv_heads: int,
               tie_word_embeddings: bool = False, chat_template: str | None = None):
    """A random Llama of the given shape and a byte-level BPE tokenizer that pads on the left: (model, tokenizer)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.train_from_iterator(["How long is the warranty? Two years."], trainers.BpeTrainer(
        vocab_size=280, show_progress=False, special_tokens=["<unk>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>", pad_token="</s>",
                                        unk_token="<unk>", padding_side="left")
    if chat_template:
        tokenizer.chat_template = chat_template
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden_size,
                                         intermediate_size=intermediate_size, num_hidden_layers=layers,
                                         num_attention_heads=heads, num_key_value_heads=kv_heads,
                                         tie_word_embeddings=tie_word_embeddings, pad_token_id=2, bos_token_id=1,
                                         eos_token_id=2)).eval()
    return model, tokenizer


@pytest.fixture(scope="module")
def make_tiny_llama():
    """``make_tiny_llama(hidden_size, intermediate_size, layers, heads, kv_heads, ...)``: see ``tiny_llama``."""
    return tiny_llama
