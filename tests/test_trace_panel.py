"""The trace panel (T on the main screen, or the command palette) against the real Dovecot:
it shows the current account's connections live, the head start's among them, follows new
entries, switches with the account, and never shows a password."""
from __future__ import annotations

import base64
from pathlib import Path

from textual.command import CommandPalette

from tests.pop3_support import message
from tests.tui_support import hermetic, rendered_lines, wait_for
from tuimail.cli import tui_arguments
from tuimail.protocols.trace import TraceBook, active_book
from tuimail.store.config_file import load_config
from tuimail.ui.app import TuimailApp
from tuimail.ui.launch import build_app
from tuimail.ui.screens.main import MainScreen
from tuimail.ui.widgets.folders import FolderList
from tuimail.ui.widgets.message_list import MessageList
from tuimail.ui.widgets.trace_panel import TracePanel

__all__ = ["hermetic"]
SIZE = (120, 40)


def _secrets(user: str, password: str) -> list[str]:
    pw = password.encode()
    return [password, base64.b64encode(pw).decode(),
            base64.b64encode(b"\0" + user.encode() + b"\0" + pw).decode()]


def _clean(lines: list[str], user: str, password: str) -> bool:
    return not any(secret in line for line in lines for secret in _secrets(user, password))


def _has(panel: TracePanel, *needles: str) -> bool:
    return any(all(needle in line for needle in needles) for line in panel.lines)


async def _main(pilot, app) -> None:
    await wait_for(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.query(MessageList),
                   what="the main screen and its index")


async def _open(pilot, app) -> TracePanel:
    """T: the panel, composed on first use (not part of the start-up)."""
    await pilot.press("T")
    await wait_for(pilot, lambda: app.screen.query(TracePanel), what="the trace panel")
    return app.screen.query_one(TracePanel)


async def test_the_panel_shows_the_imap_session_of_the_head_start_and_follows(clean_testbed, hermetic: Path) -> None:
    bed = clean_testbed
    bed.fill("alice", 5)
    hermetic.parent.mkdir(parents=True, exist_ok=True)
    hermetic.write_text(bed.config_toml("alice"))
    app = build_app(hermetic)  # the book records before the head start connects
    assert app.head_start is not None and active_book() is app.trace_book
    async with app.run_test(size=SIZE) as pilot:
        await _main(pilot, app)
        index = app.screen.query_one(MessageList)
        await wait_for(pilot, lambda: index.index.count == 5 and index.index.row(0) is not None, what="the rows")
        assert not app.screen.query(TracePanel)  # not composed until asked for
        panel = await _open(pilot, app)
        assert panel.display and panel.is_open
        # the head start's connection is the run's first: LOGIN, then EXAMINE/SELECT and FETCH
        await wait_for(pilot, lambda: _has(panel, "imap#1 index C:", "LOGIN alice ***")
                       and _has(panel, "imap#1 index C:", "FETCH"), what=lambda: f"the index session in {panel.lines}")
        assert _has(panel, "imap#1 index C:", "SELECT \"INBOX\"") or _has(panel, "imap#1 index C:", "EXAMINE")
        await wait_for(pilot, lambda: _has(panel, " folders C:", "LIST"), what="the folder listing")
        assert _clean(panel.lines, "alice", bed.users["alice"])
        await pilot.pause(0.3)
        drawn = [line for line in rendered_lines(panel) if line.strip()]
        assert drawn and panel.lines[-1][:40] in drawn[-1]  # the newest entry at the bottom
        assert _clean(drawn, "alice", bed.users["alice"])

        # new entries arrive while it is open: new mail, seen by the IDLE connection
        await wait_for(pilot, lambda: _has(panel, " idle C: ", " IDLE"), what="the IDLE connection")
        bed.fill("alice", 1, seed=7)
        await wait_for(pilot, lambda: _has(panel, " idle S: * 6 EXISTS"), what="the new mail in IDLE")
        await pilot.pause(0.3)
        assert panel.is_vertical_scroll_end  # it followed
        assert _clean(panel.lines, "alice", bed.users["alice"])

        await pilot.press("T")
        assert not panel.display


async def test_the_panel_shows_pop3_and_switches_with_the_account(clean_testbed, hermetic: Path) -> None:
    bed = clean_testbed
    bed.deliver_files("bob", [message(1), message(2)])
    bed.fill("alice", 2)
    hermetic.parent.mkdir(parents=True, exist_ok=True)
    hermetic.write_text(bed.config_toml("bob", protocol="pop3") + "\n" + bed.config_toml("alice"))
    app = TuimailApp(hermetic, load_config(hermetic), account="bob")
    async with app.run_test(size=SIZE) as pilot:
        await _main(pilot, app)
        panel = await _open(pilot, app)
        await wait_for(pilot, lambda: _has(panel, "pop3#", "maildrop C: STAT"), what=lambda: f"STAT in {panel.lines}")
        assert _has(panel, "maildrop C: AUTH PLAIN ***")
        assert _has(panel, "maildrop S: +OK Logged in")
        assert panel.border_title == "Protocol trace · bob"
        assert _clean(panel.lines, "bob", bed.users["bob"])

        app.screen.switch_account("alice")
        await wait_for(pilot, lambda: _has(panel, "imap#", "LOGIN alice ***"), what="alice's connections")
        assert panel.border_title == "Protocol trace · alice"
        assert not _has(panel, "pop3#")  # only the current account's connections
        assert _clean(panel.lines, "alice", bed.users["alice"])


async def test_the_palette_opens_the_panel(clean_testbed, hermetic: Path) -> None:
    bed = clean_testbed
    hermetic.parent.mkdir(parents=True, exist_ok=True)
    hermetic.write_text(bed.config_toml("alice"))
    app = TuimailApp(hermetic, load_config(hermetic))
    async with app.run_test(size=SIZE) as pilot:
        await _main(pilot, app)
        await wait_for(pilot, lambda: app.screen.query_one(FolderList).folders, what="the folder list")
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: CommandPalette.is_open(app), what="the palette")
        await pilot.press(*"protocol trace")
        palette = app.screen
        await wait_for(pilot, lambda: palette.query_one("CommandList").option_count, what="a hit")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.query(TracePanel) and app.screen.query_one(TracePanel).is_open,
                       what="the panel to open")
        panel = app.screen.query_one(TracePanel)
        await wait_for(pilot, lambda: _has(panel, "LOGIN alice ***"), what="the login")
        assert _clean(panel.lines, "alice", bed.users["alice"])


async def test_the_tui_writes_its_trace_file(clean_testbed, hermetic: Path, tmp_path: Path) -> None:
    """`tuimail --trace FILE` keeps the TUI's fast path, and the run's book writes FILE."""
    assert tui_arguments(["--config", "c.toml", "--trace", "t.log"]).trace == "t.log"
    bed = clean_testbed
    bed.fill("alice", 3)
    hermetic.parent.mkdir(parents=True, exist_ok=True)
    hermetic.write_text(bed.config_toml("alice"))
    book = TraceBook()
    book.write_to(tmp_path / "tui.log")
    app = build_app(hermetic, trace_book=book)
    async with app.run_test(size=SIZE) as pilot:
        await _main(pilot, app)
        index = app.screen.query_one(MessageList)
        await wait_for(pilot, lambda: index.index.count == 3 and index.index.row(0) is not None, what="the rows")
    book.close()
    path = tmp_path / "tui.log"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    text = path.read_text()
    assert "imap#1 alice index C: " in text and "LOGIN alice ***" in text
    assert _clean(text.splitlines(), "alice", bed.users["alice"])
