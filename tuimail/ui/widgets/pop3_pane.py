"""The POP3 INBOX: the same lazy index (MessageList) and reader (MessageScreen) as an IMAP
folder, over a Pop3Sync driven from one thread (Pop3Connection).

First the rows last seen come from the local store, with no network; then open() asks for
the rows that fit (STAT plus one pipelined window); then the full UIDL/LIST runs in the
background. Rows of windows scrolled to come from rows(). The actions (flags kept locally,
delete, sync, the keep policy, attachments) are in pop3_actions.py.
"""
from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from tuimail.model.config import Account, UiConfig
from tuimail.model.index import LazyIndex, Window
from tuimail.model.secret import Secret
from tuimail.model.summary import DELETED
from tuimail.store.folder_sync import OpenedFolder
from tuimail.store.opener import PrivateDir
from tuimail.ui.connection import ConnectionStatus, JobFailed
from tuimail.ui.layout import first_rows
from tuimail.store.pop3_sync import Pop3Sync
from tuimail.ui.pop3_connection import MaildropReopened, Pop3Connection
from tuimail.ui.render import line
from tuimail.ui.widgets.folders import POP3_INBOX
from tuimail.ui.widgets.message_list import MessageList
from tuimail.ui.widgets.pane_messages import (CachedShown, FirstScreenShown, FolderOpened, HeadStartTaken,
                                              RowsFailed, RowsLoaded)
from tuimail.ui.widgets.folder_actions import reader_on_top
from tuimail.ui.widgets.pop3_actions import Pop3Actions
from tuimail.ui.widgets.compose_actions import Pop3ComposeActions
from tuimail.ui.widgets.pop3_messages import MaildropListed, MessageRead

if TYPE_CHECKING:
    from tuimail.store.head_start import Pop3HeadStart


def policy_brief(account: Account) -> str:
    """The keep policy in a few words, for the title line (the settings screen says it all)."""
    if not account.keep_on_server:
        rule = "server copy deleted after download"
    elif account.delete_after_days:
        rule = f"server keeps {account.delete_after_days} days"
    else:
        rule = "server keeps all"
    return rule + ("; deleting here deletes there" if account.delete_on_server_when_deleted_locally else "")


def fallback_line(account: str, reason: str) -> str:
    return f"{account}: IMAP unreachable ({reason}); reading the INBOX over POP3 (fallback)"


class Pop3Pane(Pop3ComposeActions, Pop3Actions, Vertical):
    DEFAULT_CSS = """
    Pop3Pane { height: 1fr; }
    Pop3Pane > #pop3-title { height: 1; margin-bottom: 1; }
    """
    BINDINGS = [
        Binding("S", "sync", "Sync", id="pop3.sync", tooltip="Download new mail, then apply the keep policy"),
        Binding("D", "sync_dry_run", "Dry run", id="pop3.sync_dry_run",
                tooltip="Show what a sync would do; do nothing"),
        Binding("p", "settings", "Keep policy", id="pop3.settings", tooltip="What stays on the server; the size cap"),
        Binding("d", "delete", "Delete", id="pop3.delete", tooltip="Delete here (on the server if the policy says)"),
        Binding("N", "toggle_seen", "Read/unread", id="pop3.toggle_seen", tooltip="Mark read or unread (kept here)"),
        Binding("F", "toggle_flagged", "Flag", id="pop3.toggle_flagged", tooltip="Flag or unflag (kept here)"),
        Binding("m", "compose", "Compose", id="pop3.compose", tooltip="Write a new message"),
        Binding("r", "reply", "Reply", id="pop3.reply", tooltip="Reply to the sender of the highlighted message"),
        Binding("R", "reply_all", "Reply all", id="pop3.reply_all",
                tooltip="Reply to the sender and every other recipient"),
        Binding("f", "forward", "Forward", id="pop3.forward",
                tooltip="Forward the highlighted message: inline or as an attachment"),
    ]

    def __init__(self, account: Account, password: Secret | None, *, config_path: Path | None = None,
                 ui: UiConfig = UiConfig(), open_dir: PrivateDir | None = None,
                 passwords: dict[str, Secret] | None = None, fallback: str = "",
                 on_account_saved: Callable[[Account], None] | None = None, id: str | None = None,
                 head_start: "Pop3HeadStart | None" = None) -> None:
        super().__init__(id=id)
        self._head = head_start  # the INBOX, being prepared since before Textual loaded
        self.account = account
        self.display_name = POP3_INBOX
        self.config_path, self.ui = config_path, ui
        self.open_dir = open_dir or PrivateDir()
        self.passwords = passwords if passwords is not None else {}  # the session's, shared with the screen
        self.fallback = fallback  # why IMAP was not used; "" for a POP3 account
        self.on_account_saved = on_account_saved
        self.connection = Pop3Connection(self, account, password)
        self.index = LazyIndex(0)
        self._opened = False
        self._open_pending = False
        self._asking_password = False
        self._syncing = False
        self._cancel_save = threading.Event()
        self._note = "opening…"

    def compose(self) -> ComposeResult:
        yield Static(line((self.display_name, "bold"), "  opening…"), id="pop3-title", markup=False)
        yield MessageList(id="index")

    @property
    def index_widget(self) -> MessageList:
        return self.query_one(MessageList)

    def on_mount(self) -> None:
        head, self._head = self._head, None
        if not self.query(MessageList):
            if head is not None:
                head.abandon()  # nobody else will take it: its session and store are closed
            return  # replaced before it was composed: nothing to start
        self.index_widget.focus()
        if head is not None:
            self._adopt_head_start(head)
            return
        self.connection.start()
        self.connection.submit("reading the local POP3 store", lambda sync: CachedShown(sync.cached()))
        self._open_pending = True  # opened once the stored rows are on screen (or there are none)

    def _adopt_head_start(self, head: "Pop3HeadStart") -> None:
        """Its stored rows go into the first frame; then its session, if it is done by now
        (its rows too), else once the connection's thread has waited for it."""
        if head.cached is not None:
            self._show_cached(head.cached)
        self.index_widget.when_painted(head.drawn.set)  # now the head start may go on to the server
        if head.done.is_set():
            result = head.take(0)
            self.connection.start(taken=result)
            self.on_head_start_taken(HeadStartTaken(result))
        else:
            self.connection.start(head=head)

    def on_head_start_taken(self, message: HeadStartTaken) -> None:
        result = message.result
        if result.opened is not None:
            self.on_folder_opened(FolderOpened(result.opened))
        else:
            self._open()  # the usual way: retries, the password asked for, errors said where they belong

    def _open_first(self) -> None:
        if self._open_pending:
            self._open_pending = False
            self._open()

    def on_unmount(self) -> None:
        self.connection.stop()

    def _open(self) -> None:
        first = first_rows(self.app.size.height)  # the rows that fit
        connection = self.connection

        def job(sync: Pop3Sync) -> Message:
            connection.first = first
            opened = sync.open(first=first)
            connection.opened = True
            return FolderOpened(opened)

        self._status(f"{self.account.name}: opening the INBOX over POP3", "busy")
        connection.submit("opening the POP3 INBOX", job, opens=True)

    # Lines ------------------------------------------------------------------------------

    def _title(self, note: str | None = None) -> None:
        if note is not None:
            self._note = note
        where = "  fallback: IMAP unreachable  " if self.fallback else "  "
        self.query_one("#pop3-title", Static).update(line(
            (self.display_name, "bold"), f"  {self.index.count:,} messages", (where, "bold"),
            (f"{policy_brief(self.account)} · {self._note}", "dim")))

    def _status(self, text: str, level: str = "info") -> None:
        self.post_message(ConnectionStatus(self.account.name, text, level))

    def _set_index(self, index: LazyIndex, keep_cursor: bool) -> None:
        widget = self.index_widget
        cursor, top = (widget.cursor, int(widget.scroll_offset.y)) if keep_cursor else (0, 0)
        self.index = index
        widget.set_index(index, cursor, top)

    def _show_opened(self, opened: OpenedFolder, keep_cursor: bool) -> None:
        index = LazyIndex(opened.count)
        index.apply(opened.rows)
        self._set_index(index, keep_cursor)

    # Results from the connection --------------------------------------------------------

    def on_cached_shown(self, message: CachedShown) -> None:
        message.stop()
        cached = message.cached
        if cached is None or self._opened:
            self._open_first()
            return
        self._show_cached(cached)
        # the stored rows reach the screen before any byte is asked of the server
        self.call_after_refresh(self._open_first)

    def _show_cached(self, cached) -> None:
        index = LazyIndex(cached.count)
        index.apply(cached.rows)
        self._set_index(index, keep_cursor=False)
        self._title("from the local store; asking the server…")

    def on_folder_opened(self, message: FolderOpened) -> None:
        message.stop()
        self._show_opened(message.opened, keep_cursor=self._opened)
        self._opened = True
        self._title("opened; listing the rest…")
        count = f"{message.opened.count:,} messages"
        if self.fallback:
            self._status(f"{fallback_line(self.account.name, self.fallback)}: {count}", "info")
        else:
            self._status(f"{self.account.name}: INBOX opened over POP3, {count}", "ok")
        if self.connection.password is not None:
            self.passwords.setdefault(self.account.name, self.connection.password)
        # the full UIDL/LIST (a line per message) waits for the frame showing these rows
        self.index_widget.when_painted(self._list_maildrop)

    def _list_maildrop(self) -> None:
        self.post_message(FirstScreenShown(self.account.name))
        self.connection.submit("listing the maildrop", lambda sync: MaildropListed(sync.listing()))

    def on_maildrop_reopened(self, message: MaildropReopened) -> None:
        self._show_opened(message.opened, keep_cursor=True)
        self._title("reconnected")

    def on_maildrop_listed(self, message: MaildropListed) -> None:
        if message.count != self.index.count:  # another session took or brought mail meanwhile
            self._open()
            return
        self._title(f"all {message.count:,} listed")

    def on_message_list_windows_needed(self, message: MessageList.WindowsNeeded) -> None:
        message.stop()
        generation, index = message.generation, message.index
        for window in message.windows:
            def fetch(sync: Pop3Sync, window: Window = window) -> Message:
                return RowsLoaded(sync.rows(window), generation, index)

            self.connection.submit(f"fetching messages {window.imap_set()}", fetch,
                                   failed=RowsFailed([window], index))

    def on_rows_loaded(self, message: RowsLoaded) -> None:
        message.stop()
        if message.index.apply(message.rows, message.generation) and message.index is self.index_widget.index:
            self.index_widget.refresh()

    def on_rows_failed(self, message: RowsFailed) -> None:
        message.stop()
        for window in message.windows:
            message.index.forget_requests(window)

    def on_job_failed(self, message: JobFailed) -> None:
        message.stop()
        self._open_first()  # the local store failed: the server may still answer
        if message.auth:
            self._ask_password(message.reason)
            return
        text = f"{message.what}: {message.reason}"
        self._status(text, "error")
        if not self._opened and message.what == "opening the POP3 INBOX":
            self._title("could not reach the server (r to retry)")
        reader = reader_on_top(self.app)
        if reader is not None:
            reader.status.show(text, "error")

    def _ask_password(self, reason: str) -> None:
        if self._asking_password:
            return  # one prompt, however many jobs found the password missing
        self._asking_password = True
        server = self.account.pop3
        host = f"{server.host}:{server.port}" if server else "?"

        def answered(password: Secret | None) -> None:
            self._asking_password = False
            if password is None:
                self._status(f"{self.account.name}: no password, so only the local POP3 store (r to retry)", "error")
                return
            self.connection.set_password(password)
            if not self._opened:
                self._open()

        from tuimail.ui.screens.password import PasswordScreen  # only when a password is asked for

        self.app.push_screen(PasswordScreen(self.account.name, self.account.username, host, reason), answered)

    # Reading ----------------------------------------------------------------------------

    def on_message_list_opened(self, message: MessageList.Opened) -> None:
        message.stop()
        summary = message.summary
        if DELETED in summary.flags:
            self._status(f"message {summary.uid} was deleted here; it is only listed until the server "
                         f"copy goes", "info")
            return
        self.read(summary.uid)

    def read(self, uid: int, force: bool = False, reader: object | None = None) -> None:
        self._status(f"opening message {uid}…", "busy")
        self.connection.submit(f"opening message {uid}",
                               lambda sync: MessageRead(sync.read(uid, mark_seen=True, force=force), reader))

    def on_message_read(self, message: MessageRead) -> None:
        view = message.view
        self.apply_summary(view.summary)
        if view.headers_only:
            cap = "\n".join(view.problems)
            view = replace(view, kind="plain",
                           text=f"{cap}\n\nPress L to download the whole message.")
            self._status(f"message {view.summary.uid}: headers only (above the size cap); L downloads it", "info")
        else:
            self._status(f"message {view.summary.uid}: {len(view.text):,} characters of text", "ok")
        if message.reader is not None and self.app.screen is message.reader:
            self.app.pop_screen()
        from tuimail.ui.screens.pop3_reader import Pop3MessageScreen  # the reader loads on first open

        self.app.push_screen(Pop3MessageScreen(view, self, folder=self.display_name))

    def apply_summary(self, summary) -> None:
        if self.index.update(summary) is not None:
            self.index_widget.refresh()
