"""The INBOX's first screen, prepared while the UI toolkit loads (IMAP or POP3).

Starting the TUI spends a third of a second or more importing Textual and building the
screen. HeadStart uses that time: it reads the INBOX's cached rows, then on a thread started
before the import it looks the password up, connects, selects the INBOX and fetches its first
screen (with cached rows, only once the UI has drawn them).
The UI then adopts what it finished (the live session included) instead of starting from
nothing. Whatever it did not finish or got wrong, the UI does again its usual way, so an error
is reported once, where the user sees every other one.

Blocking, one thread; the result is handed over once through take(). HeadStart is the IMAP
one; Pop3HeadStart does the same over POP3 (the local store's rows, then STAT and one
pipelined window), and always hands its Pop3Sync over, connected or not, with its store.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tuimail.model.config import Account, Protocol
from tuimail.model.secret import Secret
from tuimail.protocols.errors import MailError
from tuimail.protocols.trace import connection_trace
from tuimail.store.credentials import CredentialError, lookup_password
from tuimail.store.folder_sync import CachedFolder, FolderSync, OpenedFolder
from tuimail.store.header_cache import CacheError, HeaderCache

if TYPE_CHECKING:
    from tuimail.store.pop3_store import Pop3Store
    from tuimail.store.pop3_sync import Pop3Sync

INBOX = "INBOX"
HOLD_SECONDS = 1.0  # with cached rows, the longest the network part waits for the UI's first frame


@dataclass
class HeadStartResult:
    password: Secret | None = None  # what the lookup gave (not yet known to be right)
    sync: "FolderSync | Pop3Sync | None" = None  # logged in, INBOX selected: the caller owns it now
    opened: OpenedFolder | None = None
    error: str = ""  # why it stopped short; the UI's own attempt will say it properly


class HeadStart:
    def __init__(self, account: Account, cache: HeaderCache, first: int, folder: str = INBOX,
                 hold: float = HOLD_SECONDS):
        self.account, self.cache, self.first, self.folder = account, cache, first, folder
        self.cached: CachedFolder | None = None
        self.cached_ready = threading.Event()  # cached is final (possibly None)
        self.drawn = threading.Event()  # set by the UI once the cached rows are on screen
        self.hold = hold
        self.password_ready = threading.Event()
        self.done = threading.Event()
        self._result = HeadStartResult()
        self._lock = threading.Lock()
        self._taken = False
        self._finished = False
        self._thread = threading.Thread(target=self._run, name=f"head start {account.name}", daemon=True)

    @classmethod
    def applies_to(cls, account: Account) -> bool:
        return account.protocol is Protocol.IMAP and account.imap is not None

    def start(self) -> "HeadStart":
        """Read the cached rows here (a few ms), then go on in the thread. Cold, the network is
        the first screen's critical path: the protocol stack is loaded here first, so that the
        thread connects at once instead of importing side by side with the UI toolkit."""
        try:
            self.cached = self._read_cached()
        except CacheError:
            self.cached = None  # the UI reads the cache again and reports it
        finally:
            self.cached_ready.set()
        if self.cached is None:
            import encodings.idna  # noqa: F401  # what connecting looks the host name up with
            self._load_protocol()
        self._thread.start()
        if self.cached is None:
            self._load_parsers()
        return self

    # What differs between the protocols -------------------------------------------------

    def _read_cached(self) -> CachedFolder | None:
        return FolderSync(None, self.cache, self.account.name).cached(self.folder)

    def _load_protocol(self) -> None:
        import tuimail.protocols.imap  # noqa: F401

    def _load_parsers(self) -> None:
        """Cold, what the thread needs once its answers are in, loaded here while it waits on
        the network: imported there, it would compete with the UI toolkit's import for the GIL."""

    def _open(self, password: Secret) -> tuple[FolderSync, OpenedFolder]:
        from tuimail.protocols.imap import ImapSession  # warm: loaded after the first frame

        trace = connection_trace("imap", self.account.name, "index")
        session = ImapSession.connect(self.account, password, trace=trace)
        sync = FolderSync(session, self.cache, self.account.name)
        try:
            return sync, sync.open(self.folder, first=self.first)
        except BaseException:
            session.close()
            raise

    def _discard(self, sync) -> None:
        """Nobody will take sync any more: close what it holds."""
        sync.session.close()

    def _run(self) -> None:
        result = self._result
        try:
            if self.cached is not None:
                # Rows to show already: the UI's first frame comes before the IMAP stack loads
                # and the TLS handshake runs, so that they do not compete with it for the GIL.
                self.drawn.wait(self.hold)
            try:
                result.password = lookup_password(self.account)
            finally:
                self.password_ready.set()
            if result.password is None:
                result.error = "no password stored"
                return
            result.sync, result.opened = self._open(result.password)
        except (MailError, CredentialError, CacheError) as exc:
            result.error = str(exc)
        except Exception as exc:  # never lose the UI's start to a bug here: it starts over
            result.error = f"unexpected {type(exc).__name__}: {exc}"
        finally:
            with self._lock:
                self._finished = True
                abandoned = self._taken  # take() gave up before we finished
            if abandoned and result.sync is not None:
                self._discard(result.sync)  # nobody will take it any more
            self.done.set()

    def password(self, timeout: float | None = None) -> Secret | None:
        """The looked-up password once the lookup is over (None: none stored, or it failed)."""
        self.password_ready.wait(timeout)
        return self._result.password

    def take(self, timeout: float | None = None, stop: threading.Event | None = None) -> HeadStartResult:
        """Wait for the head start (at most timeout, or until stop is set) and hand its result
        over, once. Later calls, or a call that gave up, get an empty result; a session
        finished after that is closed."""
        if stop is None:
            self.done.wait(timeout)
        else:
            deadline = None if timeout is None else time.monotonic() + timeout
            while not self.done.wait(0.05) and not stop.is_set():
                if deadline is not None and time.monotonic() > deadline:
                    break
        with self._lock:
            if self._taken or not self._finished:
                self._taken = True
                return HeadStartResult(error="taken, or not finished in time")
            self._taken = True
            return self._result

    def abandon(self) -> None:
        """Nobody will take it (the user opened another account first): close what it opened."""
        self.drawn.set()
        result = self.take(timeout=0)
        if result.sync is not None:
            self._discard(result.sync)


class Pop3HeadStart(HeadStart):
    """The POP3 INBOX's first screen: rows from the local store here, then in the thread the
    password, the session, STAT and one pipelined window (Pop3Sync.open). The sync and its
    store always go to the taker, so that a failure here costs no second store."""

    def __init__(self, account: Account, store: "Pop3Store", first: int, hold: float = HOLD_SECONDS):
        from tuimail.store.pop3_sync import Pop3Sync

        super().__init__(account, None, first, hold=hold)  # type: ignore[arg-type]  # no header cache
        self.store = store
        self.sync = Pop3Sync(store, account, connect=self._connect)
        self._result.sync = self.sync
        self._password: Secret | None = None

    @classmethod
    def applies_to(cls, account: Account) -> bool:
        return account.protocol is Protocol.POP3 and account.pop3 is not None

    def _read_cached(self) -> CachedFolder | None:
        from tuimail.store.pop3_store import StoreError

        try:
            return self.sync.cached(limit=self.first)
        except (StoreError, OSError) as exc:
            raise CacheError(str(exc)) from None  # the pane reads the store again and says why

    def _load_protocol(self) -> None:
        import tuimail.protocols.pop3  # noqa: F401

    def _load_parsers(self) -> None:
        import tuimail.model.message  # noqa: F401  # the email package, for the window's headers

    def _connect(self):
        from tuimail.protocols.pop3 import Pop3Session

        return Pop3Session.connect(self.account, self._password,
                                   trace=connection_trace("pop3", self.account.name, "maildrop"))

    def _open(self, password: Secret) -> tuple["Pop3Sync", OpenedFolder]:
        self._password = password
        return self.sync, self.sync.open(first=self.first)

    def _discard(self, sync) -> None:
        try:
            sync.close()  # QUIT when connected: nothing was deleted in this session
        except MailError:
            pass
        sync.store.close()
