"""POP3 in the TUI against the real Dovecot: a POP3 account lists and opens mail in the same
index and reader, big messages come as headers first, the sync report (dry run, then for
real, checked on the server through IMAP), the keep-policy screen writing the config file,
and the fallback of an IMAP account whose IMAP port is closed."""
from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

from tests.pop3_support import message, on_server
from tests.tui_support import hermetic, main_status, rendered_lines, wait_for
from tuimail.model.config import Protocol
from tuimail.store.config_file import load_config
from tuimail.ui import pop3_connection
from tuimail.ui.app import TuimailApp
from tuimail.ui.screens.confirm import ConfirmScreen
from tuimail.ui.screens.password import PasswordScreen
from tuimail.ui.screens.pop3_reader import Pop3MessageScreen
from tuimail.ui.screens.pop3_report import Pop3ReportScreen
from tuimail.ui.screens.pop3_settings import Pop3SettingsScreen
from tuimail.ui.widgets.folder_pane import FolderPane
from tuimail.ui.widgets.folders import FolderList
from tuimail.ui.widgets.message_list import MessageList
from tuimail.ui.widgets.pop3_pane import Pop3Pane
from tuimail.ui.widgets.text_view import TextView

__all__ = ["hermetic"]
SIZE = (120, 40)
USER = "bob"


def _app(path: Path, config: str) -> TuimailApp:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config)
    return TuimailApp(path, load_config(path))


def _pop3_app(bed, path: Path, **overrides) -> TuimailApp:
    return _app(path, bed.config_toml(USER, protocol="pop3", **overrides))


def _closed_port() -> int:
    """A TCP port on 127.0.0.1 with nothing listening (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _store_files(hermetic: Path, account: str) -> list[Path]:
    cur = hermetic.parents[2] / "data" / "tuimail" / "pop3" / account / "cur"
    return sorted(cur.iterdir()) if cur.is_dir() else []


async def _pane(pilot, app, rows: int) -> tuple[Pop3Pane, MessageList]:
    await wait_for(pilot, lambda: app.screen.query(Pop3Pane), what="the POP3 pane")
    pane = app.screen.query_one(Pop3Pane)
    await wait_for(pilot, lambda: pane.query(MessageList), what="the index")
    widget = pane.index_widget
    await wait_for(pilot, lambda: pane._opened and widget.index.count == rows
                   and all(widget.index.row(r) is not None for r in range(rows)), what=f"{rows} rows")
    await wait_for(pilot, lambda: "listed" in pane._note, what="the background listing")
    widget.focus()
    return pane, widget


async def test_a_pop3_account_lists_and_opens_a_message(clean_testbed, hermetic: Path) -> None:
    bed = clean_testbed
    bed.deliver_files(USER, [message(n, body=f"Body of message {n}.\n") for n in range(1, 6)])
    app = _pop3_app(bed, hermetic)
    async with app.run_test(size=SIZE) as pilot:
        pane, widget = await _pane(pilot, app, 5)
        assert [row for row in rendered_lines(app.screen.query_one(FolderList)) if row.strip("│ ")] \
            == ["▣ INBOX (POP3)"]
        shown = rendered_lines(widget)
        assert "message 5" in shown[0] and "message 1" in shown[4], shown[:5]  # newest first
        assert all(line.startswith("N") for line in shown[:5])  # unread
        assert _store_files(hermetic, USER) == []  # listing downloaded no message
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, Pop3MessageScreen), what="the reader")
        reader = app.screen
        body = "\n".join(rendered_lines(reader.query_one(TextView)))
        assert "Body of message 5." in body
        assert reader.summary.subject == "message 5" and reader.summary.seen
        assert len(_store_files(hermetic, USER)) == 1  # RETR went to the local Maildir
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen.query_one(MessageList).index.row(0).seen,
                       what="the row marked read")
        assert not rendered_lines(app.screen.query_one(MessageList))[0].startswith("N")
    assert len(on_server(bed)) == 5  # reading kept everything on the server


async def test_a_big_message_shows_headers_until_downloaded(clean_testbed, hermetic: Path) -> None:
    bed = clean_testbed
    bed.deliver_files(USER, [message(1, body="The big one.\n", size=200_000)])
    app = _pop3_app(bed, hermetic, max_download_size=50_000)
    async with app.run_test(size=SIZE) as pilot:
        await _pane(pilot, app, 1)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, Pop3MessageScreen), what="the reader")
        reader = app.screen
        assert reader.view.headers_only and "The big one." not in reader.view.text
        assert "above max_download_size" in reader.view.text and _store_files(hermetic, USER) == []
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, Pop3MessageScreen) and app.screen is not reader,
                       what="the whole message")
        assert not app.screen.view.headers_only
        assert "The big one." in "\n".join(rendered_lines(app.screen.query_one(TextView)))
        assert len(_store_files(hermetic, USER)) == 1


async def test_sync_report_dry_run_then_for_real(clean_testbed, hermetic: Path) -> None:
    bed = clean_testbed
    bed.deliver_files(USER, [message(n) for n in range(1, 4)])
    before = on_server(bed)
    app = _pop3_app(bed, hermetic, keep_on_server=False)
    async with app.run_test(size=SIZE) as pilot:
        pane, widget = await _pane(pilot, app, 3)
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, Pop3ReportScreen), what="the dry-run report")
        report = app.screen.report
        assert report.dry_run and len(report.would_download) == 3 and report.downloaded == []
        text = "\n".join(rendered_lines(app.screen.query_one("#pop3-report-body")))
        assert "Would download (3)" in text and "message 2" in text
        assert on_server(bed) == before and _store_files(hermetic, USER) == []  # a dry run does nothing

        await pilot.press("S")  # "Sync now" from the dry run's report
        await wait_for(pilot, lambda: isinstance(app.screen, Pop3ReportScreen) and not app.screen.report.dry_run,
                       what="the sync report")
        report = app.screen.report
        assert report.ok and len(report.downloaded) == 3 and len(report.deleted) == 3, report
        text = "\n".join(rendered_lines(app.screen.query_one("#pop3-report-body")))
        assert "Downloaded (3)" in text and "Deleted on the server (3)" in text
        assert "downloaded 3" in main_status(app).message and "synced" in pane._note
        await pilot.press("escape")
        assert not isinstance(app.screen, Pop3ReportScreen)
        # the index now shows the local copies, kept after the server let them go
        await wait_for(pilot, lambda: widget.index.count == 3 and widget.index.row(0) is not None,
                       what="the index after the sync")
        assert "message 3" in rendered_lines(widget)[0]
    assert on_server(bed) == [] and len(_store_files(hermetic, USER)) == 3


async def test_delete_here_then_on_the_server_at_the_next_sync(clean_testbed, hermetic: Path) -> None:
    bed = clean_testbed
    bed.deliver_files(USER, [message(n) for n in range(1, 3)])
    app = _pop3_app(bed, hermetic, delete_on_server_when_deleted_locally=True)
    async with app.run_test(size=SIZE) as pilot:
        pane, widget = await _pane(pilot, app, 2)
        await pilot.press("enter")  # stored locally first: only a stored message is deleted on the server
        await wait_for(pilot, lambda: isinstance(app.screen, Pop3MessageScreen), what="the reader")
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        await pilot.click("#confirm-yes")
        await wait_for(pilot, lambda: not isinstance(app.screen, (ConfirmScreen, Pop3MessageScreen))
                       and rendered_lines(widget)[0].startswith("D"), what="the row marked deleted")
        assert len(on_server(bed)) == 2  # nothing happens on the server before a sync
        await pilot.press("S")
        await wait_for(pilot, lambda: isinstance(app.screen, Pop3ReportScreen), what="the sync report")
        assert [item.subject for item in app.screen.report.deleted] == ["message 2"]
    remaining = on_server(bed)
    assert len(remaining) == 1 and "m1" in remaining[0]


async def test_an_idle_session_is_ended_and_the_next_action_reconnects(clean_testbed, hermetic: Path,
                                                                      monkeypatch) -> None:
    monkeypatch.setattr(pop3_connection, "IDLE_QUIT_SECONDS", 0.5)
    bed = clean_testbed
    bed.deliver_files(USER, [message(n) for n in range(1, 4)])
    app = _pop3_app(bed, hermetic)
    async with app.run_test(size=SIZE) as pilot:
        pane, widget = await _pane(pilot, app, 3)
        await wait_for(pilot, lambda: not pane.connection.sync.connected, what="QUIT of the idle session")
        bed.deliver_files(USER, [message(4)])  # a session sees a snapshot: this shows after reconnecting
        await pilot.press("enter")  # RETR needs the server again
        await wait_for(pilot, lambda: isinstance(app.screen, Pop3MessageScreen), what="the reader")
        assert app.screen.summary.subject == "message 3"
        await pilot.press("escape")
        await wait_for(pilot, lambda: widget.index.count == 4 and widget.index.row(0) is not None,
                       what="the reopened INBOX")
        assert "message 4" in rendered_lines(widget)[0] and "reconnected" in pane._note


async def test_the_settings_screen_writes_the_policy(clean_testbed, hermetic: Path) -> None:
    bed = clean_testbed
    bed.deliver_files(USER, [message(1)])
    app = _pop3_app(bed, hermetic)
    async with app.run_test(size=SIZE) as pilot:
        pane, _ = await _pane(pilot, app, 1)
        assert "server keeps all ·" in "\n".join(rendered_lines(pane.query_one("#pop3-title")))
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, Pop3SettingsScreen), what="the settings")
        screen = app.screen
        await pilot.click("#mode-days")
        screen.query_one("#days").value = "7"
        await pilot.click("#delete-local")
        screen.query_one("#max-size").value = "1M"
        await pilot.click("#settings-save")
        await wait_for(pilot, lambda: not isinstance(app.screen, Pop3SettingsScreen), what="the save")
        assert "keep policy saved" in main_status(app).message
        title = "\n".join(rendered_lines(pane.query_one("#pop3-title")))
        assert "server keeps 7 days; deleting here deletes there" in title
    text = hermetic.read_text()
    saved = load_config(hermetic).account(USER)
    assert (saved.keep_on_server, saved.delete_after_days, saved.delete_on_server_when_deleted_locally,
            saved.max_download_size) == (True, 7, True, 1024 * 1024)
    assert saved.protocol is Protocol.POP3 and saved.pop3.port == bed.pop3s_port  # the rest is unchanged
    assert bed.users[USER] not in text and stat.S_IMODE(os.stat(hermetic).st_mode) == 0o600
    assert not [p for p in hermetic.parent.iterdir() if p.name.endswith(".tmp")]


async def test_settings_refuse_a_bad_value_and_write_nothing(clean_testbed, hermetic: Path) -> None:
    bed = clean_testbed
    app = _pop3_app(bed, hermetic)
    before = hermetic.read_text()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.screen.query(Pop3Pane), what="the POP3 pane")
        app.screen.query_one(Pop3Pane).index_widget.focus()
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, Pop3SettingsScreen), what="the settings")
        app.screen.query_one("#max-size").value = "lots"
        await pilot.click("#settings-save")
        await pilot.pause(0.2)
        assert isinstance(app.screen, Pop3SettingsScreen)
        assert "not a size" in "\n".join(rendered_lines(app.screen.query_one("#settings-error")))
        await pilot.press("escape")
    assert hermetic.read_text() == before


async def test_imap_unreachable_falls_back_to_pop3(clean_testbed, hermetic: Path) -> None:
    bed = clean_testbed
    bed.deliver_files("alice", [message(n) for n in range(1, 4)])
    port = _closed_port()
    app = _app(hermetic, bed.config_toml("alice", fallback="pop3", timeout=5, imap={"port": port}))
    async with app.run_test(size=SIZE) as pilot:
        pane, widget = await _pane(pilot, app, 3)
        assert pane.fallback and f":{port}" in pane.fallback
        status = main_status(app).message
        assert status.startswith("alice: IMAP unreachable (") and "reading the INBOX over POP3 (fallback)" in status
        assert "refused" in status, status
        assert "message 3" in rendered_lines(widget)[0]
        assert "fallback: IMAP unreachable" in "\n".join(rendered_lines(pane.query_one("#pop3-title")))
        assert [row for row in rendered_lines(app.screen.query_one(FolderList)) if row.strip("│ ")] \
            == ["▣ INBOX (POP3)"]


async def test_no_fallback_without_the_setting(clean_testbed, hermetic: Path) -> None:
    bed = clean_testbed
    port = _closed_port()
    app = _app(hermetic, bed.config_toml("alice", timeout=5, imap={"port": port}))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "could not list folders" in "\n".join(
            rendered_lines(app.screen.query_one(FolderList))), what="the listing to fail")
        assert not app.screen.query(Pop3Pane)
        assert "refused" in main_status(app).message


async def test_switching_between_a_pop3_and_an_imap_account(clean_testbed, hermetic: Path) -> None:
    bed = clean_testbed
    bed.deliver_files(USER, [message(1)])
    bed.deliver_files("alice", [message(2)])
    app = _app(hermetic, bed.config_toml(USER, protocol="pop3") + "\n" + bed.config_toml("alice"))
    async with app.run_test(size=SIZE) as pilot:
        await _pane(pilot, app, 1)
        await pilot.press("a", "f", "enter")  # the POP3 INBOX in the folder list: back to its pane, not IMAP
        await pilot.pause(0.2)
        assert len(app.screen.query(Pop3Pane)) == 1 and not app.screen.query(FolderPane)
        assert isinstance(app.screen.focused, MessageList)
        await pilot.press("a", "down", "enter")  # alice reads with IMAP
        await wait_for(pilot, lambda: app.screen.query(FolderPane) and not app.screen.query(Pop3Pane),
                       what="the IMAP INBOX in place of the POP3 one")
        await pilot.press("a", "up", "enter")
        await wait_for(pilot, lambda: app.screen.query(Pop3Pane) and not app.screen.query(FolderPane),
                       what="the POP3 INBOX again")
        pane, widget = await _pane(pilot, app, 1)
        assert "message 1" in rendered_lines(widget)[0]


async def test_a_refused_password_is_asked_for(clean_testbed, hermetic: Path) -> None:
    bed = clean_testbed
    bed.deliver_files(USER, [message(1)])
    app = _pop3_app(bed, hermetic, password_command="echo wrong-password")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, PasswordScreen) and app.screen.query("#password-reason")
                       and app.screen.query_one("#password-reason").size.height, what="the password prompt")
        assert "login failed" in "\n".join(rendered_lines(app.screen.query_one("#password-reason")))
        await pilot.press(*bed.users[USER], "enter")
        pane, widget = await _pane(pilot, app, 1)
        assert "message 1" in rendered_lines(widget)[0]
        assert not isinstance(app.screen, PasswordScreen)
