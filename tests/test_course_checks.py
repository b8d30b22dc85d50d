"""utils.course.checks: the labs' self-checks."""

import pytest
import torch

from utils.course import checks


def test_checks_pass_quietly_with_a_tick(capsys):
    checks.check(True, "truth")
    checks.check_equal(3, 3, "three")
    checks.check_close(0.1 + 0.2, 0.3, "sum")
    checks.check_between(5, 1, 10, "range")
    checks.check_shape(torch.zeros(2, 3), (2, None), "shape")
    assert capsys.readouterr().out.count("✓") == 5


@pytest.mark.parametrize("call", [
    lambda: checks.check(False, "truth", hint="think"),
    lambda: checks.check_equal(3, 4, "three", hint="think"),
    lambda: checks.check_close(1.0, 2.0, "value", hint="think"),
    lambda: checks.check_between(50, 1, 10, "range", hint="think"),
    lambda: checks.check_shape(torch.zeros(2, 3), (3, 2), "shape", hint="think"),
])
def test_checks_explain_failures_with_a_hint(call):
    with pytest.raises(checks.LabCheckError, match=r"(?s)expected .*Hint: think"):
        call()


def test_check_fields_lists_every_wrong_field_with_its_hint(capsys):
    class Story:
        examples, budget, fit = 0, 15, "good"

    checks.check_fields(Story(), {"examples": 0, "fit": "good"}, "story")
    assert "✓ story" in capsys.readouterr().out
    with pytest.raises(checks.LabCheckError) as error:
        checks.check_fields(Story(), {"examples": 0, "budget": 15000, "sources": True}, "story",
                            hints={"budget": "$15,000 is 15000"})
    message = str(error.value)
    assert "2 of 3 fields" in message and "budget: expected 15000, got 15" in message
    assert "Hint: $15,000 is 15000" in message and "sources: expected True, got nothing" in message


def test_hints_go_from_the_idea_to_the_code(capsys):
    checks.register_hints({2: ("the idea", "the API", "the code"), "rrf": ("only an idea",)})
    for _ in range(4):  # the next level each time, then the last one again
        checks.hint(2)
    out = capsys.readouterr().out
    assert [line.split(" (")[0] for line in out.splitlines() if line.startswith("Hint ")] == [
        "Hint 1 of 3", "Hint 2 of 3", "Hint 3 of 3", "Hint 3 of 3"]
    assert out.index("the idea") < out.index("the API") < out.index("the code")
    assert "Still stuck? hint(2) shows the API" in out
    checks.hint(2, 1)
    assert "the idea" in capsys.readouterr().out
    checks.hint("rrf")
    assert "Still stuck" not in capsys.readouterr().out
    with pytest.raises(ValueError, match="levels 1 to 3"):
        checks.hint(2, 4)
    with pytest.raises(ValueError, match="No hints for exercise 9"):
        checks.hint(9)
    with pytest.raises(ValueError, match="needs 1 to 3 hints"):
        checks.register_hints({1: ("a", "b", "c", "d")})


def test_every_lab_stub_keeps_the_code_for_the_last_hint():
    """Labs 02-04 register three hint levels per exercise; their stubs show only the idea, not the code."""
    import nbformat

    from utils.core.paths import LABS_DIR
    from utils.course.labs import STUB_PREFIX

    for name in ("lab_02_custom_cnn", "lab_03_lora", "lab_04_rag"):
        cells = nbformat.read(LABS_DIR / f"{name}.ipynb", as_version=4).cells
        hints = [c for c in cells if "register_hints(" in c.source]
        assert len(hints) == 1 and hints[0].metadata.get("jupyter", {}).get("source_hidden"), name
        namespace = {}
        exec(hints[0].source, {"register_hints": namespace.update})
        stubs = [c for c in cells if STUB_PREFIX in c.source]
        assert len(namespace) == len(stubs) and all(len(levels) == 3 for levels in namespace.values()), name
        for stub in stubs:
            hint_lines = [line for line in stub.source.splitlines() if line.strip().startswith("# HINT:")]
            assert hint_lines and not any(code in line for line in hint_lines
                                          for code in ("optimizer.zero_grad()", "key=lambda", "LoraConfig(r=",
                                                       "[-100] *", "enumerate(", "F.pad(")), (name, hint_lines)
