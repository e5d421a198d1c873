"""The local header cache: SQLite under $XDG_CACHE_HOME/tuimail/, keyed by
(account, folder, UIDVALIDITY, UID). Reopening a folder draws from here before the network.

The schema is versioned; each version has a migration from the one before. A cache written by
a newer tuimail is refused with a clear error, never silently thrown away.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from tuimail.model.summary import MessageSummary, summary_from_json, summary_to_json

SCHEMA_VERSION = 2


class CacheError(Exception):
    pass


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tuimail"


@dataclass(frozen=True)
class FolderState:
    uidvalidity: int
    highestmodseq: int = 0  # 0: the server has no CONDSTORE, or we never synced
    uidnext: int = 0
    exists: int = 0
    # The cache holds every message of the folder with a UID >= block_lo (as of highestmodseq
    # and below uidnext): the folder's newest messages, contiguous. 0: no such block.
    block_lo: int = 0


def _migrate_0_to_1(db: sqlite3.Connection) -> None:
    # One statement at a time: executescript() would commit the migration's transaction.
    db.execute("""
        CREATE TABLE folders (
            account TEXT NOT NULL, folder TEXT NOT NULL,
            uidvalidity INTEGER NOT NULL, highestmodseq INTEGER NOT NULL DEFAULT 0,
            uidnext INTEGER NOT NULL DEFAULT 0, exists_count INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (account, folder))""")
    db.execute("""
        CREATE TABLE messages (
            account TEXT NOT NULL, folder TEXT NOT NULL, uidvalidity INTEGER NOT NULL,
            uid INTEGER NOT NULL, flags TEXT NOT NULL, data TEXT NOT NULL,
            PRIMARY KEY (account, folder, uidvalidity, uid)) WITHOUT ROWID""")


def _migrate_1_to_2(db: sqlite3.Connection) -> None:
    db.execute("ALTER TABLE folders ADD COLUMN block_lo INTEGER NOT NULL DEFAULT 0")


MIGRATIONS = [_migrate_0_to_1, _migrate_1_to_2]  # MIGRATIONS[n] takes a database from version n to n + 1
assert len(MIGRATIONS) == SCHEMA_VERSION


def _flags_text(flags: Iterable[str]) -> str:
    return " ".join(sorted(flags))


def _flags_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


class HeaderCache:
    """Thread-safe: one connection behind a lock (IMAP workers write, loaders read)."""

    def __init__(self, path: Path):
        self.path = path
        in_memory = str(path) == ":memory:"
        if not in_memory:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as exc:
            raise CacheError(f"header cache {path}: cannot open: {exc}") from None
        self._lock = threading.Lock()
        self._migrate()
        if not in_memory:
            os.chmod(path, 0o600)

    @classmethod
    def in_memory(cls) -> "HeaderCache":
        """A cache that lives as long as the object (for --no-cache): same code path, no file."""
        return cls(Path(":memory:"))

    @classmethod
    def open_default(cls) -> "HeaderCache":
        return cls(default_cache_dir() / "headers.sqlite3")

    def _migrate(self) -> None:
        with self._lock:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise CacheError(f"header cache {self.path} has schema {version}, newer than this tuimail "
                                 f"understands ({SCHEMA_VERSION}); upgrade tuimail or move the file away")
            for step in range(version, SCHEMA_VERSION):
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    MIGRATIONS[step](self._db)
                    self._db.execute(f"PRAGMA user_version = {step + 1}")
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def schema_version(self) -> int:
        with self._lock:
            return self._db.execute("PRAGMA user_version").fetchone()[0]

    # Folder state -------------------------------------------------------------------------

    def folder_state(self, account: str, folder: str) -> FolderState | None:
        with self._lock:
            row = self._db.execute(
                "SELECT uidvalidity, highestmodseq, uidnext, exists_count, block_lo FROM folders"
                " WHERE account=? AND folder=?", (account, folder)).fetchone()
        return FolderState(*row) if row else None

    def set_folder_state(self, account: str, folder: str, state: FolderState) -> None:
        """Record the folder's state; a changed UIDVALIDITY drops every cached row of the folder."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM messages WHERE account=? AND folder=? AND uidvalidity<>?",
                                 (account, folder, state.uidvalidity))
                self._db.execute(
                    "INSERT INTO folders VALUES (?,?,?,?,?,?,?) ON CONFLICT(account, folder) DO UPDATE SET"
                    " uidvalidity=excluded.uidvalidity, highestmodseq=excluded.highestmodseq,"
                    " uidnext=excluded.uidnext, exists_count=excluded.exists_count,"
                    " block_lo=excluded.block_lo",
                    (account, folder, state.uidvalidity, state.highestmodseq, state.uidnext, state.exists,
                     state.block_lo))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def set_block(self, account: str, folder: str, uidvalidity: int, block_lo: int) -> None:
        """Move the top block's boundary (only while the folder still has this UIDVALIDITY)."""
        with self._lock:
            self._db.execute("UPDATE folders SET block_lo=? WHERE account=? AND folder=? AND uidvalidity=?",
                             (block_lo, account, folder, uidvalidity))

    def drop_folder(self, account: str, folder: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM messages WHERE account=? AND folder=?", (account, folder))
            self._db.execute("DELETE FROM folders WHERE account=? AND folder=?", (account, folder))

    # Messages -----------------------------------------------------------------------------

    def put(self, account: str, folder: str, uidvalidity: int, summaries: Iterable[MessageSummary]) -> None:
        rows = [(account, folder, uidvalidity, s.uid, _flags_text(s.flags),
                 json.dumps(summary_to_json(s), separators=(",", ":"))) for s in summaries]
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO messages VALUES (?,?,?,?,?,?)", rows)
            self._db.execute("COMMIT")

    def get(self, account: str, folder: str, uidvalidity: int, uids: Iterable[int]) -> dict[int, MessageSummary]:
        wanted = list(uids)
        found: dict[int, MessageSummary] = {}
        with self._lock:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start:start + 500]
                marks = ",".join("?" * len(chunk))
                for uid, flags, data in self._db.execute(
                        f"SELECT uid, flags, data FROM messages WHERE account=? AND folder=? AND uidvalidity=?"
                        f" AND uid IN ({marks})", (account, folder, uidvalidity, *chunk)):
                    found[uid] = summary_from_json(uid, _flags_set(flags), json.loads(data))
        return found

    def newest(self, account: str, folder: str, uidvalidity: int, limit: int,
               offset: int = 0) -> list[MessageSummary]:
        """Cached rows, highest UID first (the index's top rows before any network)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT uid, flags, data FROM messages WHERE account=? AND folder=? AND uidvalidity=?"
                " ORDER BY uid DESC LIMIT ? OFFSET ?", (account, folder, uidvalidity, limit, offset)).fetchall()
        return [summary_from_json(uid, _flags_set(flags), json.loads(data)) for uid, flags, data in rows]

    def uids(self, account: str, folder: str, uidvalidity: int) -> list[int]:
        with self._lock:
            rows = self._db.execute("SELECT uid FROM messages WHERE account=? AND folder=? AND uidvalidity=?"
                                    " ORDER BY uid", (account, folder, uidvalidity)).fetchall()
        return [uid for (uid,) in rows]

    def uids_from(self, account: str, folder: str, uidvalidity: int, uid_lo: int) -> list[int]:
        """Cached UIDs >= uid_lo, ascending."""
        with self._lock:
            rows = self._db.execute("SELECT uid FROM messages WHERE account=? AND folder=? AND uidvalidity=?"
                                    " AND uid>=? ORDER BY uid", (account, folder, uidvalidity, uid_lo)).fetchall()
        return [uid for (uid,) in rows]

    def count(self, account: str, folder: str, uidvalidity: int) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM messages WHERE account=? AND folder=? AND uidvalidity=?",
                                    (account, folder, uidvalidity)).fetchone()[0]

    def update_flags(self, account: str, folder: str, uidvalidity: int, flags: dict[int, frozenset[str]]) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "UPDATE messages SET flags=? WHERE account=? AND folder=? AND uidvalidity=? AND uid=?",
                [(_flags_text(f), account, folder, uidvalidity, uid) for uid, f in flags.items()])
            self._db.execute("COMMIT")

    def remove(self, account: str, folder: str, uidvalidity: int, uids: Iterable[int]) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("DELETE FROM messages WHERE account=? AND folder=? AND uidvalidity=? AND uid=?",
                                 [(account, folder, uidvalidity, uid) for uid in uids])
            self._db.execute("COMMIT")

    # Addresses ----------------------------------------------------------------------------

    def addresses(self, limit: int = 5000) -> list[tuple[str, str]]:
        """(name, email) of every distinct address seen in From, To or Cc of any cached
        message, the most frequent first: the compose screen's completion source."""
        parts = " UNION ALL ".join(
            f"SELECT json_extract(j.value, '$[0]') AS name, json_extract(j.value, '$[1]') AS email"
            f" FROM messages, json_each(messages.data, '$.{key}') AS j" for key in ("f", "to", "cc"))
        with self._lock:
            rows = self._db.execute(
                f"SELECT max(name), min(email) FROM ({parts}) WHERE email LIKE '%_@_%'"
                " GROUP BY lower(email) ORDER BY count(*) DESC, lower(email) LIMIT ?", (limit,)).fetchall()
        return [(str(name or ""), str(email)) for name, email in rows]
