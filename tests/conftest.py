"""Shared fixtures: one real testbed (Dovecot + SMTP submission) for the whole session."""
from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.testbed import Testbed  # noqa: E402

log = logging.getLogger("tests.testbed")


@pytest.fixture(scope="session")
def testbed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Testbed]:
    """The running testbed. Starting it fails the tests loudly if a server cannot start."""
    bed = Testbed(tmp_path_factory.mktemp("testbed"))
    bed.start()
    line = f"testbed up in {bed.startup_seconds:.2f}s: {bed.describe()}"
    log.info(line)
    # Straight to the terminal (past output capture), so every run shows the servers started.
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)
    try:
        yield bed
    finally:
        bed.stop()


@pytest.fixture
def clean_testbed(testbed: Testbed) -> Testbed:
    """The testbed with every user's mailboxes and the submission spool emptied first."""
    for user in testbed.users:
        testbed.clear(user)
    testbed.clear_submissions()
    return testbed
