"""What would change my mind: the smallest change of one field that flips a recommendation,
and the fields in which two situations differ.
"""

from dataclasses import dataclass, fields, replace

from utils.core.tables import show_value
from utils.decide.rules import RULES, Criterion, recommend
from utils.decide.situation import Situation


@dataclass(frozen=True)
class Flip:
    field: str
    before: object
    after: object
    band: str                 # the band the new value falls in
    approach_before: str
    approach_after: str
    scores_after: dict[str, int]

    @property
    def tie(self) -> bool:
        """True when the new winner only ties the old one and wins on TIE_ORDER."""
        return self.scores_after[self.approach_after] == self.scores_after[self.approach_before]

    def __str__(self) -> str:
        text = (f"{self.field}: {show_value(self.before)} -> {show_value(self.after)} ({self.band}) turns "
                f"{self.approach_before} into {self.approach_after}")
        return text + (" (on a tie, which goes to the quicker prototype)" if self.tie else "")


def _band_value(criterion: Criterion, index: int, current):
    """The value in band ``index`` closest to ``current`` (for numeric criteria), else the band's key."""
    band = criterion.bands[index]
    if not criterion.numeric:
        return band.key
    if band.key > current:
        return band.key
    upper = criterion.bands[index + 1].key  # the band lies below current, so a next band exists
    return upper - 1


def flips(situation: Situation, rules: tuple[Criterion, ...] = RULES) -> list[Flip]:
    """Every single-field change that changes the recommendation, the smallest per field and direction.

    Scores only change when a value crosses into another band, so it is enough to try, for
    each field, the nearest value of each other band, walking outwards from the current one.
    """
    if not isinstance(situation, Situation):
        raise ValueError(f"flips expects a Situation, got {type(situation).__name__}.")
    before = recommend(situation, rules).approach
    found = []
    for criterion in rules:
        current = getattr(situation, criterion.field)
        here = criterion.bands.index(criterion.band(current))
        for direction in (-1, +1):
            index = here + direction
            while 0 <= index < len(criterion.bands):
                value = _band_value(criterion, index, current)
                rec = recommend(replace(situation, **{criterion.field: value}), rules)
                if rec.approach != before:
                    found.append(Flip(criterion.field, current, value, criterion.bands[index].label,
                                      before, rec.approach, rec.scores))
                    break
                index += direction
    return found


def differences(a: Situation, b: Situation) -> dict[str, tuple]:
    """Fields where two situations differ: ``{field: (value_in_a, value_in_b)}``."""
    if not isinstance(a, Situation) or not isinstance(b, Situation):
        raise ValueError("differences expects two Situations.")
    return {f.name: (getattr(a, f.name), getattr(b, f.name)) for f in fields(Situation)
            if getattr(a, f.name) != getattr(b, f.name)}
