"""Self-checks that labs call after each exercise: a green tick, or a message that teaches.

Every check raises ``LabCheckError`` (an ``AssertionError``) that says what was expected,
what was found, and a hint. There is no grading server: the checks are the feedback.

Tiered hints: a lab registers, per exercise, hints from the idea to the code with ``register_hints``;
``hint(2)`` then prints the next one for exercise 2 (the idea, then the API to use, last the code), and
``hint(2, 3)`` a given level. The exercise's stub shows only the first level.
"""

import math

HINT_LEVELS = ("the idea", "the API", "the code")
_hints: dict = {}   # exercise -> (idea, API, code), from register_hints
_shown: dict = {}   # exercise -> highest level printed so far


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


def check_fields(value, expected: dict, what: str, hints: dict | None = None) -> None:
    """Every attribute named in ``expected`` must equal its value; a failure lists each wrong field with its hint."""
    missing = object()
    wrong = [(name, want, getattr(value, name, missing)) for name, want in expected.items()
             if getattr(value, name, missing) != want]
    if wrong:
        lines = [f"✗ {what}: {len(wrong)} of {len(expected)} fields differ from the expected values."]
        for name, want, got in wrong:
            lines.append(f"  - {name}: expected {want!r}, got {'nothing' if got is missing else repr(got)}.")
            if (hints or {}).get(name):
                lines.append(f"    Hint: {hints[name]}")
        raise LabCheckError("\n".join(lines))
    _ok(what)


def register_hints(hints: dict) -> None:
    """Register a lab's tiered hints: ``{exercise: (idea, API, code)}``; forgets what ``hint`` showed before."""
    for exercise, levels in hints.items():
        if not isinstance(levels, (tuple, list)) or not 1 <= len(levels) <= len(HINT_LEVELS):
            raise ValueError(f"Exercise {exercise!r} needs 1 to {len(HINT_LEVELS)} hints (idea, API, code), "
                             f"got {levels!r}.")
    _hints.clear()
    _hints.update({exercise: tuple(levels) for exercise, levels in hints.items()})
    _shown.clear()


def hint(exercise, level: int | None = None) -> None:
    """Print a hint for ``exercise``: the next level on each call, or ``level`` (1 idea, 2 API, 3 code)."""
    if exercise not in _hints:
        known = ", ".join(map(repr, _hints)) or "none (run the cell that calls register_hints first)"
        raise ValueError(f"No hints for exercise {exercise!r}; exercises with hints: {known}.")
    levels = _hints[exercise]
    if level is None:
        level = min(_shown.get(exercise, 0) + 1, len(levels))
    if not isinstance(level, int) or not 1 <= level <= len(levels):
        raise ValueError(f"Exercise {exercise!r} has hint levels 1 to {len(levels)}, got {level!r}.")
    _shown[exercise] = max(_shown.get(exercise, 0), level)
    text = f"Hint {level} of {len(levels)} ({HINT_LEVELS[level - 1]}) for exercise {exercise}:\n{levels[level - 1]}"
    if level < len(levels):
        text += f"\n(Still stuck? hint({exercise!r}) shows {HINT_LEVELS[level]}.)"
    print(text)
