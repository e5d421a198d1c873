"""The lazy path from an IMAP folder to index rows, shared by the TUI and the CLI. Blocking:
the TUI calls it from a worker thread.

The cache keeps a *top block* per folder: every message with a UID >= block_lo, which are the
folder's newest messages, so they map to the highest sequence numbers in UID order. Opening:
- cold: SELECT, then one FETCH of the top window by sequence number; constant round trips and
  bytes whatever the folder's size (never SEARCH ALL, never FETCH 1:*);
- warm: cached() draws the block before any network; open() resyncs with QRESYNC (VANISHED
  and changed flags), else CONDSTORE (CHANGEDSINCE), else a bounded flags refresh of the
  block; fetches only messages with UIDs past the old UIDNEXT; checks the block is still the
  folder's top with one ESEARCH COUNT; a changed UIDVALIDITY drops the folder's cache.
In a session the block is extended as windows next to it are fetched; news from the server
(EXISTS, EXPUNGE, VANISHED, flags) is applied to the cache and handed on by take_changes().
backfill() grows the block down one window at a time until it covers the folder: the TUI runs
it in the background, a window per job behind whatever else the connection has to do.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tuimail.model.index import Window
from tuimail.model.mailbox import FlagChange, FolderEvents, SelectedFolder
from tuimail.model.summary import SEEN, MessageSummary
from tuimail.model.uidset import UidSet
from tuimail.protocols.errors import ProtocolError
from tuimail.store.header_cache import FolderState, HeaderCache

if TYPE_CHECKING:
    from tuimail.protocols.imap import ImapSession
    from tuimail.store.message_view import MessageView

FIRST_SCREEN = 50
MAX_NEW = 500  # more new messages than this on a warm open: refetch the top window instead
MAX_FLAGS_REFRESH = 1_000  # without CONDSTORE, the block is cut to this before refreshing flags
BACKFILL_WINDOW = 250  # messages a backfill step fetches: one FETCH of ~100 KB, ~0.1 s on Dovecot


@dataclass(frozen=True)
class CachedFolder:
    """What the cache shows before any network: rows keyed by sequence number as last seen."""
    name: str
    count: int
    rows: dict[int, MessageSummary]


@dataclass(frozen=True)
class OpenedFolder:
    name: str
    count: int
    uidvalidity: int
    rows: dict[int, MessageSummary]  # seq -> summary: the first screen, newest last
    warm: bool = False  # resynced from the cache rather than fetched whole
    reset: bool = False  # UIDVALIDITY changed: the folder's cache was dropped
    vanished: int = 0  # cached messages found expunged
    flags_changed: int = 0
    new: int = 0  # messages fetched because they arrived since the last sync
    selected: SelectedFolder | None = field(default=None, repr=False)


class FolderSync:
    def __init__(self, session: ImapSession, cache: HeaderCache | None, account_name: str,
                 max_new: int = MAX_NEW):
        self.session = session
        self.cache = cache if cache is not None else HeaderCache.in_memory()
        self.account = account_name
        self.max_new = max_new
        self.folder: str | None = None
        self.uidvalidity = 0
        self.count = 0
        self._top: list[int] = []  # the block's UIDs, ascending; the folder's newest known rows
        self._above = 0  # messages above the block not fetched yet (arrived meanwhile)
        self._changes = FolderEvents()

    # Opening ----------------------------------------------------------------------------

    def cached(self, folder: str, limit: int = FIRST_SCREEN) -> CachedFolder | None:
        """The folder's newest cached rows, no network; None when nothing is cached."""
        state = self.cache.folder_state(self.account, folder)
        if state is None or not state.block_lo:
            return None
        rows = [s for s in self.cache.newest(self.account, folder, state.uidvalidity, limit)
                if s.uid >= state.block_lo]
        count = state.exists + sum(1 for s in rows if s.uid >= state.uidnext)
        return CachedFolder(folder, count, {count - i: row for i, row in enumerate(rows) if count - i > 0})

    def open(self, folder: str, first: int = FIRST_SCREEN, readonly: bool = False) -> OpenedFolder:
        """Select folder and return its first screen (the newest `first` rows)."""
        self.folder, self._top, self._above, self._changes = folder, [], 0, FolderEvents()
        state = self.cache.folder_state(self.account, folder)
        if state is None or not state.block_lo or not state.uidnext:
            return self._cold(self.session.select(folder, readonly), first)
        if state.highestmodseq and self.session.has_capability("QRESYNC"):
            resync = self.session.select_qresync(folder, state.uidvalidity, state.highestmodseq,
                                                 readonly=readonly)
            selected = resync.folder
            if resync.uidvalidity_changed or selected.uidvalidity != state.uidvalidity:
                return self._cold(selected, first, reset=True)
            # the cached UIDs only when something vanished: a backfilled folder has them all
            gone = resync.vanished.intersect(self.cache.uids(self.account, folder, state.uidvalidity)) \
                if resync.vanished else set()
            changed = {u: c.flags for u, c in resync.changed.items()}
            exact = True
        else:
            selected = self.session.select(folder, readonly)
            if selected.uidvalidity != state.uidvalidity:
                return self._cold(selected, first, reset=True)
            gone, changed, exact = set(), {}, False
            if state.highestmodseq and selected.highestmodseq:
                if selected.highestmodseq != state.highestmodseq:
                    flags, _ = self.session.changed_since(state.highestmodseq)
                    changed = {u: c.flags for u, c in flags.items()}
            else:
                block = self.cache.uids_from(self.account, folder, state.uidvalidity, state.block_lo)
                old = [u for u in block if u < state.uidnext][-MAX_FLAGS_REFRESH:]
                if old:
                    flags, _ = self.session.uid_flags(f"{old[0]}:{state.uidnext - 1}")
                    changed = {u: c.flags for u, c in flags.items()}
                    gone = set(old) - set(changed)
                    state = FolderState(state.uidvalidity, 0, state.uidnext, state.exists, old[0])
                    exact = True
        return self._warm(state, selected, gone, changed, exact, first)

    def _cold(self, selected: SelectedFolder, first: int, reset: bool = False) -> OpenedFolder:
        self._begin(selected)
        if reset:
            self.cache.drop_folder(self.account, selected.name)
        self.cache.set_folder_state(self.account, selected.name, _state(selected, 0))
        rows = self.rows(Window(max(1, self.count - first + 1), self.count)) if self.count else {}
        return OpenedFolder(selected.name, self.count, self.uidvalidity, rows, reset=reset, selected=selected)

    def _warm(self, state: FolderState, selected: SelectedFolder, gone: set[int],
              changed: dict[int, frozenset[str]], exact: bool, first: int) -> OpenedFolder:
        folder, uidvalidity = selected.name, selected.uidvalidity
        if gone:
            self.cache.remove(self.account, folder, uidvalidity, gone)
        if changed:
            cached = self.cache.get(self.account, folder, uidvalidity, changed)
            changed = {u: f for u, f in changed.items() if u in cached and cached[u].flags != f}
            self.cache.update_flags(self.account, folder, uidvalidity, changed)
        block = [u for u in self.cache.uids_from(self.account, folder, uidvalidity, state.block_lo)
                 if u < state.uidnext]
        new: dict[int, MessageSummary] = {}
        if selected.uidnext > state.uidnext:
            if selected.uidnext - state.uidnext > self.max_new:
                return self._cold(selected, first)  # a flood: start the block again from the top
            new = self.session.fetch_uids(range(state.uidnext, selected.uidnext))
            self.cache.put(self.account, folder, uidvalidity, new.values())
        # rows cached past the old UIDNEXT last time that are gone now
        stale = [u for u in self.cache.uids_from(self.account, folder, uidvalidity, state.uidnext) if u not in new]
        self.cache.remove(self.account, folder, uidvalidity, stale)
        top = sorted(set(block) | set(new))
        if not top or len(top) > selected.exists:
            return self._cold(selected, first)
        if self.session.uid_count(top[0]) != len(top):
            if exact:
                return self._cold(selected, first)  # the cache does not match the folder: start over
            present = self.session.uid_set(top[0], state.uidnext - 1)  # CONDSTORE: which are left?
            known = set(block)
            if any(u not in known for u in present):
                return self._cold(selected, first)
            missing = [u for u in block if u not in present]
            self.cache.remove(self.account, folder, uidvalidity, missing)
            gone |= set(missing)
            top = [u for u in top if u in present or u >= state.uidnext]
            if not top:
                return self._cold(selected, first)
        self._begin(selected)
        self._top = top
        self.cache.set_folder_state(self.account, folder, _state(selected, top[0]))
        rows = self.rows(Window(max(1, self.count - first + 1), self.count)) if self.count else {}
        return OpenedFolder(folder, self.count, uidvalidity, rows, warm=True, vanished=len(gone),
                            flags_changed=len(changed), new=len(new), selected=selected)

    def _begin(self, selected: SelectedFolder) -> None:
        self.folder, self.uidvalidity, self.count = selected.name, selected.uidvalidity, selected.exists
        self._top, self._above = [], 0
        self.session.take_events()

    # Rows -------------------------------------------------------------------------------

    def rows(self, window: Window) -> dict[int, MessageSummary]:
        """seq -> summary for the window: from the cache where the block covers it, else one
        FETCH (or, where older rows may be cached, FETCH (UID FLAGS) then only what is missing)."""
        self._sync_events()
        if self._above:
            self._fetch_above()
        lo, hi = max(window.seq_lo, 1), min(window.seq_hi, self.count)
        if lo > hi:
            return {}
        block_lo_seq = self.count - len(self._top) + 1
        result: dict[int, MessageSummary] = {}
        if hi >= block_lo_seq and self._top:
            seqs = range(max(lo, block_lo_seq), hi + 1)
            uids = {self._top[s - block_lo_seq]: s for s in seqs}
            found = self.cache.get(self.account, self.folder, self.uidvalidity, uids)
            missing = [u for u in uids if u not in found]
            if missing:  # evicted or damaged: fetch them by UID
                fetched = self.session.fetch_uids(missing)
                self.cache.put(self.account, self.folder, self.uidvalidity, fetched.values())
                found.update(fetched)
            result.update({uids[u]: row for u, row in found.items()})
        below_hi = min(hi, block_lo_seq - 1)
        if lo <= below_hi:
            result.update(self._fetch_below(Window(lo, below_hi)))
        return result

    def _fetch_below(self, window: Window) -> dict[int, MessageSummary]:
        known = self.cache.count(self.account, self.folder, self.uidvalidity) > len(self._top)
        if known:  # older rows may be cached already: learn the UIDs first (a few bytes a row)
            flags = self.session.fetch_seq_flags(window)
            cached = self.cache.get(self.account, self.folder, self.uidvalidity, [u for u, _ in flags.values()])
            stale = {u: f for u, f in flags.values() if u in cached and cached[u].flags != f}
            self.cache.update_flags(self.account, self.folder, self.uidvalidity, stale)
            rows = {seq: cached[u].with_flags(f) for seq, (u, f) in flags.items() if u in cached}
            todo = [u for u, _ in flags.values() if u not in cached]
            if todo:
                rows.update(self.session.fetch_uids(todo, by_seq=True))
        else:
            rows = self.session.fetch_window(window)
        news = self.session.take_events()
        if news.expunged or news.vanished or news.uidvalidity is not None:
            self._apply(news)
            return {}  # numbers shifted under the fetch: let the caller ask again
        self._apply(news)
        self.cache.put(self.account, self.folder, self.uidvalidity, rows.values())
        if len(rows) == len(window) and window.seq_hi == self.count - self._above - len(self._top):
            self._top = sorted(r.uid for r in rows.values()) + self._top  # the block grows down
            self.cache.set_block(self.account, self.folder, self.uidvalidity, self._top[0])
        return rows

    def _fetch_above(self) -> None:
        """Messages that arrived during the session, fetched to keep the block on top."""
        above, self._above = self._above, 0
        if above > self.max_new or not self._top:
            self._top = []
            self.cache.set_block(self.account, self.folder, self.uidvalidity, 0)
            return
        rows = self.session.fetch_window(Window(self.count - above + 1, self.count))
        news = self.session.take_events()
        shifted = bool(news.expunged or news.vanished or news.uidvalidity is not None)
        self.cache.put(self.account, self.folder, self.uidvalidity, rows.values())
        if len(rows) == above and not shifted:
            self._top += sorted(r.uid for r in rows.values() if r.uid > self._top[-1])
        else:  # cannot tell what the numbers meant: no block until the top is fetched again
            self._top = []
            self.cache.set_block(self.account, self.folder, self.uidvalidity, 0)
        if news:
            self._apply(news)

    @property
    def block(self) -> int:
        """How many of the folder's newest messages the top block holds (their rows are cached)."""
        return len(self._top)

    def backfill(self, limit: int = BACKFILL_WINDOW) -> tuple[int, int]:
        """Fetch into the cache the `limit` messages just below the top block, which grows down
        by them. Returns (messages in the block, the folder's count): the whole folder's headers
        are cached when they are equal. A step that meets expunges caches nothing (the numbers
        moved under it); the next one starts from the block again."""
        self._sync_events()
        if self._above:
            self._fetch_above()
        below = self.count - len(self._top)  # messages 1..below are not in the block
        if below > 0:
            self._fetch_below(Window(max(1, below - limit + 1), below))
        return len(self._top), self.count

    def summary(self, uid: int) -> MessageSummary | None:
        return self.summaries([uid]).get(uid)

    def summaries(self, uids: list[int]) -> dict[int, MessageSummary]:
        """uid -> summary from the cache, the rest in one UID FETCH (and cached); a UID
        missing from the answer is no longer in the folder."""
        found = self.cache.get(self.account, self.folder, self.uidvalidity, uids)
        missing = [u for u in uids if u not in found]
        if missing:
            fetched = self.session.fetch_uids(missing)
            self.cache.put(self.account, self.folder, self.uidvalidity, fetched.values())
            found.update(fetched)
        return found

    def read(self, uid: int, mark_seen: bool = False) -> MessageView:
        """Open a message: summary (cached BODYSTRUCTURE), then only its display part."""
        summary = self.summary(uid)
        if summary is None:
            raise ProtocolError(f"no message with UID {uid} in {self.folder!r}", self.session._where)
        from tuimail.store.message_view import read_message  # email parsing: loaded on first open

        view = read_message(self.session, summary)
        if mark_seen and not summary.seen:
            self.set_flags([uid], add=[SEEN])
        return view

    # News and actions -------------------------------------------------------------------

    def refresh(self) -> FolderEvents:
        """NOOP: apply the server's news; returns what changed (see take_changes)."""
        news = self.session.noop()
        if news:
            self._apply(news)
        return self.take_changes()

    def apply(self, events: FolderEvents) -> None:
        """News gathered elsewhere about this folder (not from this session: UIDs only)."""
        if events.vanished or events.flags:
            self._apply(FolderEvents(vanished=events.vanished, flags=events.flags))

    def absorb(self) -> None:
        """Apply the news that came with a command sent on this session (see take_changes)."""
        self._sync_events()

    def take_changes(self) -> FolderEvents:
        """Everything applied since the last call, for the UI's index: expunged seqs, vanished
        UIDs, flag changes, the new count; uidvalidity set means: reopen the folder."""
        changes, self._changes = self._changes, FolderEvents()
        return changes

    def set_flags(self, uids: list[int], add: list[str] = (), remove: list[str] = ()) -> None:
        now = self.session.set_flags(uids, add, remove, self.uidvalidity)
        self.cache.update_flags(self.account, self.folder, self.uidvalidity, now)
        self._changes.flags.update(_flag_changes(now))
        self._sync_events()

    def move(self, uids: list[int], dest: str) -> None:
        self.session.move(uids, dest, self.uidvalidity)
        self._gone(uids)

    def copy(self, uids: list[int], dest: str) -> None:
        self.session.copy(uids, dest, self.uidvalidity)

    def delete(self, uids: list[int]) -> str | None:
        trash = self.session.delete(uids, self.uidvalidity)
        self._gone(uids)
        return trash

    def _gone(self, uids: list[int]) -> None:
        self._sync_events()
        self.cache.remove(self.account, self.folder, self.uidvalidity, uids)

    def _sync_events(self) -> None:
        news = self.session.take_events()
        if news:
            self._apply(news)

    def _apply(self, news: FolderEvents) -> None:
        if news.uidvalidity is not None:
            self.cache.drop_folder(self.account, self.folder)
            self._top, self._above = [], 0
            self._changes.merge(news)
            return
        for seq in news.expunged:
            top_hi = self.count - self._above
            top_lo = top_hi - len(self._top) + 1
            if seq > top_hi:
                self._above -= 1
            elif seq >= top_lo and self._top:
                uid = self._top.pop(seq - top_lo)
                self.cache.remove(self.account, self.folder, self.uidvalidity, [uid])
            self.count -= 1
        if news.vanished:
            mine = news.vanished.intersect(self._top)
            above = _count_above(news.vanished, self._top) if self._top else 0
            self._top = [u for u in self._top if u not in mine]
            cached = news.vanished.intersect(self.cache.uids(self.account, self.folder, self.uidvalidity))
            self.cache.remove(self.account, self.folder, self.uidvalidity, cached)
            self._above = max(self._above - above, 0)
            self.count = max(self.count - len(news.vanished), 0)
        if news.exists is not None and news.exists != self.count:
            if news.exists > self.count and self._top:
                self._above += news.exists - self.count
            elif news.exists < self.count:  # our count drifted: trust the server, not the block
                self._top, self._above = [], 0
                self.cache.set_block(self.account, self.folder, self.uidvalidity, 0)
            self.count = news.exists
        flags = {u: c.flags for u, c in news.flags.items()}
        top_lo = self.count - self._above - len(self._top) + 1
        for seq, seq_flags in news.seq_flags.items():
            if self._top and top_lo <= seq < top_lo + len(self._top):
                flags[self._top[seq - top_lo]] = seq_flags
        if flags:
            self.cache.update_flags(self.account, self.folder, self.uidvalidity, flags)
        news.exists = self.count
        self._changes.merge(news)


def _count_above(vanished: UidSet, top: list[int]) -> int:
    return len(UidSet.of_ranges((max(lo, top[-1] + 1), hi) for lo, hi in vanished.ranges if hi > top[-1]))


def _flag_changes(flags: dict[int, frozenset[str]]) -> dict[int, FlagChange]:
    return {uid: FlagChange(uid, f) for uid, f in flags.items()}


def _state(selected: SelectedFolder, block_lo: int) -> FolderState:
    return FolderState(selected.uidvalidity, selected.highestmodseq, selected.uidnext, selected.exists, block_lo)
