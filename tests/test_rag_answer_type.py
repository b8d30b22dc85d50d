"""The answer-type rules: which kind of value a question asks for, whether a text states one, unknown products."""

import pytest

from utils.rag.answer_type import asked_kinds, product_names, states_kind, unknown_products


@pytest.mark.parametrize(("question", "kinds"), [
    ("How much does repair labour cost outside the warranty?", ("money",)),
    ("How heavy is the AeroBrew 500?", ("mass",)),
    ("How long is the power cord of the kettle?", ("duration", "length")),
    ("How quickly do spare parts ship?", ("duration",)),
    ("How many litres does the fridge hold?", ("volume",)),          # a specific kind wins over a bare count
    ("How many floors can it map?", ("count",)),
    ("Which Bluetooth version does the kettle use?", ("version",)),
    ("Until what time is the chat staffed?", ("time_of_day",)),
    ("When does firmware 2.3 come out?", ("date", "time_of_day", "duration")),
    ("Which buttons lock the controls?", ()),                       # the rules cannot tell: nothing is checked
])
def test_asked_kinds(question, kinds):
    assert asked_kinds(question) == kinds


@pytest.mark.parametrize(("text", "kinds", "expected"), [
    ("| Labour | €35 per started 30 minutes |", ("money",), True),
    ("Empty the dust bin and rinse the mop pad after use.", ("money",), False),
    ("| Weight | 7.3 kg |", ("mass",), True),
    ("| Cord length | 75 cm |", ("duration", "length"), True),
    ("One bottle is enough for five cycles.", ("count",), True),     # number words count
    ("The AeroBrew 500 grinds beans.", ("count",), False),           # a model number is not a count
    ("Version 1.4 adds a descaling reminder.", ("version",), True),
    ("The chat is staffed from 7:00 to 22:00.", ("time_of_day",), True),
    ("Firmware updates install through the app.", ("date", "time_of_day", "duration"), False),
    ("Anything at all", (), True),
])
def test_states_kind(text, kinds, expected):
    assert states_kind(text, kinds) is expected


def test_unknown_products_are_known_families_with_new_model_numbers():
    known = product_names(["The PureAir 40 and the SilentVac R10.", "| CleanWave 9 | washing machine |"])
    assert known == {"pureair 40", "silentvac r10", "cleanwave 9"}
    assert unknown_products("What room size is the PureAir 60 made for?", known) == ["pureair 60"]
    assert unknown_products("price of the cleanwave 11?", known) == ["cleanwave 11"]     # lower case too
    assert unknown_products("How loud is the SilentVac R10?", known) == []
    assert unknown_products("Who is the CEO of Northwind?", known) == []
    assert unknown_products("anything", set()) == []


def test_asked_kinds_rejects_a_non_string():
    with pytest.raises(TypeError, match="question must be a string"):
        asked_kinds(None)
