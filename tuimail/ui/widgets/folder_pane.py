"""One open folder: the lazy message index, its IMAP connection, and the reader's actions.

The pane owns a Connection (one thread) and an IdleWatcher (another connection in IDLE).
Jobs go down to them; results come back here as messages and are applied to the LazyIndex,
which the MessageList draws. Nothing here blocks the event loop.

The list shows either the folder's full index or a view of it (a search result, threads);
the full index keeps following the server meanwhile. Actions on messages live in
folder_actions.py, the views in index_views.py.
"""
from __future__ import annotations

import threading
from dataclasses import replace

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from tuimail.model.config import Account, UiConfig
from tuimail.model.folder import Folder
from tuimail.model.index import LazyIndex, UidListIndex, Window
from tuimail.model.mailbox import FolderEvents
from tuimail.model.secret import Secret
from tuimail.model.summary import DRAFT, SEEN, MessageSummary
from tuimail.model.text import strip_controls
from tuimail.store.folder_sync import FolderSync, OpenedFolder
from tuimail.store.head_start import HeadStart
from tuimail.store.header_cache import HeaderCache
from tuimail.store.opener import PrivateDir
from tuimail.ui.connection import Connection, ConnectionStatus, FolderNews, FolderReopened, IdleWatcher
from tuimail.ui.render import line
from tuimail.ui.widgets.compose_actions import ComposeActions
from tuimail.ui.widgets.folder_actions import FolderActions
from tuimail.ui.widgets.index_views import IndexViews
from tuimail.ui.widgets.message_list import MessageList
from tuimail.ui.layout import first_rows
from tuimail.ui.widgets.pane_messages import (BackfillStep, BackfillStopped, CachedShown, FirstScreenShown,
                                              FolderChanged, FolderOpened, HeadStartTaken, MessageLoaded,
                                              NewMailLoaded, RowsFailed, RowsLoaded)

MAX_VANISHED_APPLIED = 100_000  # beyond this, reopen rather than shift row by row


IDLE_START_DELAY = 1.0  # seconds after the first screen
BACKFILL_START_DELAY = 2.0  # seconds after the first screen: IDLE and the folder counts go first
BACKFILL_STALLS = 3  # backfill steps in a row that cache nothing before the backfill gives up
BACKFILL = "backfill"  # the status line's key for its bar
HEAD_START_WAIT = 120.0  # seconds the connection waits for a head start (it has its own timeouts)


class FolderPane(ComposeActions, FolderActions, IndexViews, Vertical):
    BINDINGS = [
        Binding("N", "toggle_seen", "Read/unread", id="index.toggle_seen",
                tooltip="Mark the highlighted message read or unread"),
        Binding("F", "toggle_flagged", "Flag", id="index.toggle_flagged",
                tooltip="Flag or unflag the highlighted message"),
        Binding("d", "delete", "Delete", id="index.delete",
                tooltip="To Trash (expunged where there is no Trash)"),
        Binding("M", "move", "Move", id="index.move", tooltip="Move the highlighted message to a folder"),
        Binding("C", "copy", "Copy", id="index.copy", show=False,
                tooltip="Copy the highlighted message to a folder"),
        Binding("m", "compose", "Compose", id="index.compose", tooltip="Write a new message"),
        Binding("r", "reply", "Reply", id="index.reply", tooltip="Reply to the sender of the highlighted message"),
        Binding("R", "reply_all", "Reply all", id="index.reply_all",
                tooltip="Reply to the sender and every other recipient"),
        Binding("f", "forward", "Forward", id="index.forward",
                tooltip="Forward the highlighted message: inline or as an attachment"),
        Binding("slash", "search", "Search", id="index.search",
                tooltip="Search on the server: from: subject: words…"),
        Binding("t", "threads", "Threads", id="index.threads",
                tooltip="Threads of the newest messages; again: list"),
        Binding("escape", "back", "All messages", id="index.back",
                tooltip="From a search or threads back to the list"),
    ]

    def __init__(self, account: Account, password: Secret | None, folder: Folder, cache: HeaderCache | None,
                 *, folders: list[Folder] | None = None, ui: UiConfig = UiConfig(),
                 open_dir: PrivateDir | None = None, id: str | None = None,
                 head_start: HeadStart | None = None) -> None:
        super().__init__(id=id)
        self._head = head_start  # this folder, being prepared since before Textual loaded
        self.account, self.folder = account, folder
        self.folders = list(folders or [])  # the account's, for the move/copy picker
        self.ui = ui
        self.open_dir = open_dir or PrivateDir()
        self._password = password
        self._started = False
        self.connection = Connection(self, account, password, cache)
        self.idle: IdleWatcher | None = None
        self._cancel_save = threading.Event()
        self._opened = False
        self.full = LazyIndex(0)  # the folder's index, whatever the list shows
        self.view: UidListIndex | None = None  # a search or thread view, when one is shown
        self.view_title = ""
        self._full_position = (0, 0)  # cursor and top row of the full index, while a view is shown
        self._backfill_run = 0  # the current backfill; a reopened folder starts another
        self._backfill_done = 0  # messages whose headers it has cached so far
        self._backfill_stalls = 0
        self._backfill_shown = False  # its bar is on the status line

    def compose(self) -> ComposeResult:
        yield Static(line((self.folder.display, "bold"), "  opening…"), id="folder-title", markup=False)
        yield MessageList(id="index")

    @property
    def index_widget(self) -> MessageList:
        return self.query_one(MessageList)

    def on_mount(self) -> None:
        if not self.query(MessageList):
            return  # replaced by another folder before it was composed: nothing to start
        self.index_widget.focus()
        self.connection.start()
        self._started = True
        head = self._head
        if head is not None and head.cached_ready.is_set():
            self.on_cached_shown(CachedShown(head.cached))  # already read: in the first frame
            self.index_widget.when_painted(head.drawn.set)  # now the head start may go on to the server
        else:
            self.connection.submit("reading the cache",
                                   lambda sync: CachedShown(sync.cached(self.folder.name)), network=False)
            if head is not None:
                head.drawn.set()
        if head is not None and head.done.is_set():
            # finished before the first frame: its rows go into that frame, not one or two later
            result = head.take(0)
            if result.sync is not None:
                sync = result.sync
                self.connection.submit("taking over the head start",
                                       lambda _offline: self.connection.adopt(sync, self.folder.name), network=False)
            self.on_head_start_taken(HeadStartTaken(result))
        elif head is not None:
            def adopt(_offline: FolderSync) -> Message:
                result = head.take(HEAD_START_WAIT, stop=self.connection.stopped)
                if result.sync is not None:
                    self.connection.adopt(result.sync, self.folder.name)
                return HeadStartTaken(result)

            self.connection.submit("taking over the head start", adopt, network=False)
        elif self._password is not None:
            self._open()

    def password_ready(self, password: Secret) -> None:
        """The cached rows may already be drawn; now the server can be asked."""
        if self._password is None:
            self._password = password
            self.connection.set_password(password)
            if self._started and self._head is None:  # else on_mount or the head start opens it
                self._open()

    def on_head_start_taken(self, message: HeadStartTaken) -> None:
        self._head = None
        result = message.result
        if result.password is not None and self._password is None:
            self._password = result.password
            self.connection.set_password(result.password)
        if result.opened is not None:
            self.on_folder_opened(FolderOpened(result.opened))
        elif self._password is not None:
            self._open()  # connect the usual way: retries, and errors said where they belong

    def _open(self) -> None:
        name = self.folder.name

        first = first_rows(self.app.size.height)  # the rows that fit: the margin comes later

        def open_folder(sync: FolderSync) -> Message:
            opened = sync.open(name, first=first)
            self.connection.folder = name
            return FolderOpened(opened)

        self.connection.submit(f"opening {self.folder.display}", open_folder)

    def on_unmount(self) -> None:
        self._backfill_run += 1  # steps still queued come back to nobody
        if self._backfill_shown:  # the pane takes no messages now: to the screen, still its parent
            self._backfill_shown = False
            from textual.dom import NoScreen

            from tuimail.ui.widgets.progress import ProgressChanged

            try:
                self.screen.post_message(ProgressChanged(BACKFILL, None, self.account.name))
            except NoScreen:  # the app is going, and its status line with it
                pass
        if self._head is not None:
            self._head.abandon()
        self.connection.stop()
        if self.idle is not None:
            self.idle.stop()

    def _title(self, note: str) -> None:
        title = self.query_one("#folder-title", Static)
        if self.view is not None:
            title.update(line((self.folder.display, "bold"), "  ", (self.view_title, "bold"),
                              "  ", ("escape: all messages", "dim")))
            return
        title.update(line((self.folder.display, "bold"), f"  {self.full.count:,} messages  ", (note, "dim")))

    def _status(self, text: str, level: str = "info") -> None:
        self.post_message(ConnectionStatus(self.account.name, text, level))

    def _set_full(self, index: LazyIndex, cursor: int = 0, top: int = 0) -> None:
        """A new full index (opened, reopened); any view is left."""
        self.full, self.view = index, None
        self.index_widget.set_index(index, cursor, top)
        self.refresh_bindings()

    # Results from the connection --------------------------------------------------------

    def on_cached_shown(self, message: CachedShown) -> None:
        cached = message.cached
        if cached is None or self._opened:
            return
        index = LazyIndex(cached.count)
        index.apply(cached.rows)
        self._set_full(index)
        self._title("from the cache; checking the server…")

    def _show_opened(self, opened: OpenedFolder, keep_cursor: bool) -> None:
        widget = self.index_widget
        cursor, top = (widget.cursor, int(widget.scroll_offset.y)) if self.view is None else self._full_position
        index = LazyIndex(opened.count)
        index.apply(opened.rows)
        self._set_full(index, *((cursor, top) if keep_cursor else (0, 0)))

    def on_folder_opened(self, message: FolderOpened) -> None:
        opened = message.opened
        self._show_opened(opened, keep_cursor=self._opened)
        self._opened = True
        how = "resynced" if opened.warm else "opened"
        extra = []
        if opened.reset:
            extra.append("UIDVALIDITY changed: cache dropped")
        for count, what in ((opened.new, "new"), (opened.vanished, "gone"), (opened.flags_changed, "flags changed")):
            if count:
                extra.append(f"{count} {what}")
        self._title(how + (" · " + ", ".join(extra) if extra else ""))
        self._status(f"{self.account.name}: {self.folder.display} {how}, {opened.count:,} messages", "ok")
        # after the frame that shows the rows: the listing's connection and the counts (STATUS,
        # and a module to load on the connection's thread) must not delay that frame
        self.index_widget.when_painted(lambda: self.post_message(FirstScreenShown(self.account.name)))
        self.index_widget.when_painted(self.refresh_counts)
        if self.idle is None:
            # its own connection, started once the first screen is out of the way
            self.idle = IdleWatcher(self, self.account, self._password, self.folder.name)
            self.set_timer(IDLE_START_DELAY, self.idle.start)
        self._start_backfill()

    # The header backfill ----------------------------------------------------------------
    # The rest of the folder's headers go into the cache a window at a time, each step a job
    # queued only once the previous one has answered, so whatever the user asks for meanwhile
    # runs first. Its bar shows on the status line while it has work to do.

    def _start_backfill(self) -> None:
        config = self.app.config
        if config is None or not config.ui.cache_all_headers:
            return  # the default: headers are fetched as rows come into view, and only then
        self._backfill_run += 1
        self._backfill_done = self._backfill_stalls = 0
        self._show_backfill(None)
        run = self._backfill_run
        self.set_timer(BACKFILL_START_DELAY, lambda: self._backfill_step(run))

    def _backfill_step(self, run: int) -> None:
        if run != self._backfill_run or not self.is_attached:
            return

        def step(sync: FolderSync) -> Message:
            before = sync.block
            done, total = sync.backfill()
            return BackfillStep(run, done, total, grew=done > before)

        self.connection.submit("caching headers", step, failed=BackfillStopped(run))

    def on_backfill_step(self, message: BackfillStep) -> None:
        if message.run != self._backfill_run:
            return
        done, total = message.done, message.total
        if message.grew or self._backfill_shown:
            self._show_backfill(done, total)
        if done >= total:
            self._show_backfill(None)
            return
        self._backfill_stalls = 0 if done > self._backfill_done else self._backfill_stalls + 1
        self._backfill_done = done
        if self._backfill_stalls >= BACKFILL_STALLS:  # the block cannot grow now; scrolling still fetches
            self._show_backfill(None)
            return
        self._backfill_step(message.run)

    def on_backfill_stopped(self, message: BackfillStopped) -> None:
        if message.run == self._backfill_run:
            self._show_backfill(None)

    def _show_backfill(self, done: int | None, total: int = 0) -> None:
        """The backfill's bar: done of total headers cached; None takes it away."""
        if done is None and not self._backfill_shown:
            return
        from tuimail.ui.widgets.progress import Progress, ProgressChanged

        self._backfill_shown = done is not None
        progress = Progress("caching headers", done, total) if done is not None else None
        self.post_message(ProgressChanged(BACKFILL, progress, self.account.name))

    def on_folder_reopened(self, message: FolderReopened) -> None:
        self._show_opened(message.opened, keep_cursor=True)
        self._title("reconnected")

    def on_message_list_windows_needed(self, message: MessageList.WindowsNeeded) -> None:
        generation, index = message.generation, message.index
        if isinstance(index, UidListIndex):
            self._fetch_view_rows(index, message.windows, generation)
            return
        for window in message.windows:
            def fetch(sync: FolderSync, window: Window = window) -> Message:
                return RowsLoaded(sync.rows(window), generation, index)

            self.connection.submit(f"fetching messages {window.imap_set()}", fetch,
                                   failed=RowsFailed([window], index))

    def on_rows_loaded(self, message: RowsLoaded) -> None:
        index, widget = message.index, self.index_widget
        changed = index.apply(message.rows, message.generation)
        if isinstance(index, UidListIndex) and message.gone:
            for uid in message.gone:
                index.remove_uid(uid)
            changed = True
            if index is widget.index:
                widget.counts_changed()
                self._view_title_update()
        if changed and index is widget.index:
            widget.refresh()

    def on_rows_failed(self, message: RowsFailed) -> None:
        for window in message.windows:
            message.index.forget_requests(window)

    def on_folder_news(self, message: FolderNews) -> None:
        def refresh(sync: FolderSync) -> Message:
            return FolderChanged(sync.refresh())  # NOOP; the news as the index must apply it

        self.connection.submit("checking for new mail", refresh)

    def on_folder_changed(self, message: FolderChanged) -> None:
        arrived = self.apply_events(message.events)
        if arrived is None:
            return
        self._title(f"{arrived} new" if arrived > 0 else "updated")
        if arrived > 0:
            self._fetch_new_mail(arrived)
        self.refresh_counts()

    def _fetch_new_mail(self, arrived: int) -> None:
        """Fetch the rows IDLE announced (the list may be scrolled away from them), then notify."""
        index = self.full
        window = Window(max(index.count - arrived + 1, 1), index.count)
        generation = index.generation

        def fetch(sync: FolderSync) -> Message:
            return NewMailLoaded(sync.rows(window), generation, index, arrived=arrived)

        self.connection.submit(f"fetching new messages {window.imap_set()}", fetch)

    def on_new_mail_loaded(self, message: NewMailLoaded) -> None:
        self.on_rows_loaded(message)
        # Unseen, not drafts: what the user filed or saved here is not news to them.
        news = [row for _, row in sorted(message.rows.items())
                if SEEN not in row.flags and DRAFT not in row.flags]
        if not news or message.index is not self.full:
            return
        newest = news[-1]
        sender = newest.sender[0].short() if newest.sender else "(no sender)"
        text = (f"{len(news)} new in {self.folder.display}: "
                f"{strip_controls(sender)} — {strip_controls(newest.subject) or '(no subject)'}")
        self.app.notify(" ".join(text.split()), title="New mail", markup=False)

    def apply_events(self, events: FolderEvents, removed: list[int] = ()) -> int | None:
        """Apply the server's news to the full index (and to a view: flags, vanished UIDs, and
        removed, the UIDs an action of ours took away); how many messages arrived, or None
        when the folder had to be opened again."""
        widget, index = self.index_widget, self.full
        if events.uidvalidity is not None or len(events.vanished) > MAX_VANISHED_APPLIED:
            self._opened = False
            self._open()  # start over: the folder is not what it was
            return None
        for seq in events.expunged:
            index.expunge(seq)
        if events.vanished:
            index.vanish(set(events.vanished))
        before = index.count
        if events.exists is not None:
            index.set_count(events.exists)
        view = self.view
        if view is not None:
            gone = set(removed) | (events.vanished.intersect(view.uids) if events.vanished else set())
            for uid in gone:
                view.remove_uid(uid)
        for change in events.flags.values():
            for shown in (index, view):
                row = shown.row_of_uid(change.uid) if shown is not None else None
                if row is not None:
                    shown.update(shown.row(row).with_flags(change.flags))
            self._reader_flags(change.uid, change.flags)
        widget.counts_changed()
        if view is not None:
            self._view_title_update()
        return index.count - before

    # Reading ----------------------------------------------------------------------------

    def on_message_list_opened(self, message: MessageList.Opened) -> None:
        uid = message.summary.uid
        self._status(f"opening message {uid}…", "busy")
        self.connection.submit(f"opening message {uid}", lambda sync: MessageLoaded(sync.read(uid, mark_seen=True)))

    def on_message_loaded(self, message: MessageLoaded) -> None:
        view = message.view
        summary = view.summary if SEEN in view.summary.flags else view.summary.with_flags(view.summary.flags | {SEEN})
        self.apply_summary(summary)
        if SEEN not in view.summary.flags:
            self.refresh_counts()
        self._status(f"message {summary.uid}: {len(view.text):,} characters of text", "ok")
        from tuimail.ui.screens.message import MessageScreen  # loaded on the first open, not at start

        self.app.push_screen(MessageScreen(replace(view, summary=summary), self, folder=self.folder.display))

    def apply_summary(self, summary: MessageSummary) -> None:
        """A message's new flags, in every index that shows it."""
        for index in (self.full, self.view):
            if index is not None and index.update(summary) is not None and index is self.index_widget.index:
                self.index_widget.refresh()
