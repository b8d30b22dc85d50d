"""Shared test set-up: keep every test's outputs out of the learner's build/ folder."""

import os
import tempfile
from pathlib import Path

import pytest

# Set before any kernel starts, so notebooks executed by the tests record into a scratch folder.
os.environ.setdefault("CROSSROADS_BUILD_DIR", tempfile.mkdtemp(prefix="crossroads-test-build-"))
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def build_dir(tmp_path, monkeypatch) -> Path:
    """A private build folder for one test."""
    folder = tmp_path / "build"
    monkeypatch.setenv("CROSSROADS_BUILD_DIR", str(folder))
    return folder
