"""How much memory, CPU and disk one learner and one room need: the one place these numbers come from.

Every figure below is either measured (with the date and the command that measured it) or a rule stated in
words. ``jupyterhub_config.py`` takes its per-learner limits from here, ``kubernetes/config.yaml`` carries the
same numbers (``tests/test_deploy_configs.py`` checks they agree), and the sizing table in docs/workshop.md is
``python deploy/sizing.py`` (the same test checks the table in the doc is what this prints).
"""

import math
from dataclasses import dataclass

# --- measured -------------------------------------------------------------------------------------------------
# docs/measurements.md, "Re-measured 2026-12-02, on a slower 2-core machine" (make course, full mode): notebook 03
# is the largest. Its kernel peaks at 2916 MiB; its full-fine-tuning cost cell runs one step in a separate
# process that peaks at 3055 MiB while the kernel is still alive, so for those seconds a learner holds both.
KERNEL_PEAK_MIB = 2916
CHILD_PEAK_MIB = 3055
# The course's promise, kept by every notebook: a kernel stays under 3 GiB. The limit uses it, not the measured
# peak, so a slightly hungrier machine (2848-2916 MiB measured so far) still fits.
KERNEL_BUDGET_MIB = 3072
# The learner's own server (jupyterhub-singleuser with JupyterLab), without kernels: its peak while four learners
# ran notebook 01 and lab 01 at once (tests/test_deploy_hub.py; docs/measurements.md, "2026-12-02 — JupyterHub,
# 4 learners on this machine (2 cores)"): 164 MiB, rounded up to a multiple of 16 MiB.
SERVER_PEAK_MIB = 176
# Every time in the docs was measured with 2 cores per notebook; a learner with 2 cores sees those times.
REFERENCE_CORES = 2
# Disk (du -sb on this machine, 2026-12-02). Shared once: .venv/ (2055 MiB), the converted LLM in .cache/
# (517 MiB), the repository and deploy/node_modules (10 MiB). Per learner: their copies of notebooks/ and labs/
# (0.3 MiB), the outputs of a full and a smoke run of the course (build/: 25.5 + 24.5 MiB) and their own
# generated part images (4.1 MiB).
SHARED_DISK_MIB = 2055 + 517 + 10
LEARNER_DISK_MIB = 55

# --- rules ----------------------------------------------------------------------------------------------------
# Notebook 03's training (and its full-fine-tuning step) and notebook 05's training and serving run in WAVES:
# the instructor starts a quarter of the room at a time. With 4 waves and the reference 2 cores for each learner
# who is training, a room needs half a core per learner.
WAVES = 4
HEADROOM = 0.10  # on top of the measured peaks: they vary by a few percent between runs and machines
SYSTEM_RAM_MIB = 2048  # the operating system, the hub and the proxy (hub 125 MiB and proxy 60 MiB in the hub test)
SYSTEM_CORES = 1
ROUND_MIB = 256


def _round_up(value: float, step: int) -> int:
    return int(math.ceil(value / step) * step)


@dataclass(frozen=True)
class Learner:
    """One learner's server. JupyterHub reads the memory with a binary suffix: ``4096M`` is 4096 MiB."""

    mem_guarantee_mib: int
    mem_limit_mib: int
    cpu_guarantee: float
    cpu_limit: float

    @property
    def mem_guarantee(self) -> str:
        return f"{self.mem_guarantee_mib}M"

    @property
    def mem_limit(self) -> str:
        return f"{self.mem_limit_mib}M"


def learner() -> Learner:
    """Guarantee: the learner's share of a room that stages the heavy steps in waves (their server, their kernel
    at notebook 03's peak, and a quarter of notebook 03's full-fine-tuning process). Limit: everything notebook 03
    holds at its worst moment (server, a kernel at the 3 GiB budget and that process), plus headroom."""
    share = SERVER_PEAK_MIB + KERNEL_PEAK_MIB + CHILD_PEAK_MIB / WAVES
    worst = (SERVER_PEAK_MIB + KERNEL_BUDGET_MIB + CHILD_PEAK_MIB) * (1 + HEADROOM)
    return Learner(mem_guarantee_mib=_round_up(share, ROUND_MIB), mem_limit_mib=_round_up(worst, ROUND_MIB),
                   cpu_guarantee=REFERENCE_CORES / WAVES, cpu_limit=float(REFERENCE_CORES))


@dataclass(frozen=True)
class Room:
    learners: int
    wave: int  # learners who run the heavy steps at the same time
    ram_gib: int
    ram_without_waves_gib: int  # if the whole room started notebook 03 at once
    cores: int
    disk_gib: int


def _ram_gib(learners: int, in_heavy_step: int) -> int:
    mib = (learners * (SERVER_PEAK_MIB + KERNEL_PEAK_MIB) + in_heavy_step * CHILD_PEAK_MIB) * (1 + HEADROOM)
    return math.ceil((mib + SYSTEM_RAM_MIB) / 1024)


def room(learners: int) -> Room:
    """Concurrent learners × peak per learner + headroom: every learner's server and kernel at notebook 03's
    peak, one wave's full-fine-tuning processes on top, 10 % headroom, and the system's share."""
    wave = math.ceil(learners / WAVES)
    cores = math.ceil(learners * learner().cpu_guarantee) + SYSTEM_CORES
    disk = (SHARED_DISK_MIB + learners * LEARNER_DISK_MIB) * (1 + HEADROOM)
    return Room(learners, wave, ram_gib=_ram_gib(learners, wave), ram_without_waves_gib=_ram_gib(learners, learners),
                cores=cores, disk_gib=math.ceil(disk / 1024))


def markdown_table(sizes: tuple[int, ...] = (20, 200)) -> str:
    """The sizing table of docs/workshop.md, with the rule that made it."""
    lines = ["| learners | RAM | cores | disk | heavy steps in waves of | RAM if everyone runs 03 at once |",
             "|---:|---:|---:|---:|---:|---:|"]
    for r in map(room, sizes):
        lines.append(f"| {r.learners} | {r.ram_gib} GiB | {r.cores} | {r.disk_gib} GiB | {r.wave} learners "
                     f"| {r.ram_without_waves_gib} GiB |")
    one = learner()
    lines += [
        "",
        f"- RAM = learners × ({SERVER_PEAK_MIB} MiB server + {KERNEL_PEAK_MIB} MiB kernel) + one wave × "
        f"{CHILD_PEAK_MIB} MiB (notebook 03's full-fine-tuning step), plus {HEADROOM * 100:.0f} % and "
        f"{SYSTEM_RAM_MIB // 1024} GiB for the system, the hub and the proxy.",
        f"- Cores = learners × {one.cpu_guarantee:g} (a wave is a quarter of the room, {REFERENCE_CORES} cores each), "
        f"plus {SYSTEM_CORES} for the system.",
        f"- Disk = {SHARED_DISK_MIB / 1024:.1f} GiB shared (.venv/, the converted LLM) + learners × "
        f"{LEARNER_DISK_MIB} MiB (their copies and outputs), plus {HEADROOM * 100:.0f} %.",
        f"- Per learner: memory guarantee {one.mem_guarantee_mib} MiB, limit {one.mem_limit_mib} MiB; "
        f"CPU guarantee {one.cpu_guarantee:g}, limit {one.cpu_limit:g}.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
