"""Uncertainty for the course's numbers: Wilson intervals for proportions, paired bootstrap for differences.

Every headline figure is a proportion measured on a small set (12 questions, 40, 110), so it comes
with its ``n`` and a 95 % interval; a comparison of two approaches on the same questions is a
difference of paired outcomes, resampled together:

    accuracy = proportion(correct)                       # Estimate(value=0.8, n=40, low=0.65, high=0.9)
    gap = paired_difference(rag_correct, ft_correct)     # Estimate of the difference, interval by bootstrap
    gap.excludes_zero                                    # may the text say one is better?
"""

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np


@dataclass(frozen=True)
class Estimate:
    value: float
    n: int
    low: float
    high: float
    confidence: float = 0.95

    @property
    def excludes_zero(self) -> bool:
        """True when the whole interval lies on one side of zero (for a difference: a real gap at this n)."""
        return self.low > 0 or self.high < 0

    def as_dict(self, name: str) -> dict:
        """Flat fields for a results file: ``name``, ``name_n``, ``name_low``, ``name_high``."""
        return {name: self.value, f"{name}_n": self.n, f"{name}_low": self.low, f"{name}_high": self.high}

    def as_record(self) -> dict:
        """For a results file: ``{"value", "n", "low", "high"}``; the course report prints it with its interval."""
        return {"value": self.value, "n": self.n, "low": self.low, "high": self.high}

    def __str__(self) -> str:
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}] (n = {self.n})"


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence!r}.")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def _outcomes(values, name: str) -> np.ndarray:
    array = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=float)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty list of 0/1 (or True/False) outcomes, one per item.")
    if not np.isin(array, (0.0, 1.0)).all():
        raise ValueError(f"{name} must hold only 0/1 or True/False outcomes; got values like {array[~np.isin(array, (0.0, 1.0))][:3]}.")
    return array


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of ``successes / n``: sensible at 0/n, n/n and small n, unlike p ± z·se."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"n must be a whole number > 0, got {n!r}.")
    if isinstance(successes, bool) or not isinstance(successes, (int, np.integer)) or not 0 <= successes <= n:
        raise ValueError(f"successes must be a whole number between 0 and n = {n}, got {successes!r}.")
    z = _z(confidence)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low, high = max(0.0, centre - half), min(1.0, centre + half)
    return min(low, p), max(high, p)          # rounding must not put p itself outside its interval


def proportion(outcomes, confidence: float = 0.95) -> Estimate:
    """The share of successes among 0/1 ``outcomes``, with its Wilson interval."""
    array = _outcomes(outcomes, "outcomes")
    low, high = wilson_interval(int(array.sum()), int(array.size), confidence)
    return Estimate(float(array.mean()), int(array.size), low, high, confidence)


def mean_estimate(values, confidence: float = 0.95, resamples: int = 10_000, seed: int = 0) -> Estimate:
    """The mean of per-item scores that need not be 0/1 (a query's recall@k, its reciprocal rank), with a
    bootstrap interval over the items."""
    per_item = np.asarray(list(values), dtype=float)
    if per_item.ndim != 1 or per_item.size == 0:
        raise ValueError(f"Need a non-empty list of per-item scores, got shape {per_item.shape}.")
    return _bootstrap_mean(per_item, confidence, resamples, seed)


def paired_difference(a, b, confidence: float = 0.95, resamples: int = 10_000, seed: int = 0,
                      groups=None) -> Estimate:
    """mean(a) - mean(b) for two 0/1 outcome lists on the *same* items, with a paired bootstrap interval.

    Items are resampled with replacement and both outcomes of an item move together, so the interval
    reflects the disagreements only. With ``groups`` (one label per item, e.g. the message body a test
    phrasing was made from) whole groups are resampled, because items of one group fail together.
    """
    a, b = _same_items((_outcomes(a, "a"), _outcomes(b, "b")), "a and b")
    return _bootstrap_mean(a - b, confidence, resamples, seed, groups)


def difference_of_gains(a_with, a_without, b_with, b_without, confidence: float = 0.95,
                        resamples: int = 10_000, seed: int = 0) -> Estimate:
    """(gain at setting a) - (gain at setting b), gain = mean(with) - mean(without), all four on the same items.

    Answers "does augmentation help *more* at a than at b?". All four outcomes of an item move together in the
    resampling, as in ``paired_difference``.
    """
    names = ("a_with", "a_without", "b_with", "b_without")
    arrays = _same_items([_outcomes(v, name) for v, name in zip((a_with, a_without, b_with, b_without), names)],
                         "All four outcome lists")
    return _bootstrap_mean((arrays[0] - arrays[1]) - (arrays[2] - arrays[3]), confidence, resamples, seed)


def _same_items(arrays, what: str):
    sizes = [a.size for a in arrays]
    if len(set(sizes)) != 1:
        counts = " and ".join(map(str, sizes)) if len(sizes) == 2 else ", ".join(map(str, sizes))
        raise ValueError(f"{what} must be outcomes on the same items: got {counts} of them.")
    return arrays


def _bootstrap_mean(per_item: np.ndarray, confidence: float, resamples: int, seed: int, groups=None) -> Estimate:
    """The mean of ``per_item`` with a bootstrap interval: items (or whole ``groups``) resampled with replacement."""
    if resamples < 100:
        raise ValueError(f"resamples must be at least 100 for a stable interval, got {resamples}.")
    _z(confidence)
    rng = np.random.default_rng(seed)
    if groups is None:
        picks = rng.integers(0, per_item.size, size=(resamples, per_item.size))     # (R, N)
        stats = per_item[picks].mean(axis=1)                                         # (R,)
    else:
        labels = np.asarray(list(groups))
        if labels.size != per_item.size:
            raise ValueError(f"groups must give one label per item ({per_item.size}), got {labels.size}.")
        names, index = np.unique(labels, return_inverse=True)
        sums = np.bincount(index, weights=per_item, minlength=names.size)           # (G,)
        sizes = np.bincount(index, minlength=names.size)                             # (G,)
        picks = rng.integers(0, names.size, size=(resamples, names.size))           # (R, G)
        stats = sums[picks].sum(axis=1) / sizes[picks].sum(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(stats, [tail, 1 - tail])
    return Estimate(float(per_item.mean()), int(per_item.size), float(low), float(high), confidence)


def compare_words(difference: Estimate, first: str, second: str, unit: float = 100) -> str:
    """A sentence for ``difference`` = first − second that follows its interval: it names the higher one only
    when the interval excludes zero, and says "not distinguishable at n = ..." otherwise. The default ``unit=100``
    writes proportions as percentage points; ``unit=1`` keeps them as they are."""
    if unit == 100:
        span = f"{100 * difference.value:+.1f} points [{100 * difference.low:+.1f}, {100 * difference.high:+.1f}]"
    else:
        span = f"{unit * difference.value:+.3f} [{unit * difference.low:+.3f}, {unit * difference.high:+.3f}]"
    verdict = (f"{first} higher than {second}" if difference.low > 0 else f"{first} lower than {second}"
               if difference.high < 0 else f"not distinguishable at n = {difference.n}")
    return f"{first} minus {second}: {span}, n = {difference.n} — {verdict}"


def difference_sentence(a, b, first: str, second: str, groups=None, unit: float = 1) -> str:
    """``compare_words`` for the paired difference of two 0/1 outcome lists on the same items."""
    return compare_words(paired_difference(a, b, groups=groups), first, second, unit)
