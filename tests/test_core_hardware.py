"""Unit tests for utils.core.hardware: the median interval, the FLOP formula, the ratios, and short runs on
tiny models (a few linear layers, a random two-layer Llama); the embedded LLM is never loaded."""

import math

import pytest
import torch

from utils.core import hardware as hw
from utils.course.report import is_estimate

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --- the median and its interval ---------------------------------------------------------------------------

def test_median_interval_uses_order_statistics():
    median, low, high, coverage = hw.median_interval([5, 1, 4, 2, 3, 7, 6])
    assert (median, low, high) == (4, 1, 7) and coverage == pytest.approx(1 - 2 / 2 ** 7)
    median, low, high, coverage = hw.median_interval(range(1, 10))          # n = 9: one in from each end
    assert (median, low, high) == (5, 2, 8) and coverage == pytest.approx(1 - 2 * 10 / 2 ** 9) and coverage >= 0.95
    assert hw.median_interval([1, 2, 3, 4])[0] == 2.5
    few = hw.median_interval([3, 1, 2])
    assert few[1:3] == (1, 3) and few[3] == pytest.approx(0.75), "with 3 samples the range covers 75 %"


@pytest.mark.parametrize("samples, confidence, words", [([], 0.95, "at least one"), ([1.0, math.nan], 0.95, "finite"),
                                                        ([1.0], 1.5, "between 0 and 1")])
def test_median_interval_rejects_bad_input(samples, confidence, words):
    with pytest.raises(ValueError, match=words):
        hw.median_interval(samples, confidence)


def test_rate_says_when_it_has_too_few_repeats():
    rate = hw.Rate.of([10.0, 11.0, 12.0, 13.0, 14.0, 15.0], "GFLOP/s")
    assert str(rate) == "12.5 GFLOP/s, 95 % interval [10.0, 15.0] (n = 6)"
    assert is_estimate(rate.as_record()), "the course report prints it with its interval"
    assert "too few repeats for a 95 % interval" in str(hw.Rate.of([1.0, 2.0, 3.0], "tokens/s"))


# --- FLOP counting -----------------------------------------------------------------------------------------

def linear_stack(*sizes, trainable=(0,)):
    layers = [torch.nn.Linear(a, b, bias=False) for a, b in zip(sizes, sizes[1:])]
    for i, layer in enumerate(layers):
        layer.weight.requires_grad_(i in trainable)
    return torch.nn.Sequential(*layers)


def test_step_flops_follow_the_formula():
    model = linear_stack(8, 16, 32, 4, trainable=(0,))        # 128 trainable weights, 512 + 128 frozen
    flops = hw.step_flops(model, tokens=10)
    assert (flops.trainable, flops.frozen, flops.head) == (128, 640, 0)
    assert flops.forward == 2 * (128 + 640) * 10
    assert flops.backward == 4 * 128 * 10 + 2 * 640 * 10
    assert flops.total == 6 * 128 * 10 + 4 * 640 * 10
    assert hw.decode_flops_per_token(model) == 2 * 768
    assert hw.weight_bytes(model) == 768 * 4


def test_the_formula_matches_torchs_flop_counter_on_linear_layers():
    from torch.utils.flop_counter import FlopCounterMode

    model = linear_stack(8, 16, 32, 4, trainable=(0,))
    x = torch.randn(10, 8)
    with FlopCounterMode(display=False) as counter:
        model(x).sum().backward()
    # the formula also counts the input gradient of the bottom layer, which nothing below it needs
    assert counter.get_total_flops() == hw.step_flops(model, 10).total - 2 * 128 * 10


def test_step_flops_count_the_output_layer_on_its_own_positions():
    from transformers import LlamaConfig, LlamaForCausalLM

    model = LlamaForCausalLM(LlamaConfig(vocab_size=50, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=1, tie_word_embeddings=True))
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    flops = hw.step_flops(model, tokens=20, head_tokens=5)
    assert flops.head == 50 * 16 and not flops.head_trainable and flops.trainable == 0
    assert flops.total == 4 * flops.frozen * 20 + 4 * 50 * 16 * 5


@pytest.mark.parametrize("tokens, head_tokens", [(0, None), (10, 0), (2.5, None)])
def test_step_flops_reject_bad_counts(tokens, head_tokens):
    with pytest.raises(ValueError, match="whole number"):
        hw.step_flops(linear_stack(4, 4), tokens, head_tokens)


def test_step_flops_need_linear_layers():
    with pytest.raises(ValueError, match="no linear layers"):
        hw.step_flops(torch.nn.Sequential(torch.nn.ReLU()), 4)


# --- the ratios --------------------------------------------------------------------------------------------

def rate(value, spread=0.1, n=7, unit="GFLOP/s"):
    return hw.Rate(value, value * (1 - spread), value * (1 + spread), n, unit, 0.98)


def test_lora_step_share_of_the_peak():
    flops = hw.StepFlops(1000, 10, 0, False, 4, 4)
    step = hw.LoraStep(rate(20.0), flops, 2, 2, None, rate(80.0))
    assert step.fraction == pytest.approx(0.25)
    low, high = step.fraction_interval
    assert low == pytest.approx(18 / 88) and high == pytest.approx(22 / 72)
    text = str(step)
    assert "20.0 GFLOP/s, 95 % interval [18.0, 22.0] (n = 7) achieved = 25 % [20, 31] of the measured matmul peak (80.0" in text
    assert hw.BUSY not in text
    assert hw.BUSY in str(hw.LoraStep(rate(90.0), flops, 2, 2, None, rate(80.0))), "above the peak: say why"
    alone = hw.LoraStep(rate(20.0), flops, 2, 2, None)
    assert alone.fraction is None and "peak" not in str(alone) and "lora_peak_fraction" not in alone.as_record()
    assert step.as_record()["lora_peak_fraction"] == pytest.approx(0.25)


def test_ratio_of_two_rates_takes_the_unfavourable_ends():
    assert hw.ratio(rate(20.0), rate(10.0)) == pytest.approx((2.0, 18 / 11, 22 / 9))
    with pytest.raises(ValueError, match="two Rates"):
        hw.ratio(20.0, rate(10.0))


def test_decode_speed_bounds():
    # 1 GB of weights, 2 GFLOP per token: batch 1 reads the weights once per token (memory bound 10 tokens/s);
    # batch 64 would need 640 tokens/s of memory but the arithmetic allows only 100 GFLOP/s / 2 = 50 tokens/s
    single = hw.DecodeSpeed(rate(5.0, unit="tokens/s"), 1, 10 ** 9, 2 * 10 ** 9, 10.0, 100.0)
    assert single.memory_bound == pytest.approx(10) and single.compute_bound == pytest.approx(50)
    assert single.limited_by == "memory" and single.fraction == pytest.approx(0.5)
    assert "50 % of its memory bound, 10.0 tokens/s" in str(single) and "1 × 10.0 GB/s ÷ 1,000 MB" in str(single)
    batched = hw.DecodeSpeed(rate(40.0, unit="tokens/s"), 64, 10 ** 9, 2 * 10 ** 9, 10.0, 100.0)
    assert batched.memory_bound == pytest.approx(640) and batched.limited_by == "compute"
    assert batched.fraction == pytest.approx(0.8)
    record = batched.as_record()
    assert record["decode_batch_64_limited_by"] == "compute" and is_estimate(record["decode_batch_64_tokens_per_second"])
    unbounded = hw.DecodeSpeed(rate(5.0, unit="tokens/s"), 1, 10 ** 9, 2 * 10 ** 9)
    assert unbounded.bound is None and unbounded.fraction is None and "bound" not in str(unbounded)
    assert hw.BUSY in str(hw.DecodeSpeed(rate(20.0, unit="tokens/s"), 1, 10 ** 9, 2 * 10 ** 9, 10.0))


# --- short runs ---------------------------------------------------------------------------------------------

def test_matmul_peak_and_bandwidth_run_small():
    peak = hw.matmul_peak(64, repeats=3, device="cpu", warmup=1, min_seconds=0)
    assert peak.gflops.n == 3 and peak.gflops.value > 0 and peak.device == "cpu" and "64 × 64" in str(peak)
    memory = hw.memory_bandwidth(4, repeats=6, device="cpu", min_seconds=0.001)
    assert memory.gbps.low <= memory.gbps.value <= memory.gbps.high and memory.bytes_per_second > 0
    assert "95 % interval" in str(memory)
    record = hw.summary_record(peak, memory)
    assert is_estimate(record["matmul_gflops"]) and is_estimate(record["bandwidth_gbps"])


@pytest.mark.parametrize("call, words", [
    (lambda: hw.matmul_peak(0), "size must be a whole number >= 16"),
    (lambda: hw.matmul_peak(64, repeats=0), "repeats"),
    (lambda: hw.matmul_peak(64, device="tpu"), "Unknown device 'tpu'"),
    (lambda: hw.memory_bandwidth(-1), "megabytes"),
    (lambda: hw.summary_record({"a": 1}), "this module's functions"),
])
def test_measurements_reject_bad_input(call, words):
    with pytest.raises(ValueError, match=words):
        call()


@pytest.fixture(scope="module")
def tiny(make_tiny_llama):
    """A random two-layer Llama and a byte-level tokenizer that pads on the left."""
    return make_tiny_llama(32, 64, layers=2, heads=4, kv_heads=2, tie_word_embeddings=True)


def test_lora_step_runs_counts_and_puts_the_adapters_back(tiny):
    from utils.finetune.lora import add_lora, lora_config

    model, _ = tiny
    lora_model = add_lora(model, lora_config(r=4), seed=0).eval()
    try:
        before = {n: p.detach().clone() for n, p in lora_model.named_parameters() if p.requires_grad}
        peak = hw.MatmulPeak(rate(10.0), 64, "cpu", 1)
        step = hw.lora_step(lora_model, batch_size=2, length=16, target_length=4, steps=2, peak=peak)
        assert step.achieved.n == 2 and step.achieved.value > 0 and step.fraction is not None
        assert step.flops.trainable == sum(before[n].numel() for n in before if "lora_" in n)
        assert step.flops.head_tokens == 2 * 5 and step.flops.tokens == 2 * 16
        # torch's counter adds attention's products and skips the bottom layer's input gradient: close, not equal
        assert 0.7 < step.counted_flops / step.flops.total < 1.3
        after = dict(lora_model.named_parameters())
        assert all(torch.equal(after[n], value) for n, value in before.items()), "the adapters are put back"
        assert not lora_model.training, "left in the mode it came in"
    finally:
        lora_model.unload()


def test_lora_step_rejects_bad_input(tiny):
    model, _ = tiny
    with pytest.raises(ValueError, match="Wrap the model with utils.finetune.lora.add_lora"):
        hw.lora_step(model, steps=1)
    with pytest.raises(ValueError, match="target_length must be shorter than length"):
        hw.lora_step(model, length=8, target_length=8)
    with pytest.raises(ValueError, match="steps must be a whole number"):
        hw.lora_step(model, steps=0)


def test_decode_speed_times_each_step(tiny):
    model, tokenizer = tiny
    memory = hw.Bandwidth(rate(10.0, unit="GB/s"), 4, "cpu")
    speed = hw.decode_speed(model, tokenizer, ["How long is the warranty?", "Two?"], batch_size=3, new_tokens=5,
                            bandwidth=memory)
    assert speed.batch_size == 3 and speed.tokens_per_second.n == 4, "5 new tokens: 4 timed steps after the first"
    assert speed.weight_bytes == hw.weight_bytes(model) and speed.limited_by == "memory"
    assert speed.memory_bound == pytest.approx(3 * 10e9 / speed.weight_bytes)


@pytest.mark.parametrize("prompts, kwargs, words", [("one prompt", {}, "wrap a single prompt"),
                                                    ([], {}, "non-empty list"),
                                                    (["Hi"], {"new_tokens": 2}, "new_tokens must be"),
                                                    (["Hi"], {"batch_size": 0}, "batch_size must be")])
def test_decode_speed_rejects_bad_input(tiny, prompts, kwargs, words):
    model, tokenizer = tiny
    with pytest.raises(ValueError, match=words):
        hw.decode_speed(model, tokenizer, prompts, **kwargs)


def test_decode_speed_needs_left_padding(tiny):
    model, tokenizer = tiny
    tokenizer.padding_side = "right"
    try:
        with pytest.raises(ValueError, match="padding_side = 'left'"):
            hw.decode_speed(model, tokenizer, ["Hi"])
    finally:
        tokenizer.padding_side = "left"
