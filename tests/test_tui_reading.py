"""Reading mail in the TUI against the real Dovecot: lazy index, scrolling, opening, saving,
new mail by IDLE, and reconnecting after the server drops the connection."""
from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path

import imapclient

from tests.tui_support import hermetic, rendered_lines, save_from_reader, wait_for
from tuimail.store.config_file import load_config
from tuimail.ui.app import TuimailApp
from tuimail.ui.screens.message import MessageScreen
from tuimail.ui.widgets.folder_pane import FolderPane
from tuimail.ui.widgets.message_list import MessageList

__all__ = ["hermetic"]
SIZE = (120, 40)
COUNT = 3000


def _app(testbed, path: Path) -> TuimailApp:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(testbed.config_toml("alice"))
    return TuimailApp(path, load_config(path))


def _newest(testbed, n: int = 1) -> list[tuple[int, str]]:
    """(uid, subject) of the newest messages, asked of the server by an independent client."""
    with imapclient.IMAPClient(testbed.host, port=testbed.imaps_port, ssl_context=testbed.client_context()) as c:
        c.login("alice", testbed.users["alice"])
        exists = c.select_folder("INBOX", readonly=True)[b"EXISTS"]
        c.use_uid = False  # by sequence number: the newest are the highest
        data = c.fetch(list(range(max(exists - n + 1, 1), exists + 1)), ["UID", "ENVELOPE"])
        rows = sorted((d[b"UID"], d[b"ENVELOPE"].subject.decode()) for d in data.values())
        return rows[::-1]


async def _index(pilot, app) -> MessageList:
    await wait_for(pilot, lambda: app.screen.query(MessageList), what="the INBOX to open")
    widget = app.screen.query_one(MessageList)
    await wait_for(pilot, lambda: widget.index.count and widget.index.row(0) is not None,
                   what="the first row")
    return widget


def _attachment_message(name: str, payload: bytes) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"] = "Ann <ann@example.test>", "alice@example.test"
    msg["Subject"], msg["Message-ID"] = "the report", "<report@example.test>"
    msg["Date"] = "Sat, 28 Nov 2026 10:00:00 +0000"
    msg.set_content("The report is attached.\n")
    msg.add_attachment(payload, maintype="application", subtype="octet-stream", filename=name)
    return bytes(msg)


async def test_open_scroll_and_read_lazily(clean_testbed, hermetic: Path) -> None:
    testbed = clean_testbed
    testbed.fill("alice", COUNT)
    (uid, subject), = _newest(testbed)
    app = _app(testbed, hermetic)
    async with app.run_test(size=SIZE) as pilot:
        widget = await _index(pilot, app)
        assert widget.index.count == COUNT
        assert subject[:30] in rendered_lines(widget)[0]
        assert widget.index.loaded() < 200  # one screen plus margin, not the folder
        widget.focus()
        await pilot.press("end")
        await wait_for(pilot, lambda: widget.index.row(COUNT - 1) is not None, what="the oldest row")
        assert widget.cursor == COUNT - 1
        assert widget.index.loaded() < 400  # the top window and the bottom window only
        await pilot.press("home", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MessageScreen), what="the message")
        screen = app.screen
        assert screen.summary.uid == uid and screen.summary.seen
        assert screen.view.kind in ("plain", "html") and screen.view.text.strip()
        await pilot.press("escape")
        assert app.screen.query_one(MessageList).index.row(0).seen


async def test_save_attachment_with_a_hostile_name(clean_testbed, hermetic: Path, tmp_path: Path) -> None:
    testbed = clean_testbed
    payload = bytes(range(256)) * 4096  # 1 MiB, every byte value
    testbed.deliver_files("alice", [_attachment_message("../../.bashrc", payload)])
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    app = _app(testbed, hermetic)
    async with app.run_test(size=SIZE) as pilot:
        widget = await _index(pilot, app)
        widget.focus()
        screen = await save_from_reader(pilot, downloads)
        assert [p.filename for p in screen.view.attachments] == ["../../.bashrc"]
        assert "The report is attached." in screen.view.text
        await wait_for(pilot, lambda: screen.status.level in ("ok", "error") and "saved" in screen.status.message
                       or screen.status.level == "error", what="the saved file")
        assert screen.status.level == "ok", screen.status.message
    saved = list(downloads.iterdir())
    assert [p.name for p in saved] == ["bashrc"]
    assert saved[0].read_bytes() == payload and saved[0].stat().st_mode & 0o777 == 0o600
    assert not (tmp_path / ".bashrc").exists()


async def test_new_mail_arrives_by_idle(clean_testbed, hermetic: Path) -> None:
    testbed = clean_testbed
    testbed.fill("alice", 20)
    app = _app(testbed, hermetic)
    async with app.run_test(size=SIZE) as pilot:
        widget = await _index(pilot, app)
        pane = app.screen.query_one(FolderPane)
        await wait_for(pilot, lambda: pane.idle is not None and pane.idle.ready.is_set(), what="IDLE to start")
        await pilot.pause(0.3)
        message = EmailMessage()
        message["From"], message["To"] = "bob@example.test", "alice@example.test"
        message["Subject"], message["Message-ID"] = "arrived while idling", "<idle@example.test>"
        message.set_content("hello")
        context = ssl.create_default_context(cafile=str(testbed.ca_pem))
        with smtplib.SMTP(testbed.host, testbed.submission_port, timeout=10) as smtp:
            smtp.starttls(context=context)
            smtp.login("bob", testbed.users["bob"])
            smtp.send_message(message)
        await wait_for(pilot, lambda: widget.index.count == 21, timeout=30, what="IDLE to report the new message")
        await wait_for(pilot, lambda: widget.index.row(0) is not None, what="the new row")
        assert widget.index.row(0).subject == "arrived while idling"


async def test_reconnects_after_the_server_drops_the_connection(clean_testbed, hermetic: Path) -> None:
    testbed = clean_testbed
    testbed.fill("alice", 500)
    app = _app(testbed, hermetic)
    async with app.run_test(size=SIZE) as pilot:
        widget = await _index(pilot, app)
        widget.focus()
        await pilot.press("j", "j", "j")
        testbed.doveadm("kick", "alice")
        await pilot.pause(0.3)
        await pilot.press("enter")  # the next job meets the dropped connection
        await wait_for(pilot, lambda: isinstance(app.screen, MessageScreen), timeout=30,
                       what="the message after reconnecting")
        assert app.screen.summary.uid == widget.index.row(3).uid
        await pilot.press("escape")
        assert widget.cursor == 3  # the folder and position are restored
        assert widget.index.count == 500
