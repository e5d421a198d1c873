"""An IMAP session: one logged-in IMAPClient behind a small typed API.

imapclient's byte-keyed results stay in here; callers get model objects and str. Commands
go through _run(), which bounds and times every byte (wire.py), records them in an optional
ProtocolTrace, and turns untagged news (EXISTS, EXPUNGE, VANISHED, flag changes) into
FolderEvents that the caller collects with take_events(). After a connection-level failure
the session is broken: every later call raises the same ConnectError at once.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Iterable

import imapclient
from imapclient.exceptions import IMAPClientError
from imapclient.response_parser import parse_response

from tuimail.model.config import Account, Protocol
from tuimail.model.folder import Folder
from tuimail.model.mailbox import FolderEvents, SelectedFolder
from tuimail.model.secret import Secret
from tuimail.model.uidset import SetError
from tuimail.protocols import imap_responses as R
from tuimail.protocols.connect import (StepHook, close_imap, imap_login, open_imap, tls_info, translate,
                                       where)
from tuimail.protocols.errors import ConnectError, MailError, MailTimeout, ProtocolError
from tuimail.protocols.imap_append import AppendOps
from tuimail.protocols.imap_body import BodyOps
from tuimail.protocols.imap_folder import FolderOps
from tuimail.protocols.imap_idle import IdleOps
from tuimail.protocols.imap_thread import ThreadOps
from tuimail.protocols.tls import TlsInfo
from tuimail.protocols.trace import ProtocolTrace
from tuimail.protocols.wire import ImapLimits, ImapWire, WireLimit

__all__ = ["ImapSession", "ProtocolTrace"]


class ImapSession(FolderOps, BodyOps, IdleOps, ThreadOps, AppendOps):
    """Use as a context manager, or call close(). Not thread-safe: one thread at a time."""

    def __init__(self, client: imapclient.IMAPClient, account: Account, wire: ImapWire | None = None,
                 trace: ProtocolTrace | None = None, disable: Iterable[str] = ()):
        self._client = client
        self.account = account
        self.server = account.imap
        self._where = where(self.server)
        self._client.folder_encode = False  # Folder keeps the raw name and decodes for display
        self.trace = trace
        self._wire = wire
        self._disabled = frozenset(c.upper() for c in disable)
        self.selected: SelectedFolder | None = None
        self._exists = 0  # the selected folder's count, kept current from untagged news
        self._events = FolderEvents()
        self._qresync = False  # ENABLE QRESYNC done
        self._folders: list[Folder] | None = None
        self.broken: MailError | None = None

    @classmethod
    def connect(cls, account: Account, password: Secret, timeout: float | None = None,
                on_step: StepHook | None = None, trace: ProtocolTrace | None = None,
                disable: Iterable[str] = (), limits: ImapLimits | None = None) -> "ImapSession":
        """Open (TLS as configured) and log in; MailError on any failure.

        trace records everything after TLS (the greeting of a STARTTLS connection is not).
        disable hides capabilities (e.g. {"QRESYNC"}) to exercise fallbacks. limits: the
        account's [limits] unless given.
        """
        server = account.server(Protocol.IMAP)
        if server is None:
            raise MailError(f"account '{account.name}' has no [accounts.{account.name}.imap] server")
        client = open_imap(account, server, timeout=timeout, on_step=on_step)
        try:
            wire = ImapWire(getattr(client, "_imap"), timeout or account.timeout, trace,
                            limits or ImapLimits.of(account.limits))
            wire.where = where(server)
            wire.install()
            if trace is not None:
                trace.add_secret(password)
                if client.welcome and server.security.value == "tls":
                    trace.received_line(client.welcome + b"\r\n")
            imap_login(client, account, server, password, on_step=on_step)
            client.capabilities()  # caches the CAPABILITY the login answer carried
            wire.drain()
        except BaseException:
            close_imap(client, logout=False)
            raise
        return cls(client, account, wire, trace, disable)

    def __enter__(self) -> "ImapSession":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def tls(self) -> TlsInfo | None:
        return tls_info(self._client)

    @property
    def exists(self) -> int:
        """The selected folder's message count as of the last response."""
        return self._exists

    def capabilities(self) -> tuple[str, ...]:
        caps = self._call(self._client.capabilities)
        return tuple(c for c in (_str(c).upper() for c in caps) if c not in self._disabled)

    def has_capability(self, name: str) -> bool:
        return name.upper() in self.capabilities()

    def list_folders(self) -> list[Folder]:
        """All folders, with SPECIAL-USE roles when the server offers them (RFC 6154)."""
        if self.has_capability("SPECIAL-USE") and self.has_capability("LIST-EXTENDED"):
            _, _, responses = self._run("LIST", '""', '"*"', "RETURN", "(SPECIAL-USE)")
            data = [d for k, d in responses if k == "LIST" and d not in (b"", None)]
            rows = _list_rows(data)
        else:
            rows = self._call(self._client.list_folders)
        self._folders = [_folder(flags, delimiter, name) for flags, delimiter, name in rows]
        return list(self._folders)

    def folder_by_role(self, role: str) -> Folder | None:
        if self._folders is None:
            self.list_folders()
        return next((f for f in self._folders or () if f.role == role), None)

    def take_events(self) -> FolderEvents:
        """Untagged news about the selected folder since the last call, oldest first."""
        events, self._events = self._events, FolderEvents()
        return events

    def close(self) -> None:
        """LOGOUT and close; never raises."""
        if self._client is not None:
            close_imap(self._client, logout=self.broken is None)
            self._client = None
            if self.broken is None:
                self.broken = ConnectError("session closed", self._where)

    # Plumbing for the ops mixins ---------------------------------------------------------

    def _run(self, name: str, *args: Any, absorb: bool = True) -> tuple[str, list, R.Responses]:
        """Send one command; (tagged type, tagged data, untagged responses). NO/BAD raise."""
        self._usable()
        imap = self._client._imap
        try:
            tag = imap._command(name, *args)
            typ, data = imap._command_complete(name, tag)
        except Exception as exc:
            raise self._fail(exc) from exc
        responses = self._wire.drain() if self._wire else []
        if typ != "OK":
            detail = R.text(b" ".join(d for d in data if isinstance(d, bytes)), 300)
            raise ProtocolError(f"{_command_name(name, args)} refused: {typ} {detail}".strip(), self._where)
        if absorb:
            self._absorb(responses)
        return typ, data, responses

    def _call(self, method: Callable, *args: Any, **kwargs: Any) -> Any:
        """An imapclient method, with our error translation and untagged bookkeeping."""
        self._usable()
        try:
            result = method(*args, **kwargs)
        except Exception as exc:
            raise self._fail(exc) from exc
        if self._wire is not None:
            self._absorb(self._wire.drain())
        return result

    def _absorb(self, responses: R.Responses, answered: Iterable[int] = ()) -> None:
        if self.selected is None:
            return
        try:
            news = R.events(responses, self._exists, self.selected.uidvalidity, answered)
        except R.PARSE_ERRORS as exc:
            raise ProtocolError(f"bad untagged response: {exc}", self._where) from None
        if news.exists is not None:
            self._exists = news.exists
        if news.uidvalidity is not None:
            self.selected = None  # nothing may be mapped onto the new UIDs
        self._events.merge(news)

    def _usable(self) -> None:
        if self.broken is not None:
            raise self.broken
        if self._client is None:
            raise ConnectError("session closed", self._where)

    def _fail(self, exc: BaseException) -> MailError:
        if isinstance(exc, SetError):
            error: MailError = ProtocolError(f"bad response: {exc}", self._where)
        else:
            error = translate(exc, self._where, self.account.timeout)
        if isinstance(error, (ConnectError, MailTimeout, WireLimit)) or isinstance(exc, OSError):
            self.broken = error if isinstance(error, ConnectError) else ConnectError(error.reason, self._where)
            close_imap(self._client, logout=False)
        return error


def _command_name(name: str, args: tuple) -> str:
    if name == "UID" and args:
        return f"UID {args[0]}"
    return name


# One LIST line as Dovecot sends a mailbox name it need not quote: "[" and "x[y" are atoms to
# it, but imapclient's parser reads "[" as the start of a bracketed section and gives up.
_LIST_LINE = re.compile(rb'\((?P<flags>[^)]*)\)[ ]+(?P<delim>NIL|"(?:[^"\\]|\\.)*")[ ]+(?P<name>[^ "{(][^ ]*)$')


def _list_rows(data: list) -> list[tuple]:
    """(flags, delimiter, name) of each LIST line; a line imapclient cannot parse is read by
    _LIST_LINE, and one that neither can read is left out rather than losing the whole list."""
    rows: list[tuple] = []
    for item in data:
        try:
            rows.extend(tuple(row) for row in _chunk3(parse_response([item])))
            continue
        except (ValueError, IndexError, IMAPClientError):
            pass
        found = _LIST_LINE.match(item.strip()) if isinstance(item, bytes) else None
        if found is not None:
            delim = found["delim"]
            delimiter = None if delim == b"NIL" else delim[1:-1].replace(b'\\"', b'"').replace(b"\\\\", b"\\")
            rows.append((tuple(found["flags"].split()), delimiter, found["name"]))
    return rows


def _chunk3(items: Iterable) -> Iterable[tuple]:
    items = list(items)
    for i in range(0, len(items) - 2, 3):
        yield items[i], items[i + 1], items[i + 2]


def _str(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _folder(flags: Iterable, delimiter: object, name: object) -> Folder:
    return Folder.from_list(
        name=_str(name),
        delimiter=_str(delimiter) if delimiter is not None else None,
        flags=tuple(_str(f) for f in flags),
    )
