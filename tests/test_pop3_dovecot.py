"""POP3 against the real Dovecot: STLS and POP3S logins, the pipelined first window on a
10,000-message maildrop (bytes and ordering proven from the trace), RETR into the local store
and reading it back offline, and the interruptions that must lose nothing."""
from __future__ import annotations

import pytest

from tests.pop3_support import USER, account, make_sync, message, on_server, password
from tests.recording_proxy import RecordingProxy
from tuimail.model.index import Window
from tuimail.protocols.errors import AuthError, MailError
from tuimail.protocols.pop3 import Pop3Session
from tuimail.protocols.trace import ProtocolTrace
from tuimail.model.secret import Secret
from tuimail.store.pop3_store import Pop3Store
from tuimail.store.pop3_sync import Pop3Sync


@pytest.fixture
def bob(testbed):
    testbed.clear(USER)
    return testbed


@pytest.fixture(scope="module")
def big_drop(testbed):
    testbed.clear(USER)
    testbed.fill(USER, 10_000, seed=4)
    yield testbed
    testbed.clear(USER)


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_login_over_pop3s_and_stls_with_sasl_plain(bob, security):
    bob.deliver_files(USER, [message(1), message(2)])
    trace = ProtocolTrace("pop3")
    with Pop3Session.connect(account(bob, security), password(bob), trace=trace) as session:
        assert session.tls is not None and session.tls.version in ("TLSv1.2", "TLSv1.3")
        assert session.pipelining and session.has_uidl and "PLAIN" in session.capabilities["SASL"]
        assert session.stat()[0] == 2
        assert session.quit()
    sent = trace.sent_lines()
    assert sent[:2] == ["CAPA", "AUTH PLAIN ***"] and "STLS" not in sent
    assert bob.users[USER] not in trace.format()
    with pytest.raises(AuthError, match="login failed"):
        Pop3Session.connect(account(bob, security), Secret("wrong"))


def test_first_window_is_one_pipelined_round_trip_without_bodies(big_drop, tmp_path):
    trace = ProtocolTrace("pop3", capacity=20_000)
    sync = make_sync(big_drop, tmp_path, trace=trace)
    opened = sync.open(first=50)
    counters = trace.counters()
    assert opened.count == 10_000 and sorted(opened.rows) == list(range(9_951, 10_001))
    assert all(r.subject and r.sender for r in opened.rows.values())
    assert counters.bytes_in < 150_000, counters  # its time is the benchmark's (tests.bench --pop3)
    assert counters.round_trips <= 4  # CAPA, AUTH, STAT, the window
    assert trace.commands("RETR") == [] and len(trace.commands("TOP")) == 50
    assert all(c.endswith(" 0") for c in trace.commands("TOP"))  # headers only, no body line
    entries = trace.entries()
    first_top = next(i for i, e in enumerate(entries) if e.direction == "C" and e.data.startswith(b"TOP"))
    first_answer = next(i for i, e in enumerate(entries) if i > first_top and e.direction == "S")
    last_command = max(i for i, e in enumerate(entries) if e.direction == "C")
    assert last_command < first_answer  # every command of the window went out before any answer
    before = trace.counters()
    more = sync.rows(Window(9_901, 9_950))
    assert sorted(more) == list(range(9_901, 9_951)) and (trace.counters() - before).round_trips == 1
    ids = {r.uid for r in opened.rows.values()} | {r.uid for r in more.values()}
    assert len(ids) == 100  # a stable local id per message
    sync.close()

    # Reopening: the index comes from the store before any network round trip
    offline = Pop3Sync(Pop3Store(tmp_path), account(big_drop))
    cached = offline.cached(limit=50)
    assert cached.count == 10_000 and {n: r.uid for n, r in cached.rows.items()} == \
        {n: r.uid for n, r in opened.rows.items()}
    warm_trace = ProtocolTrace("pop3")
    warm = make_sync(big_drop, tmp_path, trace=warm_trace)
    again = warm.open(first=50)
    assert {n: r.uid for n, r in again.rows.items()} == {n: r.uid for n, r in opened.rows.items()}
    assert warm_trace.commands("TOP") == [] and warm_trace.counters().bytes_in < 5_000
    assert warm.listing() == 10_000 and warm.store.count() == 10_000
    warm.close()


def test_retr_into_the_store_then_read_offline(bob, tmp_path):
    body = "Line one.\n.leading dot\n..two dots\n" + "x" * 70 + "\n"
    bob.deliver_files(USER, [message(1, body), message(2, size=200_000)])
    trace = ProtocolTrace("pop3")
    sync = make_sync(bob, tmp_path, trace=trace)
    opened = sync.open()
    uid = opened.rows[1].uid
    view = sync.read(uid, mark_seen=True)
    assert ".leading dot\n..two dots" in view.text and view.summary.seen
    assert sync.take_changes().flags[uid].flags == view.summary.flags  # for the index, like IMAP's
    assert trace.commands("RETR") == ["RETR 1"]
    record = sync.store.get(uid)
    assert record.stored and sync.store.verify(record) is None
    assert b"\r\n" not in sync.store.read(record)  # Maildir: LF line ends
    sync.close()
    offline = Pop3Sync(Pop3Store(tmp_path), account(bob))  # no way to connect at all
    again = offline.read(uid)
    assert again.text == view.text and again.summary.seen
    with pytest.raises(MailError, match="offline"):
        offline.read(opened.rows[2].uid)


def test_big_messages_are_headers_only_until_asked(bob, tmp_path):
    bob.deliver_files(USER, [message(1, size=300_000)])
    trace = ProtocolTrace("pop3")
    sync = make_sync(bob, tmp_path, trace=trace, max_download_size=100_000)
    uid = sync.open().rows[1].uid
    view = sync.read(uid)
    assert view.headers_only and view.summary.subject == "message 1" and trace.commands("RETR") == []
    assert "max_download_size" in view.problems[0]
    full = sync.read(uid, force=True)
    assert not full.headers_only and "xxxx" in full.text and trace.commands("RETR") == ["RETR 1"]
    sync.close()


def test_connection_killed_mid_retr_stores_nothing(bob, tmp_path):
    bob.deliver_files(USER, [message(1, size=3_000_000)])
    # The link dies 1 MB into the server's answers: inside the 3 MB RETR, whatever the
    # socket buffers hold (cutting the client's socket itself raced them: the whole message
    # could already be in its receive buffer).
    with RecordingProxy(bob.host, bob.host, bob.pop3s_port, downstream_limit=1_000_000) as proxy:
        sync = make_sync(bob, tmp_path, keep_on_server=False, pop3={"port": proxy.port})
        report = sync.sync()
    assert proxy.connections == 1
    assert not report.ok and "connection lost" in (report.error or ""), report.error
    assert report.downloaded == [] and report.deleted == []
    assert list((tmp_path / "cur").iterdir()) == [] and list((tmp_path / "tmp").iterdir()) == []
    assert not any(r.stored for r in sync.store.all())
    assert len(on_server(bob)) == 1


def test_killed_after_retr_before_the_state_is_saved_is_adopted_not_refetched(bob, tmp_path):
    bob.deliver_files(USER, [message(1), message(2)])
    store = Pop3Store(tmp_path)
    real = store._stored

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed after the rename, before the state row")
    store._stored = crash
    sync = make_sync(bob, tmp_path, store=store, keep_on_server=False)
    with pytest.raises(KeyboardInterrupt):
        sync.sync()
    sync._session.close()  # the process is gone: no QUIT
    store._stored = real
    assert len(list((tmp_path / "cur").iterdir())) == 1 and not any(r.stored for r in store.all())
    assert len(on_server(bob)) == 2
    trace = ProtocolTrace("pop3")
    report = make_sync(bob, tmp_path, trace=trace, store=store, keep_on_server=False).sync()
    assert report.ok and len(report.adopted) == 1 and len(report.downloaded) == 1
    assert trace.commands("RETR") == ["RETR 2"] and len(report.deleted) == 2
    assert on_server(bob) == [] and len(list((tmp_path / "cur").iterdir())) == 2


def test_a_corrupt_state_file_is_rebuilt_without_duplicates(bob, tmp_path):
    bob.deliver_files(USER, [message(1), message(2), message(3)])
    first = make_sync(bob, tmp_path).sync()
    assert first.ok and len(first.downloaded) == 3
    for part in tmp_path.glob("state.sqlite3*"):
        part.write_bytes(b"\x00garbage" * 512)
    trace = ProtocolTrace("pop3")
    report = make_sync(bob, tmp_path, trace=trace).sync()
    assert report.ok and any("rebuilt" in n for n in report.notes)
    assert report.downloaded == [] and len(report.adopted) == 3 and trace.commands("RETR") == []
    assert len(list((tmp_path / "cur").iterdir())) == 3 and len(on_server(bob)) == 3


def test_a_full_disk_deletes_nothing_on_the_server(bob, tmp_path):
    bob.deliver_files(USER, [message(1), message(2)])

    def full_disk(out, data):
        raise OSError(28, "No space left on device")
    sync = make_sync(bob, tmp_path, store=Pop3Store(tmp_path, write=full_disk), keep_on_server=False)
    report = sync.sync()
    assert not report.ok and "No space left on device" in report.error
    assert report.deleted == [] and report.downloaded == []
    assert not any(r.stored or r.deleted_on_server for r in sync.store.all())
    assert list((tmp_path / "cur").iterdir()) == [] and list((tmp_path / "tmp").iterdir()) == []
    assert len(on_server(bob)) == 2
