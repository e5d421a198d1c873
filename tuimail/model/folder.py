"""A mailbox as the server lists it: its raw name for commands, and a safe name for display."""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Iterable

from tuimail.model.text import strip_controls

ROLES = ("inbox", "sent", "drafts", "trash", "junk", "archive")

# RFC 6154 SPECIAL-USE attributes (and XLIST's \Inbox), compared case-insensitively.
_ROLE_FLAGS = {
    "\\inbox": "inbox",
    "\\sent": "sent",
    "\\drafts": "drafts",
    "\\trash": "trash",
    "\\junk": "junk",
    "\\archive": "archive",
}


@dataclass(frozen=True)
class Folder:
    name: str  # exactly as the server sent it; use this in commands
    display: str  # decoded from modified UTF-7, controls stripped; use this on screen
    delimiter: str | None
    flags: tuple[str, ...] = ()
    role: str | None = None  # one of ROLES, or None

    @classmethod
    def from_list(cls, name: str, delimiter: str | None, flags: Iterable[str]) -> "Folder":
        """A Folder from one LIST response line (already turned into strings)."""
        flags = tuple(flags)
        return cls(name=name, display=display_name(name), delimiter=delimiter or None,
                   flags=flags, role=folder_role(name, flags))

    @property
    def selectable(self) -> bool:
        lowered = {f.lower() for f in self.flags}
        return not ({"\\noselect", "\\nonexistent"} & lowered)


def folder_role(name: str, flags: Iterable[str]) -> str | None:
    """The role from SPECIAL-USE flags; INBOX (any case) is always the inbox."""
    if name.upper() == "INBOX":
        return "inbox"
    for flag in flags:
        role = _ROLE_FLAGS.get(flag.lower())
        if role is not None:
            return role
    return None


def display_name(raw: str) -> str:
    """The name to show: decoded when it is valid modified UTF-7, else the raw text, inert."""
    try:
        decoded = decode_modified_utf7(raw)
    except ValueError:
        decoded = raw
    return strip_controls(decoded)


def decode_modified_utf7(raw: str) -> str:
    """Decode IMAP modified UTF-7 (RFC 3501 5.1.3); ValueError when it is not valid.

    Characters outside ASCII pass through, for servers that send UTF-8 names (UTF8=ACCEPT).
    """
    out: list[str] = []
    i, n = 0, len(raw)
    while i < n:
        ch = raw[i]
        if ch != "&":
            out.append(ch)
            i += 1
            continue
        end = raw.find("-", i + 1)
        if end < 0:
            raise ValueError("unterminated '&' shift in modified UTF-7")
        chunk = raw[i + 1:end]
        i = end + 1
        if not chunk:
            out.append("&")
            continue
        out.append(_decode_base64_utf16(chunk))
    return "".join(out)


def _decode_base64_utf16(chunk: str) -> str:
    if any(c not in _B64_ALPHABET for c in chunk):
        raise ValueError("invalid character in modified UTF-7 shift")
    padded = chunk.replace(",", "/") + "=" * (-len(chunk) % 4)
    try:
        data = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("invalid base64 in modified UTF-7") from None
    if len(data) % 2:
        raise ValueError("odd byte count in modified UTF-7")
    try:
        return data.decode("utf-16-be")
    except UnicodeDecodeError:
        raise ValueError("invalid UTF-16 in modified UTF-7") from None


_B64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,")
