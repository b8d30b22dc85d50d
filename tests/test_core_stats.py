"""utils.core.stats: Wilson intervals checked against SciPy's, the paired bootstrap against what it must show."""

import numpy as np
import pytest
from scipy.stats import binomtest

from utils.core.stats import (
    Estimate,
    compare_words,
    difference_of_gains,
    difference_sentence,
    paired_difference,
    proportion,
    wilson_interval,
)


@pytest.mark.parametrize("k, n", [(0, 12), (12, 12), (8, 10), (33, 40), (89, 110), (1, 3)])
def test_wilson_matches_scipy(k, n):
    expected = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson_interval(k, n) == pytest.approx((expected.low, expected.high), abs=1e-9)


def test_proportion_reports_value_n_and_interval():
    estimate = proportion([True] * 8 + [False] * 2)
    assert (estimate.value, estimate.n) == (0.8, 10)
    assert estimate.low == pytest.approx(0.4902, abs=1e-4) and estimate.high == pytest.approx(0.9433, abs=1e-4)
    assert estimate.as_dict("accuracy") == {"accuracy": 0.8, "accuracy_n": 10, "accuracy_low": estimate.low,
                                            "accuracy_high": estimate.high}
    assert str(estimate).startswith("0.800 [0.490, 0.943] (n = 10)")


def test_a_small_gap_on_few_items_is_not_distinguishable():
    a = [1] * 9 + [0] * 2     # 9/11
    b = [1] * 8 + [0] * 3     # 8/11, one disagreement
    gap = paired_difference(a, b)
    assert gap.value == pytest.approx(1 / 11) and not gap.excludes_zero


def test_a_consistent_gap_on_many_items_excludes_zero():
    rng = np.random.default_rng(1)
    b = rng.random(200) < 0.5
    a = b | (rng.random(200) < 0.4)          # a is never worse, often better
    gap = paired_difference(a, b)
    assert gap.excludes_zero and gap.low > 0 and gap.low < gap.value < gap.high


def test_grouped_bootstrap_is_wider_when_groups_fail_together():
    a = np.repeat([1, 1, 1, 0, 1, 0, 1, 1, 1, 1], 10)    # 10 groups of 10 copies: one phrasing, ten messages
    b = np.repeat([1, 0, 1, 0, 1, 0, 0, 1, 1, 0], 10)
    groups = np.repeat(np.arange(10), 10)
    flat, grouped = paired_difference(a, b), paired_difference(a, b, groups=groups)
    assert flat.value == grouped.value
    assert grouped.high - grouped.low > 1.5 * (flat.high - flat.low)


def test_same_seed_same_interval():
    a, b = [1, 0, 1, 1, 0, 1], [0, 0, 1, 0, 0, 1]
    assert paired_difference(a, b, seed=3) == paired_difference(a, b, seed=3)


@pytest.mark.parametrize("call, match", [
    (lambda: wilson_interval(5, 0), "n must be a whole number > 0"),
    (lambda: wilson_interval(11, 10), "between 0 and n = 10"),
    (lambda: wilson_interval(1, 10, confidence=95), "confidence must be between 0 and 1"),
    (lambda: proportion([]), "non-empty"),
    (lambda: proportion([0.5, 1]), "only 0/1"),
    (lambda: paired_difference([1, 0], [1]), "same items"),
    (lambda: paired_difference([1, 0], [1, 1], groups=[0]), "one label per item"),
    (lambda: paired_difference([1, 0], [1, 1], resamples=10), "at least 100"),
])
def test_bad_input_says_what_to_pass(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_difference_sentence_follows_the_interval():
    better = difference_sentence([1] * 30 + [0] * 10, [0] * 30 + [1] * 10, "quote", "model")
    assert better.startswith("quote minus model: +0.500") and better.endswith("quote higher than model")
    tied = difference_sentence([1, 0] * 10, [0, 1] * 10, "a", "b")
    assert tied.endswith("not distinguishable at n = 20")
    assert difference_sentence([0] * 20, [1] * 20, "a", "b", unit=100).endswith("a lower than b")
    assert "-100.0 points" in difference_sentence([0] * 20, [1] * 20, "a", "b", unit=100)


def test_compare_words_name_a_winner_only_when_the_interval_excludes_zero():
    assert "not distinguishable at n = 359" in compare_words(Estimate(0.01, 359, -0.005, 0.02), "a", "b")
    assert "a higher than b" in compare_words(Estimate(0.05, 359, 0.02, 0.08), "a", "b")
    assert "a lower than b" in compare_words(Estimate(-0.05, 359, -0.08, -0.02), "a", "b")


def test_difference_of_gains_is_zero_for_equal_gains_and_signed_otherwise():
    rng = np.random.default_rng(0)
    without = rng.random(200) < 0.7
    helped = without | (rng.random(200) < 0.5)  # augmentation fixes some failures
    same = difference_of_gains(helped, without, helped, without)
    assert same.value == 0 and same.low == 0 and same.high == 0
    more = difference_of_gains(helped, without, without, without)  # a gain at a, none at b
    assert more.value == pytest.approx(paired_difference(helped, without).value) and more.excludes_zero
    with pytest.raises(ValueError, match="same items"):
        difference_of_gains([1, 0], [1], [1, 0], [1, 0])


def test_mean_estimate_bootstraps_fractional_scores():
    from utils.core.stats import mean_estimate

    estimate = mean_estimate([1.0, 0.5, 0.0, 1.0, 0.25] * 8)
    assert estimate.value == pytest.approx(0.55) and estimate.n == 40
    assert estimate.low < 0.55 < estimate.high
    assert mean_estimate([0.5] * 10).low == mean_estimate([0.5] * 10).high == 0.5
    with pytest.raises(ValueError, match="non-empty list"):
        mean_estimate([])
