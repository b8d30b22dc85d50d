"""Score triage labels by likelihood as well as by generation, sharing one pass over each prompt.

Generating JSON tests two things at once: does the model know the labels, and does it write the exact
format within the token budget? A base model that explains itself, echoes the message or adds a code fence
fails the second before it shows the first. Likelihood scoring asks only the first question: for each
field, which label of the taxonomy does the model find most probable at that point of the answer?

For each message and field, in the answer's order, the model reads the prompt and the answer so far,
``{"product":"BV-3","topic":"`` (earlier fields hold the model's *own* predictions, never the true
labels), and each candidate label is scored by log P(label | prompt, answer so far): the sum of its
tokens' log-probabilities, one forward pass per candidate, no generation. The prediction is the argmax.

It is fast because work is shared, and on a CPU every token the model reads costs about the same:

- the prefix every prompt has in common (the system prompt with the taxonomy, the few-shot examples) is
  run once, and its key/value cache reused by every message;
- messages are processed in batches; each message's own tokens are read once, then greedy generation
  (the JSON score) and the candidate labels (the likelihood score) both continue from that cache;
- a label's last token needs no forward pass of its own: the pass that reads the tokens before it gives
  its probability (``label_logprob``). Only when one label's tokens begin another's does the score also
  include the probability that the label ends there (the next token starts with ``"``).
"""

import time
from dataclasses import dataclass

import torch

from utils.finetune.triage import FIELDS, LABELS

CLOSING = '"'  # a label ends where the next token starts with a quote


# ---------------------------------------------------------------------------------------------
# Pure pieces: the answer prefix, a label's log-probability, normalisation, argmax
# ---------------------------------------------------------------------------------------------

def answer_prefix(predicted: dict, name: str, fields=FIELDS) -> str:
    """The compact JSON answer up to the value of ``name``: ``{"product":"BV-3","topic":"`` for ``topic``."""
    if name not in fields:
        raise ValueError(f"Unknown field {name!r}: choose one of {', '.join(fields)}.")
    before = fields[:list(fields).index(name)]
    missing = [field for field in before if field not in predicted]
    if missing:
        raise ValueError(f"The answer prefix for {name!r} needs the earlier fields {missing} first.")
    return "{" + "".join(f'"{field}":"{predicted[field]}",' for field in before) + f'"{name}":"'


def needs_closing(candidates: list[list[int]]) -> list[bool]:
    """For each candidate's tokens: does another candidate start with them? Then its end must be scored too."""
    return [any(len(other) > len(tokens) and other[:len(tokens)] == tokens for other in candidates)
            for tokens in candidates]


def label_logprob(first: torch.Tensor, steps: torch.Tensor | None, tokens: list[int],
                  closing: torch.Tensor | None = None) -> float:
    """log P(label) from log-probabilities over the vocabulary.

    ``first`` (V,) is the distribution before the label; ``steps`` (n, V) the distributions after each of the
    label's first n tokens (n >= len(tokens) - 1, or len(tokens) with ``closing``); ``closing`` (V,) a boolean
    mask of the tokens that may follow a complete label, whose total probability is added when given.
    """
    if not tokens:
        raise ValueError("A label must be at least one token.")
    needed = len(tokens) - 1 + (closing is not None)
    if needed and (steps is None or steps.shape[0] < needed):
        raise ValueError(f"Need the distributions after {needed} label tokens, got "
                         f"{0 if steps is None else steps.shape[0]}.")
    total = float(first[tokens[0]])
    for position, token in enumerate(tokens[1:]):
        total += float(steps[position, token])
    if closing is not None:
        total += float(torch.logsumexp(steps[len(tokens) - 1][closing], dim=0))
    return total


def normalise(scores: dict[str, float]) -> dict[str, float]:
    """Log-scores of the candidates -> probabilities that sum to 1 over the candidates (a softmax)."""
    if not scores:
        raise ValueError("No candidate scores to normalise.")
    values = torch.tensor(list(scores.values()), dtype=torch.float64)
    if not torch.isfinite(values.max()):
        raise ValueError("Every candidate scored -inf: no label has any probability.")
    return dict(zip(scores, torch.softmax(values, dim=0).tolist()))


def argmax(scores: dict[str, float]) -> str:
    """The best-scored label; a tie goes to the label listed first (dicts keep the taxonomy's order)."""
    if not scores:
        raise ValueError("No candidate scores to choose from.")
    best = max(scores.values())
    return next(label for label, score in scores.items() if score == best)


def closing_mask(tokenizer, closing: str = CLOSING) -> torch.Tensor:
    """(V,) True for the vocabulary tokens whose text starts with ``closing``."""
    texts = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    mask = torch.tensor([bool(t) and tokenizer.convert_tokens_to_string([t]).startswith(closing) for t in texts])
    if not mask.any():
        raise ValueError(f"No token of this vocabulary starts with {closing!r}.")
    return mask


def continuation(tokenizer, context: str, text: str) -> list[int]:
    """The tokens ``text`` adds after ``context``, as the tokenizer splits the whole string (else on its own)."""
    head = tokenizer(context, add_special_tokens=False).input_ids
    whole = tokenizer(context + text, add_special_tokens=False).input_ids
    if whole[:len(head)] == head and len(whole) > len(head):
        return whole[len(head):]
    return tokenizer(text, add_special_tokens=False).input_ids


def common_prefix_length(sequences: list[list[int]]) -> int:
    """Tokens every sequence starts with; each keeps at least one token of its own."""
    shortest = min(len(s) for s in sequences)
    length = 0
    while length < shortest - 1 and all(s[length] == sequences[0][length] for s in sequences):
        length += 1
    return length


# ---------------------------------------------------------------------------------------------
# The model side: a batch of messages continuing one shared cache
# ---------------------------------------------------------------------------------------------

def cache_bytes_per_token(model) -> int:
    """Bytes of key/value cache one token of one row takes: layers x (key + value) x kv heads x head size."""
    config = model.config
    heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    return config.num_hidden_layers * 2 * heads * head_dim * next(model.parameters()).element_size()


class _Batch:
    """Rows that continue a shared prefix. Rows of unequal length are padded *before* their new tokens
    (masked out, positions skip them), so every row's last real token is in the last column."""

    def __init__(self, model, prefix_cache, prefix_length: int, rows: int, pad: int):
        import copy

        self.model, self.pad, self.passes = model, pad, 0
        self.device = next(model.parameters()).device
        self.cache = copy.deepcopy(prefix_cache) if prefix_cache is not None else None
        if self.cache is not None and rows > 1:
            self.cache.batch_repeat_interleave(rows)
        self.mask = torch.ones(rows, prefix_length, dtype=torch.long, device=self.device)   # (B, L)
        self.next_position = torch.full((rows,), prefix_length, device=self.device)          # (B,)

    def feed(self, rows: list[list[int]]) -> torch.Tensor:
        """Append one chunk per row; returns log-probabilities (B, W, V), W = the longest chunk."""
        width = max(len(r) for r in rows)
        ids = torch.tensor([[self.pad] * (width - len(r)) + r for r in rows], device=self.device)   # (B, W)
        new = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=self.device)
        positions = self.next_position[:, None] + (new.cumsum(-1) - 1).clamp(min=0)               # (B, W)
        self.mask = torch.cat([self.mask, new], dim=1)
        self.next_position = self.next_position + new.sum(-1)
        out = self.model(input_ids=ids, attention_mask=self.mask, position_ids=positions, cache=self.cache,
                         use_cache=True)
        self.cache, self.passes = out.cache, self.passes + 1
        return torch.log_softmax(out.logits.float(), dim=-1)

    def checkpoint(self):
        return self.mask.shape[1], self.next_position.clone()

    def rewind(self, point) -> None:
        """Forget everything fed since ``checkpoint()``."""
        length, positions = point
        extra = self.mask.shape[1] - length
        if extra:
            self.cache.crop(-extra)  # a negative count removes that many tokens from the end
        self.mask, self.next_position = self.mask[:, :length], positions


@dataclass
class BaselineRun:
    texts: list[str] | None                      # greedy answers (None when not generated)
    predictions: list[dict]                      # field -> argmax label, by likelihood
    scores: list[dict[str, dict[str, float]]]    # field -> label -> log P(label | prompt, answer so far)
    shared_tokens: int                           # prompt tokens every prompt shares, read once
    prompt_tokens: int                           # all prompt tokens, as a model without the cache would read them
    forward_passes: int
    prompt_seconds: float                        # reading the prompts (shared prefix once, then each message)
    generate_seconds: float
    likelihood_seconds: float

    @property
    def seconds(self) -> float:
        return self.prompt_seconds + self.generate_seconds + self.likelihood_seconds

    def probabilities(self, index: int, name: str) -> dict[str, float]:
        return normalise(self.scores[index][name])


@torch.no_grad()
def score_prompts(model, tokenizer, prompts: list[str], max_new_tokens: int | None = 24, batch_size: int = 16,
                  fields=FIELDS, labels=LABELS, cache_budget_mb: float = 600) -> BaselineRun:
    """Greedy JSON answers (``max_new_tokens``; None skips generation) and likelihood predictions for every
    chat-formatted prompt, reading the shared prompt prefix once and each message's own tokens once.

    Batches hold up to ``batch_size`` prompts, fewer when their key/value cache would pass ``cache_budget_mb``
    (every row keeps its own copy of the shared prefix: long few-shot prompts get smaller batches)."""
    if isinstance(prompts, str):
        raise TypeError("prompts must be a list of strings; wrap a single prompt as [prompt].")
    if not prompts:
        raise ValueError("No prompts to score: the list is empty.")
    if batch_size <= 0 or cache_budget_mb <= 0 or (max_new_tokens is not None and max_new_tokens <= 0):
        raise ValueError(f"batch_size, cache_budget_mb and max_new_tokens must be positive, got {batch_size}, "
                         f"{cache_budget_mb} and {max_new_tokens}.")
    missing = [name for name in fields if not labels.get(name)]
    if missing:
        raise ValueError(f"No candidate labels for the fields {missing}.")
    model.eval()
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    closing = closing_mask(tokenizer).to(device)
    encoded = [tokenizer(prompt, add_special_tokens=False).input_ids for prompt in prompts]
    shared = common_prefix_length(encoded)
    passes = 0
    prefix_cache = None
    tick = time.perf_counter()
    if shared:
        prefix_cache = model(input_ids=torch.tensor([encoded[0][:shared]], device=device), use_cache=True).cache
        passes += 1
    texts = [""] * len(prompts) if max_new_tokens else None
    predictions, scores = [None] * len(prompts), [None] * len(prompts)
    prompt_seconds, generate_seconds, likelihood_seconds = time.perf_counter() - tick, 0.0, 0.0
    order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]))   # similar lengths: less padding
    longest = max(len(ids) for ids in encoded) + (max_new_tokens or 0) + 32
    batch_size = max(1, min(batch_size, int(cache_budget_mb * 2**20 // (longest * cache_bytes_per_token(model)))))
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        batch = _Batch(model, prefix_cache, shared, len(rows), pad)
        tick = time.perf_counter()
        last = batch.feed([encoded[i][shared:] for i in rows])[:, -1]                  # (B, V)
        after_prompt = batch.checkpoint()
        prompt_seconds += time.perf_counter() - tick
        tick = time.perf_counter()
        if max_new_tokens:
            generated, done, step = [[] for _ in rows], torch.zeros(len(rows), dtype=torch.bool), last
            for _ in range(max_new_tokens):
                token = step.argmax(-1)                                                  # (B,)
                for b, t in enumerate(token.tolist()):
                    if not done[b]:
                        generated[b].append(t)
                done |= token.cpu() == tokenizer.eos_token_id
                if done.all():
                    break
                step = batch.feed([[t] for t in token.tolist()])[:, -1]
            for b, i in enumerate(rows):
                texts[i] = tokenizer.decode(generated[b], skip_special_tokens=True).strip()
            batch.rewind(after_prompt)
        generate_seconds += time.perf_counter() - tick
        tick = time.perf_counter()
        chosen, batch_scores = [{} for _ in rows], [{} for _ in rows]
        contexts = [answer_prefix({}, fields[0], fields)] * len(rows)
        first = batch.feed([tokenizer(contexts[0], add_special_tokens=False).input_ids] * len(rows))[:, -1]  # (B, V)
        for number, name in enumerate(fields):
            candidates = list(labels[name])
            tokens = [[continuation(tokenizer, context, label) for label in candidates] for context in contexts]
            closes = [needs_closing(row) for row in tokens]
            point = batch.checkpoint()
            for k, label in enumerate(candidates):
                fed = [row[k] if close[k] else row[k][:-1] for row, close in zip(tokens, closes)]
                steps = batch.feed(fed) if any(fed) else None                              # (B, W, V)
                for b in range(len(rows)):
                    own = None if steps is None else steps[b, steps.shape[1] - len(fed[b]):]
                    batch_scores[b].setdefault(name, {})[label] = label_logprob(
                        first[b], own, tokens[b][k], closing if closes[b][k] else None)
                if steps is not None:
                    batch.rewind(point)
            for b in range(len(rows)):
                chosen[b][name] = argmax(batch_scores[b][name])
            if number + 1 < len(fields):  # append each row's chosen label and the next field's key
                following = [answer_prefix(chosen[b], fields[number + 1], fields) for b in range(len(rows))]
                first = batch.feed([continuation(tokenizer, context, text[len(context):])
                                    for context, text in zip(contexts, following)])[:, -1]
                contexts = following
        passes += batch.passes
        for b, i in enumerate(rows):
            predictions[i], scores[i] = chosen[b], batch_scores[b]
        likelihood_seconds += time.perf_counter() - tick
    return BaselineRun(texts, predictions, scores, shared, sum(len(ids) for ids in encoded), passes,
                       prompt_seconds, generate_seconds, likelihood_seconds)
