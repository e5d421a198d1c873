"""Feedback on the IMAP main screen against the real Dovecot: the connection state beside the
status line, a notification for mail IDLE brings, and errors in a modal from one place."""
from __future__ import annotations

from pathlib import Path

from email.message import EmailMessage

import imapclient
import pytest

from tests.tui_support import hermetic, rendered_lines, save_from_reader, wait_for
from tuimail.store.attachments import MAX_SUFFIX
from tuimail.store.config_file import load_config
from tuimail.ui.app import TuimailApp
from tuimail.ui.screens.error import ErrorScreen, show_error
from tuimail.ui.screens.message import MessageScreen
from tuimail.ui.widgets import folder_pane
from tuimail.ui.widgets.folder_pane import FolderPane
from tuimail.ui.widgets.message_list import MessageList
from tuimail.ui.widgets.status import ConnectionState, StatusLine

__all__ = ["hermetic"]
SIZE = (120, 40)
HOSTILE_SUBJECT = "[bold]x[/bold] \x1b[31mred"


def _app(testbed, path: Path, **overrides) -> TuimailApp:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(testbed.config_toml("alice", **overrides))
    return TuimailApp(path, load_config(path))


async def _index(pilot, app) -> MessageList:
    await wait_for(pilot, lambda: app.screen.query(MessageList), what="the INBOX to open")
    widget = app.screen.query_one(MessageList)
    await wait_for(pilot, lambda: widget.index.count and widget.index.row(0) is not None, what="the first row")
    return widget


def _raw(subject: bytes, seen_by: str = "Mallory <mallory@example.test>") -> bytes:
    return (f"From: {seen_by}\r\nTo: alice@example.test\r\n".encode() + b"Subject: " + subject +
            b"\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <" + str(abs(hash(subject))).encode() +
            b"@example.test>\r\n\r\nhello\r\n")


def _append(testbed, raw: bytes, flags: list[bytes]) -> None:
    """Another mail program (logged in as alice, as the TUI) adds a message to the INBOX."""
    with imapclient.IMAPClient(testbed.host, port=testbed.imaps_port, ssl_context=testbed.client_context(),
                               timeout=10) as client:
        client.login("alice", testbed.users["alice"])
        client.append("INBOX", raw, flags=flags)


def _new_mail(app) -> list:
    return [n for n in app._notifications if n.title == "New mail"]


def _state_text(app) -> str:
    return "\n".join(rendered_lines(app.screen.query_one(ConnectionState)))


async def test_idle_state_and_a_new_mail_notification_with_inert_text(clean_testbed, hermetic: Path) -> None:
    testbed = clean_testbed
    testbed.fill("alice", 20)
    app = _app(testbed, hermetic)
    async with app.run_test(size=SIZE, notifications=True) as pilot:  # toasts drawn, as in a terminal
        widget = await _index(pilot, app)
        pane = app.screen.query_one(FolderPane)
        state = app.screen.query_one(ConnectionState)
        await wait_for(pilot, lambda: pane.idle is not None and pane.idle.ready.is_set(), what="IDLE to start")
        await wait_for(pilot, lambda: state.state == "IDLE", what="the state to read IDLE")
        assert _state_text(app) == "alice · INBOX · IDLE"
        assert app.screen.query_one(StatusLine).message  # the one-line messages are still there
        assert _new_mail(app) == []  # opening the folder is no news

        _append(testbed, _raw(b"filed by me"), [b"\\Seen"])  # filed by the user: already seen
        await wait_for(pilot, lambda: widget.index.count == 21, timeout=30, what="the seen message")
        await wait_for(pilot, lambda: widget.index.row(0) is not None, what="its row")
        await pilot.pause(0.5)
        assert _new_mail(app) == []

        _append(testbed, _raw(HOSTILE_SUBJECT.encode()), [])
        await wait_for(pilot, lambda: _new_mail(app), timeout=30, what="the New mail notification")
        note, = _new_mail(app)
        assert note.markup is False
        assert note.message == "1 new in INBOX: Mallory — [bold]x[/bold] red"  # the escape sequence stripped
        assert "\x1b" not in note.message

        def toasts() -> str:  # a toast draws nothing until it is laid out, a frame after it mounts
            return "\n".join("\n".join(rendered_lines(t)) for t in app.screen.query("Toast"))
        await wait_for(pilot, lambda: toasts().strip(), what="the toast drawn")
        assert "[bold]x[/bold]" in toasts() and "New mail" in toasts()
        assert widget.index.count == 22


async def test_reconnecting_then_connected_when_the_server_drops_the_connection(
        clean_testbed, hermetic: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(folder_pane, "IDLE_START_DELAY", 3600.0)  # the reading connection alone
    testbed = clean_testbed
    testbed.fill("alice", 50)
    app = _app(testbed, hermetic)
    async with app.run_test(size=SIZE) as pilot:
        widget = await _index(pilot, app)
        state = app.screen.query_one(ConnectionState)
        await wait_for(pilot, lambda: state.state == "connected", what="connected")
        assert _state_text(app) == "alice · INBOX · connected"
        seen: list[str] = []  # every state shown, as it is shown
        set_link = ConnectionState.set_link

        def record(self: ConnectionState, link: str, value: str) -> None:
            set_link(self, link, value)
            seen.append(self.state)

        monkeypatch.setattr(ConnectionState, "set_link", record)
        testbed.doveadm("kick", "alice")
        await pilot.pause(0.3)
        widget.focus()
        await pilot.press("enter")  # the next job meets the dropped connection
        await wait_for(pilot, lambda: "reconnecting" in seen, timeout=10, what="reconnecting")
        await wait_for(pilot, lambda: seen[-1] == "connected" and state.state == "connected", timeout=30,
                       what="connected again")
        assert seen[seen.index("reconnecting"):][-1] == "connected" and "offline" not in seen
        assert rendered_lines(state) == ["alice · INBOX · connected"]  # drawn under the reader, if it is up
        await wait_for(pilot, lambda: isinstance(app.screen, MessageScreen), timeout=30, what="the message")


async def test_errors_in_a_modal_inert_and_closed_with_escape(clean_testbed, hermetic: Path,
                                                                tmp_path: Path) -> None:
    testbed = clean_testbed
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "ann@example.test", "alice@example.test", "the report"
    message.set_content("attached\n")
    message.add_attachment(b"data", maintype="application", subtype="octet-stream", filename="report.bin")
    testbed.deliver_files("alice", [bytes(message)])
    full = tmp_path / "full"  # every name the save could pick is taken: the save fails
    full.mkdir()
    for n in range(MAX_SUFFIX):
        (full / ("report.bin" if n == 0 else f"report ({n}).bin")).touch()
    app = _app(testbed, hermetic)
    async with app.run_test(size=SIZE) as pilot:
        widget = await _index(pilot, app)
        widget.focus()
        reader = await save_from_reader(pilot, full)
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorScreen), what="the failed save's modal")
        await pilot.pause(0.1)  # laid out
        screen = app.screen
        assert screen.title_text == "Attachment not saved"
        assert "too many files named like" in "\n".join(rendered_lines(screen.query_one("#report-lines")))
        assert reader.status.level == "error"  # the reader's status line says it too
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is reader, what="escape to close it")

        show_error(app, "[b]Title[/b]", "text with [red]markup[/red] and \x1b[2J escapes")
        show_error(app, "[b]Title[/b]", "text with [red]markup[/red] and \x1b[2J escapes")  # not stacked
        await pilot.pause(0.1)
        screen = app.screen
        assert isinstance(screen, ErrorScreen) and [type(s) for s in app.screen_stack].count(ErrorScreen) == 1
        title = "\n".join(rendered_lines(screen.query_one("#report-title")))
        text = "\n".join(rendered_lines(screen.query_one("#report-lines")))
        assert "[b]Title[/b]" in title
        assert "text with [red]markup[/red] and  escapes" in text and "\x1b" not in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ErrorScreen), what="escape to close it")

        show_error(app, "Another", "closed with enter")
        await pilot.pause(0.1)
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, ErrorScreen), what="enter to close it")
