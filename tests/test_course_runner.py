"""utils.course.runner: naming what failed."""

def test_failure_descriptions_name_the_cell_or_the_timeout():
    from nbclient.exceptions import CellTimeoutError
    from papermill.exceptions import PapermillExecutionError

    from utils.course.runner import describe_failure

    error = PapermillExecutionError(7, 3, "f(x)", "ValueError", "bad\n  input", [])
    assert describe_failure(error) == "cell 7: ValueError: bad input"
    assert describe_failure(CellTimeoutError("A cell timed out")).startswith("a cell ran past the per-cell timeout")
    assert describe_failure(RuntimeError("kernel died")).startswith("outside any cell")


def test_kernels_talk_over_private_local_sockets():
    """IPC transport (no "running over TCP without encryption" warning), in a folder that is removed after."""
    import os

    from utils.course.runner import local_kernel_config

    with local_kernel_config() as config:
        if os.name == "nt":
            return
        folder = os.path.dirname(config.KernelManager.ip)
        assert config.KernelManager.transport == "ipc" and os.path.isdir(folder)
    assert not os.path.exists(folder)
