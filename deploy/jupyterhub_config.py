"""JupyterHub for a workshop room: one server, many learners (the shape of The Littlest JupyterHub).

What has been run, and what has not (2026-12-02, on a 2-core machine without containers or systemd):
- RUN: `make hub` (a dry run) and tests/test_deploy_hub.py (4 learners at once) with the "simple" spawner and the
  shared-password authenticator, behind configurable-http-proxy from deploy/node_modules.
- NOT RUN: the "systemd" and "local" spawners with real system accounts, PAM, TLS. Those parts follow the
  documentation of JupyterHub and jupyterhub-systemdspawner; try them on the room's server the day before.

    make hub-deps   # configurable-http-proxy from npm into deploy/node_modules (needs the network once)
    make hub        # dry run on http://127.0.0.1:8000: prints a password, any user name logs in

In the room (as root, accounts that exist; the systemd spawner enforces the limits, see SPAWNERS below):

    .venv/bin/pip install jupyterhub-systemdspawner       # not in requirements.txt: only the room's server needs it
    for u in ana ben; do useradd --create-home $u; done
    CROSSROADS_HUB_IP=0.0.0.0 CROSSROADS_HUB_USERS=ana,ben CROSSROADS_HUB_PASSWORD=... \
        .venv/bin/jupyterhub -f deploy/jupyterhub_config.py

What is shared and what is each learner's own:
- shared, read-only: the course (this repository with its .venv/) and the converted model cache (.cache/, or
  CROSSROADS_SHARED_CACHE): the LLM is converted once (`make hub-cache`), not once per learner;
- each learner's own, writable: ~/crossroads/ with a copy of notebooks/ and labs/ made on the first login, their
  outputs (build/) and their cache folder, which links to the shared cache (deploy/prepare_home.py).

Every setting can be changed with an environment variable (the defaults are in the code below):
    CROSSROADS_HUB_IP, _PORT              where learners connect (127.0.0.1, 8000)
    CROSSROADS_HUB_SSL_CERT, _SSL_KEY     TLS, when no reverse proxy terminates it
    CROSSROADS_HUB_API_PORT, _PROXY_API_PORT   the hub's and the proxy's internal ports (8081, 8001)
    CROSSROADS_HUB_STATE                  database, cookie secret, proxy pid (build/hub/)
    CROSSROADS_HUB_CLEANUP_SERVERS        1: stopping the hub stops every learner's server (set 0 in the room)
    CROSSROADS_HUB_PROXY                  the configurable-http-proxy command (deploy/node_modules/.bin/...)
    CROSSROADS_HUB_AUTH                   shared-password (with _PASSWORD) or pam
    CROSSROADS_HUB_USERS                  the learners, comma-separated (required with system accounts)
    CROSSROADS_HUB_ADMINS, _ADMIN_PASSWORD   instructors, who see the admin panel
    CROSSROADS_HUB_ADMIN_TOKEN            an API token for scripts (the hub test uses it)
    CROSSROADS_HUB_SPAWNER                systemd, local or simple (see SPAWNERS below)
    CROSSROADS_HUB_MEM_GUARANTEE, _MEM_LIMIT, _CPU_GUARANTEE, _CPU_LIMIT   override deploy/sizing.py
    CROSSROADS_HUB_CULL_KERNELS_S         shut down kernels idle this long (1200)
    CROSSROADS_SHARED_CACHE               the shared converted-model cache (.cache/ of this repository)
"""

import importlib.util
import os
import pwd
import sys
from pathlib import Path

DEPLOY = Path(__file__).resolve().parent
sys.path.insert(0, str(DEPLOY))
import sizing  # noqa: E402  (deploy/ is not a package: these two sit next to this file)
from prepare_home import COURSE_ROOT, WORK_FOLDER, prepare_home  # noqa: E402

c = get_config()  # noqa: F821  (JupyterHub defines get_config when it loads this file)


def setting(name: str, default: str) -> str:
    return os.environ.get(f"CROSSROADS_HUB_{name}") or default


# --- where the hub listens and keeps its state ----------------------------------------------------------------
# Public address: the proxy. 127.0.0.1 by default; 0.0.0.0 in the room, behind TLS (SSL_CERT and SSL_KEY, or a
# reverse proxy that terminates TLS as TLJH's traefik does).
IP, PORT = setting("IP", "127.0.0.1"), int(setting("PORT", "8000"))
SSL_CERT, SSL_KEY = setting("SSL_CERT", ""), setting("SSL_KEY", "")
c.JupyterHub.bind_url = f"{'https' if SSL_CERT else 'http'}://{IP}:{PORT}"
if SSL_CERT:
    c.JupyterHub.ssl_cert, c.JupyterHub.ssl_key = SSL_CERT, SSL_KEY
c.JupyterHub.hub_ip = "127.0.0.1"  # the hub's own API: only the proxy and the learners' servers call it
c.JupyterHub.hub_port = int(setting("API_PORT", "8081"))

STATE = Path(setting("STATE", str(COURSE_ROOT / "build" / "hub")))  # database, cookie secret, proxy pid file
STATE.mkdir(parents=True, exist_ok=True)
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
# Stop every learner's server when the hub stops (the dry run and the test rely on it). In the room, set
# CROSSROADS_HUB_CLEANUP_SERVERS=0 so that restarting the hub does not stop everyone's kernels.
c.JupyterHub.cleanup_servers = setting("CLEANUP_SERVERS", "1") == "1"

# --- the proxy: configurable-http-proxy, pinned in deploy/package.json ----------------------------------------
PROXY = Path(setting("PROXY", str(DEPLOY / "node_modules" / ".bin" / "configurable-http-proxy")))
if not PROXY.exists():
    sys.exit(f"The proxy is not installed ({PROXY} is missing): run `make hub-deps` (npm ci in deploy/).")
c.ConfigurableHTTPProxy.command = [str(PROXY)]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{setting('PROXY_API_PORT', '8001')}"
c.ConfigurableHTTPProxy.pid_file = str(STATE / "jupyterhub-proxy.pid")

# --- who may log in ---------------------------------------------------------------------------------------------
# shared-password (default): one password for the room (PASSWORD, at least 8 characters), any listed user name.
# pam: the server's own accounts and their passwords.
AUTH = setting("AUTH", "shared-password")
SPAWNER = setting("SPAWNER", "systemd")
USERS = {name.strip() for name in setting("USERS", "").split(",") if name.strip()}
if AUTH == "shared-password":
    c.JupyterHub.authenticator_class = "shared-password"
    c.SharedPasswordAuthenticator.user_password = setting("PASSWORD", "")
    # Instructors (ADMINS) see everyone's server in the admin panel; they log in with ADMIN_PASSWORD (32+ chars).
    if setting("ADMINS", ""):
        c.Authenticator.admin_users = set(setting("ADMINS", "").split(","))
        c.SharedPasswordAuthenticator.admin_password = setting("ADMIN_PASSWORD", "")
elif AUTH == "pam":
    c.JupyterHub.authenticator_class = "pam"
    c.Authenticator.admin_users = set(filter(None, setting("ADMINS", "").split(",")))
else:
    sys.exit(f"CROSSROADS_HUB_AUTH={AUTH!r}: choose shared-password or pam.")
if USERS:
    c.Authenticator.allowed_users = USERS
elif SPAWNER == "simple":
    c.Authenticator.allow_all = True  # the dry run: any user name
else:
    # With the shared password, anyone who knows it could log in as any system account ("root" included) if
    # every name were allowed: list the learners.
    sys.exit("List the learners in CROSSROADS_HUB_USERS (comma-separated): their servers run as system accounts.")

# An API token for scripts and the hub test (ADMIN_TOKEN): create learners, start their servers, give them tokens.
if setting("ADMIN_TOKEN", ""):
    c.JupyterHub.services = [{"name": "crossroads-admin", "api_token": setting("ADMIN_TOKEN", "")}]
    c.JupyterHub.load_roles = [{"name": "crossroads-admin", "services": ["crossroads-admin"],
                                "scopes": ["admin:users", "admin:servers", "tokens", "list:users", "read:users"]}]

# --- the spawner: who runs a learner's server, and what is enforced -------------------------------------------
# SPAWNERS. Each learner's limits come from deploy/sizing.py (the course's measured peaks, docs/measurements.md).
# Only some spawners enforce them:
# - systemd (default, as in TLJH): jupyterhub-systemdspawner runs each server as a systemd unit of its system
#   account. ENFORCED: mem_limit (a cgroup memory limit: past it the unit's largest process, usually the kernel,
#   is killed, not the machine) and cpu_limit (a CPU quota); the course is mounted read-only for the unit. The
#   guarantees are not enforced (systemd has no reservations): size the machine with the table in docs/workshop.md.
# - local: JupyterHub's LocalProcessSpawner, each server a process of its system account. NOTHING IS ENFORCED:
#   the limits only reach the server as MEM_LIMIT / CPU_LIMIT environment variables, for display. Read-only
#   comes from file ownership (keep the course owned by root).
# - simple: SimpleLocalProcessSpawner, every server a process of the hub's own user, homes under the state
#   folder. No isolation at all, nothing enforced: for `make hub` and the hub test only, where no system
#   accounts exist (it is what one uses when the hub is not root with real users).
# On Kubernetes (deploy/kubernetes/config.yaml) the same numbers are enforced by the kubelet.
SHARED_CACHE = Path(os.environ.get("CROSSROADS_SHARED_CACHE", str(COURSE_ROOT / ".cache")))
LEARNER = sizing.learner()
c.Spawner.mem_guarantee = setting("MEM_GUARANTEE", LEARNER.mem_guarantee)
c.Spawner.mem_limit = setting("MEM_LIMIT", LEARNER.mem_limit)
c.Spawner.cpu_guarantee = float(setting("CPU_GUARANTEE", str(LEARNER.cpu_guarantee)))
c.Spawner.cpu_limit = float(setting("CPU_LIMIT", str(LEARNER.cpu_limit)))
if SPAWNER == "systemd":
    if importlib.util.find_spec("systemdspawner") is None:
        sys.exit("CROSSROADS_HUB_SPAWNER=systemd needs `.venv/bin/pip install jupyterhub-systemdspawner`; "
                 "or set CROSSROADS_HUB_SPAWNER=local (limits not enforced) or simple (a dry run).")
    c.JupyterHub.spawner_class = "systemdspawner.SystemdSpawner"
    c.SystemdSpawner.readonly_paths = [str(COURSE_ROOT), str(SHARED_CACHE)]
    c.SystemdSpawner.isolate_tmp = True
    c.SystemdSpawner.disable_user_sudo = True
elif SPAWNER == "local":
    c.JupyterHub.spawner_class = "jupyterhub.spawner.LocalProcessSpawner"
elif SPAWNER == "simple":
    c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
    c.SimpleLocalProcessSpawner.home_dir_template = str(STATE / "homes" / "{username}")
else:
    sys.exit(f"CROSSROADS_HUB_SPAWNER={SPAWNER!r}: choose systemd, local or simple.")

# --- each learner's server ---------------------------------------------------------------------------------------
c.Spawner.cmd = [str(COURSE_ROOT / ".venv" / "bin" / "jupyterhub-singleuser")]
c.Spawner.notebook_dir = "~"
c.Spawner.default_url = f"/lab/tree/{WORK_FOLDER}"
c.Spawner.start_timeout = c.Spawner.http_timeout = 120  # 20 servers starting at once on a few cores are slow
# Kernels idle for 20 minutes are shut down (a kernel keeps its peak memory until then). An open notebook tab
# keeps its kernel (cull_connected is off), so only forgotten kernels go.
c.Spawner.args = [f"--MappingKernelManager.cull_idle_timeout={setting('CULL_KERNELS_S', '1200')}",
                  "--MappingKernelManager.cull_interval=120"]
if SPAWNER == "simple" and os.geteuid() == 0:
    c.Spawner.args.append("--ServerApp.allow_root=True")  # the dry run as root: jupyter_server refuses otherwise
# torch starts one thread per core of the machine; on a 32-core room server every learner's kernel would then
# fight for all cores (the oversubscription tests/conftest.py explains). One thread per core of the learner's limit.
THREADS = str(max(1, int(float(c.Spawner.cpu_limit))))
c.Spawner.environment = {"OMP_NUM_THREADS": THREADS, "MKL_NUM_THREADS": THREADS}

if not (SHARED_CACHE / "smollm2-135m-instruct").is_dir():
    print(f"Warning: no converted LLM in {SHARED_CACHE}: every learner would convert their own (~520 MB, ~30 s "
          "each). Run `make hub-cache` first.", file=sys.stderr)


def prepare_learner(spawner):
    """Before a server starts: the learner's own ~/crossroads/ (copied once), and the variables that point the
    course at it."""
    if SPAWNER == "simple":
        home, owner = Path(spawner.home_dir), None
    else:
        try:
            account = pwd.getpwnam(spawner.user.name)
        except KeyError:
            raise RuntimeError(f"No system account {spawner.user.name!r}: create it first "
                               f"(useradd --create-home {spawner.user.name}).") from None
        home = Path(account.pw_dir)
        owner = (account.pw_uid, account.pw_gid) if os.geteuid() == 0 else None
    work = prepare_home(home, SHARED_CACHE, owner=owner)
    spawner.environment = {**spawner.environment, "CROSSROADS_BUILD_DIR": str(work / "build"),
                           "CROSSROADS_CACHE_DIR": str(work / ".cache")}


c.Spawner.pre_spawn_hook = prepare_learner
