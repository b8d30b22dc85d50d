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
