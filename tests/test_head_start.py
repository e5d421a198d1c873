"""The head start (store/head_start.py) against the real Dovecot, and the TUI adopting it:
the INBOX prepared on a thread while Textual loads, handed over once, closed when unwanted."""
from __future__ import annotations

import socket
from pathlib import Path

from tests.imap_support import account, new_folder, other_client
from tests.test_tui_reading import _newest
from tests.tui_support import hermetic, rendered_lines, wait_for
from tuimail.model.index import Window
from tuimail.store.head_start import HeadStart
from tuimail.store.header_cache import HeaderCache
from tuimail.ui.launch import build_app
from tuimail.ui.widgets.folder_pane import FolderPane
from tuimail.ui.widgets.message_list import MessageList

__all__ = ["hermetic"]


def _fill(bed, folder: str, count: int) -> list[str]:
    subjects = [f"head start {i:02d}" for i in range(count)]
    with other_client(bed) as client:
        for i, subject in enumerate(subjects):
            body = (f"From: a@example.test\r\nTo: bob@example.test\r\nSubject: {subject}\r\n"
                    f"Message-ID: <hs{i}@example.test>\r\n\r\nbody {i}\r\n").encode()
            client.append(folder, body)
    return subjects


def test_head_start_prepares_the_first_screen_and_hands_it_over_once(testbed, tmp_path: Path) -> None:
    folder = new_folder(testbed)
    subjects = _fill(testbed, folder, 6)
    cache = HeaderCache(tmp_path / "headers.sqlite3")
    head = HeadStart(account(testbed), cache, first=4, folder=folder).start()
    result = head.take(timeout=30)
    assert result.error == "" and result.sync is not None and result.opened is not None
    assert head.cached is None  # nothing cached yet: a cold start
    assert result.opened.count == 6
    shown = [result.opened.rows[seq].subject for seq in sorted(result.opened.rows)]
    assert shown == subjects[2:]  # the newest four, oldest first by sequence number
    assert result.password is not None
    # the session is logged in with the folder selected: it serves the next window as is
    older = result.sync.rows(Window(1, 2))
    assert [older[seq].subject for seq in sorted(older)] == subjects[:2]
    assert head.take(timeout=0).sync is None  # handed over once
    result.sync.session.close()

    again = HeadStart(account(testbed), cache, first=4, folder=folder).start()
    assert again.cached_ready.wait(10)
    assert again.cached is not None
    assert sorted(r.subject for r in again.cached.rows.values())[-4:] == subjects[2:]
    again.abandon()  # nobody takes it: whatever it opens is closed
    assert again.done.wait(30)
    leftover = again._result.sync
    assert leftover is None or leftover.session.broken is not None


def test_head_start_with_a_wrong_password_holds_no_session(testbed, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.pw"
    wrong.write_text("not-the-password\n")
    acct = account(testbed, password_command=f"cat {wrong}")
    result = HeadStart(acct, HeaderCache(tmp_path / "h.sqlite3"), first=5).start().take(timeout=30)
    assert result.sync is None and result.opened is None
    assert "auth" in result.error.lower(), result.error
    assert result.password is not None and result.password.reveal() == "not-the-password"


def test_head_start_against_a_closed_port_says_why(testbed, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the with block ends
    acct = account(testbed, imap={"port": port})
    result = HeadStart(acct, HeaderCache(tmp_path / "h.sqlite3"), first=5).start().take(timeout=30)
    assert result.sync is None and result.error
    assert str(port) in result.error or "refused" in result.error.lower(), result.error


async def test_the_tui_adopts_the_head_start_session(clean_testbed, hermetic: Path) -> None:
    clean_testbed.fill("alice", 120)
    (_, subject), = _newest(clean_testbed)
    hermetic.parent.mkdir(parents=True, exist_ok=True)
    hermetic.write_text(clean_testbed.config_toml("alice"))
    app = build_app(hermetic)
    head = app.head_start
    assert head is not None and head.account.name == "alice"
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.screen.query(MessageList), what="the INBOX")
        widget = app.screen.query_one(MessageList)
        await wait_for(pilot, lambda: widget.index.count and widget.index.row(0) is not None,
                       what="the first row")
        assert subject[:30] in rendered_lines(widget)[0]
        # the keys go to the index, as without a head start
        await wait_for(pilot, lambda: app.focused is widget, what="the index to have the focus")
        pane = app.screen.query_one(FolderPane)
        adopted = head._result.sync
        assert adopted is not None, head._result.error
        await wait_for(pilot, lambda: pane.connection._sync is not None, what="the adoption")
        assert pane.connection._sync is adopted  # no second connection for the INBOX
        assert pane.connection.folder == "INBOX"
        await pilot.press("end")  # the adopted session fetches the oldest window
        status = app.screen.query_one("#status")

        def state() -> str:  # said when the wait times out (it did, rarely, in full runs)
            loaded = [r for r in range(120) if widget.index.row(r) is not None]
            return (f"the oldest row (focused {type(app.focused).__name__}, scroll {widget.scroll_offset.y}, "
                    f"cursor {widget.cursor}, size {widget.size}, virtual {widget.virtual_size}, max {widget.max_scroll_y}, loaded {loaded[:1]}..{loaded[-1:]} ({len(loaded)}), "
                    f"status {getattr(status, 'message', '?')!r})")

        await wait_for(pilot, lambda: widget.index.row(119) is not None, what=state)
        assert pane.connection._sync is adopted


async def test_the_tui_recovers_from_a_head_start_with_a_wrong_password(clean_testbed, hermetic: Path,
                                                                          tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.pw"
    wrong.write_text("not-the-password\n")
    hermetic.parent.mkdir(parents=True, exist_ok=True)
    hermetic.write_text(clean_testbed.config_toml("alice", password_command=f"cat {wrong}"))
    app = build_app(hermetic)
    async with app.run_test(size=(120, 40)) as pilot:
        from tuimail.ui.widgets.status import StatusLine
        status = app.screen.query_one(StatusLine)
        await wait_for(pilot, lambda: status.level == "error", what="the error", timeout=30)
        assert "auth" in status.message.lower(), status.message
        assert "not-the-password" not in status.message
