"""Storing messages with ImapSession: APPEND (filing a sent message, saving a draft) and
finding a message by its Message-ID. A mixin: it relies on ImapSession's _run plumbing."""
from __future__ import annotations

import imaplib
import re
from datetime import datetime
from typing import TYPE_CHECKING, Iterable

from tuimail.model.uidset import number
from tuimail.protocols import imap_responses as R
from tuimail.protocols.errors import ProtocolError
from tuimail.protocols.imap_folder import flag_list, mailbox_arg

if TYPE_CHECKING:
    from tuimail.protocols.imap import ImapSession

_LINE_ENDS = re.compile(rb"\r\n|\r|\n")
_MESSAGE_ID = re.compile(r"^<?[\x21-\x7e]{1,995}>?$")


class AppendOps:
    def append(self: "ImapSession", folder: str, raw: bytes, flags: Iterable[str] = ("\\Seen",),
               when: datetime | None = None) -> int | None:
        """APPEND raw (line ends made CRLF) to folder with flags; the new message's UID when
        the server says (UIDPLUS APPENDUID), else None. ProtocolError when refused."""
        if b"\0" in raw:
            raise ValueError("a message with a NUL byte cannot be appended")
        args: list = [mailbox_arg(folder), flag_list(flags)]
        if when is not None:
            args.append(imaplib.Time2Internaldate(when))
        self._usable()
        self._client._imap.literal = _LINE_ENDS.sub(b"\r\n", raw)
        try:
            _, _, responses = self._run("APPEND", *args, absorb=False)
        finally:
            self._client._imap.literal = None
        self._absorb(responses)
        answer = R.last(responses, "APPENDUID")
        if not answer:
            return None
        try:
            return number(answer.split()[1], "APPENDUID")
        except (IndexError, ValueError, *R.PARSE_ERRORS):
            return None

    def find_message_id(self: "ImapSession", folder: str, message_id: str) -> list[int]:
        """UIDs in folder whose Message-ID header contains message_id (selects the folder
        read-only). [] for an id that cannot be searched for safely."""
        message_id = message_id.strip()
        if not _MESSAGE_ID.match(message_id):
            return []
        self.select(folder, readonly=True)
        quoted = '"' + message_id.replace("\\", "\\\\").replace('"', '\\"') + '"'
        _, _, responses = self._run("UID", "SEARCH", "HEADER", "Message-ID", quoted)
        try:
            return sorted(set(R.search(responses)))
        except R.PARSE_ERRORS as exc:
            raise ProtocolError(f"bad SEARCH answer: {exc}", self._where) from None
