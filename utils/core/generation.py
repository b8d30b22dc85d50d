"""Prompting and batched greedy generation with a chat model: shared by the LoRA, RAG and capstone notebooks.

On a CPU, generating one prompt at a time runs at ~7-10 tokens/s for SmolLM2-135M; batching 16
prompts with left padding reaches ~65 tokens/s (measured on the course's 2-core reference machine). So every evaluation goes through
``generate`` here, which sorts prompts by length (less padding), batches them and restores the
original order.
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

DEFAULT_SYSTEM = "You are a concise assistant for Northwind Appliances."


def chat_prompt(tokenizer, user: str, system: str | None = DEFAULT_SYSTEM,
                examples: Sequence[tuple[str, str]] = ()) -> str:
    """Render one user turn with the model's chat template, ending where the assistant starts to answer.

    ``examples`` are worked (user, assistant) pairs placed before it as earlier turns: few-shot prompting.
    We always pass a system message: without one, SmolLM2's template inserts its own default
    ("You are a helpful AI assistant named SmolLM ..."), which costs ~20 tokens per prompt.
    """
    if not isinstance(user, str) or not user.strip():
        raise ValueError("The user message is empty: give the model a question or an instruction.")
    messages = [{"role": "system", "content": system}] if system else []
    for example_user, example_answer in examples:
        messages += [{"role": "user", "content": example_user}, {"role": "assistant", "content": example_answer}]
    messages.append({"role": "user", "content": user})
    if getattr(tokenizer, "chat_template", None) is None:
        raise ValueError("This tokenizer has no chat template; use an instruct/chat model or build prompts by hand.")
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


@dataclass
class Generations:
    texts: list[str]          # one answer per prompt, in the order the prompts were given
    new_tokens: int           # tokens generated in total (excluding padding after EOS)
    seconds: float

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.seconds if self.seconds else 0.0


@torch.no_grad()
def generate(model, tokenizer, prompts: list[str], max_new_tokens: int = 64, batch_size: int = 16,
             progress: bool = True) -> Generations:
    """Greedy-decode every prompt (already chat-formatted), in length-sorted batches with left padding."""
    if isinstance(prompts, str):
        raise TypeError("prompts must be a list of strings; wrap a single prompt as [prompt].")
    if not prompts:
        raise ValueError("No prompts to generate from: the list is empty.")
    if max_new_tokens <= 0 or batch_size <= 0:
        raise ValueError(f"max_new_tokens and batch_size must be positive, got {max_new_tokens} and {batch_size}.")
    if tokenizer.padding_side != "left":
        raise ValueError("Batched generation needs tokenizer.padding_side = 'left' (utils.core.models.load_llm sets it).")

    lengths = [len(tokenizer(p, add_special_tokens=False).input_ids) for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: lengths[i])
    texts: list[str] = [""] * len(prompts)
    new_tokens, started = 0, time.perf_counter()
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    for batch in tqdm(batches, desc="generating", disable=not progress, mininterval=5):
        inputs = tokenizer([prompts[i] for i in batch], return_tensors="pt", padding=True,
                           add_special_tokens=False).to(model.device)
        output = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                pad_token_id=tokenizer.pad_token_id)
        answers = output[:, inputs.input_ids.shape[1]:]                     # (B, new)
        for row, index in zip(answers, batch):
            texts[index] = tokenizer.decode(row, skip_special_tokens=True).strip()
            new_tokens += int((row != tokenizer.pad_token_id).sum())
    return Generations(texts, new_tokens, time.perf_counter() - started)
