"""POP3 facts with no I/O: which UIDLs can be trusted, the keys and file names derived from
them, index rows from a TOP header block, and the keep-on-server policy as a pure function.

A message is known locally by a *key*:
- its UIDL, when the UIDL is valid (RFC 1939: 1 to 70 characters in 0x21-0x7E) and unique
  in the server's listing; only such messages may ever be deleted on the server;
- otherwise (no UIDL support, an empty, overlong, control-character or duplicated UIDL) a
  fallback key from the Message-ID and the size, or from a hash of the header block when
  there is no Message-ID. Such messages are downloaded once and never deleted on the server.
Fallback keys contain a space, which no valid UIDL can, so the two never collide.
File names never contain a UIDL, only the SHA-256 of the key.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from tuimail.model.summary import MessageSummary
from tuimail.model.text import one_line

MAX_UIDL = 70
DAY = 86_400.0
_PRINTABLE = re.compile(rb"[\x21-\x7e]+")


def uidl_problem(uidl: bytes | None) -> str | None:
    """Why this UIDL cannot be trusted as a message's identity, or None when it can."""
    if uidl is None:
        return "no UIDL"
    if not uidl:
        return "empty UIDL"
    if len(uidl) > MAX_UIDL:
        return f"UIDL longer than {MAX_UIDL} characters"
    if not _PRINTABLE.fullmatch(uidl):
        return "UIDL with control, space or non-ASCII characters"
    return None


def key_hash(key: str) -> str:
    """The SHA-256 of a key, hex: the only form of it ever used in a file name."""
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def uidl_key(uidl: bytes) -> str:
    return uidl.decode("ascii")  # callers check uidl_problem() first: printable ASCII only


def fallback_key(header: bytes, size: int) -> str:
    """A key for a message without a trustworthy UIDL: Message-ID plus size (the documented
    dedupe), or a hash of the header block when the message has no Message-ID."""
    message_id = header_message_id(header)
    if message_id:
        return f"msgid {size} {message_id}"
    return f"head {size} {hashlib.sha256(header).hexdigest()}"


def is_uidl_key(key: str) -> bool:
    return " " not in key


def show_key(key: str, limit: int = 80) -> str:
    """A key as text safe to print (a UIDL from the server may hold anything)."""
    return one_line("".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in key), limit)


def header_message_id(header: bytes) -> str:
    """The Message-ID of a header block (folded or not), one line; "" when there is none."""
    lines = header.replace(b"\r\n", b"\n").split(b"\n")
    for i, raw in enumerate(lines):
        if not raw:
            break
        if raw[:11].lower() == b"message-id:":
            value = [raw[11:]]
            for more in lines[i + 1:]:
                if not more[:1] in (b" ", b"\t"):
                    break
                value.append(more)
            return one_line(b" ".join(value).decode("utf-8", "replace"), 998)
    return ""


def parse_date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        from email.utils import parsedate_to_datetime  # email loads when a header is parsed

        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def summary_from_header(uid: int, header: bytes, size: int, flags: frozenset[str] = frozenset(),
                        structure: bool = False) -> MessageSummary:
    """An index row from a header block (TOP n 0) or a whole message (structure=True keeps
    the MIME tree, so the index can show attachments)."""
    from tuimail.model.message import parse_message  # email parsing: only when headers arrive

    parsed = parse_message(header if structure else _headers_only(header))
    return MessageSummary(
        uid=uid, subject=parsed.header("Subject"), sender=parsed.addresses("From"),
        to=parsed.addresses("To"), cc=parsed.addresses("Cc"), reply_to=parsed.addresses("Reply-To"),
        date=parse_date(parsed.header("Date")), message_id=one_line(parsed.header("Message-ID"), 998),
        in_reply_to=one_line(parsed.header("In-Reply-To"), 998), flags=frozenset(flags), size=size,
        structure=parsed.root if structure else None,
    )


def _headers_only(data: bytes) -> bytes:
    data = data.replace(b"\r\n", b"\n")
    end = data.find(b"\n\n")
    return (data if end < 0 else data[:end]).rstrip(b"\n") + b"\n\n"


# ---------------------------------------------------------------- keep policy

@dataclass(frozen=True)
class KeepPolicy:
    keep_on_server: bool = True
    delete_after_days: int | None = None
    delete_when_deleted_locally: bool = False

    @classmethod
    def of(cls, account) -> "KeepPolicy":
        return cls(account.keep_on_server, account.delete_after_days,
                   account.delete_on_server_when_deleted_locally)

    def describe(self) -> str:
        if not self.keep_on_server:
            rule = "delete on the server after download"
        elif self.delete_after_days:
            rule = f"keep on the server for {self.delete_after_days} days after download"
        else:
            rule = "keep on the server"
        if self.delete_when_deleted_locally:
            rule += "; delete on the server when deleted here"
        return rule


@dataclass(frozen=True)
class Holding:
    """What the policy needs to know about one message on the server."""
    key: str
    stored_at: float | None  # when the local copy became durable; None: no local copy
    deleted_locally: bool = False


def deletion_reason(policy: KeepPolicy, holding: Holding, now: float) -> str | None:
    """Why the policy deletes this message on the server now, or None to keep it. Only a
    trusted UIDL with a durable local copy is ever deleted."""
    if not is_uidl_key(holding.key) or holding.stored_at is None:
        return None
    if holding.deleted_locally and policy.delete_when_deleted_locally:
        return "deleted locally"
    if not policy.keep_on_server:
        return "downloaded (keep_on_server = false)"
    if policy.delete_after_days and now - holding.stored_at >= policy.delete_after_days * DAY:
        return f"stored locally for {policy.delete_after_days} days or more"
    return None
