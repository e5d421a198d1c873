"""The mail shell: accounts and folders on the left, the content area on the right."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.worker import Worker, WorkerState, get_current_worker

from tuimail.model.config import Account, Config, Protocol
from tuimail.model.folder import Folder
from tuimail.model.mailbox import FolderStatus
from tuimail.model.secret import Secret
from tuimail.protocols.errors import AuthError, ConnectError, MailError, MailTimeout
from tuimail.protocols.trace import connection_trace
from tuimail.store.credentials import CredentialError, lookup_password
from tuimail.ui.render import inert, line
from tuimail.ui.widgets.accounts import AccountList
from tuimail.store.head_start import HeadStart, Pop3HeadStart
from tuimail.store.header_cache import CacheError, HeaderCache
from tuimail.store.opener import PrivateDir
from tuimail.ui.connection import ConnectionStatus, LinkState
from tuimail.ui.widgets.folder_pane import FolderPane
from tuimail.ui.widgets.folders import POP3_INBOX, FolderList
from tuimail.ui.widgets.pane_messages import FirstScreenShown, FolderCounts

from tuimail.ui.widgets.status import ConnectionState, StatusLine

if TYPE_CHECKING:
    from tuimail.protocols.imap import ImapSession

FIRST_SCREEN_WAIT = 3.0  # seconds the folder listing waits for the INBOX's first screen
INBOX = Folder.from_list("INBOX", None, ())  # always there (RFC 3501): opened before LIST answers


@dataclass
class FoldersLoaded(Message):
    account: str
    folders: list[Folder]
    password: Secret | None = None  # the one that worked, kept in memory for this session


@dataclass
class FoldersFailed(Message):
    account: str
    reason: str
    bad_password: bool = False
    unreachable: bool = False  # refused or timed out (not a login or TLS failure): the POP3 fallback may read


@dataclass
class PasswordKnown(Message):
    """The password is at hand (not yet checked): the INBOX can open while folders are listed."""
    account: str
    password: Secret


@dataclass
class PasswordNeeded(Message):
    account: str
    reason: str = ""


class MainScreen(Screen[None]):
    BINDINGS = [
        Binding("r", "refresh", "Refresh", id="main.refresh", tooltip="List the account's folders again"),
        Binding("a", "focus_accounts", "Accounts", id="main.focus_accounts", tooltip="Move to the account list"),
        Binding("f", "focus_folders", "Folders", id="main.focus_folders", tooltip="Move to the folder list"),
        Binding("escape", "focus_index", "Index", id="main.focus_index", show=False,
                tooltip="Back to the message list"),
        Binding("T", "toggle_trace", "Protocol trace", id="main.trace", show=False,
                tooltip="Show or hide the live protocol trace of this account"),
        Binding("P", "compare", "Compare POP3/IMAP", id="main.compare", show=False,
                tooltip="This account through POP3 and IMAP side by side, measured on the server"),
        Binding("ctrl+d", "doctor", "Doctor", id="main.doctor", show=False,
                tooltip="Check this account's servers: TLS, certificate, capabilities, login"),
    ]
    # the screen gets -narrow below 80 columns: main.tcss hides the sidebar but while it has the focus
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (80, "-wide")]

    def __init__(self, config: Config, *, account: str | None = None,
                 passwords: dict[str, Secret] | None = None, head_start: HeadStart | None = None) -> None:
        super().__init__()
        self.config = config
        self.current = config.account(account).name
        # the current account's INBOX, being prepared since before Textual loaded (launch.py)
        self._head = head_start if head_start is not None and head_start.account.name == self.current else None
        self._passwords: dict[str, Secret] = dict(passwords or {})  # typed this session only
        self._folders: dict[str, list[Folder]] = {}
        self._counts: dict[str, dict[str, FolderStatus]] = {}  # account -> folder -> counts
        self._cache: HeaderCache | None = self._head.cache if self._head is not None else None
        self._open_dir = PrivateDir()  # attachments handed to other programs, this session only
        self._first_screen = threading.Event()  # set once the open folder's first rows are in
        if self._head is not None:
            # Composed with the INBOX's index: focus it at once. Textual's own pick, the account
            # list, would restyle the whole screen twice before the first frame (-sidebar-open).
            self.AUTO_FOCUS = "#index"

    def compose(self) -> ComposeResult:
        yield Static(line(("tuimail", "bold"), f"  {self.config.path}"), id="title", markup=False)
        with Horizontal(id="body"):
            with Vertical(id="sidebar"):
                yield AccountList(list(self.config.accounts.values()), id="accounts")
                yield FolderList(id="folders")
            with Vertical(id="content"):
                if isinstance(self._head, Pop3HeadStart):  # the POP3 INBOX, from its head start
                    from tuimail.ui.screens.main_pop3 import pop3_pane  # POP3 code only when needed

                    yield pop3_pane(self, self.config.accounts[self.current], head_start=self._head)
                elif self._head is not None:  # drawn in the first frame, from the head start
                    yield self._folder_pane(INBOX, head_start=self._head)
                else:
                    yield Static(inert("Pick a folder on the left. The message list will appear here."),
                                 id="content-placeholder", markup=False)
        with Horizontal(id="status-bar"):
            yield StatusLine(id="status")
            yield ConnectionState(id="connection-state")
        yield Footer()

    def on_mount(self) -> None:
        accounts = self.query_one(AccountList)
        accounts.highlight_account(self.current)
        pane = self.open_pane()
        # no reset: the head start's connection may have said where it stands already
        self.connection_state.place(self.current, pane.folder.display if isinstance(pane, FolderPane) else "")
        indexes = self.query("#index")
        if indexes:  # composed with the head start's INBOX: the index has the keys, as it would
            indexes.first().focus()
        else:
            accounts.focus()
        self.open_account(self.current)

    def on_unmount(self) -> None:
        self._open_dir.cleanup()

    @property
    def status(self) -> StatusLine:
        return self.query_one(StatusLine)

    @property
    def connection_state(self) -> ConnectionState:
        return self.query_one(ConnectionState)

    def open_account(self, name: str, refresh: bool = False) -> None:
        if name != self.current or refresh:
            self._close_folder()
        self.current = name
        if not self.query(FolderPane):
            self.connection_state.place(name, "", reset=True)
        account = self.config.accounts[name]
        folders = self.query_one(FolderList)
        folders.border_title = f"Folders · {name}"
        if account.protocol is Protocol.POP3:
            from tuimail.ui.screens.main_pop3 import open_pop3_account  # POP3 code only when needed
            self._head = None  # a POP3 head start went to the pane composed with it
            open_pop3_account(self, account, refresh=refresh)
            return
        if name in self._folders and not refresh:
            folders.show_folders(self._folders[name], self._counts.get(name))
            self.status.show(f"{name}: {len(self._folders[name])} folders", "ok")
            return
        server = account.imap
        assert server is not None  # the config guarantees a server for the reading protocol
        folders.show_note("loading…")
        self.status.show(f"{name}: connecting to {server.host}:{server.port} "
                         f"({server.security.value}) and listing folders", "busy")
        self._first_screen.clear()
        if not self.query(FolderPane):
            # the INBOX draws from the header cache at once; the server follows with the password
            self.open_folder(INBOX, note="connecting; ", need_password=False)
        head = self._head if self._head is not None and self._head.account.name == name else None
        self._head = None  # its password is used once; a refresh looks the password up again
        self.load_folders(account, self._passwords.get(name), head)

    @work(thread=True, exclusive=True, exit_on_error=False, group="folders")
    def load_folders(self, account: Account, password: Secret | None, head: HeadStart | None = None) -> None:
        worker = get_current_worker()
        try:
            if password is None and head is not None:
                password = head.password()
            if password is None:
                password = lookup_password(account)
            if password is None:
                self.post_message(PasswordNeeded(account.name))
                return
            self.post_message(PasswordKnown(account.name, password))
            # The INBOX opens first on its own connection; list folders once it is drawn.
            self._first_screen.wait(FIRST_SCREEN_WAIT)
            if worker.is_cancelled:
                return
            from tuimail.protocols.imap import ImapSession  # off the first frame's path

            trace = connection_trace("imap", account.name, "folders")
            with ImapSession.connect(account, password, trace=trace) as session:
                folders = session.list_folders()
                if not worker.is_cancelled:
                    self.post_message(FoldersLoaded(account.name, folders, password))
                self._count_folders(session, account.name, folders)
            return
        except AuthError as exc:
            result: Message = FoldersFailed(account.name, str(exc), bad_password=True)
        except (ConnectError, MailTimeout) as exc:
            result = FoldersFailed(account.name, str(exc), unreachable=True)
        except (MailError, CredentialError) as exc:
            result = FoldersFailed(account.name, str(exc))
        if not worker.is_cancelled:
            self.post_message(result)

    def _count_folders(self, session: "ImapSession", account: str, folders: list[Folder]) -> None:
        """STATUS of each folder after the list is shown, on the listing worker's session."""
        worker = get_current_worker()
        for folder in folders:
            if worker.is_cancelled:
                return
            if not folder.selectable:
                continue
            try:
                counts = {folder.name: session.status(folder.name)}
            except MailError as exc:
                if session.broken is not None:
                    self.post_message(ConnectionStatus(account, f"{account}: folder counts: {exc}", "error"))
                    return
                continue  # this folder refuses STATUS; the others may not
            self.post_message(FolderCounts(account, counts))

    def on_folder_counts(self, message: FolderCounts) -> None:
        self._counts.setdefault(message.account, {}).update(message.counts)
        if message.account == self.current:
            self.query_one(FolderList).set_counts(message.counts)

    def on_password_known(self, message: PasswordKnown) -> None:
        if message.account != self.current:
            return
        self._passwords.setdefault(message.account, message.password)
        panes = [p for p in self.query(FolderPane) if p.account.name == message.account]
        if panes:
            panes[0].password_ready(message.password)
        else:
            self.open_folder(INBOX, note="listing folders; ")

    def on_first_screen_shown(self, message: FirstScreenShown) -> None:
        if message.account == self.current:
            self._first_screen.set()

    def on_folders_loaded(self, message: FoldersLoaded) -> None:
        self._folders[message.account] = message.folders
        for pane in self.query(FolderPane):
            if pane.account.name == message.account:
                pane.folders = list(message.folders)  # for the move/copy picker
        if message.password is not None:
            self._passwords[message.account] = message.password
        if message.account == self.current:
            self.query_one(FolderList).show_folders(message.folders, self._counts.get(message.account))
            self.status.show(f"{message.account}: {len(message.folders)} folders", "ok")
            inbox = next((f for f in message.folders if f.role == "inbox"), None)
            if inbox is not None and not self.query(FolderPane):
                self.open_folder(inbox, note=f"{len(message.folders)} folders; ")

    def on_folders_failed(self, message: FoldersFailed) -> None:
        if message.unreachable and message.account == self.current:
            from tuimail.ui.screens.main_pop3 import fallback_to_pop3  # fallback = "pop3": read over POP3
            if fallback_to_pop3(self, self.config.accounts[message.account], message.reason):
                return
        typed = self._passwords.pop(message.account, None) if message.bad_password else None
        if typed is not None and message.account == self.current:
            self.post_message(PasswordNeeded(message.account, message.reason))
            return
        if message.account == self.current:
            self.query_one(FolderList).show_note("could not list folders (r to retry)")
            self.status.show(message.reason, "error")
            if message.bad_password:  # the account stops here: the user must see why
                from tuimail.ui.screens.error import show_error  # loads on first use

                show_error(self.app, f"{message.account}: login failed", message.reason)

    def on_password_needed(self, message: PasswordNeeded) -> None:
        if message.account != self.current:  # the user moved on before the lookup finished
            return
        account = self.config.accounts[message.account]
        server = account.imap
        host = f"{server.host}:{server.port}" if server else "?"

        def answered(password: Secret | None) -> None:
            if password is None:
                self.query_one(FolderList).show_note("no password given (r to retry)")
                self.status.show(f"{account.name}: no password, so no folders", "error")
                return
            self._passwords[account.name] = password
            self.open_account(account.name, refresh=True)

        from tuimail.ui.screens.password import PasswordScreen  # only when a password is asked for

        self.app.push_screen(PasswordScreen(account.name, account.username, host, message.reason), answered)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Anything the worker did not expect still ends as a readable line, never a traceback.
        if event.state is WorkerState.ERROR and event.worker.group == "folders":
            error = event.worker.error
            self.query_one(FolderList).show_note("could not list folders (r to retry)")
            self.status.show(f"{self.current}: unexpected error: {type(error).__name__}: {error}", "error")

    @on(OptionList.OptionSelected, "#accounts")
    def _account_chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option_id is not None:
            self.open_account(event.option_id)
            self.query_one(FolderList).focus()

    def switch_account(self, name: str) -> None:
        """As if name were chosen in the account list (the command palette's way in)."""
        self.query_one(AccountList).highlight_account(name)
        self.open_account(name)
        self.query_one(FolderList).focus()

    def listed_folders(self) -> list[Folder]:
        return list(self.query_one(FolderList).folders)

    def open_pane(self):
        """The open folder's pane (IMAP or POP3), or None."""
        panes = [child for child in self.query_one("#content").children if hasattr(child, "start_compose")]
        return panes[0] if panes else None

    @on(OptionList.OptionSelected, "#folders")
    def _folder_chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option_id is not None:
            self.open_listed_folder(int(event.option_id))

    def open_listed_folder(self, index: int) -> None:
        """Open the folder list's entry index, as Enter on it does."""
        folders = self.query_one(FolderList).folders
        if not folders:
            return
        if folders[0].display == POP3_INBOX:  # POP3's one mailbox (an account's, or a fallback's)
            from tuimail.ui.screens.main_pop3 import show_pop3
            show_pop3(self, self.config.accounts[self.current])
            return
        self.open_folder(folders[index])

    def open_folder(self, folder: Folder, note: str = "", need_password: bool = True) -> None:
        """Show folder's lazy index in the content area, replacing any open folder."""
        account = self.config.accounts[self.current]
        password = self._passwords.get(account.name)
        if (password is None and need_password) or not folder.selectable:
            self.status.show(f"{folder.display}: cannot be opened", "error")
            return
        content = self.query_one("#content")
        content.remove_children()
        content.mount(self._folder_pane(folder))  # the pane focuses its index once mounted
        self.status.show(f"{account.name}: {note}opening {folder.display}", "busy")

    def _folder_pane(self, folder: Folder, head_start: HeadStart | None = None) -> FolderPane:
        account = self.config.accounts[self.current]
        for state in self.query(ConnectionState):  # none while composing: on_mount places it
            state.place(account.name, folder.display, reset=True)
        return FolderPane(account, self._passwords.get(account.name), folder, self._header_cache(),
                          folders=self._folders.get(account.name, []), ui=self.config.ui,
                          open_dir=self._open_dir, head_start=head_start)

    def _close_folder(self) -> None:
        content = self.query_one("#content")
        if content.query(FolderPane) or content.query("Pop3Pane"):
            content.remove_children()
            content.mount(Static(inert("Pick a folder on the left."), id="content-placeholder", markup=False))

    def _header_cache(self) -> HeaderCache | None:
        if self._cache is None:
            try:
                self._cache = HeaderCache.open_default()
            except CacheError as exc:
                self.status.show(f"{exc}; headers are kept in memory only", "error")
                self._cache = HeaderCache.in_memory()
        return self._cache

    def on_connection_status(self, message: ConnectionStatus) -> None:
        if message.account == self.current:
            self.status.show(message.text, message.level)

    def on_progress_changed(self, message) -> None:  # ui/widgets/progress.py, loaded by the first report
        if message.progress is None or message.account in ("", self.current):  # an end, whoever's
            self.status.set_progress(message.key, message.progress)

    def on_link_state(self, message: LinkState) -> None:
        pane = self.open_pane()
        if message.account == self.current and isinstance(pane, FolderPane):
            self.connection_state.set_link(message.link, message.state)

    def action_refresh(self) -> None:
        self.open_account(self.current, refresh=True)

    async def action_toggle_trace(self) -> None:
        from tuimail.ui.widgets.trace_panel import TracePanel  # composed when first asked for, not at start

        panels = self.query(TracePanel)
        if panels:
            panel = panels.first()
        else:
            panel = TracePanel(id="trace-panel")
            await self.mount(panel, before="#status-bar")
        # the focus stays where it is: the panel follows by itself
        if not panel.toggle() and panel.has_focus:
            self.action_focus_index()

    def action_compare(self) -> None:
        from tuimail.ui.screens.compare import open_compare

        account = self.config.accounts[self.current]
        open_compare(self.app, account, self._passwords.get(account.name))

    def action_doctor(self) -> None:
        from tuimail.ui.screens.doctor import DoctorScreen

        account = self.config.accounts[self.current]
        self.app.push_screen(DoctorScreen(account, self._passwords.get(account.name)))

    def action_focus_accounts(self) -> None:
        self.query_one(AccountList).focus()

    def action_focus_folders(self) -> None:
        self.query_one(FolderList).focus()

    def action_focus_index(self) -> None:
        pane = self.open_pane()
        if pane is not None and pane.query("MessageList"):
            pane.index_widget.focus()

    def on_descendant_focus(self, event) -> None:  # textual.events.DescendantFocus
        in_sidebar = self.query_one("#sidebar") in event.widget.ancestors_with_self
        if in_sidebar != self.has_class("-sidebar-open"):  # a restyle of the whole screen: only on a change
            self.set_class(in_sidebar, "-sidebar-open")
