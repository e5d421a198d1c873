"""ProtocolTrace: credentials never recorded, bounded memory, honest counters."""
from __future__ import annotations

import base64

from tuimail.model.secret import Secret
from tuimail.protocols.trace import ProtocolTrace, redact_all

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
