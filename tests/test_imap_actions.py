"""Search, flags, copy, move, delete and IDLE against the real Dovecot, each checked from the
server's side with a second connection; the cache follows every change."""
from __future__ import annotations

import smtplib
import threading
import time
from email.message import EmailMessage

import pytest

from tests.imap_support import connect, message, new_folder, other_client, truth
from tuimail.model.index import Window
from tuimail.protocols import imap_idle
from tuimail.protocols.trace import ProtocolTrace
from tuimail.store.folder_sync import FolderSync
from tuimail.store.header_cache import HeaderCache


@pytest.fixture
def cache(tmp_path) -> HeaderCache:
    cache = HeaderCache(tmp_path / "headers.sqlite3")
    yield cache
    cache.close()


@pytest.fixture
def mailbox(testbed) -> str:
    folder = new_folder(testbed, "A")
    testbed.deliver_files("bob", [
        message("zebra crossing", "first\n", sender="Dave <dave@example.test>"),
        message("plain news", "nothing to see\n"),
        message("zebra again", "second, with a unicorn\n"),
        message("Grüße aus Köln", "schön\n", sender="Jörg <joerg@example.test>"),
    ], folder=folder)
    return folder


def uid_of(session, subject: str) -> int:
    (uid,) = session.search(f'subject:"{subject}"')
    return uid


def test_search_returns_uids_newest_first(testbed, mailbox):
    trace = ProtocolTrace()
    with connect(testbed, trace=trace) as session:
        session.select(mailbox, readonly=True)
        zebras = session.search("subject:zebra")
        assert len(zebras) == 2 and zebras == sorted(zebras, reverse=True)
        rows = session.fetch_uids(zebras)
        assert rows[zebras[0]].subject == "zebra again"
        assert session.search("from:dave") == [zebras[1]]
        assert session.search("unicorn") == [zebras[0]]
        assert session.search("subject:zebra from:dave") == [zebras[1]]
        assert len(session.search("Grüße")) == 1  # UTF-8 search, sent as a literal
        assert session.search("subject:nonexistent-word") == []
        assert any("CHARSET UTF-8" in line for line in trace.sent_lines())


def test_flags_are_set_on_the_server_and_in_the_cache(testbed, mailbox, cache):
    with connect(testbed) as session:
        sync = FolderSync(session, cache, "bob")
        opened = sync.open(mailbox)
        uid = uid_of(session, "plain news")
        sync.set_flags([uid], add=["\\Flagged", "\\Seen"])
        assert {"\\Flagged", "\\Seen"} <= sync.summary(uid).flags
        sync.set_flags([uid], remove=["\\Seen"])
        assert sync.summary(uid).flags == frozenset({"\\Flagged"})
        server = {u: f for u, f in truth(testbed, mailbox).values()}
        assert server[uid] == frozenset({"\\Flagged"})
        assert sync.take_changes().flags[uid].flags == frozenset({"\\Flagged"})
        with pytest.raises(ValueError):
            sync.set_flags([uid], add=["bad flag)"])
        assert opened.count == 4


def test_move_copy_and_delete_to_trash(testbed, mailbox, cache):
    dest = new_folder(testbed, "D")
    with connect(testbed) as session:
        sync = FolderSync(session, cache, "bob")
        sync.open(mailbox)
        moved, copied, doomed = (uid_of(session, s) for s in ("plain news", "zebra crossing", "zebra again"))
        sync.move([moved], dest)
        sync.copy([copied], dest)
        trash = sync.delete([doomed])
        assert trash == "Trash"
        changes = sync.take_changes()
        assert {moved, doomed} <= set(changes.vanished) and changes.exists == 2
        assert set(cache.uids("bob", mailbox, sync.uidvalidity)) == {copied, uid_of(session, "Grüße aus Köln")}
        assert sorted(r.subject for r in sync.rows(Window(1, 2)).values()) == ["Grüße aus Köln", "zebra crossing"]
    with other_client(testbed) as other:
        other.select_folder(dest)
        subjects = sorted(other.fetch(other.search("ALL"), ["ENVELOPE"])[u][b"ENVELOPE"].subject
                          for u in other.search("ALL"))
        assert subjects == [b"plain news", b"zebra crossing"]
        other.select_folder("Trash")
        assert other.search(["SUBJECT", "zebra again"])


def test_move_without_the_move_extension_copies_and_expunges_only_those(testbed, mailbox):
    dest = new_folder(testbed, "D")
    trace = ProtocolTrace()
    with connect(testbed, trace=trace, disable={"MOVE"}) as session:
        session.select(mailbox)
        keep = uid_of(session, "zebra again")
        session.set_flags([keep], add=["\\Deleted"])  # another \Deleted message must survive
        gone = uid_of(session, "plain news")
        session.move([gone], dest)
        assert [c.split()[1] for c in trace.commands() if c.startswith("UID")][-3:] == ["COPY", "STORE", "EXPUNGE"]
        assert not any(c.strip() == "EXPUNGE" for c in trace.commands())
        present = session.uid_set(1)
        assert gone not in present and keep in present


def test_deleting_in_trash_expunges(testbed):
    with connect(testbed) as session:
        session.select("Trash")
        before = session.exists
        with other_client(testbed) as other:
            other.append("Trash", message("throw me away"))
        session.noop()
        uid = uid_of(session, "throw me away")
        assert session.delete([uid], session.selected.uidvalidity) is None
        assert uid not in session.uid_set(1) and session.exists == before


def send_to_bob(testbed, subject: str) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = testbed.address("alice"), testbed.address("bob"), subject
    msg.set_content("delivered while idling\n")
    with smtplib.SMTP(testbed.host, testbed.submission_port, timeout=10) as smtp:
        smtp.starttls(context=testbed.client_context())
        smtp.login("alice", testbed.users["alice"])
        smtp.send_message(msg)


def test_idle_sees_mail_delivered_by_smtp(testbed, cache):
    subject = f"idle test {time.time()}"
    with connect(testbed) as main, connect(testbed) as watcher:
        sync = FolderSync(main, cache, "bob")
        opened = sync.open("INBOX")
        watcher.select("INBOX", readonly=True)
        sender = threading.Timer(0.3, send_to_bob, (testbed, subject))
        sender.start()
        started = time.monotonic()
        news = watcher.idle_wait(timeout=15)
        sender.join()
        assert news.exists == opened.count + 1 and time.monotonic() - started < 10
        changes = sync.refresh()  # the watcher only says "look": the main session learns it itself
        assert changes.exists == opened.count + 1
        rows = sync.rows(Window(changes.exists, changes.exists))
        assert rows[changes.exists].subject == subject


def test_idle_is_reissued_and_noop_polling_stands_in(testbed, monkeypatch):
    folder = new_folder(testbed, "I")
    monkeypatch.setattr(imap_idle, "IDLE_MAX", 0.4)
    trace = ProtocolTrace()
    with connect(testbed, trace=trace) as session:
        session.select(folder)
        assert not session.idle_wait(timeout=1.0)
        assert len(trace.commands("IDLE")) >= 2  # re-issued, and DONE each time
        assert sum(1 for line in trace.sent_lines() if line == "DONE") == len(trace.commands("IDLE"))
    with connect(testbed, disable={"IDLE"}) as session:
        session.select(folder)
        timer = threading.Timer(0.3, lambda: _append(testbed, folder))
        timer.start()
        news = session.idle_wait(timeout=10, poll_interval=0.2)
        timer.join()
        assert news.exists == 1
    with connect(testbed) as session:
        session.select(folder)
        started = time.monotonic()
        assert not session.idle_wait(timeout=30, stop=lambda: time.monotonic() - started > 0.3)
        assert time.monotonic() - started < 2


def _append(testbed, folder):
    with other_client(testbed) as other:
        other.append(folder, message("polled"))
