"""Snapshots of the main screens (pytest-textual-snapshot): fixed mail, a fixed terminal size,
the clock and the time zone pinned (tests/fixed_mail.py). The SVGs live in __snapshots__/;
after an intended change of the UI, look at them and accept with --snapshot-update.

The compare screen's snapshots are in tests/test_snapshot_compare.py (a fixed report).
"""
from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, TextArea

from tests.fixed_mail import READER, ROUTED, FixedReader, fixed_app, fixed_mail, index_ready, message_view
from tests.tui_support import wait_for
from tuimail.ui.screens.compose import ComposeScreen
from tuimail.ui.screens.help import HelpScreen
from tuimail.ui.screens.message import MessageScreen
from tuimail.ui.screens.route import RouteScreen
from tuimail.ui.themes import THEMES_DIR

__all__ = ["fixed_mail"]  # a fixture, used by name
WIDE = (120, 36)
NARROW = (60, 24)
READING = (100, 32)
THEMES = sorted(path.stem for path in THEMES_DIR.glob("*.toml"))


async def _index(pilot) -> None:
    await wait_for(pilot, lambda: index_ready(pilot.app), what="the cached INBOX and the folder list")
    await pilot.pause()


async def _reader(pilot, message) -> MessageScreen:
    await _index(pilot)
    app = pilot.app
    account = app.config.accounts["alice"]
    screen = MessageScreen(message_view(message), FixedReader(message, account), folder="INBOX")
    await app.push_screen(screen)
    await pilot.pause()
    return screen


def test_every_shipped_theme_is_covered() -> None:
    assert len(THEMES) >= 4 and "tuimail-dark" in THEMES


@pytest.mark.parametrize("theme", THEMES)
def test_index(snap_compare, fixed_mail: Path, theme: str) -> None:
    assert snap_compare(fixed_app(fixed_mail, theme), terminal_size=WIDE, run_before=_index)


def test_index_narrow(snap_compare, fixed_mail: Path) -> None:
    assert snap_compare(fixed_app(fixed_mail), terminal_size=NARROW, run_before=_index)


def test_reader(snap_compare, fixed_mail: Path) -> None:
    async def run_before(pilot) -> None:
        await _reader(pilot, READER)

    assert snap_compare(fixed_app(fixed_mail), terminal_size=READING, run_before=run_before)


def test_full_headers(snap_compare, fixed_mail: Path) -> None:
    async def run_before(pilot) -> None:
        screen = await _reader(pilot, ROUTED)
        await pilot.press("h")
        await wait_for(pilot, lambda: screen.query("#full-headers") and screen.query_one("#full-headers").display,
                       what="the full headers")

    assert snap_compare(fixed_app(fixed_mail), terminal_size=READING, run_before=run_before)


def test_route(snap_compare, fixed_mail: Path) -> None:
    async def run_before(pilot) -> None:
        await _reader(pilot, ROUTED)
        await pilot.press("H")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, RouteScreen) and pilot.app.screen.lines,
                       what="the route")

    assert snap_compare(fixed_app(fixed_mail), terminal_size=(160, 44), run_before=run_before)


def test_compose(snap_compare, fixed_mail: Path) -> None:
    async def run_before(pilot) -> None:
        await _index(pilot)
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ComposeScreen), what="the compose screen")
        screen = pilot.app.screen
        for name, value in (("to", "Zoë Ångström <zoe@example.net>"), ("cc", "bob@example.org"),
                            ("subject", "Re: Quarterly numbers, draft v3")):
            screen.query_one(f"#compose-{name}", Input).value = value
        body = screen.query_one(TextArea)
        body.text = "Hi Zoë,\n\nThe numbers look right to me; travel can wait for Bob's receipts.\n\nAlice\n"
        for widget in (*screen.query(Input), body):
            widget.cursor_blink = False  # a blinking cursor would make the picture depend on timing
        body.focus()
        await pilot.pause()

    assert snap_compare(fixed_app(fixed_mail), terminal_size=READING, run_before=run_before)


def test_help(snap_compare, fixed_mail: Path) -> None:
    async def run_before(pilot) -> None:
        await _index(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), what="the help screen")

    assert snap_compare(fixed_app(fixed_mail), terminal_size=WIDE, run_before=run_before)
