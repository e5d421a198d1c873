"""Helpers shared by the TUI tests: waiting on the real servers, reading what is drawn."""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import keyring
import keyring.backend
import pytest
from textual import events
from textual.pilot import Pilot
from textual.widget import Widget


def rendered_lines(widget: Widget) -> list[str]:
    """The text of each line the widget draws, as the terminal would get it."""
    return ["".join(segment.text for segment in widget.render_line(y)).rstrip()
            for y in range(widget.size.height)]


def rendered_segments(widget: Widget) -> str:
    return "".join(segment.text for y in range(widget.size.height) for segment in widget.render_line(y))


async def wait_for(pilot: Pilot, condition: Callable[[], object], timeout: float = 20.0,
                   what: str | Callable[[], str] = "condition") -> None:
    """Let the app run until condition() is true; fail with what (or what(), to describe the
    state at that moment) after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what() if callable(what) else what}")
        await pilot.pause(0.05)


async def save_from_reader(pilot: Pilot, directory: Path):
    """Open the highlighted message, press s and save its attachment into directory; the reader."""
    from tuimail.ui.screens.message import MessageScreen
    from tuimail.ui.screens.save import SaveDialog

    app = pilot.app
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, MessageScreen), what="the message")
    reader = app.screen
    await pilot.press("s")
    await wait_for(pilot, lambda: isinstance(app.screen, SaveDialog), what="the save dialog")
    app.screen.query_one("#save-dir").value = str(directory)
    await pilot.press("enter")
    return reader


async def type_into(pilot: Pilot, selector: str, text: str, paste: bool = False) -> None:
    """Focus the input by clicking it, empty it, and type text key by key (or paste it).

    Pilot takes ~0.07 s a key, so long values can arrive as one bracketed paste instead,
    which is what a terminal sends when the user pastes.
    """
    await pilot.click(selector)
    await pilot.press("ctrl+a", "ctrl+k")
    if text and paste:
        focused = pilot.app.screen.focused
        assert focused is not None
        focused.post_message(events.Paste(text))
        await pilot.pause()
    elif text:
        await pilot.press(*text)


@pytest.fixture
def hermetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Config, data and keyring under tmp_path; returns the config path the app would use."""
    config_home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("TUIMAIL_CONFIG", str(config_home / "tuimail" / "config.toml"))
    return config_home / "tuimail" / "config.toml"


@pytest.fixture
def plaintext_keyring(hermetic: Path, monkeypatch: pytest.MonkeyPatch):
    """keyrings.alt's PlaintextKeyring in the tmp XDG_DATA_HOME, restored afterwards."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    previous = keyring.get_keyring()
    keyring.core.init_backend()  # the backend is chosen once per process; choose again
    backend = keyring.get_keyring()
    assert type(backend).__name__ == "PlaintextKeyring", backend
    assert str(hermetic.parents[2]) in str(backend.file_path)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def no_keyring(hermetic: Path):
    """No usable keyring backend, as on a headless server."""
    import keyring.backends.fail

    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    yield
    keyring.set_keyring(previous)


async def open_newest(pilot: Pilot, app):
    """Wait for the INBOX's first row, then open it with Enter; the reader."""
    from tuimail.ui.screens.message import MessageScreen
    from tuimail.ui.widgets.message_list import MessageList

    await wait_for(pilot, lambda: app.screen.query(MessageList), what="the INBOX to open")
    widget = app.screen.query_one(MessageList)
    await wait_for(pilot, lambda: widget.index.count and widget.index.row(0) is not None, what="the first row")
    widget.focus()
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, MessageScreen), what="the message")
    return app.screen


async def pop3_pane_ready(pilot: Pilot, app, listed: bool = False):
    """Wait for the POP3 pane's INBOX (its first row, or with listed also the background
    UIDL/LIST), focus its index; the pane."""
    from tuimail.ui.widgets.pop3_pane import Pop3Pane

    await wait_for(pilot, lambda: app.screen.query(Pop3Pane), what="the POP3 pane")
    pane = app.screen.query_one(Pop3Pane)
    if listed:
        await wait_for(pilot, lambda: pane._opened and "listed" in pane._note, what="the INBOX and its listing")
    else:
        await wait_for(pilot, lambda: pane._opened and pane.index_widget.index.row(0) is not None, what="the row")
    pane.index_widget.focus()
    return pane


def main_status(app):
    """The mail shell's status line, whatever screen is on top."""
    from tuimail.ui.screens.main import MainScreen
    from tuimail.ui.widgets.status import StatusLine

    main = next(screen for screen in app.screen_stack if isinstance(screen, MainScreen))
    return main.query_one("#status", StatusLine)
