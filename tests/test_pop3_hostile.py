"""SECURITY-CASES A (STLS), B19, B20 and F40 against a scripted POP3 server that lies: duplicate
and hostile UIDLs, an endless RETR, a greeting of 2,000 '<', ANSI in errors, -ERR to QUIT,
no UIDL at all. Each ends in a clean error or a correct refusal, and no wrong DELE."""
from __future__ import annotations

import re
import time

import pytest

from tests.pop3_support import FakePop3, message
from tests.test_tls_hostile import FakeServer, make_account, pki, pop3_script  # noqa: F401 (pki is a fixture)
from tuimail.model.config import Protocol, Security
from tuimail.model.index import Window
from tuimail.model.secret import Secret
from tuimail.protocols.errors import AuthError, MailError, ProtocolError
from tuimail.protocols.pop3 import Pop3Limits, Pop3Session
from tuimail.protocols.trace import ProtocolTrace
from tuimail.store.pop3_store import Pop3Store
from tuimail.store.pop3_sync import Pop3Sync

MESSAGES = [message(i) for i in range(1, 5)]


def sync_with(server: FakePop3, root, limits: Pop3Limits | None = None, trace=None, **policy) -> Pop3Sync:
    account = server.account(**policy)
    return Pop3Sync(Pop3Store(root), account,
                    connect=lambda: Pop3Session.connect(account, Secret("pw"), trace=trace, limits=limits))


def no_escapes(text: str) -> bool:
    return not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", text)


def test_stls_capabilities_are_read_again_after_tls_and_injection_is_ignored(pki):  # noqa: F811
    server = FakeServer(pop3_script(inject=b"+OK injected\r\n-ERR injected\r\n", tls=pki["good"],
                                    post_capa=(b"USER", b"SASL PLAIN", b"PIPELINING", b"REAL")))
    account = make_account(Protocol.POP3, server.port, Security.STARTTLS, pki["ca_pem"])
    trace = ProtocolTrace("pop3")
    session = Pop3Session.connect(account, Secret("fake-server-pw-42"), trace=trace)
    assert "REAL" in session.capabilities and "STLS" not in session.capabilities and session.pipelining
    assert session.tls is not None
    session.close()
    sent = server.client_lines("tls")
    assert b"AUTH PLAIN " in sent and b"USER" not in server.client_lines("plain")
    assert not any(b"fake-server-pw-42" in e.data for e in trace.entries())
    assert trace.sent_lines()[-1] == "AUTH PLAIN ***"


def test_duplicate_uidls_are_never_deleted(tmp_path):
    server = FakePop3([(b"SAME", MESSAGES[0]), (b"SAME", MESSAGES[1]), (b"U3", MESSAGES[2])])
    report = sync_with(server, tmp_path, keep_on_server=False).sync()
    server.wait()
    assert report.ok and len(report.downloaded) == 3  # nothing lost: all three stored
    assert server.committed == {3}  # only the trustworthy UIDL was deleted
    assert sorted(i.number for i in report.skipped) == [1, 2]
    assert all("duplicate UIDL" in i.reason for i in report.skipped)


def test_hostile_uidls_never_become_paths_and_control_characters_are_not_trusted(tmp_path):
    uidls = [b"../../../../tmp/pwned", b"a/b", b"..", b"x\x1b[2J\x07y"]
    server = FakePop3([(u, m) for u, m in zip(uidls, MESSAGES)])
    report = sync_with(server, tmp_path / "store", keep_on_server=False).sync()
    server.wait()
    assert report.ok and len(report.downloaded) == 4
    names = sorted(p.name for p in (tmp_path / "store" / "cur").iterdir())
    assert len(names) == 4 and all(re.fullmatch(r"[0-9a-f]{64}:2,", n) for n in names)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]
    assert server.committed == {1, 2, 3}  # the valid (if odd-looking) UIDLs; not the ESC one
    assert [i.number for i in report.skipped] == [4] and no_escapes(report.skipped[0].key)
    assert all(no_escapes(i.key) for i in report.downloaded)


def test_malformed_listing_lines_are_ignored_and_reported(tmp_path):
    lines = [b"1 U1", b"x U2", b"0 U0", b"99 U99", b"2", b"2 U2", b"3 U3", b"3 U3b"]
    server = FakePop3([(b"U1", MESSAGES[0]), (b"U2", MESSAGES[1]), (b"U3", MESSAGES[2])], uidl_lines=lines)
    report = sync_with(server, tmp_path, keep_on_server=False).sync()
    server.wait()
    # "2" then "2 U2": message 2 is listed twice, so its UIDL is not trusted either
    assert report.ok and len(report.downloaded) == 3 and server.committed == {1}
    assert any("listed twice" in n for n in report.notes) and any("malformed" in n for n in report.notes)


def test_an_endless_retr_hits_the_cap_and_nothing_is_stored_or_deleted(tmp_path):
    def endless(conn, n):
        conn.sendall(b"+OK here it comes\r\n")
        try:
            while True:
                conn.sendall(b"Subject: again\r\n" * 4096)
        except OSError:
            return False
    server = FakePop3([(b"U1", MESSAGES[0])], retr=endless)
    sync = sync_with(server, tmp_path, keep_on_server=False)
    started = time.monotonic()
    report = sync.sync()
    assert time.monotonic() - started < 5
    assert not report.ok and "more than" in report.error
    assert list((tmp_path / "cur").iterdir()) == [] and list((tmp_path / "tmp").iterdir()) == []
    assert not sync.store.by_key("U1").stored
    server.wait()
    assert b"DELE 1" not in server.log and b"QUIT" not in server.log and server.committed is None


def test_a_trickled_retr_times_out(tmp_path):
    def trickle(conn, n):
        conn.sendall(b"+OK\r\n")
        try:
            for _ in range(100):
                conn.sendall(b"x")
                time.sleep(0.1)
        except OSError:
            pass
        return False
    server = FakePop3([(b"U1", MESSAGES[0])], retr=trickle)
    sync = sync_with(server, tmp_path, limits=Pop3Limits(min_rate=10_000_000), timeout=0.5)
    sync.open()
    started = time.monotonic()
    with pytest.raises(MailError, match="timed out"):
        sync.read("U1")
    assert time.monotonic() - started < 4 and sync._session.broken is not None
    assert not sync.store.by_key("U1").stored and list((tmp_path / "tmp").iterdir()) == []


def test_a_greeting_of_2000_angle_brackets_or_ansi_is_inert():
    for greeting in (b"+OK " + b"<" * 2000, b"+OK \x1b]0;pwned\x07\x1b[2J hello <1.2@x>"):
        server = FakePop3([(b"U1", MESSAGES[0])], greeting=greeting)
        started = time.monotonic()
        session = server.connect()
        assert time.monotonic() - started < 5 and no_escapes(session.greeting)  # no backtracking blow-up
        assert session.stat() == (1, len(MESSAGES[0]))
        assert session.quit()


def test_ansi_in_err_answers_is_stripped_from_errors():
    server = FakePop3([], auth_reply=b"-ERR \x1b]52;c;ZXZpbA==\x07denied \x1b[2J\x1b[31mnow")
    with pytest.raises(AuthError) as caught:
        server.connect()
    assert "denied" in str(caught.value) and no_escapes(str(caught.value))
    server = FakePop3([(b"U1", MESSAGES[0])], retr=lambda conn, n: conn.sendall(b"-ERR \x1b[5mgone\r\n"))
    session = server.connect()
    with pytest.raises(ProtocolError, match="RETR 1 refused: gone") as caught:
        session.retr_bytes(1)
    assert no_escapes(str(caught.value)) and session.broken is None and session.quit()


def test_err_to_quit_records_no_deletion(tmp_path):
    server = FakePop3([(b"U1", MESSAGES[0]), (b"U2", MESSAGES[1])], quit_reply=b"-ERR some deleted messages not removed")
    sync = sync_with(server, tmp_path, keep_on_server=False)
    report = sync.sync()
    assert not report.ok and "QUIT failed" in report.error and report.deleted == []
    assert [i.number for i in report.would_delete] == [1, 2]
    assert all(r.stored and r.deleted_on_server is None for r in sync.store.all())


def test_without_uidl_nothing_is_deleted_and_nothing_is_fetched_twice(tmp_path):
    messages = [(None, m) for m in MESSAGES[:3]]
    capa = (b"USER", b"TOP", b"PIPELINING")
    server = FakePop3(messages, capa=capa)
    report = sync_with(server, tmp_path, keep_on_server=False).sync()
    server.wait()
    assert report.ok and len(report.downloaded) == 3 and server.committed == set()
    assert any("no UIDL" in n for n in report.notes)
    again = FakePop3(messages, capa=capa)
    second = sync_with(again, tmp_path, keep_on_server=False).sync()
    assert second.ok and second.downloaded == [] and len(list((tmp_path / "cur").iterdir())) == 3


def test_a_reused_uidl_for_another_message_is_not_deleted(tmp_path):
    first = FakePop3([(b"U1", MESSAGES[0])])
    assert sync_with(first, tmp_path).sync().ok
    liar = FakePop3([(b"U1", MESSAGES[1])])  # same UIDL, another message
    report = sync_with(liar, tmp_path, delete_after_days=1).sync(now=time.time() + 3 * 86400)
    liar.wait()
    assert report.deleted == [] and liar.committed == set()
    assert any("does not match" in i.reason for i in report.skipped)


def test_without_pipelining_the_window_runs_in_lock_step(tmp_path):
    for capa, trips in (((b"USER", b"UIDL", b"TOP", b"PIPELINING"), 1), ((b"USER", b"UIDL", b"TOP"), 12)):
        server = FakePop3([(b"U%d" % i, m) for i, m in enumerate(MESSAGES, 1)], capa=capa)
        trace = ProtocolTrace("pop3")
        sync = sync_with(server, tmp_path / str(trips), trace=trace)
        assert sync.open(first=0).count == 4
        before = trace.counters()
        rows = sync.rows(Window(1, 4))
        assert sorted(rows) == [1, 2, 3, 4] and rows[4].subject == "message 4"
        assert (trace.counters() - before).round_trips == trips
        sync.close()

