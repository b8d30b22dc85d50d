"""utils.course.setup_check: passes on a good environment, and names each problem with its fix."""

from utils.core.models import ModelUnavailableError
from utils.course import setup_check


def test_passes_here(capsys):
    assert setup_check.main() == 0
    assert "Set-up check passed" in capsys.readouterr().out


def test_names_a_missing_library_and_a_broken_model(monkeypatch, capsys):
    monkeypatch.setattr(setup_check, "MODULES", ("json", "no_such_library_crossroads"))

    def verify(name):
        if name == "minilm":
            raise ModelUnavailableError("The embedded model 'minilm' failed verification: reinstall it.")

    monkeypatch.setattr(setup_check, "verify_model", verify)
    assert setup_check.main() == 1
    err = capsys.readouterr().err
    assert "cannot import no_such_library_crossroads" in err and "make setup" in err
    assert "'minilm' failed verification" in err and "smollm2" not in err
