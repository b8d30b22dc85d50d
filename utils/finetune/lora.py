"""LoRA fine-tuning of a causal LM on (prompt, target) text pairs, small enough for a CPU.

The pieces, in the order notebook 03 uses them (the capstone reuses them for question -> answer pairs):

- ``build_examples``  tokenise pairs; the prompt's labels are -100 so only the answer is learned
- ``collate``         pad a batch on the left, so every answer ends at the last position
- ``lora_config`` / ``add_lora`` / ``trainable_parameters``  wrap a model with low-rank adapters
- ``train_lora``      AdamW with warm-up, periodic validation loss, early stopping, best-adapter restore
- ``save_adapter`` / ``load_adapter`` / ``merge_adapter`` / ``max_logit_difference``  keep and check the result
- ``step_costs``      one LoRA step vs one full fine-tuning step: seconds and peak memory, in a subprocess

LoRA in one line: a frozen weight ``W`` (d_out x d_in) gets a trainable update ``B @ A`` with ``A`` (r x d_in)
and ``B`` (d_out x r), scaled by ``alpha / r``. ``B`` starts at zero, so training starts from the base model.
"""

import contextlib
import math
import random
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from utils.core.runtime import answer_request, run_in_fresh_process
from utils.core.training import count_parameters, end_progress, progress_bar
from utils.course.results import peak_rss_mb

IGNORE_INDEX = -100  # the label PyTorch's cross-entropy skips: prompt and padding positions
DEFAULT_TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


# ---------------------------------------------------------------------------------------------
# Tokenisation: learn the answer, not the prompt
# ---------------------------------------------------------------------------------------------

def build_examples(tokenizer, pairs, max_length: int = 128, add_eos: bool = True) -> list[dict]:
    """Tokenise (prompt, target) pairs into ``{"input_ids", "labels"}`` lists of ints.

    The prompt is already formatted (e.g. by ``utils.core.generation.chat_prompt``); its labels are
    ``IGNORE_INDEX`` so the loss only rewards predicting the target. With ``add_eos`` the target ends
    with the end-of-sequence token: the model must also learn *when to stop*, or generation runs on.
    """
    if isinstance(pairs, tuple) and len(pairs) == 2 and isinstance(pairs[0], str):
        raise TypeError("pairs must be a list of (prompt, target) tuples; wrap a single pair as [(prompt, target)].")
    if not pairs:
        raise ValueError("No training pairs: the dataset is empty.")
    if max_length < 2:
        raise ValueError(f"max_length must be at least 2 tokens, got {max_length}.")
    eos = [tokenizer.eos_token_id] if add_eos else []
    examples = []
    for index, pair in enumerate(pairs):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and all(isinstance(t, str) for t in pair)):
            raise TypeError(f"pairs[{index}] must be a (prompt, target) pair of strings, got {pair!r:.80}.")
        prompt, target = pair
        if not prompt.strip() or not target.strip():
            raise ValueError(f"pairs[{index}] has an empty prompt or target: both must contain text.")
        prompt_ids = tokenizer(prompt, add_special_tokens=False).input_ids
        target_ids = tokenizer(target, add_special_tokens=False).input_ids + eos
        length = len(prompt_ids) + len(target_ids)
        if length > max_length:
            raise ValueError(f"pairs[{index}] is {length} tokens long, more than max_length={max_length}. "
                             "Shorten the prompt or raise max_length (longer sequences train more slowly).")
        examples.append({"input_ids": prompt_ids + target_ids,
                         "labels": [IGNORE_INDEX] * len(prompt_ids) + target_ids})
    return examples


def collate(examples: list[dict], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Left-pad a batch: every answer then ends at the last column, like the prompts of batched generation."""
    if not examples:
        raise ValueError("Cannot collate an empty batch.")
    width = max(len(example["input_ids"]) for example in examples)
    input_ids, labels, mask = [], [], []
    for example in examples:
        pad = width - len(example["input_ids"])
        input_ids.append([pad_token_id] * pad + example["input_ids"])
        labels.append([IGNORE_INDEX] * pad + example["labels"])
        mask.append([0] * pad + [1] * len(example["input_ids"]))
    attention_mask = torch.tensor(mask)                                           # (B, T)
    return {"input_ids": torch.tensor(input_ids),                                 # (B, T)
            "attention_mask": attention_mask,
            "position_ids": (attention_mask.cumsum(-1) - 1).clamp(min=0),       # (B, T) real tokens from 0
            "labels": torch.tensor(labels)}                                        # (B, T)


def causal_lm_loss(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Mean cross-entropy over the target tokens, and how many there were.

    Only the last ``keep`` positions can predict a target token (left padding put the answers there),
    so we ask the model for those logits alone: the 49k-word output layer is a large share of a small
    model's compute, and skipping it for the prompt makes each step noticeably cheaper.
    """
    labels = batch["labels"]                                                      # (B, T)
    has_target = (labels != IGNORE_INDEX).any(dim=0)
    if not has_target.any():
        raise ValueError("This batch has no target tokens (every label is -100): nothing to learn.")
    first = int(has_target.nonzero()[0])
    if first == 0:
        raise ValueError("A target starts at position 0: every example needs at least one prompt token.")
    keep = labels.shape[1] - first + 1      # one more than the target span: position t predicts token t + 1
    device = next(model.parameters()).device
    logits = model(input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device),
                   position_ids=batch["position_ids"].to(device), logits_to_keep=keep).logits  # (B, keep, V)
    targets = labels[:, first:].to(device)                                        # (B, keep - 1)
    count = int((targets != IGNORE_INDEX).sum())
    loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]).float(), targets.reshape(-1),
                           ignore_index=IGNORE_INDEX, reduction="sum") / count
    return loss, count


@torch.no_grad()
def language_model_loss(model, examples: list[dict], pad_token_id: int, batch_size: int = 16) -> float:
    """Token-weighted mean loss over ``examples``, in eval mode (no dropout)."""
    if not examples:
        raise ValueError("No examples to evaluate the loss on.")
    was_training = model.training
    model.eval()
    examples = sorted(examples, key=lambda example: len(example["input_ids"]))  # similar lengths: less padding
    total, count = 0.0, 0
    for start in range(0, len(examples), batch_size):
        loss, n = causal_lm_loss(model, collate(examples[start:start + batch_size], pad_token_id))
        total, count = total + float(loss) * n, count + n
    model.train(was_training)
    return total / count


# ---------------------------------------------------------------------------------------------
# LoRA adapters
# ---------------------------------------------------------------------------------------------

@contextlib.contextmanager
def _quiet_peft():
    """peft 0.21 trips a transformers deprecation warning on every wrap; it is not the learner's concern."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


def lora_config(r: int = 8, alpha: int = 16, dropout: float = 0.05, target_modules=DEFAULT_TARGET_MODULES,
                layers=None):
    """A peft ``LoraConfig`` for a causal LM: rank ``r``, scale ``alpha / r``, on the named linear layers.

    ``layers`` (e.g. ``range(15, 30)``) limits the adapters to those transformer blocks. Adapting only the
    upper blocks is cheaper than it looks: backpropagation stops at the lowest adapted block.
    """
    from peft import LoraConfig

    if not isinstance(r, int) or r <= 0:
        raise ValueError(f"The LoRA rank r must be a positive integer (typically 4-64), got {r!r}.")
    if alpha <= 0 or not 0 <= dropout < 1:
        raise ValueError(f"alpha must be positive and dropout in [0, 1); got alpha={alpha}, dropout={dropout}.")
    if not target_modules:
        raise ValueError("target_modules is empty: name the linear layers to adapt, e.g. ('q_proj', 'v_proj').")
    if layers is not None and not list(layers):
        raise ValueError("layers is empty: pass None to adapt every block, or block numbers such as range(15, 30).")
    return LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, task_type="CAUSAL_LM", bias="none",
                      target_modules=list(target_modules) if not isinstance(target_modules, str) else target_modules,
                      layers_to_transform=list(layers) if layers is not None else None)


def add_lora(model, config, seed: int = 0):
    """Freeze ``model`` and inject the adapters (seeded: ``A`` starts random, ``B`` at zero). Modifies ``model``."""
    from peft import get_peft_model

    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    wanted = set(config.target_modules) if not isinstance(config.target_modules, str) else set()
    if wanted and not wanted & names:
        raise ValueError(f"None of target_modules {sorted(wanted)} exists in this model; its linear layers include "
                         f"{sorted(n for n in names if n.endswith('proj'))[:10]}.")
    torch.manual_seed(seed)
    with _quiet_peft():
        return get_peft_model(model, config)


def trainable_parameters(model) -> dict:
    """How many parameters will be trained, out of how many: the first number to check after ``add_lora``."""
    trainable = count_parameters(model)
    total = count_parameters(model, trainable_only=False)
    return {"trainable": trainable, "total": total, "percent": 100 * trainable / total}


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------

@dataclass
class TrainHistory:
    train_loss: list[tuple[int, float]] = field(default_factory=list)   # (step, loss of that step's batch)
    val_loss: list[tuple[int, float]] = field(default_factory=list)     # (step, validation loss)
    step_seconds: list[float] = field(default_factory=list)
    best_step: int = 0
    best_val_loss: float = math.inf
    stopped_early: bool = False
    seconds: float = 0.0

    @property
    def steps(self) -> int:
        return len(self.train_loss)


def _batches(lengths: list[int], batch_size: int, rng: random.Random):
    """Endless shuffled mini-batches of indices, a new order every epoch.

    Within each window of 4 batches the examples are sorted by length before they are cut into batches:
    a batch of similar lengths wastes less compute on padding, and the order stays random.
    """
    n = len(lengths)
    while True:
        order = list(range(n))
        rng.shuffle(order)
        usable = n - n % batch_size
        batches = []
        for start in range(0, usable, 4 * batch_size):
            window = sorted(order[start:min(start + 4 * batch_size, usable)], key=lambda i: lengths[i])
            batches += [window[i:i + batch_size] for i in range(0, len(window), batch_size)]
        rng.shuffle(batches)
        yield from batches


def warmup_cosine_schedule(optimizer, steps: int, warmup_steps: int):
    """Linear warm-up (Adam's first steps are noisy), then cosine decay to 10 % of lr at ``steps``."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / max(1, warmup_steps)) * (
        0.1 + 0.45 * (1 + math.cos(math.pi * min(s, steps) / steps))))


def _trainable_state(model) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}


def train_lora(model, tokenizer, train_pairs, val_pairs, *, steps: int = 40, batch_size: int = 8,
               lr: float = 1e-3, warmup_steps: int = 3, eval_every: int = 10, patience: int | None = 2,
               max_length: int = 128, seed: int = 0, weight_decay: float = 0.0, val_batch_size: int = 16,
               progress: bool = True) -> TrainHistory:
    """Train the parameters of ``model`` that require grad (the adapters after ``add_lora``) on text pairs.

    Validation loss is measured before training and every ``eval_every`` steps. Training stops early when
    it has not improved for ``patience`` evaluations (``None``: never stop early), and the best parameters
    seen are restored at the end, so the model you get back is the one that generalised best.
    """
    if steps <= 0 or batch_size <= 0 or eval_every <= 0:
        raise ValueError(f"steps, batch_size and eval_every must be positive; got {steps}, {batch_size}, {eval_every}.")
    if patience is not None and patience < 1:
        raise ValueError(f"patience must be a positive number of evaluations or None, got {patience}.")
    parameters = [p for p in model.parameters() if p.requires_grad]
    if not parameters:
        raise ValueError("Nothing to train: no parameter requires grad. Wrap the model with add_lora first.")
    train = build_examples(tokenizer, train_pairs, max_length)
    val = build_examples(tokenizer, val_pairs, max_length)
    pad = tokenizer.pad_token_id
    torch.manual_seed(seed)  # LoRA dropout
    rng = random.Random(seed)  # batch order
    optimizer = torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay)
    schedule = warmup_cosine_schedule(optimizer, steps, warmup_steps)
    history, started, bad_evals, best_state = TrainHistory(), time.perf_counter(), 0, None

    def validate(step: int) -> bool:
        """Record the validation loss; return True when training should stop."""
        nonlocal bad_evals, best_state
        loss = language_model_loss(model, val, pad, val_batch_size)
        history.val_loss.append((step, loss))
        if loss < history.best_val_loss:
            history.best_val_loss, history.best_step, bad_evals = loss, step, 0
            best_state = _trainable_state(model)
            return False
        bad_evals += 1
        return patience is not None and bad_evals >= patience

    validate(0)
    model.train()
    batches = _batches([len(example["input_ids"]) for example in train], min(batch_size, len(train)), rng)
    bar = progress_bar(steps, progress, "training", unit="step", mininterval=5)
    for step in range(1, steps + 1):
        tick = time.perf_counter()
        loss, _ = causal_lm_loss(model, collate([train[i] for i in next(batches)], pad))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        history.step_seconds.append(time.perf_counter() - tick)
        history.train_loss.append((step, loss.item()))
        if bar is not None:
            bar.update()
            bar.set_postfix(loss=f"{loss.item():.3f}", val=f"{history.val_loss[-1][1]:.3f}", refresh=False)
        if (step % eval_every == 0 or step == steps) and validate(step):
            history.stopped_early = step < steps
            break
    return finish_training(model, history, best_state, bar, started)


def finish_training(model, history: TrainHistory, best_state, bar, started: float) -> TrainHistory:
    """End a LoRA run (``train_lora`` and the data-parallel loop alike): close the bar (full and green also when
    early stopping ended the run), restore the best parameters seen rather than the last ones, switch to eval."""
    end_progress(bar)
    if best_state is not None:
        named = dict(model.named_parameters())
        with torch.no_grad():
            for name, value in best_state.items():
                named[name].copy_(value)
    model.eval()
    history.seconds = time.perf_counter() - started
    return history


# ---------------------------------------------------------------------------------------------
# Keeping the adapter: save, load, merge, check
# ---------------------------------------------------------------------------------------------

def save_adapter(model, folder) -> float:
    """Save only the adapter weights and config; returns their size on disk in megabytes (10^6 bytes)."""
    if not hasattr(model, "peft_config"):
        raise TypeError("save_adapter needs a model wrapped by add_lora (a peft model), not a plain model.")
    folder = Path(folder)
    model.save_pretrained(folder)
    return folder_megabytes(folder)


def folder_megabytes(folder) -> float:
    files = [p for p in Path(folder).rglob("*") if p.is_file()]
    if not files:
        raise FileNotFoundError(f"{folder} holds no files.")
    return sum(p.stat().st_size for p in files) / 1e6


def load_adapter(base_model, folder):
    """Attach a saved adapter to a fresh copy of its base model (the same weights it was trained on)."""
    from peft import PeftModel

    folder = Path(folder)
    if not (folder / "adapter_config.json").is_file():
        raise FileNotFoundError(f"No adapter in {folder}: expected adapter_config.json there (see save_adapter).")
    with _quiet_peft():
        return PeftModel.from_pretrained(base_model, folder).eval()


def merge_adapter(model):
    """Fold ``B @ A * alpha / r`` into the base weights: a plain model again, as fast as the original."""
    if not hasattr(model, "merge_and_unload"):
        raise TypeError("merge_adapter needs a peft model (from add_lora or load_adapter).")
    return model.merge_and_unload().eval()


@torch.no_grad()
def max_logit_difference(model_a, model_b, tokenizer, texts: list[str]) -> float:
    """Largest absolute difference between two models' logits on ``texts`` (padding excluded)."""
    if not texts:
        raise ValueError("Give at least one text to compare the models on.")
    inputs = tokenizer(list(texts), return_tensors="pt", padding=True, add_special_tokens=False)
    inputs["position_ids"] = (inputs["attention_mask"].cumsum(-1) - 1).clamp(min=0)
    mask = inputs["attention_mask"].bool()                                         # (B, T)
    a = model_a.eval()(**inputs.to(next(model_a.parameters()).device)).logits       # (B, T, V)
    b = model_b.eval()(**inputs.to(next(model_b.parameters()).device)).logits.to(a.device)
    return float((a - b).abs()[mask.to(a.device)].max())


# ---------------------------------------------------------------------------------------------
# What a training step costs: LoRA vs full fine-tuning
# ---------------------------------------------------------------------------------------------

def _timed_steps(model, batch, lr: float = 1e-4, timed: int = 2) -> float:
    """One warm-up step (allocates Adam's state), then ``timed`` steps; returns the fastest one's seconds
    (the least disturbed by page faults and other programs)."""
    parameters = [p for p in model.parameters() if p.requires_grad]
    # foreach=False: the default multi-tensor AdamW allocates temporaries as large as all the weights it
    # updates, which would inflate full fine-tuning's peak beyond what the method itself needs.
    optimizer = torch.optim.AdamW(parameters, lr=lr, foreach=False)
    model.train()
    times = []
    for _ in range(1 + timed):
        tick = time.perf_counter()
        loss, _ = causal_lm_loss(model, batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - tick)
    del optimizer
    return min(times[1:])


def _measure(model_id, batch_size: int, length: int, target_length: int, r: int, seed: int) -> dict:
    """Runs inside the subprocess: the LoRA step first, then full fine-tuning of the same model."""
    from utils.core.models import load_llm

    torch.manual_seed(seed)
    model, tokenizer = load_llm(model_id)
    input_ids = torch.randint(100, tokenizer.vocab_size, (batch_size, length))    # (B, T)
    labels = input_ids.clone()
    labels[:, : length - target_length] = IGNORE_INDEX                            # the answer is the last tokens
    batch = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids),
             "position_ids": torch.arange(length).expand(batch_size, length), "labels": labels}
    with torch.no_grad():  # touch every weight once, so the baseline includes the whole model in memory
        model(input_ids=input_ids[:1])
    costs = {"baseline_mb": peak_rss_mb()}
    lora_model = add_lora(model, lora_config(r=r), seed)
    seconds = _timed_steps(lora_model, batch)
    costs["lora"] = {"seconds": seconds, "peak_mb": peak_rss_mb(), **trainable_parameters(lora_model)}
    model = lora_model.unload()  # the untouched base model (adapters were never merged)
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    seconds = _timed_steps(model, batch)
    costs["full"] = {"seconds": seconds, "peak_mb": peak_rss_mb(), **trainable_parameters(model)}
    return costs


def step_costs(model_id: str | None = None, batch_size: int = 8, length: int = 64, target_length: int = 18,
               r: int = 8, seed: int = 0, timeout: float = 600) -> dict:
    """Time one LoRA step and one full fine-tuning step (AdamW, same batch) and measure each one's peak RSS.

    It runs in a fresh Python process, so the peaks are not hidden by whatever this process already holds
    and full fine-tuning's gradients and optimizer state (~4x the weights) are released when it exits.
    Peak RSS never goes down, so the LoRA step runs first: its peak is read before the full step starts.
    """
    if batch_size <= 0 or not 0 < target_length < length:
        raise ValueError(f"Need batch_size > 0 and 0 < target_length < length; got {batch_size}, "
                         f"{target_length}, {length}.")
    request = {"model_id": model_id, "batch_size": batch_size, "length": length, "target_length": target_length,
               "r": r, "seed": seed}
    return run_in_fresh_process("utils.finetune.lora", request, "step-cost", timeout)


if __name__ == "__main__":  # the process of ``step_costs``
    answer_request(_measure)
