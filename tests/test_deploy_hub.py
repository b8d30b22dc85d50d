"""The workshop hub for real: JupyterHub, its proxy and four learners running notebook 01 and lab 01 at once.

The hub runs ``deploy/jupyterhub_config.py`` as ``make hub`` does (the "simple" spawner, the shared-password
authenticator), on 127.0.0.1 with free ports and a temporary state folder, plus an admin API token. Through the
hub's REST API the test creates four learners, starts their servers and gives each a token. Then, for all four
at once, each learner runs ``notebooks/01_choosing_an_approach.ipynb`` and then ``labs/lab_01_choosing.ipynb`` in
smoke mode (``SMOKE = True`` injected after the parameters cell, as papermill does; the lab's exercise stubs filled
with the cells of ``solutions/``, as a learner who did the exercises) through their own server, as JupyterLab
does: the sessions API starts a kernel in the learner's copy of the course, its websocket channel runs the cells.

Measured and written to ``build/test/hub/results.json`` (the table is printed too): each learner's peak memory
(resident memory of their server and its kernels, sampled with psutil every 0.2 s), cell latency (execute_request
until the kernel is idle again) p50 and p95, and failures (cells that raised). Every process the test started
(hub, proxy, servers, kernels) must be gone at the end, also when the test fails.

It needs the proxy (``make hub-deps``) and takes a minute or two, so ``make test`` leaves it out (marker ``hub``);
``make test-hub`` and CI run it.
"""

import ctypes
import json
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
import psutil
import pytest
import requests
import websocket

from utils.core.paths import REPO_ROOT, SOLUTIONS_DIR, build_dir
from utils.course.labs import STUB_PREFIX

sys.path.insert(0, str(REPO_ROOT / "deploy"))
import sizing  # noqa: E402

LEARNERS = [f"learner{n}" for n in range(1, 5)]
NOTEBOOKS = ("notebooks/01_choosing_an_approach.ipynb", "labs/lab_01_choosing.ipynb")
CONFIG = REPO_ROOT / "deploy" / "jupyterhub_config.py"
PROXY = REPO_ROOT / "deploy" / "node_modules" / ".bin" / "configurable-http-proxy"
START_TIMEOUT, CELL_TIMEOUT, SAMPLE_SECONDS = 180, 300, 0.2
MIB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def become_subreaper(on: bool) -> None:
    """Linux: orphans of our descendants (a kernel whose server died) are re-parented to this process instead
    of init, so ``children(recursive=True)`` still finds them at the end."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(36, int(on), 0, 0, 0)  # 36: PR_SET_CHILD_SUBREAPER
    except (AttributeError, OSError):
        pass


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)] if ordered else float("nan")


def describe(process: psutil.Process) -> str:
    try:
        return f"{process.pid} {' '.join(process.cmdline())[:160]}"
    except psutil.Error:
        return f"{process.pid} (gone)"


class Hub:
    """JupyterHub with the course's config; every process it starts is tracked and killed at the end."""

    def __init__(self, state: Path):
        self.state, self.port, self.token = state, free_port(), secrets.token_hex(32)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = state / "jupyterhub.log"
        self.proc: subprocess.Popen | None = None
        self.seen: dict[int, psutil.Process] = {}
        self.before = {p.pid for p in psutil.Process().children(recursive=True)}

    def start(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "CROSSROADS_HUB_IP": "127.0.0.1", "CROSSROADS_HUB_PORT": str(self.port),
               "CROSSROADS_HUB_API_PORT": str(free_port()), "CROSSROADS_HUB_PROXY_API_PORT": str(free_port()),
               "CROSSROADS_HUB_STATE": str(self.state), "CROSSROADS_HUB_SPAWNER": "simple",
               "CROSSROADS_HUB_AUTH": "shared-password", "CROSSROADS_HUB_PASSWORD": secrets.token_urlsafe(12),
               "CROSSROADS_HUB_ADMIN_TOKEN": self.token, "CONFIGPROXY_AUTH_TOKEN": secrets.token_hex(32)}
        become_subreaper(True)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([str(Path(sys.executable).with_name("jupyterhub")), "-f", str(CONFIG)],
                                         cwd=self.state, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"JupyterHub exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.url}/hub/api/", timeout=5).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        pytest.fail(f"JupyterHub did not answer within {START_TIMEOUT} s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else "(no log)"

    def api(self, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
        headers = {"Authorization": f"token {token or self.token}"}
        response = requests.request(method, f"{self.url}{path}", headers=headers, timeout=60, **kwargs)
        assert response.status_code < 400, f"{method} {path}: {response.status_code} {response.text[:500]}"
        return response

    def descendants(self) -> list[psutil.Process]:
        found = [p for p in psutil.Process().children(recursive=True) if p.pid not in self.before]
        self.seen.update((p.pid, p) for p in found)
        return found

    def stop(self) -> list[str]:
        """Stop the hub as Ctrl-C would (it stops the servers, they stop their kernels, it stops the proxy);
        then kill anything left. Returns what survived the hub's own shutdown."""
        self.descendants()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        _, alive = psutil.wait_procs([*self.seen.values(), *self.descendants()], timeout=30)
        survivors = [describe(p) for p in alive]
        for process in alive:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(alive, timeout=10)
        become_subreaper(False)
        return survivors


@dataclass
class LearnerRun:
    name: str
    spawn_seconds: float = 0.0
    server_pid: int = 0
    kernel_start_seconds: list[float] = field(default_factory=list)
    notebook_seconds: dict[str, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    timings: list[tuple[str, int, float]] = field(default_factory=list)  # (notebook, code cell, seconds)
    failures: list[str] = field(default_factory=list)
    peak_mib: float = 0.0          # server + kernels
    server_peak_mib: float = 0.0   # the server alone


def cells_for(notebook: dict, relative: str) -> list[str]:
    """The code cells a learner runs: ``SMOKE = True`` right after the cell tagged ``parameters`` (what papermill
    injects); in a lab, each exercise stub replaced by the solution's cell of the same id."""
    solutions = {}
    if relative.startswith("labs/"):
        solutions = {c.id: c.source for c in nbformat.read(SOLUTIONS_DIR / Path(relative).name, as_version=4).cells}
    sources, injected = [], False
    for cell in nbformat.from_dict(notebook).cells:
        if cell.cell_type != "code":
            continue
        sources.append(solutions[cell.id] if STUB_PREFIX in cell.source else cell.source)
        if not injected and "parameters" in cell.metadata.get("tags", []):
            sources.append("SMOKE = True  # injected parameters")
            injected = True
    assert injected, f"{relative} has no cell tagged `parameters`"
    return sources


class Kernel:
    """A kernel of the learner's server, driven over its websocket channel (Jupyter's JSON message protocol)."""

    def __init__(self, url: str, token: str, kernel_id: str, session_id: str):
        self.ws_url = url.replace("http://", "ws://") + f"/api/kernels/{kernel_id}/channels?session_id={session_id}"
        self.header = [f"Authorization: token {token}"]
        self.session = session_id
        self.connect()

    def connect(self) -> None:
        self.ws = websocket.create_connection(self.ws_url, header=self.header, timeout=CELL_TIMEOUT)

    def wait_ready(self) -> None:
        """kernel_info until the kernel answers. A kernel still starting on a busy machine may drop the first
        websocket ("Connection to remote host was lost"): connect again, as JupyterLab does."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                self.request("kernel_info_request", {})
                return
            except websocket.WebSocketConnectionClosedException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
                self.connect()

    def request(self, msg_type: str, content: dict) -> tuple[dict, str | None]:
        """Send one shell request; wait for its reply and for the kernel to go idle. Returns (reply, error)."""
        msg_id = uuid.uuid4().hex
        self.ws.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": msg_type, "session": self.session, "username": "hub-test",
                       "version": "5.3", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
            "parent_header": {}, "metadata": {}, "content": content, "channel": "shell", "buffers": []}))
        reply, idle, error = None, False, None
        while reply is None or not idle:
            frame = self.ws.recv()
            if isinstance(frame, bytes):  # binary frames carry buffers (widgets); never the reply or the status
                continue
            message = json.loads(frame)
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = message["header"]["msg_type"]
            if message["channel"] == "shell" and kind.endswith("_reply"):
                reply = message["content"]
            elif kind == "status" and message["content"]["execution_state"] == "idle":
                idle = True
            elif kind == "error":
                error = f"{message['content']['ename']}: {message['content']['evalue']}"[:300]
        if reply.get("status") == "error" and error is None:
            error = f"{reply.get('ename')}: {reply.get('evalue')}"[:300]
        return reply, error

    def close(self) -> None:
        self.ws.close()


def run_learner(hub: Hub, run: LearnerRun, servers: dict[str, int]) -> None:
    """What one learner does: log in (here: the admin creates them), wait for the server, run both notebooks."""
    hub.api("POST", f"/hub/api/users/{run.name}")
    started = time.perf_counter()
    hub.api("POST", f"/hub/api/users/{run.name}/server")
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        server = hub.api("GET", f"/hub/api/users/{run.name}").json().get("servers", {}).get("", {})
        if server.get("ready"):
            break
        assert time.monotonic() < deadline, f"{run.name}'s server did not start:\n{hub.log_tail()}"
        time.sleep(0.5)
    run.spawn_seconds = time.perf_counter() - started
    run.server_pid = servers[run.name] = server["state"]["pid"]
    token = hub.api("POST", f"/hub/api/users/{run.name}/tokens", json={"note": "hub test", "expires_in": 3600}
                    ).json()["token"]
    base = f"{hub.url}/user/{run.name}"
    for relative in NOTEBOOKS:
        path = f"crossroads/{relative}"  # the learner's own copy, made on the first login
        notebook = hub.api("GET", f"/user/{run.name}/api/contents/{path}?content=1", token).json()["content"]
        cells = cells_for(notebook, relative)
        began = time.perf_counter()
        session = hub.api("POST", f"/user/{run.name}/api/sessions", token, json={
            "path": path, "name": Path(path).name, "type": "notebook", "kernel": {"name": "python3"}}).json()
        kernel = Kernel(base, token, session["kernel"]["id"], session["id"])
        try:
            kernel.wait_ready()
            run.kernel_start_seconds.append(time.perf_counter() - began)
            for index, source in enumerate(cells):
                sent = time.perf_counter()
                _, error = kernel.request("execute_request", {
                    "code": source, "silent": False, "store_history": True, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True})
                run.latencies.append(time.perf_counter() - sent)
                run.timings.append((relative, index, round(run.latencies[-1], 3)))
                if error:
                    run.failures.append(f"{relative}, code cell {index}: {error}")
                    break  # as papermill and a learner would: the cells after it depend on it
        finally:
            kernel.close()
            hub.api("DELETE", f"/user/{run.name}/api/sessions/{session['id']}", token)  # shuts the kernel down
        run.notebook_seconds[relative] = time.perf_counter() - began


def sample_memory(hub: Hub, runs: dict[str, LearnerRun], servers: dict[str, int], peaks: dict, stop: threading.Event):
    while not stop.is_set():
        for name, pid in list(servers.items()):
            try:
                root = psutil.Process(pid)
                tree = [root, *root.children(recursive=True)]
                server = root.memory_info().rss
            except psutil.NoSuchProcess:
                continue
            total = 0
            for process in tree:
                try:
                    total += process.memory_info().rss
                except psutil.NoSuchProcess:
                    pass
            runs[name].peak_mib = max(runs[name].peak_mib, total / MIB)
            runs[name].server_peak_mib = max(runs[name].server_peak_mib, server / MIB)
        for process in hub.descendants():
            try:
                role = "proxy" if "configurable-http-proxy" in " ".join(process.cmdline()) else None
                role = role or ("hub" if process.pid == hub.proc.pid else None)
                if role:
                    peaks[role] = max(peaks.get(role, 0.0), process.memory_info().rss / MIB)
            except psutil.Error:
                pass
        stop.wait(SAMPLE_SECONDS)


def summarize(run: LearnerRun) -> dict:
    record = {key: value for key, value in asdict(run).items() if key != "latencies"}  # timings hold them
    return {**record, "peak_mib": round(run.peak_mib), "server_peak_mib": round(run.server_peak_mib),
            "latency_p50_s": round(percentile(run.latencies, 50), 3),
            "latency_p95_s": round(percentile(run.latencies, 95), 3)}


def table(runs: list[LearnerRun]) -> str:
    lines = ["| learner | peak MiB (server + kernels) | server MiB | cells | p50 s | p95 s | failures |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        lines.append(f"| {r.name} | {r.peak_mib:.0f} | {r.server_peak_mib:.0f} | {len(r.latencies)} | "
                     f"{percentile(r.latencies, 50):.2f} | {percentile(r.latencies, 95):.2f} | {len(r.failures)} |")
    return "\n".join(lines)


@pytest.mark.hub
@pytest.mark.timeout(600)
def test_four_learners_run_notebook_01_and_lab_01_at_once_through_the_hub(tmp_path, capsys):
    if not PROXY.exists():
        pytest.fail(f"{PROXY} is missing: run `make hub-deps` (npm ci in deploy/, needs the network once).")
    hub = Hub(tmp_path / "hub")
    runs = {name: LearnerRun(name) for name in LEARNERS}
    servers: dict[str, int] = {}
    peaks: dict[str, float] = {}
    stop = threading.Event()
    sampler = threading.Thread(target=sample_memory, args=(hub, runs, servers, peaks, stop), daemon=True)
    try:
        hub.start()
        sampler.start()
        began = time.perf_counter()
        with ThreadPoolExecutor(len(LEARNERS)) as pool:
            for future in [pool.submit(run_learner, hub, run, servers) for run in runs.values()]:
                future.result()
        wall = time.perf_counter() - began
        homes = tmp_path / "hub" / "homes"
        for name in LEARNERS:  # the config's promises: own copy, own outputs, the shared LLM linked
            work = homes / name / "crossroads"
            assert (work / "build" / "results" / "01_choosing_an_approach.json").exists(), \
                f"{name}'s results did not land in their own build/ folder"
            if (REPO_ROOT / ".cache" / "smollm2-135m-instruct").is_dir():
                assert (work / ".cache" / "smollm2-135m-instruct").is_symlink()
    finally:
        stop.set()
        if sampler.is_alive():
            sampler.join(5)
        survivors = hub.stop()
    latencies = [t for r in runs.values() for t in r.latencies]
    failures = [f"{r.name}: {f}" for r in runs.values() for f in r.failures]
    summary = {
        "measured": time.strftime("%Y-%m-%d %H:%M"), "cpu_cores": os.cpu_count(),
        "learners": len(LEARNERS), "notebooks": list(NOTEBOOKS), "mode": "smoke",
        "wall_seconds": round(wall, 1), "cells": len(latencies),
        "latency_p50_s": round(percentile(latencies, 50), 3), "latency_p95_s": round(percentile(latencies, 95), 3),
        "failures": failures, "hub_peak_mib": round(peaks.get("hub", 0)), "proxy_peak_mib": round(peaks.get("proxy", 0)),
        "learner": [summarize(r) for r in runs.values()],
        "left_running_after_hub_shutdown": survivors,
    }
    out = build_dir() / "hub" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2))
    with capsys.disabled():
        print(f"\n{len(LEARNERS)} learners at once, {len(latencies)} cells in {wall:.0f} s; latency p50 "
              f"{summary['latency_p50_s']:.2f} s, p95 {summary['latency_p95_s']:.2f} s; hub {summary['hub_peak_mib']} "
              f"MiB, proxy {summary['proxy_peak_mib']} MiB; written to {out}\n{table(list(runs.values()))}")
    assert not failures, f"cells failed: {failures}"
    assert not survivors, f"still running after the hub stopped (killed now): {survivors}"
    assert not [p for p in hub.descendants() if p.status() != psutil.STATUS_ZOMBIE], "processes left behind"
    one = sizing.learner()
    for r in runs.values():  # the sizing's assumptions hold here: the server's overhead, the guarantee
        assert r.server_peak_mib <= sizing.SERVER_PEAK_MIB, f"{r.name}'s server used {r.server_peak_mib:.0f} MiB"
        assert r.peak_mib <= one.mem_guarantee_mib, f"{r.name} used {r.peak_mib:.0f} MiB running notebook 01"
