"""Each keep-on-server policy against the real Dovecot, checked through a second, independent
connection (IMAP on the same account shows what is still on the server); --dry-run and a
connection lost before QUIT delete nothing, and the state says so. Time is an input: the
delete-after-days cases pass `now` in, nothing is mocked."""
from __future__ import annotations

import socket
import time

import pytest

from tests.pop3_support import USER, make_sync, message, on_server
from tuimail.model.pop3 import DAY
from tuimail.protocols.trace import ProtocolTrace


@pytest.fixture
def bob(testbed):
    testbed.clear(USER)
    testbed.deliver_files(USER, [message(i) for i in range(1, 6)])
    return testbed


def test_keep_on_server_never_deletes(bob, tmp_path):
    before = on_server(bob)
    trace = ProtocolTrace("pop3")
    report = make_sync(bob, tmp_path, trace=trace).sync(now=time.time() + 10_000 * DAY)
    assert report.ok and len(report.downloaded) == 5 and report.kept == 5 and report.deleted == []
    assert trace.commands("DELE") == [] and report.quit_ok
    assert on_server(bob) == before
    again = make_sync(bob, tmp_path).sync()
    assert again.downloaded == [] and again.kept == 5  # nothing fetched twice


def test_delete_after_download(bob, tmp_path):
    trace = ProtocolTrace("pop3")
    sync = make_sync(bob, tmp_path, trace=trace, keep_on_server=False)
    report = sync.sync()
    assert report.ok and len(report.downloaded) == 5 and len(report.deleted) == 5 and report.kept == 0
    assert on_server(bob) == []
    dele = [i for i, e in enumerate(trace.entries()) if e.data.startswith(b"DELE")]
    retr = [i for i, e in enumerate(trace.entries()) if e.data.startswith(b"RETR")]
    assert min(dele) > max(retr)  # every copy was durable before the first DELE
    records = sync.store.all()
    assert all(r.stored and r.deleted_on_server and sync.store.verify(r) is None for r in records)
    assert all(d.key == next(r.key for r in records if r.id == d.id) for d in report.deleted)


def test_delete_after_days_with_a_test_clock(bob, tmp_path):
    start = time.time()
    first = make_sync(bob, tmp_path, delete_after_days=7).sync(now=start)
    assert first.ok and len(first.downloaded) == 5 and first.deleted == []
    bob.deliver_files(USER, [message(6)])  # arrives later: its own clock
    day6 = make_sync(bob, tmp_path, delete_after_days=7).sync(now=start + 6.9 * DAY)
    assert day6.deleted == [] and len(day6.downloaded) == 1 and len(on_server(bob)) == 6
    day7 = make_sync(bob, tmp_path, delete_after_days=7).sync(now=start + 7 * DAY + 1)
    assert len(day7.deleted) == 5 and day7.kept == 1
    assert len(on_server(bob)) == 1
    day14 = make_sync(bob, tmp_path, delete_after_days=7).sync(now=start + 6.9 * DAY + 7 * DAY)
    assert len(day14.deleted) == 1 and on_server(bob) == []


def test_delete_on_server_when_deleted_locally(bob, tmp_path):
    sync = make_sync(bob, tmp_path, delete_on_server_when_deleted_locally=True)
    assert sync.sync().ok
    victim = sync.store.all()[1]
    sync.delete([victim.id])
    hidden = sync.store.get(victim.id)
    assert hidden.deleted_locally and hidden.stored  # the copy stays until the server has deleted it
    report = make_sync(bob, tmp_path, delete_on_server_when_deleted_locally=True).sync()
    assert [d.id for d in report.deleted] == [victim.id] and report.kept == 4
    ids = on_server(bob)
    assert len(ids) == 4 and victim.summary.message_id not in ids
    gone = sync.store.get(victim.id)
    assert gone.deleted_on_server and not gone.stored and not (tmp_path / victim.path).exists()

    # without the option a local delete stays local
    plain = make_sync(bob, tmp_path)
    other = plain.store.all()[2]
    plain.delete([other.id])
    assert not plain.store.get(other.id).stored
    report = make_sync(bob, tmp_path).sync()
    assert report.deleted == [] and report.downloaded == [] and len(on_server(bob)) == 4


def test_dry_run_downloads_and_deletes_nothing(bob, tmp_path):
    trace = ProtocolTrace("pop3")
    report = make_sync(bob, tmp_path, trace=trace, keep_on_server=False).sync(dry_run=True)
    assert report.ok and report.dry_run and len(report.would_download) == 5
    assert report.downloaded == [] and report.deleted == [] and report.would_delete == []
    assert trace.commands("RETR") == [] and trace.commands("DELE") == []
    assert make_sync(bob, tmp_path, keep_on_server=False).sync().ok  # now for real
    bob.deliver_files(USER, [message(7)])
    make_sync(bob, tmp_path).sync()  # stored, kept
    trace = ProtocolTrace("pop3")
    dry = make_sync(bob, tmp_path, trace=trace, keep_on_server=False).sync(dry_run=True)
    assert len(dry.would_delete) == 1 and dry.deleted == [] and trace.commands("DELE") == []
    assert len(on_server(bob)) == 1


@pytest.mark.parametrize("how", ["kick", "socket"])
def test_connection_lost_before_quit_deletes_nothing(bob, tmp_path, how):
    trace = ProtocolTrace("pop3")
    sync = make_sync(bob, tmp_path, trace=trace, keep_on_server=False)
    session = sync.session
    real_quit = session.quit

    def lost_quit() -> bool:
        if how == "kick":
            bob.doveadm("kick", USER, check=False)
            time.sleep(0.3)
        else:
            session._pop.sock.shutdown(socket.SHUT_RDWR)  # the link dies
        return real_quit()
    session.quit = lost_quit
    report = sync.sync()
    assert len(trace.commands("DELE")) == 5  # the DELEs went out...
    assert not report.ok and report.quit_ok is False and report.deleted == []
    assert len(report.would_delete) == 5 and "QUIT" in report.error
    assert all(r.stored and r.deleted_on_server is None for r in sync.store.all())
    assert len(on_server(bob)) == 5  # ...and the server rolled them back
    retry = make_sync(bob, tmp_path, keep_on_server=False).sync()
    assert retry.ok and retry.downloaded == [] and len(retry.deleted) == 5 and on_server(bob) == []
