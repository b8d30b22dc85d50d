"""utils.course.envcheck: notebook 00's machine summary and network check."""

import pytest


def test_machine_summary_and_estimate():
    from utils.course import envcheck

    summary = envcheck.machine_summary()
    assert summary["cpu_cores"] >= 1 and summary["ram_gb"] > 0 and summary["disk_free_gb"] >= 0
    reference = envcheck.estimate_course_minutes(envcheck.REFERENCE_TOKENS_PER_SECOND)
    assert reference == envcheck.REFERENCE_COURSE_MINUTES
    assert envcheck.estimate_course_minutes(envcheck.REFERENCE_TOKENS_PER_SECOND * 2) == reference / 2
    with pytest.raises(ValueError, match="positive"):
        envcheck.estimate_course_minutes(0)


def test_network_check_answers_false_for_a_closed_port():
    from utils.course import envcheck

    assert envcheck.network_reachable("127.0.0.1", 9, timeout=0.5) is False
