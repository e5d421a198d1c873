"""One open folder: the lazy message index, its IMAP connection, and the reader's actions.

The pane owns a Connection (one thread) and an IdleWatcher (another connection in IDLE).
Jobs go down to them; results come back here as messages and are applied to the LazyIndex,
which the MessageList draws. Nothing here blocks the event loop.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from tuimail.model.config import Account
from tuimail.model.folder import Folder
from tuimail.model.index import LazyIndex, Window
from tuimail.model.mailbox import FolderEvents
from tuimail.model.mime import MimePart, human_size
from tuimail.model.secret import Secret
from tuimail.model.summary import FLAGGED, SEEN, MessageSummary
from tuimail.store.attachments import SaveError, save_attachment
from tuimail.store.folder_sync import CachedFolder, FolderSync, OpenedFolder
from tuimail.store.header_cache import HeaderCache
from tuimail.store.message_view import MessageView
from tuimail.ui.connection import (Connection, ConnectionStatus, FolderNews, FolderReopened, IdleWatcher,
                                   JobFailed)
from tuimail.ui.render import line
from tuimail.ui.screens.message import MessageScreen
from tuimail.ui.screens.save import SaveDialog
from tuimail.ui.widgets.message_list import MessageList

MAX_VANISHED_APPLIED = 100_000  # beyond this, reopen rather than shift row by row


@dataclass
class CachedShown(Message):
    cached: CachedFolder | None


@dataclass
class FolderOpened(Message):
    opened: OpenedFolder


@dataclass
class RowsLoaded(Message):
    rows: dict[int, MessageSummary]
    generation: int


@dataclass
class RowsFailed(Message):
    windows: list[Window]


@dataclass
class MessageLoaded(Message):
    view: MessageView


@dataclass
class FlagsChanged(Message):
    summary: MessageSummary


@dataclass
class FolderChanged(Message):
    events: FolderEvents = field(default_factory=FolderEvents)


@dataclass
class SaveProgress(Message):
    screen: MessageScreen
    done: int
    total: int


@dataclass
class SaveDone(Message):
    screen: MessageScreen
    text: str
    level: str


class FolderPane(Vertical):
    def __init__(self, account: Account, password: Secret, folder: Folder, cache: HeaderCache | None,
                 *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.account, self.folder = account, folder
        self._password = password
        self.connection = Connection(self, account, password, cache)
        self.idle: IdleWatcher | None = None
        self._cancel_save = threading.Event()
        self._opened = False

    def compose(self) -> ComposeResult:
        yield Static(line((self.folder.display, "bold"), "  opening…"), id="folder-title", markup=False)
        yield MessageList(id="index")

    @property
    def index_widget(self) -> MessageList:
        return self.query_one(MessageList)

    def on_mount(self) -> None:
        self.index_widget.focus()
        self.connection.start()
        self.connection.submit("reading the cache",
                               lambda sync: CachedShown(sync.cached(self.folder.name)), network=False)
        self._open()

    def _open(self) -> None:
        name = self.folder.name

        def open_folder(sync: FolderSync) -> Message:
            opened = sync.open(name)
            self.connection.folder = name
            return FolderOpened(opened)

        self.connection.submit(f"opening {self.folder.display}", open_folder)

    def on_unmount(self) -> None:
        self.connection.stop()
        if self.idle is not None:
            self.idle.stop()

    def _title(self, note: str) -> None:
        index = self.index_widget.index
        self.query_one("#folder-title", Static).update(
            line((self.folder.display, "bold"), f"  {index.count:,} messages  ", (note, "dim")))

    def _status(self, text: str, level: str = "info") -> None:
        self.post_message(ConnectionStatus(self.account.name, text, level))

    # Results from the connection --------------------------------------------------------

    def on_cached_shown(self, message: CachedShown) -> None:
        cached = message.cached
        if cached is None or self._opened:
            return
        index = LazyIndex(cached.count)
        index.apply(cached.rows)
        self.index_widget.set_index(index)
        self._title("from the cache; checking the server…")

    def _show_opened(self, opened: OpenedFolder, keep_cursor: bool) -> None:
        widget = self.index_widget
        cursor, top = widget.cursor, int(widget.scroll_offset.y)
        index = LazyIndex(opened.count)
        index.apply(opened.rows)
        widget.set_index(index)
        if keep_cursor and opened.count:
            widget.scroll_to(y=min(top, opened.count - 1), animate=False)
            widget.cursor = min(cursor, opened.count - 1)

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
        if self.idle is None:
            self.idle = IdleWatcher(self, self.account, self._password, self.folder.name)
            self.idle.start()

    def on_folder_reopened(self, message: FolderReopened) -> None:
        self._show_opened(message.opened, keep_cursor=True)
        self._title("reconnected")

    def on_message_list_windows_needed(self, message: MessageList.WindowsNeeded) -> None:
        generation = message.generation
        for window in message.windows:
            def fetch(sync: FolderSync, window: Window = window) -> Message:
                return RowsLoaded(sync.rows(window), generation)

            self.connection.submit(f"fetching messages {window.imap_set()}", fetch,
                                   failed=RowsFailed([window]))

    def on_rows_loaded(self, message: RowsLoaded) -> None:
        self.index_widget.rows_arrived(message.rows, message.generation)

    def on_rows_failed(self, message: RowsFailed) -> None:
        self.index_widget.forget(message.windows)

    def on_folder_news(self, message: FolderNews) -> None:
        def refresh(sync: FolderSync) -> Message:
            return FolderChanged(sync.refresh())  # NOOP; the news as the index must apply it

        self.connection.submit("checking for new mail", refresh)

    def on_folder_changed(self, message: FolderChanged) -> None:
        events, widget = message.events, self.index_widget
        index = widget.index
        if events.uidvalidity is not None or len(events.vanished) > MAX_VANISHED_APPLIED:
            self._opened = False
            self._open()  # start over: the folder is not what it was
            return
        for seq in events.expunged:
            index.expunge(seq)
        if events.vanished:
            index.vanish(set(events.vanished))
        before = index.count
        if events.exists is not None:
            index.set_count(events.exists)
        for change in events.flags.values():
            row = index.row_of_uid(change.uid)
            if row is not None:
                index.update(index.row(row).with_flags(change.flags))
        widget.counts_changed()
        arrived = index.count - before
        self._title(f"{arrived} new" if arrived > 0 else "updated")
        if arrived > 0:
            self.app.notify(f"{arrived} new message{'s' if arrived != 1 else ''} in {self.folder.display}",
                            title=self.account.name, markup=False)

    def on_job_failed(self, message: JobFailed) -> None:
        self._status(f"{message.what}: {message.reason}", "error")

    # Reading ----------------------------------------------------------------------------

    def on_message_list_opened(self, message: MessageList.Opened) -> None:
        uid = message.summary.uid
        self._status(f"opening message {uid}…", "busy")
        self.connection.submit(f"opening message {uid}", lambda sync: MessageLoaded(sync.read(uid, mark_seen=True)))

    def on_message_loaded(self, message: MessageLoaded) -> None:
        view = message.view
        summary = view.summary if SEEN in view.summary.flags else view.summary.with_flags(view.summary.flags | {SEEN})
        self._apply_summary(summary)
        self._status(f"message {summary.uid}: {human_size(len(view.text.encode()))} of text", "ok")
        self.app.push_screen(MessageScreen(MessageView(summary, view.text, view.kind, view.part,
                                                       view.attachments, view.problems),
                                           self, folder=self.folder.display))

    def _apply_summary(self, summary: MessageSummary) -> None:
        row = self.index_widget.index.update(summary)
        if row is not None:
            self.index_widget.refresh()

    def _toggle(self, screen: MessageScreen, flag: str) -> None:
        summary = screen.summary
        uid, has = summary.uid, flag in summary.flags
        flags = summary.flags - {flag} if has else summary.flags | {flag}

        def job(sync: FolderSync) -> Message:
            sync.set_flags([uid], add=[] if has else [flag], remove=[flag] if has else [])
            return FlagsChanged(summary.with_flags(flags))

        self.connection.submit(f"changing flags of {uid}", job)

    def toggle_seen(self, screen: MessageScreen) -> None:
        self._toggle(screen, SEEN)

    def toggle_flagged(self, screen: MessageScreen) -> None:
        self._toggle(screen, FLAGGED)

    def on_flags_changed(self, message: FlagsChanged) -> None:
        self._apply_summary(message.summary)
        screen = self.app.screen
        if isinstance(screen, MessageScreen) and screen.summary.uid == message.summary.uid:
            screen.set_summary(message.summary)

    # Attachments ------------------------------------------------------------------------

    def save_attachment(self, screen: MessageScreen, part: MimePart) -> None:
        def chosen(directory: Path | None) -> None:
            if directory is not None:
                self._start_save(screen, part, directory)

        self.app.push_screen(SaveDialog(part, default_download_dir()), chosen)

    def _start_save(self, screen: MessageScreen, part: MimePart, directory: Path) -> None:
        uid = screen.summary.uid
        self._cancel_save.clear()
        cancel = self._cancel_save
        expected = part.size * 3 // 4 if part.encoding == "base64" else part.size  # decoded bytes
        screen.status.show(f"saving part {part.part_id} ({human_size(part.size)})… c cancels", "busy")

        def job(sync: FolderSync) -> Message:
            last = [0]

            def progress(done: int) -> None:
                if done - last[0] >= 64 * 1024:
                    last[0] = done
                    self.post_message(SaveProgress(screen, done, expected))

            try:
                path = save_attachment(directory, part.filename, sync.session.iter_decoded(uid, part),
                                       on_progress=progress, cancelled=cancel.is_set)
            except SaveError as exc:
                return SaveDone(screen, str(exc), "error")
            return SaveDone(screen, f"saved {path} ({human_size(path.stat().st_size)})", "ok")

        self.connection.submit(f"saving part {part.part_id}", job)

    def cancel_save(self) -> None:
        self._cancel_save.set()

    def on_save_progress(self, message: SaveProgress) -> None:
        message.screen.save_progress(message.done, message.total)

    def on_save_done(self, message: SaveDone) -> None:
        message.screen.save_finished(message.text, message.level)


def default_download_dir() -> Path:
    downloads = Path.home() / "Downloads"
    return downloads if downloads.is_dir() else Path.cwd()
