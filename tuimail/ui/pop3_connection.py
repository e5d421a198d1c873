"""One POP3 session on one thread for a Pop3Pane: jobs go down a queue, results come up as messages.

The twin of connection.py's Connection. A job is a function of the Pop3Sync, run on this
thread (Pop3Sync is not thread-safe); whatever Message it returns is posted to the owner, and
jobs never touch widgets. The password is looked up here too (a password_command may be slow).

A POP3 server may lock the maildrop for as long as a session lasts (RFC 1939), and a session
sees a snapshot of it, so an idle session is ended with QUIT. The next job that needs the
server connects again; the message numbers may have moved meanwhile, so once the pane has
opened the INBOX, a new session is followed by a reopen (MaildropReopened). A lost connection is
retried a few times, with a status message on each try.
"""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from textual.message import Message
from textual.message_pump import MessagePump

from tuimail.model.config import Account
from tuimail.model.secret import Secret
from tuimail.protocols.errors import AuthError, ConnectError, MailError, MailTimeout
from tuimail.protocols.pop3 import Pop3Session
from tuimail.protocols.trace import connection_trace
from tuimail.store.credentials import CredentialError, lookup_password
from tuimail.store.folder_sync import OpenedFolder
from tuimail.store.pop3_store import Pop3Store, StoreError
from tuimail.store.pop3_sync import Pop3Sync
from tuimail.ui.connection import ConnectionStatus, JobFailed
from tuimail.ui.widgets.pane_messages import HeadStartTaken

if TYPE_CHECKING:
    from tuimail.store.head_start import HeadStartResult, Pop3HeadStart

Job = Callable[["Pop3Sync"], "Message | None"]
RETRY_DELAYS = (0.2, 1.0, 3.0)
HEAD_START_WAIT = 120.0  # seconds the thread waits for a head start (it has its own timeouts)
IDLE_QUIT_SECONDS = 60.0


def _pop3_connect(account: Account, password: Secret) -> Pop3Session:
    """A session recorded in the run's trace book (the trace panel)."""
    return Pop3Session.connect(account, password, trace=connection_trace("pop3", account.name, "maildrop"))


class PasswordMissing(Exception):
    """Neither password_command nor the keyring has one: the user must be asked."""


@dataclass
class MaildropReopened(Message):
    """A new session after an idle QUIT or a lost connection: the INBOX as it is now."""
    opened: OpenedFolder


class Pop3Connection:
    def __init__(self, owner: MessagePump, account: Account, password: Secret | None,
                 store: Callable[[str], Pop3Store] = Pop3Store.open_default,
                 connect: Callable[[Account, Secret], Pop3Session] = _pop3_connect):
        self.owner = owner
        self.account = account
        self._password = password
        self._store_factory = store
        self._connect_session = connect
        self._jobs: queue.Queue[tuple[str, Job, Message | None, bool] | None] = queue.Queue()
        self.sync: Pop3Sync | None = None  # touched only on the connection's thread
        self.first = 50  # rows a reopen fetches: the pane's visible rows
        self.opened = False  # the pane has an index: a new session must reopen it
        self._sessions = 0
        self._reconnected = False
        self._head: Pop3HeadStart | None = None
        self._taken: HeadStartResult | None = None
        self.stopped = threading.Event()

    @property
    def password(self) -> Secret | None:
        return self._password

    def set_password(self, password: Secret) -> None:
        self._password = password

    def set_account(self, account: Account) -> None:
        """The keep policy changed: later jobs (a sync) apply the new one."""
        self.account = account

        def job(sync: Pop3Sync) -> None:
            sync.account = account

        self.submit("applying the new policy", job)

    def start(self, head: "Pop3HeadStart | None" = None, taken: "HeadStartResult | None" = None) -> None:
        """Start the thread; with a head start, it goes on with the head start's sync, store and
        session (taken: already handed over; else the thread waits for it and posts
        HeadStartTaken)."""
        self._head, self._taken = head, taken
        self.owner.run_worker(self._run, thread=True, name=f"pop3 {self.account.name}",
                              group=f"pop3-{self.account.name}", exit_on_error=False)

    def submit(self, what: str, job: Job, failed: Message | None = None, opens: bool = False) -> None:
        """Queue job; `what` names it in errors, `failed` is posted too if it fails. opens: the
        job opens the INBOX itself, so a new session needs no reopen after it."""
        self._jobs.put((what, job, failed, opens))

    def stop(self) -> None:
        self.stopped.set()
        self._jobs.put(None)

    def post(self, message: Message | None) -> None:
        if message is not None and not self.stopped.is_set():
            self.owner.post_message(message)

    def _status(self, text: str, level: str = "info") -> None:
        self.post(ConnectionStatus(self.account.name, text, level))

    # The thread -------------------------------------------------------------------------

    def _connect(self) -> Pop3Session:
        """Pop3Sync's connect: the password first (looked up here, off the event loop)."""
        if self._password is None:
            self._password = lookup_password(self.account)
        if self._password is None:
            raise PasswordMissing(f"{self.account.name}: no password in the config or the keyring")
        session = self._connect_session(self.account, self._password)
        self._sessions += 1
        self._reconnected = self._sessions > 1
        return session

    def _adopt(self) -> Pop3Sync | None:
        """The head start's sync (its store, and its session if it got one), or None."""
        taken, head = self._taken, self._head
        if taken is None and head is not None:
            taken = head.take(HEAD_START_WAIT, stop=self.stopped)
            self.post(HeadStartTaken(taken))
        if taken is None or taken.sync is None:
            return None
        if taken.password is not None and self._password is None:
            self._password = taken.password
        sync = taken.sync
        sync.use_connect(self._connect)
        self._sessions = 1 if sync.connected else 0
        return sync

    def _run(self) -> None:
        self.sync = self._adopt()
        if self.sync is None:
            try:
                store = self._store_factory(self.account.name)
            except Exception as exc:  # StoreError, OSError, sqlite3's errors: the pane says why
                self.post(JobFailed(self.account.name, "opening the local POP3 store", str(exc)))
                return
            self.sync = Pop3Sync(store, self.account, connect=self._connect)
        store = self.sync.store
        try:
            while not self.stopped.is_set():
                try:
                    item = self._jobs.get(timeout=IDLE_QUIT_SECONDS)
                except queue.Empty:
                    self._quit()
                    continue
                if item is None:
                    break
                what, job, failed, opens = item
                if not self._attempt(what, job):
                    self.post(failed)
                if opens:
                    self._reconnected = False
                elif self._reconnected and self.opened:
                    self._reconnected = False
                    self._attempt("reopening the INBOX",
                                  lambda sync: MaildropReopened(sync.open(first=self.first)))
        finally:
            self._quit()
            store.close()

    def _attempt(self, what: str, job: Job) -> bool:
        """Run job, retrying on a lost connection; whether it succeeded."""
        for attempt, delay in enumerate((0.0,) + RETRY_DELAYS):
            if self.stopped.is_set():
                return False
            if delay:
                self._status(f"{self.account.name}: POP3 connection lost; reconnecting in {delay:g} s "
                             f"(try {attempt} of {len(RETRY_DELAYS)})", "busy")
                if self.stopped.wait(delay):
                    return False
            try:
                self.post(job(self.sync))
                return True
            except (AuthError, PasswordMissing, CredentialError) as exc:
                self.post(JobFailed(self.account.name, what, str(exc), auth=True))
                return False
            except MailError as exc:
                lost = isinstance(exc, (ConnectError, MailTimeout))  # what translate() makes of a drop
                if not lost or attempt == len(RETRY_DELAYS):
                    self.post(JobFailed(self.account.name, what, str(exc)))
                    return False
            except (StoreError, OSError) as exc:
                self.post(JobFailed(self.account.name, what, str(exc)))
                return False
            except Exception as exc:  # a bug or a shape we did not foresee: report, keep the thread
                self.post(JobFailed(self.account.name, what, f"unexpected {type(exc).__name__}: {exc}"))
                return False
        return False

    def _quit(self) -> None:
        """End the session with QUIT (no DELE is ever pending outside a sync, which QUITs itself)."""
        sync = self.sync
        if sync is not None and sync.connected:
            try:
                sync.close()
            except MailError:
                pass
