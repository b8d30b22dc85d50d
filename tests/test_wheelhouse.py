"""The air-gapped room: a fresh copy of the repository sets itself up from ``wheelhouse/`` alone, network cut.

It needs ``make wheelhouse`` first (a download) and builds a whole virtual environment (about a minute), so
``make test`` leaves it out (marker ``wheelhouse``); ``make test-wheelhouse`` and CI run it.
"""

import os
import shutil
import subprocess
import sys

import pytest

from utils.core.paths import REPO_ROOT

WHEELHOUSE = REPO_ROOT / "wheelhouse"
CUT_NETWORK = (["unshare", "-n"], ["unshare", "-rn"])  # as root; else in a user namespace


def _network_cutter() -> list[str]:
    for command in CUT_NETWORK:
        if shutil.which(command[0]) and subprocess.run([*command, "true"], capture_output=True).returncode == 0:
            return command
    pytest.fail("Cannot cut the network here (`unshare -n` and `unshare -rn` both fail); run this test on Linux "
                "as root or with user namespaces enabled.")


def _copy_working_tree(target):
    """Tracked and untracked-but-not-ignored files, as a learner's copy of the repository would hold."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                            cwd=REPO_ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


@pytest.mark.wheelhouse
@pytest.mark.timeout(1600)
def test_fresh_copy_installs_from_the_wheelhouse_with_the_network_cut(tmp_path):
    if not any(WHEELHOUSE.glob("*.whl")):
        pytest.fail("wheelhouse/ holds no wheels: run `make wheelhouse` (needs the network) first.")
    room = tmp_path / "room"
    _copy_working_tree(room)
    (room / "wheelhouse").symlink_to(WHEELHOUSE)
    python = getattr(sys, "_base_executable", None) or shutil.which("python3")
    env = {**os.environ, "PIP_NO_CACHE_DIR": "1", "CROSSROADS_CACHE_DIR": str(tmp_path / "cache"),
           "CROSSROADS_BUILD_DIR": str(tmp_path / "build")}
    env.pop("VIRTUAL_ENV", None)
    cutter = _network_cutter()
    probe = ("import socket\ntry:\n    socket.create_connection(('pypi.org', 443), timeout=3)\n"
             "    print('network reachable')\nexcept OSError:\n    print('network cut')")
    reach = subprocess.run([*cutter, python, "-c", probe], capture_output=True, text=True, timeout=60)
    assert reach.stdout.strip() == "network cut", f"the network is not cut: {reach.stdout}{reach.stderr}"
    script = (f"ip link set lo up 2>/dev/null || true; make setup PYTHON={python} && .venv/bin/python -c "
              "'import faiss, peft, sentence_transformers, torch, transformers, utils; print(\"imports ok\")'")
    result = subprocess.run([*cutter, "bash", "-c", script], cwd=room, env=env, capture_output=True, text=True,
                            timeout=1500)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"offline install from wheelhouse/ failed:\n{output[-3000:]}"
    assert "imports ok" in output and (room / ".venv" / ".installed").exists()
