"""The local copy of a POP3 account: a Maildir plus a SQLite state, under
$XDG_DATA_HOME/tuimail/pop3/ACCOUNT/ (data, not cache: for a POP3 account it may be the only
copy of the mail).

- A message file is written to tmp/, flushed and fsynced, renamed into cur/ under the SHA-256
  of its key (never the UIDL itself), and the directory is fsynced; only then is the state row
  committed (SQLite, WAL, synchronous=FULL). A crash in between leaves a complete file with no
  row: adopt() picks it up by its name on the next sync, so at worst a message is fetched
  twice, never lost.
- The state records per key: first seen, message number and size when last listed, the index
  row (summary), local path, SHA-256 and size of the file, and deleted_on_server, which is set
  only after the server said +OK to QUIT.
- A state file SQLite cannot read is moved aside and rebuilt (the files are adopted again).
The schema is versioned like the header cache's.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterable

from tuimail.model.pop3 import key_hash
from tuimail.model.summary import MessageSummary, summary_from_json, summary_to_json
from tuimail.store.durable import fsync_dir

SCHEMA_VERSION = 1
STALE_TMP = 36 * 3600  # Maildir convention: tmp/ files this old are leftovers
_FIELDS = ("id, key, key_hash, trusted, first_seen, number, size, summary, flags, stored_at, path, "
           "sha256, stored_size, on_server, deleted_on_server, deleted_locally")


class StoreError(Exception):
    pass


def default_store_dir(account: str) -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "tuimail" / "pop3" / account


def _migrate_0_to_1(db: sqlite3.Connection) -> None:
    db.execute("""
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            key TEXT NOT NULL UNIQUE,          -- the UIDL, or a fallback key (model/pop3.py)
            key_hash TEXT NOT NULL,            -- SHA-256 of key: the file name
            trusted INTEGER NOT NULL,          -- a valid unique UIDL: may be deleted on the server
            first_seen REAL NOT NULL,
            number INTEGER NOT NULL DEFAULT 0, -- message number when last listed; 0: unknown
            size INTEGER NOT NULL DEFAULT 0,   -- LIST size
            summary TEXT,                      -- the index row (JSON)
            flags TEXT NOT NULL DEFAULT '',
            stored_at REAL, path TEXT, sha256 TEXT, stored_size INTEGER,
            on_server INTEGER NOT NULL DEFAULT 1,
            deleted_on_server REAL,            -- set only after +OK to QUIT
            deleted_locally REAL)""")
    db.execute("CREATE INDEX messages_number ON messages(number)")
    db.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")


MIGRATIONS = [_migrate_0_to_1]
assert len(MIGRATIONS) == SCHEMA_VERSION


@dataclass(frozen=True)
class Record:
    id: int
    key: str
    key_hash: str
    trusted: bool
    first_seen: float
    number: int
    size: int
    summary: MessageSummary | None
    flags: frozenset[str]
    stored_at: float | None
    path: str | None
    sha256: str | None
    stored_size: int | None
    on_server: bool
    deleted_on_server: float | None
    deleted_locally: float | None

    @property
    def stored(self) -> bool:
        return self.stored_at is not None


def _record(row: tuple) -> Record:
    (id_, key, khash, trusted, first, number, size, summary, flags, stored_at, path, sha, stored_size,
     on_server, deleted_server, deleted_local) = row
    flagset = frozenset(flags.split())
    parsed = summary_from_json(id_, flagset, json.loads(summary)) if summary else None
    return Record(id_, key, khash, bool(trusted), first, number, size, parsed, flagset, stored_at, path,
                  sha, stored_size, bool(on_server), deleted_server, deleted_local)


def _write(out: BinaryIO, data: bytes) -> None:
    out.write(data)


class Pop3Store:
    """Thread-safe: one SQLite connection behind a lock. write(file, chunk) is how message
    bytes reach the disk (tests pass one that fails like a full disk)."""

    def __init__(self, root: Path, write: Callable[[BinaryIO, bytes], None] = _write):
        self.root = Path(root)
        self._write = write
        self._lock = threading.RLock()
        self.recovered: str | None = None  # why the state was rebuilt, when it was
        for sub in ("", "tmp", "new", "cur"):
            (self.root / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
        self.state_path = self.root / "state.sqlite3"
        try:
            self._db = self._connect()
        except sqlite3.DatabaseError as exc:
            self._db = self._rebuild(exc)
        os.chmod(self.state_path, 0o600)
        self._clean_tmp()

    @classmethod
    def open_default(cls, account: str) -> "Pop3Store":
        return cls(default_store_dir(account))

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(str(self.state_path), check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("integrity check failed")
            self._migrate(db)
        except BaseException:
            db.close()
            raise
        return db

    def _rebuild(self, exc: Exception) -> sqlite3.Connection:
        aside = self.state_path.with_name(f"state.sqlite3.corrupt-{int(time.time())}")
        for suffix in ("", "-wal", "-shm"):
            part = Path(str(self.state_path) + suffix)
            if part.exists():
                part.rename(Path(str(aside) + suffix))
        self.recovered = (f"the POP3 state {self.state_path} could not be read ({exc}); moved to "
                          f"{aside.name} and rebuilt from the stored messages")
        return self._connect()

    def _migrate(self, db: sqlite3.Connection) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"POP3 state {self.state_path} has schema {version}, newer than this tuimail "
                             f"understands ({SCHEMA_VERSION}); upgrade tuimail")
        for step in range(version, SCHEMA_VERSION):
            db.execute("BEGIN IMMEDIATE")
            try:
                MIGRATIONS[step](db)
                db.execute(f"PRAGMA user_version = {step + 1}")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _clean_tmp(self) -> None:
        now = time.time()
        for path in (self.root / "tmp").iterdir():
            try:
                if now - path.stat().st_mtime > STALE_TMP:
                    path.unlink()
            except OSError:
                pass

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _tx(self, statements: Iterable[tuple[str, tuple]]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for sql, params in statements:
                    self._db.execute(sql, params)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    # Reading the state ------------------------------------------------------------------

    def _select(self, where: str, params: tuple = ()) -> list[Record]:
        with self._lock:
            return [_record(r) for r in self._db.execute(f"SELECT {_FIELDS} FROM messages {where}", params)]

    def get(self, id_: int) -> Record | None:
        found = self._select("WHERE id=?", (id_,))
        return found[0] if found else None

    def by_key(self, key: str) -> Record | None:
        found = self._select("WHERE key=?", (key,))
        return found[0] if found else None

    def by_keys(self, keys: Iterable[str]) -> dict[str, Record]:
        wanted, found = list(keys), {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            for record in self._select(f"WHERE key IN ({','.join('?' * len(chunk))})", tuple(chunk)):
                found[record.key] = record
        return found

    def all(self) -> list[Record]:
        return self._select("ORDER BY id")

    def at_numbers(self, lo: int, hi: int) -> dict[int, Record]:
        """Records by the message number they had when last listed."""
        return {r.number: r for r in self._select("WHERE number BETWEEN ? AND ? AND number > 0", (lo, hi))}

    def local_only(self) -> list[int]:
        """Ids of messages kept here but no longer on the server (deleted there by the keep
        policy or by someone else), oldest first: the index shows them below the server's."""
        with self._lock:
            return [i for (i,) in self._db.execute(
                "SELECT id FROM messages WHERE stored_at IS NOT NULL AND on_server=0 AND deleted_locally IS NULL"
                " AND summary IS NOT NULL ORDER BY first_seen, id")]

    def get_many(self, ids: list[int]) -> dict[int, Record]:
        found = {}
        for start in range(0, len(ids), 500):
            chunk = tuple(ids[start:start + 500])
            found.update((r.id, r) for r in self._select(f"WHERE id IN ({','.join('?' * len(chunk))})", chunk))
        return found

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]

    def meta(self, name: str, default: str | None = None) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE name=?", (name,)).fetchone()
        return row[0] if row else default

    def set_meta(self, name: str, value: str) -> None:
        self._tx([("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, value))])

    # Writing the state ------------------------------------------------------------------

    def seen(self, entries: Iterable[tuple[str, bool, int, int | None]], now: float,
             full: bool = False, fetch: bool = True) -> dict[str, Record]:
        """Record (key, trusted, number, size) as listed now: new keys get a row, known ones
        their number and size. A full listing also marks what is on the server and what not,
        and clears numbers nobody holds any more. Returns the records (when fetch)."""
        entries = list(entries)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if full:
                    self._db.execute("UPDATE messages SET number=0, on_server=0")
                else:
                    self._db.executemany("UPDATE messages SET number=0 WHERE number=?",
                                         [(n,) for _, _, n, _ in entries])
                self._db.executemany(
                    "INSERT INTO messages (key, key_hash, trusted, first_seen, number, size) VALUES (?,?,?,?,?,?)"
                    " ON CONFLICT(key) DO UPDATE SET number=excluded.number, trusted=excluded.trusted,"
                    " size=CASE WHEN excluded.size > 0 THEN excluded.size ELSE size END, on_server=1,"
                    " deleted_on_server=NULL",
                    [(key, key_hash(key), int(trusted), now, number, size or 0)
                     for key, trusted, number, size in entries])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return self.by_keys(k for k, _, _, _ in entries) if fetch else {}

    def set_summaries(self, summaries: dict[str, MessageSummary]) -> None:
        self._tx(("UPDATE messages SET summary=? WHERE key=?",
                  (json.dumps(summary_to_json(s), separators=(",", ":")), key)) for key, s in summaries.items())

    def set_flags(self, id_: int, flags: frozenset[str]) -> None:
        self._tx([("UPDATE messages SET flags=? WHERE id=?", (" ".join(sorted(flags)), id_))])

    def mark_deleted_on_server(self, keys: Iterable[str], now: float) -> None:
        """Only after +OK to QUIT."""
        self._tx(("UPDATE messages SET deleted_on_server=?, on_server=0, number=0 WHERE key=?", (now, key))
                 for key in keys)

    def mark_deleted_locally(self, id_: int, now: float, keep_file: bool) -> None:
        """Hidden locally; the file goes now unless it is kept until the server deletes too."""
        record = self.get(id_)
        if record is None:
            return
        self._tx([("UPDATE messages SET deleted_locally=? WHERE id=?", (now, id_))])
        if not keep_file:
            self.drop_file(record)

    def drop_file(self, record: Record) -> None:
        """Forget the local copy (state first, then the file: never a row without a file
        that claims to be stored)."""
        self._tx([("UPDATE messages SET stored_at=NULL, path=NULL, sha256=NULL, stored_size=NULL WHERE id=?",
                   (record.id,))])
        if record.path:
            try:
                (self.root / record.path).unlink()
            except FileNotFoundError:
                pass
            fsync_dir(self.root / "cur")

    # Message files ----------------------------------------------------------------------

    def file_path(self, key: str) -> Path:
        return self.root / "cur" / f"{key_hash(key)}:2,"

    def save(self, key: str, fill: Callable[[Callable[[bytes], None]], object], now: float,
             summary_of: Callable[[int, bytes], MessageSummary] | None = None) -> Record:
        """Durably store a message: fill(write) writes its bytes. The file is fsynced and
        renamed into cur/ and the directory fsynced before the state row says "stored".
        On any failure the partial file is removed and the state is unchanged."""
        digest, size = hashlib.sha256(), 0
        tmp = self.root / "tmp" / f"{key_hash(key)}.{os.getpid()}.{secrets.token_hex(4)}"
        final = self.file_path(key)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                def write(chunk: bytes) -> None:
                    nonlocal size
                    self._write(out, chunk)
                    digest.update(chunk)
                    size += len(chunk)
                fill(write)
                out.flush()
                os.fsync(out.fileno())
            os.rename(tmp, final)
            fsync_dir(final.parent)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return self._stored(key, final, digest.hexdigest(), size, now, summary_of)

    def adopt(self, key: str, now: float,
              summary_of: Callable[[int, bytes], MessageSummary] | None = None) -> Record | None:
        """A complete file for key left by a run that stopped before recording it (or by a
        state that was rebuilt): record it. None when there is no such file."""
        path = self.file_path(key)
        try:
            data = path.read_bytes()
            mtime = path.stat().st_mtime
        except OSError:
            return None
        return self._stored(key, path, hashlib.sha256(data).hexdigest(), len(data), min(mtime, now),
                            summary_of, data)

    def _stored(self, key: str, path: Path, sha: str, size: int, now: float,
                summary_of: Callable[[int, bytes], MessageSummary] | None, data: bytes | None = None) -> Record:
        record = self.by_key(key)
        if record is None:
            raise StoreError(f"no state row for the message being stored ({path.name})")
        statements = [("UPDATE messages SET stored_at=?, path=?, sha256=?, stored_size=? WHERE key=?",
                       (now, str(path.relative_to(self.root)), sha, size, key))]
        if summary_of is not None:
            summary = summary_of(record.id, data if data is not None else path.read_bytes())
            statements.append(("UPDATE messages SET summary=? WHERE key=?",
                                (json.dumps(summary_to_json(summary), separators=(",", ":")), key)))
        self._tx(statements)
        return self.by_key(key)

    def read(self, record: Record) -> bytes:
        if not record.path:
            raise StoreError(f"message {record.id} is not stored locally")
        try:
            return (self.root / record.path).read_bytes()
        except OSError as exc:
            raise StoreError(f"cannot read the local copy of message {record.id}: {exc.strerror}") from None

    def verify(self, record: Record) -> str | None:
        """Why the local copy cannot be trusted (missing, other size, other hash), or None."""
        if not record.stored or not record.path or not record.sha256:
            return "no local copy"
        try:
            data = (self.root / record.path).read_bytes()
        except OSError:
            return "local copy missing"
        if len(data) != record.stored_size or hashlib.sha256(data).hexdigest() != record.sha256:
            return "local copy changed since it was stored"
        return None

