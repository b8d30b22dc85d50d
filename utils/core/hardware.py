"""How close to the hardware does the course run? This machine's matmul peak and memory bandwidth, and the share
of them that one LoRA training step and batched generation reach.

    peak = matmul_peak()                        # fp32 matrix product: the FLOP/s this machine can do
    memory = memory_bandwidth()                 # bytes/s reading a tensor far larger than the caches
    step = lora_step(lora_model, peak=peak)     # FLOP/s of one LoRA training step, as a share of the peak
    speed = decode_speed(llm, tokenizer, prompts, batch_size=16, bandwidth=memory, peak=peak)

Every rate is the **median of repeats** with a distribution-free 95 % interval for the median (order statistics:
from 6 repeats on, [smallest, largest] already covers the median with 97 % confidence). With fewer repeats the
range is shown and said to be one. Each function prints a learner's line with ``str()`` and gives a results-file
record with ``as_record()``.

FLOPs are counted analytically (``FORMULA``), so the achieved rate is work done per second, not a profiler's
guess. The bounds for decoding: a decode step must read every weight once, whatever the batch, so it cannot run
faster than ``bandwidth / weight bytes`` steps per second (``batch_size`` tokens each), nor faster than
``peak / (2 · weights)`` tokens per second of arithmetic.
"""

import math
import time
from dataclasses import dataclass

import torch

from utils.core.runtime import pick_device, synchronize

FORMULA = ("FLOPs per step = 4·N_frozen·T + 6·N_lora·T + 4·N_head·T_head. Forward: 2 FLOPs (a multiply and an "
           "add) per weight per token, 2·N·T. Backward: the gradient with respect to each layer's input costs "
           "another 2·N·T; the frozen base never needs its weights' gradients (full fine-tuning would pay a third "
           "2·N·T for them); the small LoRA adapters pay all three, 6·N_lora·T. T counts padded tokens (they are "
           "computed too); the output layer runs only on the T_head answer positions. Left out: attention's own "
           "T² products, norms and biases, a few per cent at these lengths.")

BUSY = ("More than the bound, which cannot be: other programs were using the machine while the peak or the bandwidth "
        "was measured. Close them and run this cell again.")


# ---------------------------------------------------------------------------------------------
# A measured rate: median of repeats, with its interval
# ---------------------------------------------------------------------------------------------

def _whole(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}.")
    return value


def median_interval(samples, confidence: float = 0.95) -> tuple[float, float, float, float]:
    """``(median, low, high, coverage)``: the interval of order statistics [x(k), x(n+1-k)] with the largest k
    whose chance of covering the true median is at least ``confidence``. That chance is
    1 - 2·P(Binomial(n, 1/2) <= k - 1); below 6 samples even [min, max] falls short, and ``coverage`` says so."""
    values = sorted(float(v) for v in samples)
    if not values or not all(math.isfinite(v) for v in values):
        raise ValueError("Need at least one finite sample to summarise (a time, a rate).")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence!r}.")
    n = len(values)
    middle = n // 2
    median = values[middle] if n % 2 else (values[middle - 1] + values[middle]) / 2

    def coverage(k: int) -> float:
        return 1 - 2 * sum(math.comb(n, i) for i in range(k)) / 2 ** n

    k = 1
    while k + 1 <= (n + 1) // 2 and coverage(k + 1) >= confidence:
        k += 1
    return median, values[k - 1], values[n - k], coverage(k)


@dataclass(frozen=True)
class Rate:
    """A measured rate in ``unit``: the median of ``n`` repeats and an interval for it."""
    value: float
    low: float
    high: float
    n: int
    unit: str
    coverage: float       # the interval's chance of covering the true median (>= 0.95 from 6 repeats on)

    @classmethod
    def of(cls, samples, unit: str) -> "Rate":
        median, low, high, coverage = median_interval(samples)
        return cls(median, low, high, len(list(samples)), unit, coverage)

    @property
    def interval_words(self) -> str:
        span = f"[{_num(self.low)}, {_num(self.high)}]"
        if self.coverage >= 0.95:
            return f"95 % interval {span} (n = {self.n})"
        return f"range {span} (n = {self.n}: too few repeats for a 95 % interval)"

    def __str__(self) -> str:
        return f"{_num(self.value)} {self.unit}, {self.interval_words}"

    def as_record(self) -> dict:
        """``{"value", "n", "low", "high"}``, the shape the course report prints with its interval."""
        return {"value": self.value, "n": self.n, "low": self.low, "high": self.high}


def ratio(a: Rate, b: Rate) -> tuple[float, float, float]:
    """``a / b`` of two measured rates, with a conservative interval: each interval at its least favourable end."""
    if not isinstance(a, Rate) or not isinstance(b, Rate):
        raise ValueError("ratio takes two Rates (the .gflops, .gbps or .tokens_per_second of a measurement).")
    return a.value / b.value, a.low / b.high, a.high / b.low


def _num(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _time(work, repeats: int, warmup: int, device: str, min_seconds: float = 0.0) -> list[float]:
    """Seconds per call of ``work()`` in each of ``repeats`` samples, after ``warmup`` calls (first calls allocate
    and pick kernels). A sample repeats the call until it lasts ``min_seconds``, so that a millisecond's hiccup
    of another program cannot decide it. A GPU runs asynchronously: the clock waits for it around each sample."""
    for _ in range(warmup):
        work()
    calls = 1
    if min_seconds > 0:
        synchronize(device)
        started = time.perf_counter()
        work()
        synchronize(device)
        calls = max(1, math.ceil(min_seconds / max(time.perf_counter() - started, 1e-9)))
    times = []
    for _ in range(repeats):
        synchronize(device)
        started = time.perf_counter()
        for _ in range(calls):
            work()
        synchronize(device)
        times.append((time.perf_counter() - started) / calls)
    return times


# ---------------------------------------------------------------------------------------------
# The machine: matmul peak and memory bandwidth
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MatmulPeak:
    gflops: Rate          # GFLOP/s
    size: int             # the square matrices' side
    device: str
    threads: int

    def __str__(self) -> str:
        return (f"Matmul peak: {self.gflops} (fp32, {self.size} × {self.size} matrices, {self.device}, "
                f"{self.threads} torch threads)")

    def as_record(self) -> dict:
        return {"matmul_gflops": self.gflops.as_record(), "matmul_size": self.size, "device": self.device,
                "threads": self.threads}


def matmul_peak(size: int = 1024, repeats: int = 9, device: str | None = None, warmup: int = 2,
                min_seconds: float = 0.05) -> MatmulPeak:
    """FLOP/s of an fp32 ``size`` × ``size`` matrix product (2·size³ FLOPs), the best case for the hardware:
    every number loaded is used ``size`` times. 1024 fills two CPU cores' vector units; much smaller sizes spend
    their time on overhead instead. Each of the ``repeats`` samples lasts at least ``min_seconds``."""
    _whole("size", size, 16)
    _whole("repeats", repeats)
    _whole("warmup", warmup, 0)
    device = pick_device(device)
    generator = torch.Generator().manual_seed(0)
    a, b = (torch.randn(size, size, generator=generator).to(device) for _ in range(2))
    out = torch.empty(size, size, device=device)
    times = _time(lambda: torch.mm(a, b, out=out), repeats, warmup, device, min_seconds)
    return MatmulPeak(Rate.of([2 * size ** 3 / t / 1e9 for t in times], "GFLOP/s"), size, device,
                      torch.get_num_threads())


@dataclass(frozen=True)
class Bandwidth:
    gbps: Rate            # GB/s (10⁹ bytes per second) read
    megabytes: int
    device: str

    @property
    def bytes_per_second(self) -> float:
        return self.gbps.value * 1e9

    def __str__(self) -> str:
        return f"Memory bandwidth: {self.gbps} (summing {self.megabytes} MB of fp32, {self.device})"

    def as_record(self) -> dict:
        return {"bandwidth_gbps": self.gbps.as_record(), "bandwidth_megabytes": self.megabytes}


def memory_bandwidth(megabytes: int = 256, repeats: int = 9, device: str | None = None, warmup: int = 1,
                     min_seconds: float = 0.05) -> Bandwidth:
    """Bytes per second read from memory: the time to sum a tensor of ``megabytes`` (far larger than the
    caches). A sum does one addition per 4 bytes read, so the memory, not the arithmetic, sets its pace."""
    _whole("megabytes", megabytes)
    _whole("repeats", repeats)
    _whole("warmup", warmup, 0)
    device = pick_device(device)
    data = torch.ones(megabytes * 2 ** 20 // 4, device=device)      # written once, so every page is real
    times = _time(lambda: data.sum(), repeats, warmup, device, min_seconds)
    return Bandwidth(Rate.of([data.numel() * 4 / t / 1e9 for t in times], "GB/s"), megabytes, device)


# ---------------------------------------------------------------------------------------------
# FLOPs of a training step, counted from the model's layers
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StepFlops:
    """The weights a training step multiplies by, grouped by what the backward pass must do with them."""
    frozen: int           # weights of frozen linear layers (the base model), output layer excluded
    trainable: int        # weights of trainable linear layers (the LoRA adapters)
    head: int             # weights of the output layer (SmolLM2's is tied to the frozen embedding)
    head_trainable: bool
    tokens: int           # T: tokens through the body, padding included
    head_tokens: int      # T_head: positions the output layer runs on

    @property
    def forward(self) -> int:
        return 2 * (self.frozen + self.trainable) * self.tokens + 2 * self.head * self.head_tokens

    @property
    def backward(self) -> int:
        head = (4 if self.head_trainable else 2) * self.head * self.head_tokens
        return 2 * self.frozen * self.tokens + 4 * self.trainable * self.tokens + head

    @property
    def total(self) -> int:
        return self.forward + self.backward


def _linear_weights(model) -> tuple[int, int, int, bool]:
    """(frozen, trainable, head, head trainable): weights of the model's linear layers."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    frozen = trainable = 0
    for module in model.modules():
        if isinstance(module, torch.nn.Linear) and module is not head:
            if module.weight.requires_grad:
                trainable += module.weight.numel()
            else:
                frozen += module.weight.numel()
    if head is None:
        return frozen, trainable, 0, False
    return frozen, trainable, head.weight.numel(), head.weight.requires_grad


def step_flops(model, tokens: int, head_tokens: int | None = None) -> StepFlops:
    """FLOPs of one training step of ``model`` on ``tokens`` tokens, by ``FORMULA``. Linear layers whose weights
    require grad count as trainable, the others as frozen; the output layer (``get_output_embeddings()``, if
    the model has one) runs on ``head_tokens`` positions (default: all of them)."""
    _whole("tokens", tokens)
    head_tokens = tokens if head_tokens is None else _whole("head_tokens", head_tokens)
    frozen, trainable, head, head_trainable = _linear_weights(model)
    if frozen + trainable + head == 0:
        raise ValueError("This model has no linear layers (torch.nn.Linear) to count FLOPs for.")
    return StepFlops(frozen, trainable, head, head_trainable, tokens, head_tokens)


def decode_flops_per_token(model) -> int:
    """2 FLOPs per weight of every linear layer, output layer included: the arithmetic of one generated token."""
    frozen, trainable, head, _ = _linear_weights(model)
    return 2 * (frozen + trainable + head)


def weight_bytes(model) -> int:
    """Bytes of every parameter (a tied embedding counted once): what one decode step reads from memory."""
    return sum(p.numel() * p.element_size() for p in model.parameters())


# ---------------------------------------------------------------------------------------------
# One LoRA training step
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LoraStep:
    achieved: Rate                # GFLOP/s, one per timed step
    flops: StepFlops
    batch_size: int
    length: int
    counted_flops: int | None     # torch's own FLOP counter on the same step, as a check on the formula
    peak: Rate | None = None      # the matmul peak's GFLOP/s, for the share

    @property
    def fraction(self) -> float | None:
        return self.achieved.value / self.peak.value if self.peak else None

    @property
    def fraction_interval(self) -> tuple[float, float] | None:
        """Both intervals at their least favourable ends: a conservative interval for the share."""
        return ratio(self.achieved, self.peak)[1:] if self.peak else None

    def __str__(self) -> str:
        work = f"{self.flops.total / 1e9:.1f} GFLOP by the formula"
        if self.counted_flops:
            work += f", {self.counted_flops / 1e9:.1f} by torch's FLOP counter"
        line = f"LoRA step (batch {self.batch_size} × {self.length} tokens, {work}): {self.achieved} achieved"
        if self.peak:
            low, high = self.fraction_interval
            line += (f" = {100 * self.fraction:.0f} % [{100 * low:.0f}, {100 * high:.0f}] of the measured matmul "
                     f"peak ({_num(self.peak.value)} GFLOP/s)")
            if self.fraction > 1:
                line += f". {BUSY}"
        return line

    def as_record(self) -> dict:
        record = {"lora_gflops": self.achieved.as_record(), "lora_gflop": self.flops.total / 1e9,
                  "lora_torch_gflop": None if self.counted_flops is None else self.counted_flops / 1e9,
                  "lora_batch": self.batch_size, "lora_length": self.length}
        if self.peak:
            record["lora_peak_fraction"] = self.fraction
        return record


def _training_batch(vocab_size: int, batch_size: int, length: int, target_length: int, seed: int) -> dict:
    from utils.finetune.lora import IGNORE_INDEX

    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(min(100, vocab_size - 1), vocab_size, (batch_size, length), generator=generator)
    labels = input_ids.clone()                                                    # (B, T)
    labels[:, : length - target_length] = IGNORE_INDEX                            # learn only the last tokens
    return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids),
            "position_ids": torch.arange(length).expand(batch_size, length), "labels": labels}


def lora_step(model, batch_size: int = 2, length: int = 64, target_length: int = 16, steps: int = 6,
              peak: MatmulPeak | None = None, count: bool = True, lr: float = 1e-4, seed: int = 0) -> LoraStep:
    """Time ``steps`` LoRA training steps (forward, backward, AdamW; after one warm-up step) on a batch of random
    tokens, and divide the formula's FLOPs by each step's seconds. ``model`` is a causal LM already wrapped by
    ``utils.finetune.lora.add_lora``; its adapters are put back as they were afterwards. With ``count``, one
    more (untimed) step runs under torch's FLOP counter, to check the formula."""
    from utils.finetune.lora import causal_lm_loss

    for name, value, minimum in (("batch_size", batch_size, 1), ("length", length, 2),
                                 ("target_length", target_length, 1), ("steps", steps, 1)):
        _whole(name, value, minimum)
    if target_length >= length:
        raise ValueError(f"target_length must be shorter than length (the prompt needs a token), got "
                         f"{target_length} and {length}.")
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise ValueError("Nothing to train: no parameter requires grad. Wrap the model with "
                         "utils.finetune.lora.add_lora first (and unload() it afterwards).")
    device = next(model.parameters()).device
    batch = _training_batch(model.get_input_embeddings().num_embeddings, batch_size, length, target_length, seed)
    saved = [p.detach().clone() for p in trainable]
    was_training = model.training
    optimizer = torch.optim.AdamW(trainable, lr=lr)

    def one_step():
        loss, _ = causal_lm_loss(model, batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    model.train()
    try:
        times = _time(one_step, steps, 1, device.type)
        counted = None
        if count:
            from torch.utils.flop_counter import FlopCounterMode

            with FlopCounterMode(display=False) as counter:
                loss, _ = causal_lm_loss(model, batch)
                loss.backward()
            optimizer.zero_grad(set_to_none=True)
            counted = int(counter.get_total_flops())
    finally:
        with torch.no_grad():
            for parameter, value in zip(trainable, saved):
                parameter.copy_(value)
        model.train(was_training)
    flops = step_flops(model, batch_size * length, batch_size * (target_length + 1))   # causal_lm_loss keeps these
    return LoraStep(Rate.of([flops.total / t / 1e9 for t in times], "GFLOP/s"), flops, batch_size, length,
                    counted, peak.gflops if peak else None)


# ---------------------------------------------------------------------------------------------
# Generation against its bounds
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DecodeSpeed:
    tokens_per_second: Rate           # batch_size / seconds of each decode step
    batch_size: int
    weight_bytes: int
    flops_per_token: int
    bandwidth_gbps: float | None = None
    peak_gflops: float | None = None

    @property
    def memory_bound(self) -> float | None:
        """Tokens/s if each step took exactly one read of every weight: batch × bandwidth / weight bytes."""
        return self.batch_size * self.bandwidth_gbps * 1e9 / self.weight_bytes if self.bandwidth_gbps else None

    @property
    def compute_bound(self) -> float | None:
        """Tokens/s if the arithmetic ran at the matmul peak: peak / FLOPs per token."""
        return self.peak_gflops * 1e9 / self.flops_per_token if self.peak_gflops else None

    @property
    def bound(self) -> float | None:
        bounds = [b for b in (self.memory_bound, self.compute_bound) if b]
        return min(bounds) if bounds else None

    @property
    def limited_by(self) -> str | None:
        if not self.bound:
            return None
        return "memory" if self.bound == self.memory_bound else "compute"

    @property
    def fraction(self) -> float | None:
        return self.tokens_per_second.value / self.bound if self.bound else None

    def __str__(self) -> str:
        line = f"Decoding, batch {self.batch_size}: {self.tokens_per_second}"
        if not self.bound:
            return line
        parts = []
        if self.memory_bound:
            parts.append(f"memory: {self.batch_size} × {self.bandwidth_gbps:.1f} GB/s ÷ "
                         f"{self.weight_bytes / 1e6:,.0f} MB of weights per step = {_num(self.memory_bound)}")
        if self.compute_bound:
            parts.append(f"compute: {_num(self.peak_gflops)} GFLOP/s ÷ {self.flops_per_token / 1e9:.2f} GFLOP "
                         f"per token = {_num(self.compute_bound)}")
        line = (f"{line} = {100 * self.fraction:.0f} % of its {self.limited_by} bound, {_num(self.bound)} "
                f"tokens/s ({'; '.join(parts)})")
        return line + (f". {BUSY}" if self.fraction > 1 else "")

    def as_record(self) -> dict:
        key = f"decode_batch_{self.batch_size}"
        return {f"{key}_tokens_per_second": self.tokens_per_second.as_record(),
                f"{key}_bound_tokens_per_second": self.bound, f"{key}_limited_by": self.limited_by,
                f"{key}_bound_fraction": self.fraction, "weight_megabytes": self.weight_bytes / 1e6}


def _step_clock(device: str):
    """A stopping criterion that never stops: ``generate`` calls it once per new token, so it notes the time."""
    from transformers import StoppingCriteria

    class StepClock(StoppingCriteria):
        def __init__(self):
            self.ticks: list[float] = []

        def __call__(self, input_ids, scores, **kwargs):
            synchronize(device)
            self.ticks.append(time.perf_counter())
            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    return StepClock()


@torch.no_grad()
def decode_speed(model, tokenizer, prompts: list[str], batch_size: int = 1, new_tokens: int = 16,
                 bandwidth: Bandwidth | None = None, peak: MatmulPeak | None = None) -> DecodeSpeed:
    """Tokens per second of greedy decoding, ``batch_size`` prompts at once, step by step: each of the
    ``new_tokens`` - 1 steps after the first is timed (the first also reads the prompt). Every row generates all
    ``new_tokens`` (end-of-text is held off), so each step does a full batch of work. ``prompts`` are chat-formatted
    strings, repeated to fill the batch; the tokenizer must pad on the left, as ``utils.core.models.load_llm``
    sets it. One short warm-up generation runs first."""
    from transformers import StoppingCriteriaList

    if isinstance(prompts, str) or not prompts or not all(isinstance(p, str) and p for p in prompts):
        raise ValueError("prompts must be a non-empty list of chat-formatted strings (utils.core.generation."
                         "chat_prompt); wrap a single prompt as [prompt].")
    _whole("batch_size", batch_size)
    _whole("new_tokens", new_tokens, 3)
    if tokenizer.padding_side != "left":
        raise ValueError("Batched generation needs tokenizer.padding_side = 'left' (utils.core.models.load_llm sets it).")
    batch = (list(prompts) * math.ceil(batch_size / len(prompts)))[:batch_size]
    device = next(model.parameters()).device
    inputs = tokenizer(batch, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
    settings = dict(do_sample=False, pad_token_id=tokenizer.pad_token_id)
    was_training = model.training
    model.eval()
    model.generate(**inputs, max_new_tokens=2, **settings)                         # warm-up
    clock = _step_clock(device.type)
    model.generate(**inputs, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                   stopping_criteria=StoppingCriteriaList([clock]), **settings)
    model.train(was_training)
    steps = [b - a for a, b in zip(clock.ticks, clock.ticks[1:])]
    if not steps:
        raise RuntimeError("generate() did not report its steps; is this a transformers causal LM?")
    return DecodeSpeed(Rate.of([batch_size / s for s in steps], "tokens/s"), batch_size, weight_bytes(model),
                       decode_flops_per_token(model), bandwidth.gbps.value if bandwidth else None,
                       peak.gflops.value if peak else None)


def summary_record(*measurements) -> dict:
    """One dict for ``record_results`` from any of the measurements above."""
    record = {}
    for measurement in measurements:
        if not hasattr(measurement, "as_record"):
            raise ValueError(f"summary_record takes the results of this module's functions, got "
                             f"{type(measurement).__name__}.")
        record.update(measurement.as_record())
    return record

