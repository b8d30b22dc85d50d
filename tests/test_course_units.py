"""utils.course.units: numbers with units and sensible digits, for the course report."""

import math

import pytest

from utils.course.units import UNITS, fixed, format_number, plain, significant

CASES = {
    "percent": [(0.782, "78.2 %"), (0, "0.0 %"), (1, "100.0 %"), (0.99951, "100.0 %"), (0.0004, "0.0 %"),
                (-0.0, "0.0 %"), (97.0, "97"), (-0.2, "-0.2"), (1.5, "1.5")],
    "pp": [(0.052, "+5.2 pp"), (-0.052, "-5.2 pp"), (0, "0.0 pp"), (-0.0001, "0.0 pp"), (1.0, "+100.0 pp"),
           (-1.0, "-100.0 pp"), (3.0, "3")],
    "percent_value": [(1.783, "1.8 %"), (0.236, "0.24 %"), (0, "0 %"), (45.0, "45.0 %"), (-0.5, "-0.5 %")],
    "ms": [(40.24, "40.2 ms"), (666.48, "666 ms"), (0.22, "0.22 ms"), (0.0123, "0.012 ms"), (0, "0 ms"),
           (1234, "1.2 s"), (150_000, "2 min 30 s"), (-3.5, "-3.5 ms")],
    "s": [(22.53, "22.5 s"), (0, "0 s"), (0.35, "0.35 s"), (0.076, "76.0 ms"), (0.00012, "0.12 ms"),
          (119.6, "120 s"), (120, "2 min 00 s"), (154.2, "2 min 34 s"), (3599.6, "1 h 00 min"),
          (7322, "2 h 02 min"), (400_000, "111 h 07 min"), (-3.5, "-3.5 s")],
    "min": [(36.0, "36 min"), (4.25, "4.3 min"), (0, "0.0 min"), (135, "2 h 15 min")],
    "kib": [(95.086, "95.1 KiB"), (2048, "2.0 MiB"), (0, "0 KiB")],
    "mib": [(571.7, "572 MiB"), (1262.2, "1.23 GiB"), (3072, "3.00 GiB"), (0.5, "512 KiB"), (0, "0 MiB"),
            (5.25, "5.3 MiB"), (2 * 1024**3, "2,048 TiB"), (-100.0, "-100 MiB")],
    "gib": [(23.5, "23.5 GiB"), (0.5, "512 MiB"), (2048, "2.00 TiB")],
    "mb": [(9.83, "9.8 MB"), (1500, "1.50 GB"), (0.25, "250 kB")],
    "usd": [(6e-05, "$0.00006"), (6.12e-05, "$0.000061"), (1234.5, "$1,235"), (0.1, "$0.10"), (12.345, "$12.35"),
            (0, "$0"), (-0.5, "-$0.50"), (2.5e6, "$2,500,000"), (1e-9, "$0.000000001")],
    "usd_per_hour": [(0.1, "$0.10 per hour"), (2.5, "$2.50 per hour")],
    "count": [(23668, "23,668"), (0, "0"), (-1200, "-1,200"), (12.0, "12"), (159.667, "159.7"),
              (10**12, "1,000,000,000,000")],
    "ratio": [(1.179, "1.18×"), (10.0, "10×"), (0.097, "0.097×"), (250.4, "250×"), (0, "0×")],
    "tokens_per_s": [(43.7, "43.7 tokens/s"), (1234.5, "1,235 tokens/s")],
    "gflops": [(96.14, "96.1 GFLOP/s"), (202.4, "202 GFLOP/s")],
    "gbps": [(41.83, "41.8 GB/s"), (7.5, "7.5 GB/s")],
    "millions": [(134.5, "134.5 M"), (0.5, "0.5 M")],
    "score": [(0.6723, "0.672"), (1.899, "1.90"), (0, "0"), (-0.25, "-0.250")],
    "plain": [(0.123456, "0.1235"), (1234567.0, "1,234,567"), (12345.678, "12,346"), (3, "3"), (1e-7, "1e-07"),
              (1e20, "1e+20"), (-2.5, "-2.5")],
}


@pytest.mark.parametrize("unit, value, text", [(u, v, t) for u, cases in CASES.items() for v, t in cases])
def test_each_unit_kind(unit, value, text):
    assert format_number(value, unit) == text


def test_every_unit_is_tested():
    assert set(CASES) == set(UNITS)


@pytest.mark.parametrize("unit", list(UNITS))
def test_missing_and_non_numbers_are_never_a_crash(unit):
    assert format_number(None, unit) == "–"
    assert format_number(math.nan, unit) == "–"
    assert format_number(math.inf, unit) == "∞" and format_number(-math.inf, unit) == "-∞"
    assert format_number(True, unit) == "yes"
    assert format_number("cpu", unit) == "cpu"


def test_rounding_is_half_up_as_people_round():
    assert fixed(0.125, 2) == "0.13" and fixed(2.5, 0) == "3" and fixed(1234.5, 0) == "1,235"
    assert fixed(-0.0004, 2) == "0.00", "no negative zero"
    assert significant(0.0001234, 2) == "0.00012" and significant(98765.4, 3) == "98,765", "never rounds away whole digits"
    assert plain(None) == "–"


def test_an_unknown_unit_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown unit 'furlongs'"):
        format_number(1.0, "furlongs")
