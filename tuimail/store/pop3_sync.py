"""The lazy path from a POP3 maildrop to index rows, shared by the TUI and the CLI; the POP3
twin of FolderSync (same calls: cached, open, rows, summaries, read). Blocking: the TUI calls
it from a worker thread.

The index's sequence numbers: first the messages kept only locally (downloaded, then deleted
on the server), oldest first, then the server's messages in POP3 number order, so the newest
is the highest and the first screen is the server's newest. A summary's uid is the local
store's id for the message, stable across sessions (POP3 numbers are not). A message deleted
locally but still on the server keeps its row, flagged DELETED (\\Deleted).
- cached(): rows from the local store, no network.
- open(): STAT, then for the visible window only UIDL n + LIST n + TOP n 0, pipelined: one
  round trip however big the maildrop. With rows already stored for those numbers, UIDL n
  first, then TOP only for what is new. listing() (full UIDL + LIST) is a separate call the
  UI runs in the background.
- read(): RETR into the local store (durable), then everything is parsed locally. Messages
  bigger than max_download_size are shown from their headers until read(..., force=True).
The keep policy (downloading everything, DELE, QUIT) is sync(), in pop3_keep.py.
"""
from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Callable

from tuimail.model.config import Account
from tuimail.model.index import Window
from tuimail.model.mailbox import FlagChange, FolderEvents
from tuimail.model.mime import display_part, human_size
from tuimail.model.pop3 import fallback_key, summary_from_header, uidl_key, uidl_problem
from tuimail.model.summary import DELETED, SEEN, MessageSummary
from tuimail.protocols.errors import MailError, ProtocolError
from tuimail.protocols.pop3 import Pop3Session, WindowEntry
from tuimail.store.folder_sync import CachedFolder, OpenedFolder
from tuimail.store.pop3_store import Pop3Store, Record

if TYPE_CHECKING:
    from tuimail.store.message_view import MessageView  # loads with the first message read

FIRST_SCREEN = 50
INBOX = "INBOX"
Ref = int | str  # a summary's uid (the store id) or a key (UIDL)


def retr_cap(size: int, hard: int) -> int:
    """How much a RETR may send: what LIST said with room for inexact sizes, never unbounded."""
    return min(hard, size + size // 2 + 1024 * 1024)


class Pop3Sync:
    # A sync's progress: on_plan(messages, bytes) once the sync knows what it will store,
    # on_download(record) for each message stored; on_bytes(done, total) during one RETR, total
    # being LIST's size (the wire's, CRLF line ends), done the bytes received so far as counted
    # on the wire (LF ends counted back as CRLF). All are called on the syncing thread.
    on_plan: Callable[[int, int], None] | None = None
    on_download: Callable[[Record], None] | None = None
    on_bytes: Callable[[int, int], None] | None = None

    def __init__(self, store: Pop3Store, account: Account, session: Pop3Session | None = None,
                 connect: Callable[[], Pop3Session] | None = None, clock: Callable[[], float] = time.time):
        self.store, self.account, self._session, self._connect = store, account, session, connect
        self.clock = clock
        self.local: list[int] = []  # ids of the local-only messages: seqs 1..len(local)
        self.server_count = 0
        self._keys: dict[int, tuple[str, bool]] = {}  # number -> (key, trusted), this session
        self._numbers: dict[str, int] = {}
        self._dup_uidls: set[bytes] = set()  # known after listing()
        self._listed = False
        self._changes = FolderEvents()

    # Session ------------------------------------------------------------------------------

    @property
    def session(self) -> Pop3Session:
        """The session, connected on first use (reading a stored message needs none)."""
        if self._session is None or self._session.broken is not None or self._session.quit_sent:
            if self._connect is None:
                raise MailError(f"account '{self.account.name}': offline, and this needs the POP3 server")
            self._session = self._connect()
            self._keys, self._numbers, self._listed = {}, {}, False
        return self._session

    def use_connect(self, connect: Callable[[], Pop3Session]) -> None:
        """Make later sessions with connect (a new owner's, after a head start made the first)."""
        self._connect = connect

    @property
    def connected(self) -> bool:
        return self._session is not None and self._session.broken is None and not self._session.quit_sent

    def close(self) -> bool:
        """QUIT when connected (committing any DELE of this session); True on +OK."""
        session, self._session = self._session, None
        return session.quit() if session is not None else False

    # Opening ------------------------------------------------------------------------------

    @property
    def count(self) -> int:
        return len(self.local) + self.server_count

    def cached(self, folder: str = INBOX, limit: int = FIRST_SCREEN) -> CachedFolder | None:
        """The newest rows as last seen, from the local store: no network."""
        self.local = self.store.local_only()
        self.server_count = int(self.store.meta("count", "0"))
        if not self.count:
            return None
        rows = self._rows(Window(max(1, self.count - limit + 1), self.count), network=False)
        return CachedFolder(INBOX, self.count, rows) if rows else None

    def open(self, folder: str = INBOX, first: int = FIRST_SCREEN, readonly: bool = False) -> OpenedFolder:
        """STAT and the newest `first` rows."""
        if folder.upper() != INBOX:
            raise ProtocolError(f"POP3 has only INBOX, no folder {folder!r}", self.session.where)
        session = self.session
        known = self.store.count() > 0
        self.server_count, _ = session.stat()
        self.store.set_meta("count", str(self.server_count))
        self.local = self.store.local_only()
        rows = self.rows(Window(max(1, self.count - first + 1), self.count)) if self.count and first else {}
        return OpenedFolder(INBOX, self.count, 0, rows, warm=known)

    def rows(self, window: Window) -> dict[int, MessageSummary]:
        """seq -> summary for the window: local-only rows from the store, server rows by
        number (pipelined, one or two round trips)."""
        return self._rows(window, network=True)

    def _rows(self, window: Window, network: bool) -> dict[int, MessageSummary]:
        lo, hi = max(window.seq_lo, 1), min(window.seq_hi, self.count)
        offset = len(self.local)
        found: dict[int, MessageSummary] = {}
        if lo <= min(hi, offset):
            ids = self.local[lo - 1:min(hi, offset)]
            records = self.store.get_many(ids)
            found.update((lo + i, self._row(records[id_])) for i, id_ in enumerate(ids) if id_ in records)
        first, last = max(lo, offset + 1) - offset, hi - offset
        if first <= last:
            if network:
                records = self._resolve(range(first, last + 1))
            else:
                records = {n: r for n, r in self.store.at_numbers(first, last).items() if r.summary is not None}
            found.update((n + offset, self._row(r)) for n, r in records.items())
        return found

    def listing(self) -> int:
        """The full UIDL and LIST (for the background): every number gets its key, so later
        windows cost one round trip and read() needs no lookup. Returns the count."""
        session = self.session
        uidls, sizes = session.listing()
        self.server_count = session.count or 0
        keys = self._keys_for(uidls, sizes, {})
        self.store.seen(((k, t, n, sizes.get(n)) for n, (k, t) in keys.items()), self.clock(), full=True,
                        fetch=False)
        self.store.set_meta("count", str(self.server_count))
        self.local = self.store.local_only()
        self._listed = True
        return self.count

    def _keys_for(self, uidls: dict[int, bytes] | None, sizes: dict[int, int],
                  headers: dict[int, bytes]) -> dict[int, tuple[str, bool]]:
        """number -> (key, trusted) for a full listing; fetches headers for untrusted UIDLs."""
        if uidls is not None:
            self._dup_uidls = {u for u, c in Counter(uidls.values()).items() if c > 1}
        need = [n for n in sizes if self._trusted(uidls.get(n) if uidls else None) is None and n not in headers]
        if need:
            headers = {**headers, **self.session.top_many(need)}
        keys: dict[int, tuple[str, bool]] = {}
        for n in sorted(sizes):
            key = self._key(uidls.get(n) if uidls else None, headers.get(n), sizes[n])
            if key is not None:
                keys[n] = key
        self._keys = dict(keys)
        self._numbers = {k: n for n, (k, _) in keys.items()}
        return keys

    def _trusted(self, uidl: bytes | None) -> str | None:
        if uidl_problem(uidl) is None and uidl not in self._dup_uidls:
            return uidl_key(uidl)
        return None

    def _key(self, uidl: bytes | None, header: bytes | None, size: int | None) -> tuple[str, bool] | None:
        trusted = self._trusted(uidl)
        if trusted is not None:
            return trusted, True
        if header is None or size is None:
            return None
        return fallback_key(header, size), False

    def _resolve(self, numbers: range) -> dict[int, Record]:
        """number -> record with a summary: from the store where the key is known and has a
        row, else asked for in at most two pipelined round trips."""
        session, now = self.session, self.clock()
        todo = [n for n in numbers if n not in self._keys]
        entries: dict[int, WindowEntry] = {}
        if todo:
            seen_before = self.store.at_numbers(todo[0], todo[-1])
            if session.has_uidl and len(seen_before) * 2 >= len(todo):
                entries = session.window(todo, size=False, top=False)  # rows likely stored already
            else:
                entries = session.window(todo)

        def key_of(n: int) -> tuple[str, bool] | None:
            if n in self._keys:
                return self._keys[n]
            entry = entries.get(n)
            return self._key(entry.uidl, entry.header, entry.size) if entry else None

        keys = {n: key_of(n) for n in numbers}
        records = self.store.by_keys(k[0] for k in keys.values() if k)
        more = [n for n in numbers if (entries.get(n) is None or entries[n].header is None)
                and (keys[n] is None or keys[n][0] not in records or records[keys[n][0]].summary is None)]
        if more:
            extra = session.window(more, uidl=False)
            for n in more:
                old = entries.get(n)
                entries[n] = WindowEntry(n, old.uidl if old else None, extra[n].size, extra[n].header)
                keys[n] = key_of(n)
        listed = [(keys[n][0], keys[n][1], n, entries[n].size) for n in entries if keys.get(n)]
        if listed:
            fresh = self.store.seen(listed, now)
            summaries = {key: summary_from_header(fresh[key].id, entries[n].header, size or fresh[key].size)
                         for key, _, n, size in listed
                         if entries[n].header is not None and fresh[key].summary is None}
            if summaries:
                self.store.set_summaries(summaries)
        for n, key in keys.items():
            if key:
                self._keys[n], self._numbers[key[0]] = key, n
        records = self.store.by_keys(k[0] for k in keys.values() if k)
        return {n: records[k[0]] for n, k in keys.items()
                if k and k[0] in records and records[k[0]].summary is not None}

    @staticmethod
    def _row(record: Record) -> MessageSummary:
        summary = record.summary
        flags = record.flags | ({DELETED} if record.deleted_locally else set())
        return summary.with_flags(frozenset(flags)) if summary.flags != flags else summary

    def summary(self, uid: int) -> MessageSummary | None:
        record = self.store.get(uid)
        return self._row(record) if record is not None and record.summary is not None else None

    def summaries(self, uids: list[int]) -> dict[int, MessageSummary]:
        found = {uid: self.summary(uid) for uid in uids}
        return {uid: s for uid, s in found.items() if s is not None}

    def refresh(self) -> FolderEvents:
        """A POP3 session sees a snapshot of the maildrop: new mail shows on the next open()."""
        return self.take_changes()

    def take_changes(self) -> FolderEvents:
        """Local flag changes since the last call (FolderSync's shape; no server news)."""
        changes, self._changes = self._changes, FolderEvents()
        return changes

    def absorb(self) -> None:
        """Nothing to absorb: POP3 sends no unsolicited news."""

    def set_flags(self, uids: list[int], add: list[str] = (), remove: list[str] = ()) -> None:
        """POP3 has no flags: \\Seen, \\Flagged and the like are kept in the local store."""
        for uid in uids:
            record = self.store.get(uid)
            if record is None:
                continue
            flags = (record.flags | set(add)) - set(remove)
            if flags != record.flags:
                self.store.set_flags(uid, frozenset(flags))
                self._changes.flags[uid] = FlagChange(uid, frozenset(flags))

    # Reading ------------------------------------------------------------------------------

    def record(self, ref: Ref) -> Record:
        record = self.store.get(ref) if isinstance(ref, int) else self.store.by_key(ref)
        if record is None:
            raise ProtocolError(f"no message {ref!r} in the local POP3 state of '{self.account.name}' "
                                f"(`tuimail list` shows the ids)")
        return record

    def raw(self, ref: Ref, force: bool = False) -> bytes | None:
        """The whole message, downloaded into the store first when needed; None when it is
        above max_download_size and force is not set."""
        record = self.record(ref)
        if record.stored and self.store.file_path(record.key).exists():
            return self.store.read(record)
        if record.stored:  # the file went missing: forget it and fetch it again
            self.store.drop_file(record)
        limit = self.account.max_download_size
        if limit and record.size > limit and not force:
            return None
        return self.store.read(self.download(record.key))

    def download(self, key: str, now: float | None = None) -> Record:
        """RETR the message with this key into the store (durable before this returns)."""
        n = self.number_of(key)
        record = self.store.by_key(key)
        hard = self.session.limits.max_message
        counted = self._counted  # write, with on_bytes told of each chunk
        stored = self.store.save(
            key, lambda write: self.session.retr(n, counted(write, record.size), retr_cap(record.size, hard)),
            self.clock() if now is None else now,
            lambda id_, data: summary_from_header(id_, data, record.size, record.flags, structure=True))
        if self.on_bytes is not None:  # all of it is in, whatever LIST said
            self.on_bytes(record.size, record.size)
        if self.on_download is not None:
            self.on_download(stored)
        return stored

    def _counted(self, write: Callable[[bytes], None], size: int) -> Callable[[bytes], None]:
        """write, telling on_bytes how far the RETR has come (the sink gets 64 KiB at a time)."""
        hear = self.on_bytes
        if hear is None:
            return write
        got = 0

        def counted(chunk: bytes) -> None:
            nonlocal got
            write(chunk)
            got += len(chunk) + chunk.count(b"\n")  # each LF was a CRLF on the wire
            hear(min(got, size), size)

        return counted

    def number_of(self, key: str) -> int:
        """This session's message number for key (a full listing if it is not known yet)."""
        session = self.session
        if key not in self._numbers and not self._listed:
            record = self.store.by_key(key)
            if record is not None and record.number and record.number not in self._keys:
                self._resolve(range(record.number, record.number + 1))  # probably still there
        if key not in self._numbers and not self._listed:
            self.listing()
        if key not in self._numbers:
            raise ProtocolError(f"the message is no longer on the server ({self.account.name})", session.where)
        return self._numbers[key]

    def read(self, ref: Ref, mark_seen: bool = False, force: bool = False) -> MessageView:
        from tuimail.model.message import parse_message  # email parsing: on the first open
        from tuimail.store.message_view import MessageView

        record = self.record(ref)
        raw = self.raw(ref, force)
        if raw is None:
            summary = self._row(record)
            note = (f"message is {human_size(record.size)}, above max_download_size "
                    f"({human_size(self.account.max_download_size or 0)}): only its headers are shown "
                    f"until you ask for it")
            return MessageView(summary, "", "none", None, (), (note,), headers_only=True)
        record = self.record(record.id)
        parsed = parse_message(raw, self.account.limits)
        if mark_seen and SEEN not in record.flags:
            self.set_flags([record.id], add=[SEEN])
            record = self.record(record.id)
        return MessageView(self._row(record), parsed.body, parsed.body_kind, display_part(parsed.root),
                           tuple(parsed.attachments), parsed.problems)

    def delete(self, uids: list[int]) -> None:
        """Delete locally. With delete_on_server_when_deleted_locally the file stays until the
        server confirmed its deletion (the next sync); otherwise it goes now and the message
        stays on the server, never downloaded again."""
        keep = self.account.delete_on_server_when_deleted_locally
        for uid in uids:
            self.store.mark_deleted_locally(uid, self.clock(), keep_file=keep)

    def sync(self, dry_run: bool = False, now: float | None = None):
        """Download new messages and apply the keep policy; see pop3_keep.run_sync."""
        from tuimail.store.pop3_keep import run_sync

        return run_sync(self, dry_run=dry_run, now=self.clock() if now is None else now)
