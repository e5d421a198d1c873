"""One IMAP connection on one thread. Jobs go down a queue; results come up as messages.

A job is a function of the FolderSync run on the connection's thread; whatever Message it
returns is posted to the owner. A dropped connection is reopened (the folder selected again)
and the job retried, with a status message on each step, so the screen never freezes.
A second connection, IdleWatcher, only waits in IDLE and says when the folder changed.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from textual.message import Message
from textual.message_pump import MessagePump

from tuimail.model.config import Account
from tuimail.model.mailbox import FolderEvents
from tuimail.model.secret import Secret
from tuimail.protocols.errors import AuthError, ConnectError, MailError, MailTimeout
from tuimail.protocols.trace import connection_trace
from tuimail.store.folder_sync import FolderSync, OpenedFolder

if TYPE_CHECKING:
    from tuimail.protocols.imap import ImapSession
from tuimail.store.header_cache import HeaderCache

Job = Callable[[FolderSync], "Message | None"]
RECONNECT_DELAYS = (0.2, 1.0, 3.0, 10.0)
IDLE_RENEW_SECONDS = 25 * 60  # RFC 2177: re-issue IDLE before servers' 30-minute timeout


def _imap_connect(account: Account, password: Secret, purpose: str = "index") -> "ImapSession":
    """A session recorded in the run's trace book (the trace panel), as connection purpose."""
    from tuimail.protocols.imap import ImapSession  # the IMAP stack loads off the first frame's path

    return ImapSession.connect(account, password, trace=connection_trace("imap", account.name, purpose))


def _idle_connect(account: Account, password: Secret) -> "ImapSession":
    return _imap_connect(account, password, "idle")


@dataclass
class ConnectionStatus(Message):
    account: str
    text: str
    level: str = "info"  # info | busy | ok | error


@dataclass
class LinkState(Message):
    """Where one connection stands: connected, IDLE, reconnecting or offline.
    link names the connection: "reading" (the folder's jobs) or "idle" (the IdleWatcher)."""
    account: str
    link: str
    state: str


@dataclass
class JobFailed(Message):
    account: str
    what: str
    reason: str
    auth: bool = False


@dataclass
class FolderReopened(Message):
    """The connection came back: the folder was selected again (its state may have moved)."""
    account: str
    opened: OpenedFolder


@dataclass
class FolderNews(Message):
    """IDLE saw a change in the folder; the reading connection should refresh."""
    account: str
    folder: str
    events: FolderEvents = field(default_factory=FolderEvents)


class Connection:
    def __init__(self, owner: MessagePump, account: Account, password: Secret | None, cache: HeaderCache | None,
                 connect: "Callable[[Account, Secret], ImapSession] | None" = None):
        self.owner = owner
        self.account = account
        self._password = password
        self._cache = cache
        self._connect = connect or _imap_connect
        self._jobs: queue.Queue[tuple[str, Job, bool, Message | None] | None] = queue.Queue()
        self._sync: FolderSync | None = None  # touched only on the connection's thread
        self._offline = FolderSync(None, cache, account.name)  # cache reads, no network
        self.folder: str | None = None
        self.stopped = threading.Event()
        self.worker = None

    def set_password(self, password: Secret) -> None:
        """Known at last: network jobs may run (cache jobs never needed it)."""
        self._password = password

    def start(self) -> None:
        self.worker = self.owner.run_worker(self._run, thread=True, name=f"imap {self.account.name}",
                                            group=f"imap-{self.account.name}", exit_on_error=False)

    def submit(self, what: str, job: Job, network: bool = True, failed: Message | None = None) -> None:
        """Queue job; `what` names it in errors, `failed` is posted too if it fails.
        network=False jobs read the cache and run without connecting."""
        self._jobs.put((what, job, network, failed))

    def adopt(self, sync: FolderSync, folder: str) -> None:
        """Take over a session logged in and with folder selected elsewhere (the head start).
        Only from a job, that is on the connection's thread."""
        self._close()
        self._sync, self.folder = sync, folder
        self._state("connected")

    def stop(self) -> None:
        self.stopped.set()
        self._jobs.put(None)

    def _post(self, message: Message | None) -> None:
        if message is not None and not self.stopped.is_set():
            self.owner.post_message(message)

    def _status(self, text: str, level: str = "info") -> None:
        self._post(ConnectionStatus(self.account.name, text, level))

    def _state(self, state: str) -> None:
        self._post(LinkState(self.account.name, "reading", state))

    # The thread -------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self.stopped.is_set():
                item = self._jobs.get()
                if item is None:
                    break
                what, job, network, failed = item
                if network:
                    ok = self._attempt(what, lambda: job(self._ensure()), retry=True)
                else:
                    ok = self._attempt(what, lambda: job(self._offline))
                if not ok:
                    self._post(failed)
        finally:
            self._close()

    def _attempt(self, what: str, call: Callable[[], Message | None], retry: bool = False) -> bool:
        """Run call, reconnecting and retrying on a lost connection; whether it succeeded."""
        for attempt, delay in enumerate((0.0,) + RECONNECT_DELAYS):
            if self.stopped.is_set():
                return False
            if delay:
                self._state("reconnecting")
                self._status(f"{self.account.name}: connection lost; reconnecting in {delay:g} s "
                             f"(try {attempt} of {len(RECONNECT_DELAYS)})", "busy")
                if self.stopped.wait(delay):
                    return False
            try:
                self._post(call())
                return True
            except AuthError as exc:
                self._close()
                self._state("offline")
                self._post(JobFailed(self.account.name, what, str(exc), auth=True))
                return False
            except MailError as exc:
                lost = self._lost(exc)
                if not (retry and lost) or attempt == len(RECONNECT_DELAYS):
                    if lost:
                        self._close()
                        self._state("offline")
                    self._post(JobFailed(self.account.name, what, str(exc)))
                    return False
                self._close()
            except Exception as exc:  # a bug or a shape we did not foresee: report, keep the thread
                self._post(JobFailed(self.account.name, what, f"unexpected {type(exc).__name__}: {exc}"))
                return False
        return False

    def _lost(self, exc: MailError) -> bool:
        """Whether the connection is gone (translate() says so, or the session marked itself
        broken), as opposed to the server refusing one command."""
        sync = self._sync
        return isinstance(exc, (ConnectError, MailTimeout)) or (sync is not None and sync.session.broken is not None)

    def _ensure(self) -> FolderSync:
        sync = self._sync
        if sync is not None and sync.session.broken is None:
            return sync
        self._close()
        started = time.monotonic()
        session = self._connect(self.account, self._password)
        sync = FolderSync(session, self._cache, self.account.name)
        self._sync = sync
        self._state("connected")
        if self.folder is not None:  # a reconnect: put the folder back as it was
            opened = sync.open(self.folder)
            self._post(FolderReopened(self.account.name, opened))
            self._status(f"{self.account.name}: reconnected in {time.monotonic() - started:.1f} s", "ok")
        return sync

    def _close(self) -> None:
        sync, self._sync = self._sync, None
        if sync is not None:
            sync.session.close()


class IdleWatcher:
    """Its own connection, parked in IDLE on one folder; posts FolderNews on any change."""

    def __init__(self, owner: MessagePump, account: Account, password: Secret, folder: str,
                 connect: "Callable[[Account, Secret], ImapSession] | None" = None):
        self.owner, self.account, self.folder = owner, account, folder
        self._password = password
        self._connect = connect or _idle_connect
        self.stopped = threading.Event()
        self.ready = threading.Event()  # selected and waiting in IDLE

    def start(self) -> None:
        self.owner.run_worker(self._run, thread=True, name=f"idle {self.account.name}",
                              group=f"idle-{self.account.name}", exit_on_error=False)

    def adopt(self, sync: FolderSync, folder: str) -> None:
        """Take over a session logged in and with folder selected elsewhere (the head start).
        Only from a job, that is on the connection's thread."""
        self._close()
        self._sync, self.folder = sync, folder

    def stop(self) -> None:
        self.stopped.set()

    def _state(self, state: str) -> None:
        if not self.stopped.is_set():
            self.owner.post_message(LinkState(self.account.name, "idle", state))

    def _run(self) -> None:
        delays = iter(RECONNECT_DELAYS)
        failures = 0
        while not self.stopped.is_set():
            try:
                with self._connect(self.account, self._password) as session:
                    session.select(self.folder, readonly=True)
                    delays, failures = iter(RECONNECT_DELAYS), 0
                    # Mail that came between the folder's opening (or our last connection) and
                    # this SELECT raises no IDLE event: have the reader look once.
                    self.owner.post_message(FolderNews(self.account.name, self.folder))
                    self.ready.set()
                    self._state("IDLE")
                    while not self.stopped.is_set():
                        news = session.idle_wait(IDLE_RENEW_SECONDS, stop=self.stopped.is_set)
                        if news and not self.stopped.is_set():
                            self.owner.post_message(FolderNews(self.account.name, self.folder, news))
            except MailError as exc:
                self.ready.clear()
                delay = next(delays, RECONNECT_DELAYS[-1])
                failures += 1
                # past the last retry delay, a server that refuses or never answers is offline
                unreachable = failures > len(RECONNECT_DELAYS) and isinstance(exc, (ConnectError, MailTimeout))
                self._state("offline" if unreachable else "reconnecting")
                if not self.stopped.is_set():
                    self.owner.post_message(ConnectionStatus(
                        self.account.name, f"{self.account.name}: new-mail watch lost ({exc}); "
                                           f"retrying in {delay:g} s", "error"))
                if self.stopped.wait(delay):
                    return
