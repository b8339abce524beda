"""The property tests run under a profile that a busy machine cannot fail (issue: flaky
`too_slow` health check on a loaded 2-core CI machine)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings


def test_ci_profile_is_loaded_by_default() -> None:
    if os.environ.get("HYPOTHESIS_PROFILE", "ci") != "ci":
        return
    current = settings()
    assert current.deadline is None
    assert current.derandomize
    assert HealthCheck.too_slow in current.suppress_health_check
