"""An IMAP session: one logged-in IMAPClient behind a small typed API.

imapclient's byte-keyed results stay in here; callers get model objects and str.
"""
from __future__ import annotations

from typing import Iterable

import imapclient
from imapclient.response_parser import parse_response

from tuimail.model.config import Account, Protocol
from tuimail.model.folder import Folder
from tuimail.model.secret import Secret
from tuimail.protocols.connect import (StepHook, close_imap, imap_login, open_imap, tls_info, translate,
                                       where)
from tuimail.protocols.errors import MailError
from tuimail.protocols.tls import TlsInfo


class ImapSession:
    """Use as a context manager, or call close()."""

    def __init__(self, client: imapclient.IMAPClient, account: Account):
        self._client = client
        self.account = account
        self.server = account.imap
        self._where = where(self.server)
        self._client.folder_encode = False  # Folder keeps the raw name and decodes for display

    @classmethod
    def connect(cls, account: Account, password: Secret, timeout: float | None = None,
                on_step: StepHook | None = None) -> "ImapSession":
        """Open (TLS as configured) and log in; MailError on any failure."""
        server = account.server(Protocol.IMAP)
        if server is None:
            raise MailError(f"account '{account.name}' has no [accounts.{account.name}.imap] server")
        client = open_imap(account, server, timeout=timeout, on_step=on_step)
        try:
            imap_login(client, account, server, password, on_step=on_step)
        except BaseException:
            close_imap(client, logout=False)
            raise
        return cls(client, account)

    def __enter__(self) -> "ImapSession":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def tls(self) -> TlsInfo | None:
        return tls_info(self._client)

    def capabilities(self) -> tuple[str, ...]:
        try:
            return tuple(_str(c) for c in self._client.capabilities())
        except Exception as exc:
            raise translate(exc, self._where, self.account.timeout) from exc

    def has_capability(self, name: str) -> bool:
        return name.upper() in self.capabilities()

    def list_folders(self) -> list[Folder]:
        """All folders, with SPECIAL-USE roles when the server offers them (RFC 6154)."""
        try:
            if self.has_capability("SPECIAL-USE") and self.has_capability("LIST-EXTENDED"):
                rows = self._list_special_use()
            else:
                rows = self._client.list_folders()
        except MailError:
            raise
        except Exception as exc:
            raise translate(exc, self._where, self.account.timeout) from exc
        return [_folder(flags, delimiter, name) for flags, delimiter, name in rows]

    def _list_special_use(self) -> list[tuple]:
        # imapclient has no LIST RETURN (...) option; send it through imaplib, parse as imapclient does.
        imap = self._client._imap
        typ, data = imap._simple_command("LIST", '""', '"*"', "RETURN", "(SPECIAL-USE)")
        self._client._checkok("list", typ, data)
        typ, data = imap._untagged_response(typ, data, "LIST")
        data = [item for item in data if item not in (b"", None)]
        return [tuple(row) for row in _chunk3(parse_response(data))]

    def close(self) -> None:
        """LOGOUT and close; never raises."""
        if self._client is not None:
            close_imap(self._client)
            self._client = None


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
