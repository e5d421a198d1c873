"""Progress bars for long work, against the real testbed: a POP3 sync (messages), a big POP3
message downloaded whole, sending a large message (bytes of DATA, then filing it in Sent),
saving an attachment over IMAP, and the background header backfill of a big folder. A fixture
records what each status line's bar was given (progress_history); the tests check it rose to
the total, and that the bar was gone afterwards. Workers report at most every progress.INTERVAL
seconds; the Pilot tests set it to 0 so every step is kept whatever the machine's speed (the
throttle itself is checked on its own, with a clock of its own)."""
from __future__ import annotations

import os
import socket
import threading
from email.message import EmailMessage
from pathlib import Path

import pytest
from textual import events
from textual.app import App, ComposeResult

from tests.pop3_support import message
from tests.smtp_support import fake_account
from tests.tui_support import (hermetic, main_status, pop3_pane_ready, rendered_lines, save_from_reader,
                                type_into, wait_for)
from tuimail.model.config import Security
from tuimail.protocols.errors import MailError
from tuimail.protocols.smtp import DATA_CHUNK, DeliveryUnknown, _dot_stuffed, send
from tuimail.store.config_file import load_config
from tuimail.store.outbox import Outbox, OutboxState
from tuimail.ui.app import TuimailApp
from tuimail.ui.screens.compose import ComposeScreen
from tuimail.ui.screens.message import MessageScreen
from tuimail.ui.screens.pop3_reader import Pop3MessageScreen
from tuimail.ui.screens.pop3_report import Pop3ReportScreen
from tuimail.ui.widgets import folder_pane, progress
from tuimail.ui.widgets.folder_pane import FolderPane
from tuimail.ui.widgets.message_list import MessageList
from tuimail.ui.widgets.pane_messages import BackfillStep
from tuimail.ui.widgets.progress import Progress, Ticker, progress_text
from tuimail.ui.widgets.status import StatusLine

__all__ = ["hermetic"]
SIZE = (120, 40)
CACHE_ALL = "\n[ui]\ncache_all_headers = true\n"  # the header backfill is opt-in


@pytest.fixture(autouse=True)
def progress_history(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each status line keeps every (key, progress) it is given, None for an end: what its bar
    went through."""
    real = StatusLine.set_progress

    def recording(self: StatusLine, key: str, step: Progress | None) -> None:
        self.__dict__.setdefault("progress_history", []).append((key, step))
        real(self, key, step)

    monkeypatch.setattr(StatusLine, "set_progress", recording)


@pytest.fixture
def every_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers report every step, however fast the servers answer."""
    monkeypatch.setattr(progress, "INTERVAL", 0.0)


def _app(testbed, path: Path, user: str, extra: str = "", **overrides) -> TuimailApp:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(testbed.config_toml(user, **overrides) + extra)
    return TuimailApp(path, load_config(path))


def _steps(status: StatusLine, key: str) -> list[Progress | None]:
    return [p for k, p in getattr(status, "progress_history", []) if k == key]


def _check_rise(steps: list[Progress | None], total: int, intermediate: int = 3) -> list[int]:
    """steps rose to total and ended: what was done at each, the end (None) last."""
    assert steps and steps[-1] is None, steps[-5:]
    shown = [p for p in steps if p is not None]
    done = [p.done for p in shown]
    assert done == sorted(done), done
    assert shown[-1].done == shown[-1].total == total, shown[-1]
    assert len({d for d in done if 0 < d < total}) >= intermediate, done
    return done


# The pieces, without servers ------------------------------------------------------------

def test_the_ticker_passes_a_report_an_interval_and_always_a_new_stage_and_the_last_step() -> None:
    now = [0.0]
    heard: list[tuple[str, int, int | None]] = []
    tick = Ticker(lambda *report: heard.append(report), interval=0.1, clock=lambda: now[0])
    for done in range(0, 10):
        tick("sending", done, 9)
        now[0] += 0.03
    tick("waiting", 9, 9)
    tick("waiting", 9, 9)  # the same again: nothing new
    assert heard == [("sending", 0, 9), ("sending", 4, 9), ("sending", 8, 9), ("sending", 9, 9),
                     ("waiting", 9, 9)]


def test_progress_text_fits_the_width_it_is_given() -> None:
    bytes_ = Progress("sending", 12_900_000, 28_311_552, "bytes")
    assert progress_text(bytes_, 80) == "sending  ▕████░░░░░░▏  45%  12.3 MB of 27.0 MB"
    assert progress_text(bytes_, 30) == "sending  ▕████░░░░░░▏  45%"
    assert progress_text(bytes_, 12) == "sending  45%"
    assert progress_text(bytes_, 3) == "45%"
    assert progress_text(Progress("caching headers", 1234, 10_000), 80).endswith("12%  1,234 of 10,000")
    assert progress_text(Progress("connecting to smtp.example.org:587"), 80) == "connecting to smtp.example.org:587 …"
    assert progress_text(Progress("got", 2048, None, "bytes"), 80) == "got …  2.0 KB"
    assert progress_text(Progress("done", 7, 7), 80).endswith("▕██████████▏ 100%  7 of 7")


class _StatusApp(App):
    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")


async def test_the_status_line_draws_the_bar_beside_its_message_inert_and_drops_it_at_the_end() -> None:
    app = _StatusApp()
    async with app.run_test(size=(120, 3)) as pilot:
        status = app.query_one(StatusLine)
        status.show("alice: INBOX opened, 3,000 messages", "ok")
        status.set_progress("work", Progress("[bold]caching[/bold] \x1b[31mheaders", 1500, 3000))
        await pilot.pause()
        line, = [text for text in rendered_lines(status) if text.strip()]
        assert line.startswith("✔ alice: INBOX opened, 3,000 messages  ")
        assert line.endswith("[bold]caching[/bold] headers  ▕█████░░░░░▏  50%  1,500 of 3,000")
        assert "\x1b" not in line
        status.set_progress("work", None)
        await pilot.pause()
        assert rendered_lines(status)[0] == "✔ alice: INBOX opened, 3,000 messages"
        assert status.progress == {} and status.progress_history[-1] == ("work", None)


async def test_a_narrow_status_line_keeps_the_start_of_its_message_beside_the_bar() -> None:
    app = _StatusApp()
    async with app.run_test(size=(50, 3)) as pilot:
        status = app.query_one(StatusLine)
        status.show("in the outbox as 20261129-0001; sending through smtp.example.org:587", "busy")
        status.set_progress("send", Progress("sending", 1_500_000, 3_000_000, "bytes"))
        await pilot.pause()
        line = rendered_lines(status)[0]
        # the message keeps its first 20 cells; the bar drops what does not fit beside them
        assert line == "… in the outbox as 20…  sending  ▕█████░░░░░▏  50%", line


def _server_that_stops_reading_data(after: int) -> tuple[int, threading.Thread]:
    """A plain SMTP server that answers up to DATA, reads `after` bytes of it, then closes
    (unread bytes left: a reset). Its receive buffer is kept small, so a client cannot have
    handed over a message of many MB before the close."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)  # inherited by the connection
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        listener.close()
        with conn, conn.makefile("rb") as lines:
            conn.sendall(b"220 stop.example ESMTP\r\n")
            while line := lines.readline():
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    conn.sendall(b"250-stop.example\r\n250 8BITMIME\r\n")
                elif verb == b"DATA":
                    conn.sendall(b"354 go on\r\n")
                    lines.read(after)
                    return
                else:
                    conn.sendall(b"250 ok\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread


def test_a_connection_lost_in_the_middle_of_data_is_a_failure_not_unknown() -> None:
    """The DATA goes a chunk at a time for its progress; the final "." is in the last chunk
    only, so a connection lost before that cannot have delivered anything."""
    port, thread = _server_that_stops_reading_data(after=200_000)
    data = b"From: alice@example.test\r\nTo: bob@example.test\r\nSubject: big\r\n\r\n" \
        + (b"y" * 998 + b"\r\n") * 12_000  # 12 MB
    heard: list[tuple[str, int, int]] = []
    with pytest.raises(MailError) as caught:
        send(fake_account(port, Security.PLAIN, None, timeout=10), None, "alice@example.test",
             ["bob@example.test"], data, progress=lambda *step: heard.append(step))
    thread.join(5)
    assert not isinstance(caught.value, DeliveryUnknown), caught.value
    stages = [stage for stage, _, _ in heard]
    assert stages[0] == "connecting" and "sending" in stages
    assert not {"waiting", "delivered"} & set(stages), stages
    total = len(_dot_stuffed(data))
    sent = [done for stage, done, _ in heard if stage == "sending"]
    assert sent == sorted(sent) and sent[-1] < total - DATA_CHUNK, (sent[-5:], total)


# POP3 ------------------------------------------------------------------------------------

async def test_a_pop3_sync_shows_messages_stored_of_the_plan(clean_testbed, hermetic: Path, every_step) -> None:
    bed = clean_testbed
    bed.deliver_files("bob", [message(n, size=20_000) for n in range(1, 31)])
    app = _app(bed, hermetic, "bob", protocol="pop3")
    async with app.run_test(size=SIZE) as pilot:
        pane = await pop3_pane_ready(pilot, app, listed=True)
        status = main_status(app)
        await pilot.press("S")
        await wait_for(pilot, lambda: isinstance(app.screen, Pop3ReportScreen), timeout=60, what="the sync report")
        assert len(app.screen.report.downloaded) == 30
        steps = _steps(status, "pop3-sync")
        _check_rise(steps, 30, intermediate=10)
        assert all(p.total == 30 and p.label == "POP3 sync" for p in steps if p is not None)
        assert status.progress == {} and "POP3 sync  ▕" not in "".join(rendered_lines(status))


async def test_a_big_pop3_message_downloaded_whole_shows_its_bytes(clean_testbed, hermetic: Path,
                                                                    every_step) -> None:
    bed = clean_testbed
    bed.deliver_files("bob", [message(1, body="The big one.\n", size=2_000_000)])
    app = _app(bed, hermetic, "bob", protocol="pop3", max_download_size=50_000)
    async with app.run_test(size=SIZE) as pilot:
        pane = await pop3_pane_ready(pilot, app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, Pop3MessageScreen), what="the headers-only reader")
        reader = app.screen
        size = reader.summary.size
        assert reader.view.headers_only and size > 2_000_000
        status = reader.status  # the reader goes once the message is in: its status line is kept
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, Pop3MessageScreen) and app.screen is not reader,
                       timeout=30, what="the whole message")
        assert "The big one." in app.screen.view.text
        steps = _steps(status, "save")
        if steps[-1] is not None:  # the reader was replaced: its bar went with it
            steps.append(None)
        done = _check_rise(steps, size, intermediate=10)
        assert all(p.unit == "bytes" for p in steps if p is not None)
        assert done[-2] < size  # the RETR's own count, before the end says all of it is in
        assert "save" not in app.screen.status.progress


# Sending ---------------------------------------------------------------------------------

async def test_sending_a_large_message_shows_the_bytes_of_data_then_filing(clean_testbed, hermetic: Path,
                                                                           tmp_path: Path, every_step) -> None:
    bed = clean_testbed
    bed.fill("alice", 3)
    attachment = tmp_path / "big.bin"
    attachment.write_bytes(os.urandom(2_300_000))  # base64: a DATA of about 3.1 MB
    app = _app(bed, hermetic, "alice")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.screen.query(MessageList), what="the INBOX")
        pane = app.screen.query_one(FolderPane)
        await wait_for(pilot, lambda: pane._password is not None and pane.index_widget.index.row(0) is not None,
                       what="the first row")
        pane.index_widget.focus()
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, ComposeScreen), what="the compose screen")
        screen = app.screen
        await type_into(pilot, "#compose-to", "alice@example.test", paste=True)
        await type_into(pilot, "#compose-subject", "the big one", paste=True)
        screen.query_one("#compose-body").focus()
        await pilot.pause()
        app.post_message(events.Paste("Attached.\n"))
        screen.attach(attachment)
        status = screen.status
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, ComposeScreen), timeout=60, what="the send")
        (entry,) = Outbox.open_default().entries()
        assert entry.state is OutboxState.SENT and entry.filed, entry
        total = len(_dot_stuffed(Outbox.open_default().raw(entry.id)))
        assert total > 3_000_000
        steps = _steps(status, "send")
        assert steps[-1] is None
        labels = [p.label for p in steps if p is not None]
        stages = [label for n, label in enumerate(labels) if n == 0 or labels[n - 1] != label]
        assert stages == [f"connecting to {bed.host}:{bed.submission_port}", "logging in", "sending",
                          "waiting for the server's answer", "delivered", "filing the copy in Sent"], stages
        data = [p for p in steps if p is not None and p.total is not None]
        assert {p.total for p in data} == {total}
        _check_rise([*data, None], total, intermediate=20)
        assert data[-1].label == "delivered"
        assert steps[-2].total is None  # filing: one APPEND, no bytes to follow
    (submitted,) = [s for s in bed.submissions() if b"the big one" in s.data]
    assert len(submitted.data) > 3_000_000


# IMAP ------------------------------------------------------------------------------------

async def test_saving_an_attachment_shows_its_bytes_rising(clean_testbed, hermetic: Path, tmp_path: Path,
                                                           every_step) -> None:
    bed = clean_testbed
    payload = os.urandom(2_000_000)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Ann <ann@example.test>", "alice@example.test", "the data"
    msg.set_content("Attached.\n")
    msg.add_attachment(payload, maintype="application", subtype="octet-stream", filename="data.bin")
    bed.deliver_files("alice", [bytes(msg)])
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    app = _app(bed, hermetic, "alice")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.screen.query(MessageList), what="the INBOX")
        widget = app.screen.query_one(MessageList)
        await wait_for(pilot, lambda: widget.index.count and widget.index.row(0) is not None, what="the row")
        widget.focus()
        reader = await save_from_reader(pilot, downloads)
        assert isinstance(reader, MessageScreen)
        await wait_for(pilot, lambda: "saved" in reader.status.message or reader.status.level == "error",
                       timeout=30, what="the saved file")
        assert reader.status.level == "ok", reader.status.message
        steps = _steps(reader.status, "save")
        assert steps[-1] is None and reader.status.progress == {}
        shown = [p for p in steps if p is not None]
        done = [p.done for p in shown]
        assert done == sorted(done) and len(set(done)) >= 5, done
        assert done[-1] == len(payload)  # every decoded byte, the last one included
        assert all(p.total >= p.done and p.unit == "bytes" and p.label == "saving" for p in shown)
    assert (downloads / "data.bin").read_bytes() == payload


async def test_the_header_backfill_of_a_big_folder_shows_its_progress(clean_testbed, hermetic: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(folder_pane, "BACKFILL_START_DELAY", 0.2)
    bed = clean_testbed
    bed.fill("alice", 3000)
    app = _app(bed, hermetic, "alice", CACHE_ALL)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.screen.query(MessageList), what="the INBOX")
        pane = app.screen.query_one(FolderPane)
        widget = pane.index_widget
        await wait_for(pilot, lambda: widget.index.count == 3000 and widget.index.row(0) is not None,
                       what="the first rows")
        status = main_status(app)
        await wait_for(pilot, lambda: _steps(status, "backfill")[-1:] == [None], timeout=60,
                       what=lambda: f"the backfill to end: {_steps(status, 'backfill')[-3:]}")
        steps = _steps(status, "backfill")
        _check_rise(steps, 3000, intermediate=5)
        assert all(p.label == "caching headers" and p.total == 3000 for p in steps if p is not None)
        assert status.progress == {} and "caching headers" not in "".join(rendered_lines(status))
        assert widget.index.loaded() < 200  # the rows went to the cache, not into the index
        cache = pane.connection._cache
        state = cache.folder_state("alice", "INBOX")
        assert len(cache.uids("alice", "INBOX", state.uidvalidity)) == 3000
        widget.focus()
        await pilot.press("end")  # the oldest rows now come from the cache
        await wait_for(pilot, lambda: widget.index.row(2999) is not None, what="the oldest row")

    again = _app(bed, hermetic, "alice", CACHE_ALL)  # everything cached: the backfill has nothing to do, and no bar
    heard: list = []
    async with again.run_test(size=SIZE, message_hook=heard.append) as pilot:
        await wait_for(pilot, lambda: any(isinstance(m, BackfillStep) for m in heard), timeout=30,
                       what="the backfill's first step")
        step = next(m for m in heard if isinstance(m, BackfillStep))
        assert (step.done, step.total, step.grew) == (3000, 3000, False)
        await pilot.pause()
        assert _steps(main_status(again), "backfill") == []


async def test_without_cache_all_headers_nothing_is_fetched_beyond_the_rows_shown(
        clean_testbed, hermetic: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(folder_pane, "BACKFILL_START_DELAY", 0.0)
    bed = clean_testbed
    bed.fill("alice", 3000)
    app = _app(bed, hermetic, "alice")
    heard: list = []
    async with app.run_test(size=SIZE, message_hook=heard.append) as pilot:
        await wait_for(pilot, lambda: app.screen.query(MessageList), what="the INBOX")
        pane = app.screen.query_one(FolderPane)
        widget = pane.index_widget
        await wait_for(pilot, lambda: widget.index.count == 3000 and widget.index.row(0) is not None,
                       what="the first rows")
        await pilot.pause(0.5)
        assert pane._backfill_run == 0 and not any(isinstance(m, BackfillStep) for m in heard)
        cache = pane.connection._cache
        state = cache.folder_state("alice", "INBOX")
        assert len(cache.uids("alice", "INBOX", state.uidvalidity)) < 300  # the screen and its margin
