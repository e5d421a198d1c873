"""What the folder pane's jobs send back from the connection thread (see ui/connection.py)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from textual.message import Message

from tuimail.model.index import LazyIndex, Window
from tuimail.model.mailbox import FolderEvents, FolderStatus
from tuimail.model.summary import MessageSummary
from tuimail.store.folder_sync import CachedFolder, OpenedFolder
from tuimail.store.head_start import HeadStartResult

if TYPE_CHECKING:
    from tuimail.model.query import Query
    from tuimail.store.folder_views import Threads  # searching and threading load when first used
    from tuimail.store.message_view import MessageView  # email parsing loads on the first open


@dataclass
class FirstScreenShown(Message):
    """The folder's first rows came from the server (it bubbles up to the screen): other
    connections, such as the folder listing, may start now without slowing that first screen."""
    account: str


@dataclass
class CachedShown(Message):
    cached: CachedFolder | None


@dataclass
class FolderOpened(Message):
    opened: OpenedFolder


@dataclass
class HeadStartTaken(Message):
    """What the head start finished (see store/head_start.py); its session is the connection's now."""
    result: HeadStartResult


@dataclass
class RowsLoaded(Message):
    rows: dict[int, MessageSummary]
    generation: int
    index: LazyIndex
    gone: list[int] = field(default_factory=list)  # UIDs of a view no longer in the folder


@dataclass
class RowsFailed(Message):
    windows: list[Window]
    index: LazyIndex


@dataclass
class MessageLoaded(Message):
    view: MessageView


@dataclass
class FolderChanged(Message):
    events: FolderEvents = field(default_factory=FolderEvents)


@dataclass
class ActionDone(Message):
    """An action on messages finished; events hold what the server says changed."""
    text: str
    events: FolderEvents
    removed: list[int] = field(default_factory=list)  # UIDs that left the folder
    recount: tuple[str, ...] = ()  # other folders whose counts changed


@dataclass
class ActionFailed(Message):
    text: str


@dataclass
class SearchDone(Message):
    query: Query
    uids: list[int]


@dataclass
class ThreadsDone(Message):
    threads: Threads


@dataclass
class SaveProgress(Message):
    screen: object  # the MessageScreen that asked
    done: int
    total: int
    label: str = "saving"


@dataclass
class SaveFailed(Message):
    """The save's job failed (the connection's error is shown already): its bar goes."""
    screen: object


@dataclass
class BackfillStep(Message):
    """One window of the background header backfill is cached: done of total messages have
    their headers in the cache (store/folder_sync.py backfill)."""
    run: int  # which backfill (a reopened folder starts another)
    done: int
    total: int
    grew: bool  # whether this step cached anything


@dataclass
class BackfillStopped(Message):
    run: int


@dataclass
class SaveDone(Message):
    screen: object
    text: str
    level: str


@dataclass
class FolderCounts(Message):
    """Unseen and total counts of some of an account's folders (bubbles to the main screen)."""
    account: str
    counts: dict[str, FolderStatus]


@dataclass
class OpenerExited(Message):
    screen: object
    program: str
    status: int


@dataclass
class NewMailLoaded(RowsLoaded):
    """The rows of messages IDLE announced, fetched so the notification can name the newest."""
    arrived: int = 0
