"""``requirements.lock`` is current: it pins every package set-up installs, at the version installed. No network.

``requirements.txt`` pins the direct packages; the lock (``make lock``) pins them and everything they pull in, and
``make setup`` installs with ``-c requirements.lock``. These tests compare the three with the running environment.
"""

import re
from importlib import metadata

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from utils.core.paths import REPO_ROOT

LOCK = REPO_ROOT / "requirements.lock"
REQUIREMENTS = REPO_ROOT / "requirements.txt"
# Installers and build tools: checked only when the lock pins them (setuptools is, because torch needs it).
TOOLING = {"pip", "setuptools", "wheel", "uv", "ai-crossroads"}
REFRESH = ("Run `make lock` after editing requirements.txt (then `make setup`); if you changed a package by hand, "
           "reinstall the locked set with `.venv/bin/pip install -r requirements.txt -c requirements.lock`.")


def _requirements() -> list[Requirement]:
    lines = (line.split("#", 1)[0].strip() for line in REQUIREMENTS.read_text().splitlines())
    return [Requirement(line) for line in lines if line]


def _lock() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", line)
        if match:
            pins[canonicalize_name(match[1])] = match[2]
    return pins


def _matches(installed: str, locked: str) -> bool:
    """PEP 440 ``==``: a lock pin without a local label (torch==2.13.0) accepts a local build (2.13.0+cpu)."""
    return SpecifierSet(f"=={locked}").contains(installed, prereleases=True)


def _installed_closure() -> dict[str, str]:
    """Name → installed version of every distribution requirements.txt pulls in, following installed metadata."""
    found, todo = {}, list(_requirements())
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in found:
            continue
        try:
            distribution = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            continue  # not installed here (e.g. a platform-only dependency): nothing to compare
        found[name] = distribution.version
        extras = sorted(requirement.extras) or [""]
        for text in distribution.requires or []:
            dependency = Requirement(text)
            if dependency.marker is None or any(dependency.marker.evaluate({"extra": e}) for e in extras):
                todo.append(dependency)
    return found


def test_the_lock_is_a_pinned_constraints_file():
    assert LOCK.exists(), f"requirements.lock is missing. {REFRESH}"
    pins = _lock()
    assert len(pins) > len(_requirements()), "requirements.lock should pin the transitive packages too"
    loose = [line for line in LOCK.read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#") and "==" not in line]
    assert not loose, f"every line of requirements.lock pins with ==: {loose}"


def test_every_direct_requirement_is_locked_at_its_pin():
    pins = _lock()
    wrong = []
    for requirement in _requirements():
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==", f"requirements.txt pins with ==: {requirement}"
        locked = pins.get(canonicalize_name(requirement.name))
        if locked != specifiers[0].version:
            wrong.append(f"{requirement} (lock: {locked or 'missing'})")
    assert not wrong, f"requirements.lock disagrees with requirements.txt: {', '.join(wrong)}. {REFRESH}"


def test_every_installed_dependency_is_locked_at_its_installed_version():
    pins = _lock()
    wrong = []
    for name, installed in sorted(_installed_closure().items()):
        locked = pins.get(name)
        if locked is None and name in TOOLING:
            continue
        if locked is None or not _matches(installed, locked):
            wrong.append(f"{name} {installed} (lock: {locked or 'missing'})")
    assert not wrong, f"installed packages that requirements.lock does not pin as installed: {', '.join(wrong)}. {REFRESH}"


def test_pyproject_ranges_admit_the_pinned_versions():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    pinned = {canonicalize_name(r.name): next(iter(r.specifier)).version for r in _requirements()}
    declared = [Requirement(text) for text in [*project["dependencies"], *project["optional-dependencies"]["dev"]]]
    wrong = [f"{r} (requirements.txt: {pinned.get(canonicalize_name(r.name), 'missing')})" for r in declared
             if canonicalize_name(r.name) not in pinned or not r.specifier.contains(pinned[canonicalize_name(r.name)])]
    assert not wrong, f"pyproject.toml's dependencies do not admit requirements.txt's pins: {', '.join(wrong)}"
