"""Self-checks that labs call after each exercise: a green tick, or a message that teaches.

Every check raises ``LabCheckError`` (an ``AssertionError``) that says what was expected,
what was found, and a hint. There is no grading server: the checks are the feedback.
"""

import math


class LabCheckError(AssertionError):
    """A self-check failed; the message says what was expected and how to fix it."""


def _fail(what: str, expected, got, hint: str):
    message = f"✗ {what}: expected {expected}, got {got}."
    if hint:
        message += f"\n  Hint: {hint}"
    raise LabCheckError(message)


def _ok(what: str) -> None:
    print(f"✓ {what}")


def check(condition: bool, what: str, hint: str = "") -> None:
    """The general case: ``condition`` must hold."""
    if not condition:
        _fail(what, "True", "False", hint)
    _ok(what)


def check_equal(value, expected, what: str, hint: str = "") -> None:
    if value != expected:
        _fail(what, repr(expected), repr(value), hint)
    _ok(what)


def check_close(value: float, expected: float, what: str, tol: float = 1e-6, hint: str = "") -> None:
    if not isinstance(value, (int, float)) or not math.isclose(value, expected, rel_tol=tol, abs_tol=tol):
        _fail(what, f"{expected} (±{tol})", repr(value), hint)
    _ok(what)


def check_between(value: float, low: float, high: float, what: str, hint: str = "") -> None:
    if not isinstance(value, (int, float)) or not low <= value <= high:
        _fail(what, f"a value between {low} and {high}", repr(value), hint)
    _ok(what)


def check_shape(array, shape: tuple, what: str, hint: str = "") -> None:
    """``array`` (tensor or ndarray) must have ``shape``; ``None`` in ``shape`` matches any size."""
    got = tuple(getattr(array, "shape", ()))
    if len(got) != len(shape) or any(s is not None and s != g for s, g in zip(shape, got)):
        _fail(what, f"shape {shape}", f"shape {got}", hint)
    _ok(what)
