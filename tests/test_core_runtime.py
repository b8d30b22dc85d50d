"""utils.core.runtime: device choice, seeding, offline mode, the banner, work in a fresh process."""

import numpy as np
import pytest
import torch

from utils.core import runtime
from utils.course import results


def test_pick_device_defaults_to_an_available_device(monkeypatch):
    monkeypatch.delenv("CROSSROADS_DEVICE", raising=False)
    assert runtime.pick_device() in runtime.DEVICES
    assert runtime.pick_device("CPU") == "cpu"


def test_pick_device_honours_the_environment(monkeypatch):
    monkeypatch.setenv("CROSSROADS_DEVICE", "cpu")
    assert runtime.pick_device() == "cpu"


def test_pick_device_rejects_unknown_and_unavailable_devices(monkeypatch):
    with pytest.raises(ValueError, match="choose one of cuda, mps, cpu"):
        runtime.pick_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="not available"):
        runtime.pick_device("cuda")


def test_seed_everything_makes_runs_repeat():
    runtime.seed_everything(7)
    first = (torch.rand(3), np.random.rand(3))
    runtime.seed_everything(7)
    second = (torch.rand(3), np.random.rand(3))
    assert torch.equal(first[0], second[0]) and np.array_equal(first[1], second[1])


@pytest.mark.parametrize("seed", [-1, 1.5, "0"])
def test_seed_everything_rejects_bad_seeds(seed):
    with pytest.raises(ValueError, match="non-negative integer"):
        runtime.seed_everything(seed)


def test_set_offline_sets_variables_but_keeps_a_users_choice(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    runtime.set_offline()
    import os
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert os.environ["HF_DATASETS_OFFLINE"] == "1"
    assert os.environ["TRANSFORMERS_OFFLINE"] == "0"


def test_banner_names_versions_and_device():
    text = runtime.banner("cpu")
    assert "torch" in text and "transformers" in text and "Device: cpu" in text


def test_setup_notebook_starts_the_timer(capsys):
    assert runtime.setup_notebook(seed=0, device="cpu") == "cpu"
    assert results.elapsed_seconds() < 60
    assert "Device: cpu" in capsys.readouterr().out


def test_run_in_fresh_process_names_the_work_that_failed():
    with pytest.raises(RuntimeError, match="The demo process failed"):
        runtime.run_in_fresh_process("utils.no_such_module", {}, "demo", timeout=60)
