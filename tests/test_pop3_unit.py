"""POP3 without a server: UIDL hygiene, keys and file names, the keep policy as a pure function,
the bounded wire reader, the trace's round trips, and the local store's durability rules."""
from __future__ import annotations

import errno
import os
import re
import socket
import sqlite3
import threading

import pytest

from tuimail.model.pop3 import (DAY, Holding, KeepPolicy, deletion_reason, fallback_key, header_message_id,
                                key_hash, show_key, summary_from_header, uidl_problem)
from tuimail.protocols.errors import ConnectError
from tuimail.protocols.pop3_wire import Pop3Limits, Pop3Wire, WireLimit
from tuimail.protocols.trace import ProtocolTrace
from tuimail.store.pop3_store import Pop3Store

HEADER = (b"From: =?utf-8?q?Caf=C3=A9?= <cafe@example.test>\nTo: bob@example.test\n"
          b"Subject: hello \x1b[31mred\nMessage-ID:\n <abc@example.test>\nDate: Mon, 1 Jan 2024 10:00:00 +0100\n")


@pytest.mark.parametrize("uidl, problem", [
    (b"000027106b0b7739", None), (b"a/b", None), (b"..", None), (b"../../etc/passwd", None),
    (b"~" * 70, None), (b"x" * 71, "longer than 70"), (b"", "empty"), (None, "no UIDL"),
    (b"a b", "control, space"), (b"a\x1b[2Jb", "control"), (b"caf\xc3\xa9", "non-ASCII"),
])
def test_uidl_validity_follows_rfc1939(uidl, problem):
    found = uidl_problem(uidl)
    assert (found is None) if problem is None else (problem in found)


def test_file_names_are_hashes_and_fallback_keys_cannot_be_uidls():
    for key in ("../../etc/passwd", "a/b", "..", "x\x1b[2J\x00y"):
        assert re.fullmatch(r"[0-9a-f]{64}", key_hash(key))
    assert "\x1b" not in show_key("x\x1b[2Jy") and "\\x1b" in show_key("x\x1b[2Jy")
    with_id = fallback_key(HEADER, 1234)
    assert with_id == "msgid 1234 <abc@example.test>" and uidl_problem(with_id.encode()) is not None
    without = fallback_key(b"Subject: x\n", 10)
    assert without.startswith("head 10 ") and without != fallback_key(b"Subject: y\n", 10)
    assert header_message_id(HEADER) == "<abc@example.test>"


def test_summary_from_a_top_header_block():
    summary = summary_from_header(7, HEADER, 4321)
    assert summary.uid == 7 and summary.size == 4321 and summary.message_id == "<abc@example.test>"
    assert summary.sender[0].name == "Café" and summary.sender[0].email == "cafe@example.test"
    assert "\x1b" not in summary.subject and summary.subject.startswith("hello")
    assert summary.date is not None and summary.date.utcoffset().total_seconds() == 3600
    assert summary.structure is None and not summary.has_attachments


@pytest.mark.parametrize("policy, holding, age_days, deletes", [
    (KeepPolicy(), Holding("U1", 0.0), 400, False),  # keep: never
    (KeepPolicy(keep_on_server=False), Holding("U1", 0.0), 0, True),
    (KeepPolicy(keep_on_server=False), Holding("U1", None), 0, False),  # no local copy
    (KeepPolicy(keep_on_server=False), Holding("msgid 10 <a@b>", 0.0), 0, False),  # untrusted key
    (KeepPolicy(delete_after_days=7), Holding("U1", 0.0), 6.99, False),
    (KeepPolicy(delete_after_days=7), Holding("U1", 0.0), 7, True),
    (KeepPolicy(delete_when_deleted_locally=True), Holding("U1", 0.0, deleted_locally=True), 0, True),
    (KeepPolicy(), Holding("U1", 0.0, deleted_locally=True), 0, False),
])
def test_keep_policy(policy, holding, age_days, deletes):
    assert (deletion_reason(policy, holding, now=age_days * DAY) is not None) is deletes


# ---------------------------------------------------------------- the wire reader

def _wire(data: bytes, timeout: float = 1.0, limits: Pop3Limits = Pop3Limits(), close: bool = True):
    client, server = socket.socketpair()
    def feed():
        try:
            server.sendall(data)
        except OSError:
            pass  # the client gave up first
        finally:
            if close:
                server.close()
    threading.Thread(target=feed, daemon=True).start()
    trace = ProtocolTrace("pop3")
    return Pop3Wire(client, timeout, "pop3 test", trace, limits), trace, server


def test_multiline_unstuffing_and_streaming():
    wire, trace, _ = _wire(b"+OK\r\nline\r\n..dot\r\n.\r\n+OK 12 octets\r\nA\r\n..B\r\n\r\n.\r\n")
    assert wire.status().ok and wire.lines(1000, "x") == [b"line", b".dot"]
    assert wire.status().text == "12 octets"
    chunks = []
    size = wire.stream(1000, chunks.append, "message")
    assert b"".join(chunks) == b"A\n.B\n\n" and size == len(b"A\r\n..B\r\n\r\n.\r\n")
    assert trace.bytes_in == len(b"+OK\r\nline\r\n..dot\r\n.\r\n+OK 12 octets\r\nA\r\n..B\r\n\r\n.\r\n")


def test_a_line_without_end_or_an_endless_answer_hits_the_caps():
    wire, _, _ = _wire(b"+OK " + b"<" * 10_000, limits=Pop3Limits(max_status=4096))
    with pytest.raises(WireLimit, match="longer than 4096"):
        wire.status()
    wire, _, _ = _wire(b"+OK\r\n" + b"x" * 78 + b"\r\n" + b"y" * 300_000, close=False)
    wire.status()
    with pytest.raises(WireLimit, match="more than 1000 bytes"):
        wire.stream(1000, lambda chunk: None, "message 1")


def test_silence_and_a_trickle_time_out_and_eof_is_a_connection_error():
    wire, _, keep = _wire(b"+OK\r\nsome", timeout=0.3, close=False)
    wire.status()
    with pytest.raises(TimeoutError):
        wire.stream(100, lambda chunk: None, "message 1")
    wire, _, _ = _wire(b"+OK\r\nhalf a message", timeout=1.0)
    wire.status()
    with pytest.raises(ConnectError, match="connection lost"):
        wire.lines(1000, "TOP answer")


def test_ansi_in_a_status_line_is_stripped():
    wire, _, _ = _wire(b"-ERR \x1b]52;c;ZXZpbA==\x07bad \x1b[2Jpassword\x9b31m\r\n")
    status = wire.status()
    assert not status.ok and status.text.startswith("bad password") and b"\x1b" in status.raw
    assert not any(c in status.text for c in "\x1b\x07\x9b")


def test_pop3_round_trips_count_turns_not_commands():
    trace = ProtocolTrace("pop3")
    trace.sent(b"UIDL 1\r\nLIST 1\r\nTOP 1 0\r\n")
    trace.sent(b"UIDL 2\r\n")  # still before any answer: the same turn
    for line in (b"+OK 1 a\r\n", b"+OK 1 10\r\n", b"+OK\r\n", b".\r\n", b"+OK 2 b\r\n"):
        trace.received_line(line)
    trace.sent(b"QUIT\r\n")
    assert trace.round_trips == 2 and len(trace.commands("TOP")) == 1


# ---------------------------------------------------------------- the store

def test_save_is_atomic_and_verifiable(tmp_path):
    store = Pop3Store(tmp_path / "acct")
    store.seen([("U1", True, 1, 30)], now=100.0)
    record = store.save("U1", lambda write: (write(b"Subject: x\n\n"), write(b"body\n")), now=200.0)
    assert record.stored_at == 200.0 and record.stored_size == 17 and store.verify(record) is None
    assert os.listdir(tmp_path / "acct" / "tmp") == []
    assert os.listdir(tmp_path / "acct" / "cur") == [f"{key_hash('U1')}:2,"]
    assert oct((tmp_path / "acct" / "cur" / f"{key_hash('U1')}:2,").stat().st_mode & 0o777) == "0o600"
    (tmp_path / "acct" / record.path).write_bytes(b"Subject: x\n\nBODY\n")
    assert "changed" in store.verify(record)
    (tmp_path / "acct" / record.path).unlink()
    assert "missing" in store.verify(record)


def test_a_failing_write_leaves_no_file_and_no_stored_state(tmp_path):
    def full_disk(out, data):
        raise OSError(errno.ENOSPC, "No space left on device")
    store = Pop3Store(tmp_path / "acct", write=full_disk)
    store.seen([("U1", True, 1, 30)], now=1.0)
    with pytest.raises(OSError, match="No space left"):
        store.save("U1", lambda write: write(b"data\n"), now=2.0)
    assert not store.by_key("U1").stored
    assert os.listdir(tmp_path / "acct" / "tmp") == [] and os.listdir(tmp_path / "acct" / "cur") == []


def test_a_file_without_state_is_adopted_and_a_corrupt_state_is_rebuilt(tmp_path):
    store = Pop3Store(tmp_path / "acct")
    store.seen([("U1", True, 1, 30), ("U2", True, 2, 30)], now=1.0)
    store.save("U1", lambda write: write(b"Message-ID: <1@x>\n\none\n"), now=2.0)
    store.close()
    (tmp_path / "acct" / "state.sqlite3").write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        (tmp_path / "acct" / f"state.sqlite3{suffix}").unlink(missing_ok=True)
    again = Pop3Store(tmp_path / "acct")
    assert again.recovered and "rebuilt" in again.recovered and again.count() == 0
    assert any(p.name.startswith("state.sqlite3.corrupt-") for p in (tmp_path / "acct").iterdir())
    again.seen([("U1", True, 1, 30)], now=5.0)
    adopted = again.adopt("U1", now=5.0)
    assert adopted.stored and again.verify(adopted) is None and again.adopt("U2", now=5.0) is None


def test_a_newer_schema_is_refused(tmp_path):
    Pop3Store(tmp_path / "acct").close()
    db = sqlite3.connect(tmp_path / "acct" / "state.sqlite3")
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(Exception, match="newer than this tuimail"):
        Pop3Store(tmp_path / "acct")
