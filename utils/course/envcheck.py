"""What notebook 00 reports about this machine: memory, disk, network, and a course-time estimate."""

import os
import shutil
import socket

import psutil

from utils.core.paths import REPO_ROOT

# Measured on the reference machine (2 cores, no GPU, idle; 2026-11-25): the whole course in full mode
# (8.8 min of notebooks, `make course` 8 min 57 s) and the embedded LLM's batched generation speed
# (16 prompts × 32 new tokens, notebook 00's benchmark, 175 tokens/s).
REFERENCE_COURSE_MINUTES = 9.0
REFERENCE_TOKENS_PER_SECOND = 175.0


def machine_summary() -> dict:
    memory = psutil.virtual_memory()
    disk = shutil.disk_usage(REPO_ROOT)
    return {"cpu_cores": os.cpu_count() or 1,
            "ram_gb": round(memory.total / 2**30, 1),
            "ram_available_gb": round(memory.available / 2**30, 1),
            "disk_free_gb": round(disk.free / 2**30, 1)}


def network_reachable(host: str = "huggingface.co", port: int = 443, timeout: float = 2.0) -> bool:
    """Can we open a connection to ``host``? The course never needs to; this only tells the learner."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def estimate_course_minutes(tokens_per_second: float) -> float:
    """Scale the reference machine's course time by how fast this machine generates text.

    Generation and training of the small LLM dominate the course's run time, so the LLM's
    throughput is a fair single yardstick (a rough estimate, not a promise).
    """
    if tokens_per_second <= 0:
        raise ValueError(f"tokens_per_second must be positive, got {tokens_per_second}.")
    return round(REFERENCE_COURSE_MINUTES * REFERENCE_TOKENS_PER_SECOND / tokens_per_second, 1)
