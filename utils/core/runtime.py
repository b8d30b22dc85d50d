"""Device choice, seeding, offline mode and the versions banner every notebook prints first."""

import importlib.metadata
import json
import os
import platform
import random
import subprocess
import sys

OFFLINE_VARIABLES = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # weight-loading bars would flood executed notebooks
    "TOKENIZERS_PARALLELISM": "false",  # silences a fork warning from the tokenizers library
}
DEVICES = ("cuda", "mps", "cpu")
BANNER_PACKAGES = (
    "torch", "transformers", "peft", "sentence-transformers", "faiss-cpu",
    "scikit-learn", "numpy", "papermill", "ipywidgets",
)


def set_offline() -> None:
    """Tell the Hugging Face libraries never to reach the network.

    ``setdefault`` keeps a value the user set on purpose (say, ``HF_HUB_OFFLINE=0`` to
    fetch a bigger model once).
    """
    for name, value in OFFLINE_VARIABLES.items():
        os.environ.setdefault(name, value)


def pick_device(device: str | None = None) -> str:
    """Return ``"cuda"``, ``"mps"`` or ``"cpu"``: the argument, else ``CROSSROADS_DEVICE``, else the best available."""
    import torch

    requested = device or os.environ.get("CROSSROADS_DEVICE") or None
    if requested is None:
        if torch.cuda.is_available():
            return "cuda"
        if torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    requested = requested.lower()
    if requested not in DEVICES:
        raise ValueError(f"Unknown device {requested!r}: choose one of {', '.join(DEVICES)} "
                         "(or unset CROSSROADS_DEVICE to pick automatically).")
    available = {"cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available(), "cpu": True}
    if not available[requested]:
        raise ValueError(f"Device {requested!r} was requested but is not available on this machine; "
                         "use 'cpu' or unset CROSSROADS_DEVICE.")
    return requested


def synchronize(device: str) -> None:
    """Wait for the work queued on a GPU (CUDA, MPS) to finish, so a clock stopped now measures it; no-op on a CPU."""
    import torch

    if device == "cuda":
        torch.cuda.synchronize()
    elif device == "mps":
        torch.mps.synchronize()


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and PyTorch so that two runs give the same numbers."""
    import numpy as np
    import torch

    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    os.environ["PYTHONHASHSEED"] = str(seed)


def package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def banner(device: str | None = None) -> str:
    """A few lines naming Python, the key library versions and the device; printed by every notebook."""
    import torch

    device = pick_device(device)
    lines = [f"Python {platform.python_version()} on {platform.system()} {platform.machine()}, "
             f"{os.cpu_count()} CPU cores, torch threads {torch.get_num_threads()}"]
    lines += [f"  {name:<22}{package_version(name)}" for name in BANNER_PACKAGES]
    if device == "cuda":
        lines.append(f"Device: cuda ({torch.cuda.get_device_name(0)})")
    else:
        lines.append(f"Device: {device}")
    return "\n".join(lines)


def setup_notebook(seed: int = 0, device: str | None = None) -> str:
    """What every notebook's first code cell after ``parameters`` does: offline, seeded, banner, timer.

    Returns the device to use. The results timer starts here, so a notebook's recorded
    seconds cover its whole run, not the time the kernel sat idle before it.
    """
    from utils.course import results

    set_offline()
    seed_everything(seed)
    results.start_timer()
    device = pick_device(device)
    print(banner(device))
    return device


def run_in_fresh_process(module: str, request: dict, what: str, timeout: float = 600) -> dict:
    """Run ``python -m <module>`` with ``request`` as JSON on stdin and return the JSON it prints last.

    For measurements that must not share this process: its memory peak, or libraries and weights it already
    loaded. The module's ``__main__`` block calls ``answer_request``. ``what`` names the work in the error.
    """
    result = subprocess.run([sys.executable, "-m", module], input=json.dumps(request), capture_output=True,
                            text=True, timeout=timeout,
                            env={**os.environ, "PYTHONWARNINGS": "ignore", "TQDM_DISABLE": "1"})
    if result.returncode != 0:
        raise RuntimeError(f"The {what} process failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def answer_request(function) -> None:
    """The child's side of ``run_in_fresh_process``: call ``function`` with the request, print its JSON result.

    Offline mode is already on: running ``python -m utils.<module>`` imports the ``utils`` package first.
    """
    print(json.dumps(function(**json.loads(sys.stdin.read()))))
