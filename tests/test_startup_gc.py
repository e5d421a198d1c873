"""Start-up mode: the cyclic GC waits while the TUI starts (build_app pauses it) and the
interpreter's switch interval is short (the head start's thread gets the GIL back at once
after each socket read or SQLite step); both are as before once the app's first frame is
out and the head start is done. A start that fails leaves them as they were."""
from __future__ import annotations

import gc
import sys
from pathlib import Path

import pytest

from tests.tui_support import hermetic, wait_for
from tuimail.ui.launch import STARTUP_SWITCH_INTERVAL, LaunchError, build_app
from tuimail.ui.widgets.message_list import MessageList

__all__ = ["hermetic"]


async def test_the_gc_waits_for_the_first_frame_and_then_runs(clean_testbed, hermetic: Path) -> None:
    clean_testbed.fill("alice", 3)
    hermetic.parent.mkdir(parents=True, exist_ok=True)
    hermetic.write_text(clean_testbed.config_toml("alice"))
    assert gc.isenabled()
    interval = sys.getswitchinterval()
    assert interval > STARTUP_SWITCH_INTERVAL
    app = build_app(hermetic)
    assert not gc.isenabled()  # Textual's import and the app's construction ran without it
    assert sys.getswitchinterval() == pytest.approx(STARTUP_SWITCH_INTERVAL)
    assert app.head_start is not None
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.screen.query(MessageList), what="the index")
        await wait_for(pilot, gc.isenabled, what="the GC to run again after the first frame")
        assert app.head_start.done.is_set()  # start-up mode lasted until its thread was done
        assert sys.getswitchinterval() == interval
    assert gc.isenabled() and sys.getswitchinterval() == interval


def test_a_start_that_fails_leaves_the_gc_running(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[accounts.x]\nemail = 3\n")
    interval = sys.getswitchinterval()
    with pytest.raises(LaunchError):
        build_app(config)
    assert gc.isenabled() and sys.getswitchinterval() == interval
