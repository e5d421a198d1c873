"""The SQLite header cache: round trips, UIDVALIDITY resets, versioned schema."""
from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

import pytest

from tuimail.model.address import Address
from tuimail.model.mime import MimePart
from tuimail.model.summary import MessageSummary
from tuimail.store.header_cache import SCHEMA_VERSION, CacheError, FolderState, HeaderCache


def _summary(uid: int, flags=("\\Seen",)) -> MessageSummary:
    structure = MimePart("", "multipart/mixed", (("boundary", "b"),), children=(
        MimePart("1", "text/plain", (("charset", "utf-8"),), "7bit", 120),
        MimePart("2", "application/pdf", (), "base64", 10_000_000, "attachment", "report.pdf"),
    ))
    return MessageSummary(
        uid=uid, subject=f"subject {uid} [b]é", sender=(Address("Ann", "ann@example.test"),),
        to=(Address("", "bob@example.test"),), date=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        internal_date=datetime(2026, 1, 2, 3, 4, 6, tzinfo=timezone.utc), message_id="<m@x>",
        flags=frozenset(flags), size=10_000_500, structure=structure)


def test_round_trip_newest_first(tmp_path):
    cache = HeaderCache(tmp_path / "h.sqlite3")
    cache.set_folder_state("a", "INBOX", FolderState(uidvalidity=7, highestmodseq=99, uidnext=11, exists=10))
    cache.put("a", "INBOX", 7, [_summary(uid) for uid in range(1, 11)])
    top = cache.newest("a", "INBOX", 7, limit=3)
    assert [s.uid for s in top] == [10, 9, 8]
    assert top[0] == _summary(10)
    assert top[0].has_attachments and top[0].structure.children[1].filename == "report.pdf"
    assert cache.folder_state("a", "INBOX") == FolderState(7, 99, 11, 10)
    assert (tmp_path / "h.sqlite3").stat().st_mode & 0o777 == 0o600


def test_flags_and_removal(tmp_path):
    cache = HeaderCache(tmp_path / "h.sqlite3")
    cache.set_folder_state("a", "INBOX", FolderState(7))
    cache.put("a", "INBOX", 7, [_summary(1), _summary(2)])
    cache.update_flags("a", "INBOX", 7, {1: frozenset({"\\Flagged"})})
    cache.remove("a", "INBOX", 7, [2])
    got = cache.get("a", "INBOX", 7, [1, 2])
    assert list(got) == [1] and got[1].flags == frozenset({"\\Flagged"}) and not got[1].seen


def test_uidvalidity_change_drops_the_folder_only(tmp_path):
    cache = HeaderCache(tmp_path / "h.sqlite3")
    for folder in ("INBOX", "Sent"):
        cache.set_folder_state("a", folder, FolderState(7))
        cache.put("a", folder, 7, [_summary(1), _summary(2)])
    cache.set_folder_state("a", "INBOX", FolderState(8))
    assert cache.count("a", "INBOX", 7) == 0 and cache.uids("a", "INBOX", 8) == []
    assert cache.uids("a", "Sent", 7) == [1, 2]


def test_reopening_keeps_rows_and_schema(tmp_path):
    path = tmp_path / "h.sqlite3"
    cache = HeaderCache(path)
    cache.set_folder_state("a", "INBOX", FolderState(7))
    cache.put("a", "INBOX", 7, [_summary(5)])
    cache.close()
    again = HeaderCache(path)
    assert again.schema_version() == SCHEMA_VERSION
    assert again.uids("a", "INBOX", 7) == [5]


def test_a_newer_schema_is_refused_not_thrown_away(tmp_path):
    path = tmp_path / "h.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE keepme (x)")
    db.execute("INSERT INTO keepme VALUES (42)")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(CacheError, match="newer"):
        HeaderCache(path)
    db = sqlite3.connect(path)
    assert db.execute("SELECT x FROM keepme").fetchone() == (42,)


def test_a_version_1_cache_is_migrated_keeping_its_rows(tmp_path):
    import sqlite3

    from tuimail.store.header_cache import MIGRATIONS
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(str(path), isolation_level=None)
    MIGRATIONS[0](db)
    db.execute("PRAGMA user_version = 1")
    db.execute("INSERT INTO folders VALUES ('a', 'INBOX', 7, 99, 11, 10)")
    db.execute("""INSERT INTO messages VALUES ('a', 'INBOX', 7, 3, '\\Seen', '{"s": "kept"}')""")
    db.close()
    cache = HeaderCache(path)
    assert cache.schema_version() == SCHEMA_VERSION == 2
    assert cache.folder_state("a", "INBOX") == FolderState(7, 99, 11, 10, 0)
    assert cache.get("a", "INBOX", 7, [3])[3].subject == "kept"
    cache.set_block("a", "INBOX", 7, 3)
    assert cache.folder_state("a", "INBOX").block_lo == 3
    assert cache.uids_from("a", "INBOX", 7, 3) == [3]


def test_addresses_are_distinct_most_frequent_first(tmp_path):
    cache = HeaderCache(tmp_path / "h.sqlite3")
    rows = [MessageSummary(uid=1, sender=(Address("Ann", "ann@example.test"),), to=(Address("", "bob@example.test"),)),
            MessageSummary(uid=2, sender=(Address("", "ANN@example.test"),),
                           cc=(Address("Cy", "cy@example.test"), Address("junk", "not-an-address"))),
            MessageSummary(uid=3, sender=(Address("Ann", "ann@example.test"),))]
    cache.put("a", "INBOX", 7, rows)
    found = cache.addresses()
    assert [email.lower() for _, email in found] == ["ann@example.test", "bob@example.test", "cy@example.test"]
    assert found[0][0] == "Ann" and found[2] == ("Cy", "cy@example.test")
    assert cache.addresses(limit=1) == found[:1]

