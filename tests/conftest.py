"""The shared fixtures live in tests/fixtures/ (helpers in tests/support/); loaded here once for
the whole suite. A folder's conftest.py holds only fixtures no other folder uses."""

import pytest
from pytest import TerminalReporter

pytest_plugins = ["tests.fixtures.app", "tests.fixtures.aws", "tests.fixtures.channels"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "faults: fault injection on private PostgreSQL/Redis (tests/faults)")


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    """The fault tests' times to recover (recorded as `time_to_recover`; xdist carries them here)."""
    lines = [
        str(value)
        for report in terminalreporter.stats.get("passed", [])
        for name, value in getattr(report, "user_properties", [])
        if name == "time_to_recover"
    ]
    if lines:
        terminalreporter.write_sep("-", "time to recover from each fault")
        for line in sorted(lines):
            terminalreporter.write_line(line)
