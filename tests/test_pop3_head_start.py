"""The POP3 head start (store/head_start.py Pop3HeadStart) against the real Dovecot, and the
TUI adopting it: the store's rows and the first window prepared while Textual loads, the
session and store handed over once (no second login), a wrong password asked for as usual."""
from __future__ import annotations

from pathlib import Path

from tests.pop3_support import message
from tests.test_tui_pop3 import USER, _pane
from tests.tui_support import hermetic, rendered_lines, wait_for
from tuimail.store.head_start import Pop3HeadStart
from tuimail.ui.launch import build_app
from tuimail.ui.screens.password import PasswordScreen
from tuimail.ui.screens.pop3_reader import Pop3MessageScreen
from tuimail.ui.widgets.pop3_pane import Pop3Pane
from tuimail.ui.widgets.text_view import TextView

__all__ = ["hermetic"]
SIZE = (120, 40)


def _config(bed, path: Path, **overrides) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(bed.config_toml(USER, protocol="pop3", **overrides))
    return path


async def test_the_tui_adopts_the_pop3_head_start_cold_then_warm(clean_testbed, hermetic: Path) -> None:
    bed = clean_testbed
    bed.deliver_files(USER, [message(n, body=f"Body of message {n}.\n") for n in range(1, 8)])
    app = build_app(_config(bed, hermetic))
    head = app.head_start
    assert isinstance(head, Pop3HeadStart) and head.cached is None  # nothing stored yet: cold
    async with app.run_test(size=SIZE) as pilot:
        pane, widget = await _pane(pilot, app, 7)
        assert head.done.is_set() and head._result.opened is not None, head._result.error
        assert pane.connection.sync is head.sync  # the head start's sync and store, adopted
        assert pane.connection._sessions == 1  # its session too: no second login
        assert "message 7" in rendered_lines(widget)[0]
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, Pop3MessageScreen), what="the reader")
        assert "Body of message 7." in "\n".join(rendered_lines(app.screen.query_one(TextView)))

    again = build_app(_config(bed, hermetic))
    warm = again.head_start
    assert isinstance(warm, Pop3HeadStart) and warm.cached is not None  # the store's rows, no network yet
    assert warm.cached.count == 7 and max(warm.cached.rows) == 7
    async with again.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: again.screen.query(Pop3Pane), what="the POP3 pane")
        pane = again.screen.query_one(Pop3Pane)
        assert pane.index_widget.index.row(0) is not None  # drawn from the store in the first frame
        pane, widget = await _pane(pilot, again, 7)
        assert pane.connection.sync is warm.sync and pane.connection._sessions == 1
        assert rendered_lines(widget)[0].startswith(" ")  # message 7 was read in the first run
        assert "message 7" in rendered_lines(widget)[0]


async def test_a_wrong_password_from_the_head_start_is_asked_for(clean_testbed, hermetic: Path) -> None:
    bed = clean_testbed
    bed.deliver_files(USER, [message(1)])
    app = build_app(_config(bed, hermetic, password_command="echo wrong-password"))
    head = app.head_start
    assert isinstance(head, Pop3HeadStart)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, PasswordScreen), what="the password prompt")
        assert "login failed" in head._result.error.lower() or "auth" in head._result.error.lower(), \
            head._result.error
        await pilot.press(*bed.users[USER], "enter")
        pane, widget = await _pane(pilot, app, 1)
        assert "message 1" in rendered_lines(widget)[0]
        assert pane.connection.sync is head.sync  # the store was handed over even though login failed


IMPORTER_SCRIPT = r"""
import sys, threading
from pathlib import Path
importers = {}

class Spy:  # a meta path finder that only notes which thread first asked for a module
    def find_spec(self, name, path=None, target=None):
        importers.setdefault(name, threading.current_thread().name)
        return None

sys.meta_path.insert(0, Spy())
from tuimail.model.config import parse_config
from tuimail.store.head_start import Pop3HeadStart
from tuimail.store.pop3_store import Pop3Store

account = parse_config(Path(sys.argv[1]).read_text()).account("bob")
head = Pop3HeadStart(account, Pop3Store(Path(sys.argv[2])), 20).start()
assert head.done.wait(30) and head._result.opened is not None, head._result.error
print(importers.get("tuimail.model.message"), importers.get("email.parser"), len(head._result.opened.rows))
"""


def test_cold_the_header_parser_is_loaded_by_the_main_thread_while_the_head_start_connects(
        clean_testbed, tmp_path: Path) -> None:
    # Imported by the head start's thread once the window is in, the email package competed
    # with Textual's import for the GIL: the first screen came 100-300 ms later.
    import subprocess
    import sys

    bed = clean_testbed
    bed.deliver_files(USER, [message(n) for n in range(1, 4)])
    config = _config(bed, tmp_path / "config.toml")
    done = subprocess.run([sys.executable, "-c", IMPORTER_SCRIPT, str(config), str(tmp_path / "store")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["MainThread", "MainThread", "3"]
