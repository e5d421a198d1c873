"""ProtocolTrace: credentials never recorded, bounded memory, honest counters."""
from __future__ import annotations

import base64
import stat
import threading

from tuimail.model.secret import Secret
from tuimail.protocols.trace import (ProtocolTrace, TraceBook, activate, active_book, connection_trace,
                                     deactivate, redact_all)

PW = "s3cret pass\"word"


def recorded(trace: ProtocolTrace) -> bytes:
    return b"\n".join(e.data for e in trace.entries())


def test_imap_login_keeps_the_user_and_hides_the_password():
    trace = ProtocolTrace()
    trace.sent(b'A1 LOGIN bob "s3cret pass\\"word"\r\n')
    trace.received_line(b"A1 OK Logged in\r\n")
    assert trace.sent_lines() == ["A1 LOGIN bob ***"]
    assert b"s3cret" not in recorded(trace)


def test_imap_login_with_literals_hides_the_literal_password():
    trace = ProtocolTrace()
    for chunk in (b"A1 LOGIN {3}\r\n", b"bob", b" {11}\r\n", b"hunter2-xyz", b"\r\n"):
        trace.sent(chunk)
    assert b"hunter2" not in recorded(trace)
    assert b"bob" in recorded(trace)  # the user name literal is no secret
    assert trace.round_trips == 1


def test_authenticate_hides_the_initial_response_and_continuations():
    token = base64.b64encode(b"\0bob\0pw-xyz")
    trace = ProtocolTrace()
    trace.sent(b"A1 AUTHENTICATE PLAIN " + token + b"\r\n")
    trace.received_line(b"A1 OK\r\n")
    trace.sent(b"A2 AUTHENTICATE LOGIN\r\n")
    trace.received_line(b"+ VXNlcm5hbWU6\r\n")
    trace.sent(base64.b64encode(b"bob") + b"\r\n")
    trace.received_line(b"+ UGFzc3dvcmQ6\r\n")
    trace.sent(base64.b64encode(b"pw-xyz") + b"\r\n")
    trace.received_line(b"A2 OK\r\n")
    trace.sent(b"A3 NOOP\r\n")
    assert trace.sent_lines() == ["A1 AUTHENTICATE PLAIN ***", "A2 AUTHENTICATE LOGIN", "***", "***", "A3 NOOP"]
    assert token not in recorded(trace)


def test_pop3_and_smtp_credentials():
    pop = ProtocolTrace("pop3")
    for line in (b"USER bob\r\n", b"PASS pw-xyz\r\n", b"APOP bob 0123abcd\r\n", b"STAT\r\n"):
        pop.sent(line)
    assert pop.sent_lines() == ["USER bob", "PASS ***", "APOP bob ***", "STAT"]
    smtp = ProtocolTrace("smtp")
    smtp.sent(b"AUTH PLAIN AGJvYgBwdw==\r\n")
    smtp.received_line(b"235 ok\r\n")
    smtp.sent(b"AUTH LOGIN\r\n")
    smtp.received_line(b"334 VXNlcm5hbWU6\r\n")
    smtp.sent(b"Ym9i\r\n")
    smtp.received_line(b"334 UGFzc3dvcmQ6\r\n")
    smtp.sent(b"cHc=\r\n")
    smtp.received_line(b"235 ok\r\n")
    smtp.sent(b"MAIL FROM:<bob@example.test>\r\n")
    assert smtp.sent_lines() == ["AUTH PLAIN ***", "AUTH LOGIN", "***", "***", "MAIL FROM:<bob@example.test>"]


def test_a_registered_secret_is_cut_from_anything():
    trace = ProtocolTrace()
    trace.add_secret(Secret("pw-xyz"))
    trace.received_line(b"* BAD you sent pw-xyz, silly\r\n")
    trace.sent(b"A1 SEARCH TEXT pw-xyz\r\n")
    assert b"pw-xyz" not in recorded(trace)
    assert "Secret('********')" == repr(Secret("pw-xyz"))


def test_counters_and_round_trips():
    trace = ProtocolTrace()
    sends = [b"A1 SELECT INBOX\r\nA2 FETCH 1:50 (UID)\r\n", b"A3 IDLE\r\n", b"DONE\r\n",
             b"A4 APPEND INBOX {5}\r\n", b"hello", b"\r\n"]
    trace.sent(sends[0])
    trace.received_line(b"* 5 EXISTS\r\n")
    trace.received_literal(b"x" * 1000)
    for data in sends[1:]:
        trace.sent(data)
    assert trace.round_trips == 4
    assert trace.bytes_in == len(b"* 5 EXISTS\r\n") + 1000
    assert trace.bytes_out == sum(len(d) for d in sends)
    assert trace.commands("FETCH") == ["FETCH 1:50 (UID)"]
    literal = [e for e in trace.entries() if e.literal and e.direction == "S"][0]
    assert literal.size == 1000 and len(literal.data) < 1000 and literal.cut


def test_memory_is_bounded():
    trace = ProtocolTrace(capacity=100, max_entry=50)
    for n in range(10_000):
        trace.received_line(b"* %d FETCH (FLAGS ())" % n + b" " * 500 + b"\r\n")
    entries = trace.entries()
    assert len(entries) == 100 and all(len(e.data) <= 50 for e in entries)
    assert trace.bytes_in > 5_000_000
    trace.sent(b"A" * 1_000_000)  # a line that never ends
    assert len(trace._pending) <= 65_536


def test_redact_all_for_lines_from_elsewhere():
    assert redact_all(["a LOGIN bob pw", "b NOOP"]) == ["a LOGIN bob ***", "b NOOP"]


# ---------------------------------------------------------------- the book of one run

def test_the_base64_of_a_registered_secret_is_cut_too():
    trace = ProtocolTrace("smtp")
    trace.add_secret(Secret("pw-xyz"))
    trace.received_line(b"535 you said " + base64.b64encode(b"pw-xyz") + b"\r\n")
    assert base64.b64encode(b"pw-xyz") not in recorded(trace) and b"535 you said ***" in recorded(trace)


def test_connection_trace_is_none_unless_a_book_records():
    previous = active_book()  # an app of an earlier test may have left its book active
    activate(None)
    book = TraceBook()
    try:
        assert connection_trace("imap", "work", "index") is None
        activate(book)
        first, second = connection_trace("imap", "work", "index"), connection_trace("pop3", "home", "maildrop")
        deactivate(book)
        assert active_book() is None and connection_trace("imap", "work", "index") is None
    finally:
        activate(previous)
    assert (str(first.label), str(second.label)) == ("imap#1 work index", "pop3#2 home maildrop")
    assert second.protocol == "pop3" and book.traces("home") == [second]


def test_since_reads_only_new_entries_in_order_and_per_account():
    book = TraceBook(capacity=50)
    work, home = book.open("imap", "work", "index"), book.open("pop3", "home", "maildrop")
    work.sent(b"A1 LOGIN bob pw\r\n")
    home.sent(b"STAT\r\n")
    work.received_line(b"A1 OK\r\n")
    assert [(e.seq, e.label.account, e.entry.direction) for e in book.since(0)] == [
        (1, "work", "C"), (2, "home", "C"), (3, "work", "S")]
    newest, entries = book.read(0, "work")
    assert newest == 3 and [e.entry.text() for e in entries] == ["A1 LOGIN bob ***", "A1 OK"]
    assert book.read(newest, "work") == (3, [])
    home.received_line(b"+OK 2 300\r\n")
    assert [e.entry.text() for e in book.since(3)] == ["+OK 2 300"]
    assert book.since(4) == [] and book.last == 4
    for n in range(100):  # bounded: only the last 50 stay
        work.sent(b"A%d NOOP\r\n" % n)
    kept = book.since(0)
    assert len(kept) == 50 and kept[-1].seq == 104 and kept[0].seq == 55
    assert kept[-1].line().endswith("imap#1 work index C: A99 NOOP")
    assert kept[-1].line(account=False).endswith("imap#1 index C: A99 NOOP")


def test_entries_from_many_threads_are_numbered_without_gaps():
    book = TraceBook(capacity=100_000)
    traces = [book.open("imap", "work", f"t{n}") for n in range(8)]

    def feed(trace):
        for n in range(500):
            trace.received_line(b"* %d EXISTS\r\n" % n)

    threads = [threading.Thread(target=feed, args=(t,)) for t in traces]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seqs = [e.seq for e in book.since(0)]
    assert seqs == list(range(1, 4001))
    for trace in traces:  # each connection's own entries stay in their order
        mine = [e.entry.text() for e in book.since(0) if e.label == trace.label]
        assert mine == [f"* {n} EXISTS" for n in range(500)]


def test_the_file_is_private_and_written_as_it_goes(tmp_path):
    path = tmp_path / "trace.log"
    path.write_text("old and readable by all\n")
    path.chmod(0o644)
    book = TraceBook()
    book.write_to(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    trace = book.open("imap", "work", "list")
    trace.add_secret(Secret("pw-xyz"))
    trace.sent(b"A1 LOGIN bob pw-xyz\r\n")
    trace.received_literal(b"x" * 5000)
    written = path.read_text()  # before close: line by line
    assert "old and readable" not in written and "pw-xyz" not in written
    assert "imap#1 work list -- new connection" in written
    assert "imap#1 work list C: A1 LOGIN bob ***" in written
    assert "imap#1 work list S: {5000 bytes} " in written and "x" * 200 not in written
    book.close()
    trace.sent(b"A2 NOOP\r\n")  # after close: recorded in memory, not written
    assert "A2 NOOP" not in path.read_text() and book.since(0)[-1].entry.text() == "A2 NOOP"


def test_a_listener_chained_before_the_book_still_hears_everything():
    book = TraceBook()
    trace = book.open("smtp", "work", "send")
    heard = []
    previous = trace.listener

    def listen(t, entry):
        heard.append(entry.text())
        previous(t, entry)

    trace.listener = listen
    trace.sent(b"EHLO x\r\n")
    assert heard == ["EHLO x"] and [e.entry.text() for e in book.since(0)] == ["EHLO x"]
