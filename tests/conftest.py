"""Shared test set-up: keep every test's outputs out of the learner's build/ folder."""

import os
from pathlib import Path

import pytest

from utils.core.paths import REPO_ROOT

# Set before any kernel starts, so notebooks executed by the tests record into build/test/, away
# from the results of `make course`.
os.environ.setdefault("CROSSROADS_BUILD_DIR", str(REPO_ROOT / "build" / "test"))
os.environ.setdefault("MPLBACKEND", "Agg")
# Under pytest-xdist two workers share the cores; two torch threads each would oversubscribe them,
# which makes small training steps many times slower. One thread per worker (and its kernels).
if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")


@pytest.fixture
def build_dir(tmp_path, monkeypatch) -> Path:
    """A private build folder for one test."""
    folder = tmp_path / "build"
    monkeypatch.setenv("CROSSROADS_BUILD_DIR", str(folder))
    return folder


@pytest.fixture(scope="module")
def one_torch_thread():
    """For modules of tiny-tensor tests: threads gain nothing there, and on a busy 2-core machine they wait on
    each other. Use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch  # not at the top: the thread variables above must be set before torch starts

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
