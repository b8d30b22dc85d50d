"""Numbers as a person reads them: a unit, sensible digits, thousands separators.

    format_number(0.782, "percent")    # '78.2 %'
    format_number(154.2, "s")          # '2 min 34 s'
    format_number(6e-05, "usd")        # '$0.00006'
    format_number(-0.052, "pp")        # '-5.2 pp'

``UNITS`` lists every kind. A value that does not fit its kind (a "percent" of 97, a count of 2.5) is
shown as a plain number rather than a wrong one; None and NaN show as "–". Rounding is half-up on the
decimal digits you see (1234.5 → 1,235), as a person rounds, not Python's round-half-to-even.
"""

import math
from decimal import ROUND_HALF_UP, Decimal

MISSING = "–"

UNITS = {
    "percent": "a share between 0 and 1, shown as a percentage with one decimal (0.782 → 78.2 %)",
    "pp": "a difference of two shares, in percentage points with a sign (0.052 → +5.2 pp)",
    "percent_value": "a number that is already a percentage (0.24 → 0.24 %)",
    "ms": "milliseconds (seconds from 1,000 ms on)",
    "s": "seconds (milliseconds below 0.1 s, minutes and seconds from 120 s on, hours from 1 h on)",
    "min": "minutes (hours and minutes from 60 min on)",
    "kib": "kibibytes (2^10 bytes)",
    "mib": "mebibytes (2^20 bytes; GiB from 1,024 MiB on)",
    "gib": "gibibytes (2^30 bytes)",
    "mb": "megabytes (10^6 bytes; GB from 1,000 MB on)",
    "usd": "US dollars, with digits that suit the amount",
    "usd_per_hour": "US dollars per hour",
    "count": "a whole number, with thousands separators",
    "ratio": "how many times larger (12.3×)",
    "tokens_per_s": "tokens generated per second",
    "gflops": "billions of floating-point operations per second (GFLOP/s)",
    "gbps": "gigabytes (10^9 bytes) per second",
    "millions": "millions (134.5 M)",
    "score": "a number without a unit (a threshold, a load average): three significant digits",
    "plain": "a number without a known unit: up to four significant digits",
}


def is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def fixed(value: float, decimals: int) -> str:
    """``value`` with exactly ``decimals`` decimals (half-up) and thousands separators; no "-0"."""
    rounded = Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    if rounded == 0:
        rounded = abs(rounded)
    return f"{rounded:,.{decimals}f}"


def _decimals_for(value: float, significant: int) -> int:
    """How many decimals show ``significant`` significant digits of ``value`` (0 for a large value)."""
    if value == 0:
        return 0
    return max(0, significant - 1 - math.floor(math.log10(abs(value))))


def significant(value: float, digits: int = 3, strip: bool = True) -> str:
    """``digits`` significant digits (whole digits are never rounded away), thousands separators, trailing
    zeros dropped when ``strip``."""
    text = fixed(value, _decimals_for(value, digits))
    if strip and "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def plain(value) -> str:
    """A number without a known unit: integers with separators, floats with up to four significant digits."""
    if is_missing(value):
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not _is_number(value):
        return str(value)
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if isinstance(value, int) or (value.is_integer() and abs(value) < 1e15):
        return f"{int(value):,}"
    if abs(value) >= 1e15 or abs(value) < 1e-4:
        return f"{value:.3g}"
    if abs(value) >= 1000:
        return fixed(value, 0)
    return significant(value, 4)


def _signed(value: float, text_of_magnitude) -> str:
    return ("-" if value < 0 else "") + text_of_magnitude(abs(value))


def _seconds(value: float) -> str:
    if value == 0:
        return "0 s"
    if value < 0.1:
        return _milliseconds(value * 1000)
    if value < 1:
        return f"{significant(value, 2)} s"
    if value < 100:
        return f"{fixed(value, 1)} s"
    if value < 120:
        return f"{fixed(value, 0)} s"
    total = int(Decimal(repr(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if total < 3600:
        return f"{total // 60} min {total % 60:02d} s"
    minutes = (total + 30) // 60
    return f"{minutes // 60:,} h {minutes % 60:02d} min"


def _milliseconds(value: float) -> str:
    if value >= 1000:
        return _seconds(value / 1000)
    if value == 0:
        return "0 ms"
    if value < 1:
        return f"{significant(value, 2)} ms"
    if value < 100:
        return f"{fixed(value, 1)} ms"
    return f"{fixed(value, 0)} ms"


def _minutes(value: float) -> str:
    if value < 60:
        return f"{fixed(value, 1 if value < 10 else 0)} min"
    return _seconds(value * 60)


def _bytes(value: float, names: tuple[str, ...], step: int, start: int) -> str:
    """``value`` in unit ``names[start]``; moved to a larger or smaller unit so that 1 ≤ shown < ``step``."""
    index = start
    while value >= step and index + 1 < len(names):
        value, index = value / step, index + 1
    while 0 < value < 1 and index > 0:
        value, index = value * step, index - 1
    if value == 0:
        return f"0 {names[index]}"
    decimals = 0 if value >= 100 else 1 if value >= 10 else 2 if index >= 3 else 1
    return f"{fixed(value, decimals)} {names[index]}"


BINARY = ("B", "KiB", "MiB", "GiB", "TiB")
DECIMAL = ("B", "kB", "MB", "GB", "TB")


def _dollars(value: float) -> str:
    if value == 0:
        return "$0"
    if value >= 1000:
        return f"${fixed(value, 0)}"
    if value >= 0.01:
        return f"${fixed(value, 2)}"
    return f"${significant(value, 2)}"


def _ratio(value: float) -> str:
    return f"{fixed(value, 0) if value >= 100 else significant(value, 3 if value >= 1 else 2)}×"


def format_number(value, unit: str = "plain") -> str:
    """One number in ``unit`` (a key of ``UNITS``); anything that is not a finite number goes to ``plain``."""
    if unit not in UNITS:
        raise ValueError(f"Unknown unit {unit!r}; use one of {', '.join(UNITS)}.")
    if not _is_number(value) or is_missing(value) or math.isinf(value):
        return plain(value)
    if unit == "percent":
        if not -1e-9 <= value <= 1 + 1e-9:
            return plain(value)  # not a share: say the number rather than a wrong percentage
        return f"{fixed(100 * value, 1)} %"
    if unit == "pp":
        if not -1 - 1e-9 <= value <= 1 + 1e-9:
            return plain(value)
        text = fixed(100 * value, 1)
        return f"{'+' if not text.startswith('-') and text != '0.0' else ''}{text} pp"
    if unit == "percent_value":
        return f"{_signed(value, lambda v: fixed(v, 1) if v >= 1 else significant(v, 2))} %"
    if unit == "count":
        return f"{int(value):,}" if float(value).is_integer() else plain(value)
    if unit == "plain":
        return plain(value)
    if unit == "score":
        return significant(value, 3, strip=False) if 1e-4 <= abs(value) < 1e15 else plain(value)
    texts = {"ms": _milliseconds, "s": _seconds, "min": _minutes, "usd": _dollars, "ratio": _ratio,
             "usd_per_hour": lambda v: f"{_dollars(v)} per hour",
             "tokens_per_s": lambda v: f"{significant(v, 3)} tokens/s",
             "gflops": lambda v: f"{significant(v, 3)} GFLOP/s", "gbps": lambda v: f"{significant(v, 3)} GB/s",
             "millions": lambda v: f"{significant(v, 4)} M",
             "kib": lambda v: _bytes(v, BINARY, 1024, 1), "mib": lambda v: _bytes(v, BINARY, 1024, 2),
             "gib": lambda v: _bytes(v, BINARY, 1024, 3), "mb": lambda v: _bytes(v, DECIMAL, 1000, 2)}
    return _signed(value, texts[unit])
