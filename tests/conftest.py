"""The shared fixtures live in tests/fixtures/ (helpers in tests/support/); loaded here once for
the whole suite. A folder's conftest.py holds only fixtures no other folder uses."""

pytest_plugins = ["tests.fixtures.app", "tests.fixtures.aws", "tests.fixtures.channels"]
