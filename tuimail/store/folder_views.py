"""Other ways to look at the open folder than its full index: a server-side search, threads,
and the unseen/total counts. Blocking, like FolderSync; the TUI runs them as jobs.
"""
from __future__ import annotations

from dataclasses import dataclass

from tuimail.model.index import Window
from tuimail.model.mailbox import FolderStatus
from tuimail.model.query import Query
from tuimail.model.threads import THREAD_ALGORITHM, ThreadNode, build_threads
from tuimail.store.folder_sync import FolderSync

THREAD_LIMIT = 5_000  # the server threads the newest messages only, by UID range
LOCAL_THREAD_LIMIT = 2_000  # without THREAD, every summary is needed: fewer of them
LOCAL_WINDOW = 500


@dataclass(frozen=True)
class Threads:
    roots: list[ThreadNode]
    covered: int  # how many of the newest messages were threaded
    total: int  # the folder's count
    by_server: bool

    @property
    def limited(self) -> bool:
        return self.covered < self.total


def search(sync: FolderSync, query: Query) -> list[int]:
    """UID SEARCH in the open folder; matching UIDs, newest first."""
    uids = sync.session.search(query)
    sync.absorb()
    return uids


def threads(sync: FolderSync, limit: int = THREAD_LIMIT, local_limit: int = LOCAL_THREAD_LIMIT) -> Threads:
    """The open folder's newest messages as threads: THREAD=REFERENCES when the server offers
    it, else built here from the summaries (Message-ID, In-Reply-To)."""
    total = sync.count
    if sync.session.has_capability(f"THREAD={THREAD_ALGORITHM}"):
        uid_from = _uid_at(sync, total - limit + 1) if total > limit else None
        roots = sync.session.thread(uid_from)
        sync.absorb()
        covered = sum(len(root.uids()) for root in roots)
        return Threads(roots, covered if uid_from else total, total, True)
    lo = max(total - local_limit + 1, 1)
    summaries = {}
    for hi in range(total, lo - 1, -LOCAL_WINDOW):
        summaries.update(sync.rows(Window(max(hi - LOCAL_WINDOW + 1, lo), hi)))
    roots = build_threads((s.uid, s.message_id, s.in_reply_to) for s in summaries.values())
    return Threads(roots, len(summaries), total, False)


def _uid_at(sync: FolderSync, seq: int) -> int | None:
    found = sync.session.fetch_seq_flags(Window(seq, seq))
    return found[seq][0] if seq in found else None


def counts(sync: FolderSync, others: tuple[str, ...] = ()) -> dict[str, FolderStatus]:
    """name -> (unseen, total): the open folder's from ESEARCH, others' from STATUS."""
    result = {}
    if sync.folder is not None:
        unseen = sync.session.unseen_count()
        sync.absorb()
        result[sync.folder] = FolderStatus(sync.folder, messages=sync.count, unseen=unseen)
    for name in others:
        if name != sync.folder:
            result[name] = sync.session.status(name)
    sync.absorb()
    return result
