"""The lazy IMAP path against the real Dovecot: windowed FETCH proven by the protocol trace,
the header cache and its resync (QRESYNC, CONDSTORE, neither), UIDVALIDITY resets, and a dropped
connection. Everything runs as bob in folders made per test (or per module for the big one)."""
from __future__ import annotations

import pytest

from tests.imap_support import connect, new_folder, other_client, truth
from tuimail.model.index import LazyIndex, Window
from tuimail.protocols.errors import ConnectError
from tuimail.protocols.imap_folder import StaleUids
from tuimail.protocols.trace import ProtocolTrace
from tuimail.store.folder_sync import FolderSync
from tuimail.store.header_cache import HeaderCache

BIG = 5_000
ITEMS = "(UID FLAGS ENVELOPE INTERNALDATE RFC822.SIZE BODYSTRUCTURE)"
MODES = {"qresync": (), "condstore": ("QRESYNC",), "plain": ("QRESYNC", "CONDSTORE", "ESEARCH")}


@pytest.fixture(scope="module")
def big(testbed) -> str:
    folder = new_folder(testbed, "Big")
    testbed.fill("bob", BIG, folder=folder, seed=3)
    return folder


@pytest.fixture
def cache(tmp_path) -> HeaderCache:
    cache = HeaderCache(tmp_path / "headers.sqlite3")
    yield cache
    cache.close()


def open_folder(testbed, cache, folder, trace=None, disable=(), first=50):
    session = connect(testbed, trace=trace, disable=disable)
    sync = FolderSync(session, cache, "bob")
    return session, sync, sync.open(folder, first=first)


def assert_matches_server(testbed, folder, rows):
    server = truth(testbed, folder)
    for seq, row in rows.items():
        assert server[seq][0] == row.uid, f"seq {seq}"
        assert server[seq][1] == row.flags, f"flags of uid {row.uid}"


def test_cold_open_is_one_fetch_of_the_top_window(testbed, cache, big):
    trace = ProtocolTrace()
    session, sync, opened = open_folder(testbed, cache, big, trace)
    with session:
        assert opened.count == BIG and not opened.warm
        assert sorted(opened.rows) == list(range(BIG - 49, BIG + 1))
        assert trace.commands("FETCH") == [f"FETCH {BIG - 49}:{BIG} {ITEMS}"]
        assert not [c for c in trace.commands("SEARCH") if "ALL" in c.upper()]
        assert "1:*" not in " ".join(trace.sent_lines())
        assert trace.bytes_in < 60_000, trace.counters()
        assert trace.round_trips <= 5, trace.sent_lines()
        newest = opened.rows[BIG]
        assert newest.uid == max(r.uid for r in opened.rows.values()) and newest.subject
        assert_matches_server(testbed, big, opened.rows)


def test_scrolling_fetches_the_next_window_and_the_cache_keeps_it(testbed, cache, big):
    trace = ProtocolTrace()
    session, sync, opened = open_folder(testbed, cache, big, trace)
    with session:
        index = LazyIndex(opened.count)
        index.apply(opened.rows)
        trace.clear()
        windows = index.missing(40, 99, margin=0)
        assert windows == [Window(BIG - 99, BIG - 50)]
        rows = sync.rows(windows[0])
        assert sorted(rows) == list(range(BIG - 99, BIG - 49))
        assert trace.commands("FETCH") == [f"FETCH {BIG - 99}:{BIG - 50} {ITEMS}"]
    trace = ProtocolTrace()
    session, sync, opened = open_folder(testbed, cache, big, trace, first=100)
    with session:
        assert opened.warm and len(opened.rows) == 100
        assert trace.commands("FETCH") == []  # all 100 rows came from the cache
        assert_matches_server(testbed, big, opened.rows)


def test_warm_open_without_changes_costs_a_few_hundred_bytes(testbed, cache, big):
    session, _, cold = open_folder(testbed, cache, big)
    session.close()
    sync = FolderSync(None, cache, "bob")  # type: ignore[arg-type]
    before = sync.cached(big)
    assert before is not None and before.rows == cold.rows  # drawn before any network
    trace = ProtocolTrace()
    session, sync, warm = open_folder(testbed, cache, big, trace)
    with session:
        assert warm.warm and warm.rows == cold.rows and warm.new == warm.vanished == 0
        assert trace.commands("FETCH") == []
        assert trace.bytes_in < 10_000, trace.counters()
        assert any("QRESYNC" in c for c in trace.commands("SELECT"))


@pytest.mark.parametrize("mode", list(MODES))
def test_resync_after_another_client_changes_flags_expunges_and_adds(testbed, cache, mode):
    folder = new_folder(testbed)
    testbed.fill("bob", 120, folder=folder, seed=5)
    session, sync, cold = open_folder(testbed, cache, folder, disable=MODES[mode])
    session.close()
    uids = sorted(r.uid for r in cold.rows.values())
    with other_client(testbed, folder) as other:
        other.add_flags([uids[-1], uids[-5]], [b"\\Flagged"])
        other.remove_flags([uids[-2]], [b"\\Seen"])
        other.add_flags([uids[-2]], [b"\\Answered"])
        other.delete_messages([uids[-3], uids[10], 5])  # two in the cached block, one far below
        other.expunge()
        for n in range(3):
            other.append(folder, f"Subject: new {n}\r\nFrom: x@example.test\r\n\r\nbody {n}\r\n".encode())
    trace = ProtocolTrace()
    session, sync, warm = open_folder(testbed, cache, folder, trace, disable=MODES[mode])
    with session:
        assert warm.warm and warm.new == 3 and warm.count == 120 - 3 + 3
        assert warm.vanished >= 2 and warm.flags_changed >= 3
        assert [r.subject for s, r in sorted(warm.rows.items())][-3:] == ["new 0", "new 1", "new 2"]
        assert uids[-3] not in {r.uid for r in warm.rows.values()}
        assert_matches_server(testbed, folder, warm.rows)
        assert all(c.startswith("UID FETCH") for c in trace.commands("FETCH") if ITEMS in c)
        assert uids[-3] not in cache.uids("bob", folder, warm.uidvalidity)


def test_in_session_news_reaches_the_cache_and_the_index(testbed, cache):
    folder = new_folder(testbed)
    testbed.fill("bob", 60, folder=folder, seed=6)
    session, sync, opened = open_folder(testbed, cache, folder)
    with session:
        index = LazyIndex(opened.count)
        index.apply(opened.rows)
        uids = sorted(r.uid for r in opened.rows.values())
        with other_client(testbed, folder) as other:
            other.add_flags([uids[-1]], [b"\\Flagged"])
            other.delete_messages([uids[-10]])
            other.expunge()
            other.append(folder, b"Subject: late arrival\r\n\r\nhi\r\n")
        changes = sync.refresh()
        assert uids[-10] in changes.vanished and changes.exists == 60
        index.vanish(set(changes.vanished.intersect(uids)))
        index.set_count(changes.exists)
        index.apply(sync.rows(Window(changes.exists - 49, changes.exists)))
        assert index.row(0).subject == "late arrival"
        assert index.row(1).uid == uids[-1] and index.row(1).flagged
        assert_matches_server(testbed, folder, {changes.exists - r: index.row(r) for r in range(50)})


def test_uidvalidity_reset_drops_the_cache(testbed, cache):
    folder = new_folder(testbed)
    testbed.fill("bob", 30, folder=folder, seed=7)
    session, sync, first = open_folder(testbed, cache, folder)
    session.close()
    testbed.doveadm("mailbox", "delete", "-u", "bob", folder)
    testbed.fill("bob", 10, folder=folder, seed=8)
    session, sync, second = open_folder(testbed, cache, folder)
    with session:
        assert second.reset and second.uidvalidity != first.uidvalidity and second.count == 10
        assert cache.count("bob", folder, first.uidvalidity) == 0
        assert_matches_server(testbed, folder, second.rows)
        old_uid = max(first.rows.values(), key=lambda r: r.uid).uid
        with pytest.raises(StaleUids):
            session.set_flags([old_uid], add=["\\Flagged"], uidvalidity=first.uidvalidity)


def test_a_dropped_connection_is_a_clean_error_and_a_new_session_restores(testbed, cache):
    folder = new_folder(testbed)
    testbed.fill("bob", 80, folder=folder, seed=9)
    session, sync, opened = open_folder(testbed, cache, folder)
    testbed.doveadm("kick", "bob")
    with pytest.raises(ConnectError):
        sync.refresh()
    assert isinstance(session.broken, ConnectError)
    with pytest.raises(ConnectError):
        sync.rows(Window(1, 10))  # at once, no hang
    session.close()
    trace = ProtocolTrace()
    session2, sync2, again = open_folder(testbed, cache, folder, trace)
    with session2:
        assert again.warm and again.rows == opened.rows
        assert trace.commands("FETCH") == []


@pytest.mark.parametrize("mode", ["qresync", "plain"])
def test_random_changes_never_map_rows_onto_the_wrong_message(testbed, cache, mode):
    import random
    rng = random.Random(42)
    folder = new_folder(testbed)
    testbed.fill("bob", 150, folder=folder, seed=12)
    session, sync, opened = open_folder(testbed, cache, folder, disable=MODES[mode], first=30)
    try:
        for round_ in range(8):
            server = truth(testbed, folder)
            uids = [uid for _, (uid, _) in sorted(server.items())]
            with other_client(testbed, folder) as other:
                doomed = rng.sample(uids[-40:], 2) + rng.sample(uids[:-40], 1)
                other.delete_messages(doomed)
                other.expunge()
                other.add_flags(rng.sample(uids[-60:], 3), [b"\\Flagged"])
                for n in range(rng.randint(0, 3)):
                    other.append(folder, f"Subject: r{round_}-{n}\r\n\r\nx\r\n".encode())
            if round_ % 3 == 2:  # sometimes a new session, warm from the cache
                session.close()
                session, sync, opened = open_folder(testbed, cache, folder, disable=MODES[mode], first=30)
                rows = opened.rows
            else:
                sync.refresh()
                rows = sync.rows(Window(sync.count - 29, sync.count))
            lo = rng.randint(1, max(sync.count - 60, 1))
            rows.update(sync.rows(Window(lo, lo + 9)))  # a jump somewhere below
            assert sync.count == len(truth(testbed, folder))
            assert_matches_server(testbed, folder, rows)
    finally:
        session.close()
