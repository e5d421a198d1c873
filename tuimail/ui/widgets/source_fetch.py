"""Fetching a message's source for the header views (full headers, raw source, route, MIME
tree), as jobs on the pane's connection thread: over IMAP by BODY.PEEK (HEADER, the whole
message, or one part with its MIME header), for POP3 from the local copy.

A job answers with SourceFetched, which the pane hands to the screen that asked
(its source_arrived method); nothing here blocks the event loop.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from textual.message import Message

from tuimail.model.message import MAX_HEADER_BYTES, _parse, _part_tree
from tuimail.protocols.errors import ProtocolError

if TYPE_CHECKING:
    from tuimail.store.folder_sync import FolderSync

WHOLE = ""  # the whole message
HEADER = "HEADER"  # the top-level header block


class SourceTarget(Protocol):
    def source_arrived(self, fetched: "SourceFetched") -> None: ...


@dataclass
class SourceFetched(Message):
    target: object  # a SourceTarget: the screen that asked
    uid: int
    section: str  # WHOLE, HEADER or a part id ("1.2")
    data: bytes | None  # None when it could not be fetched
    error: str = ""


def header_block(raw: bytes) -> bytes:
    """The header block of a whole message, with the blank line that ends it."""
    ends = [(e, n) for e, n in ((raw.find(b"\r\n\r\n"), 4), (raw.find(b"\n\n"), 2)) if e >= 0]
    if not ends:
        return raw[:MAX_HEADER_BYTES]
    end, length = min(ends)
    return raw[: min(end + length, MAX_HEADER_BYTES)]


def part_source(raw: bytes, part_id: str) -> bytes | None:
    """One part of a whole message as the parser sees it: its MIME header and encoded body."""
    msg, problems, _ = _parse(raw)  # the same numbering as parse_message gave the reader
    _, by_id = _part_tree(msg, problems)
    part = by_id.get(part_id)
    if part is None:
        return None
    try:
        return part.as_bytes()
    except (ValueError, LookupError, TypeError, UnicodeError) as exc:
        raise ProtocolError(f"part {part_id} cannot be written out: {exc}") from exc


def from_raw(raw: bytes, section: str) -> bytes | None:
    if section == WHOLE:
        return raw
    if section == HEADER:
        return header_block(raw)
    return part_source(raw, section)


def imap_job(target: object, uid: int, section: str):
    def job(sync: "FolderSync") -> Message:
        session = sync.session
        try:
            if section == HEADER:
                data = session.fetch_header(uid)
            elif section == WHOLE:
                data = session.fetch_raw(uid)
            else:  # the part's own MIME header, then its body as sent
                body = session.fetch_part(uid, section)
                try:
                    head = session.fetch_part(uid, f"{section}.MIME")
                except ProtocolError:  # a single-part message's part 1 has no MIME header of its own
                    head = b""
                data = head + body
        except ProtocolError as exc:  # the server refused; a lost connection is retried by the Connection
            return SourceFetched(target, uid, section, None, str(exc))
        return SourceFetched(target, uid, section, data)

    return job


def pop3_job(target: object, uid: int, section: str):
    def job(sync) -> Message:
        raw = sync.raw(uid, force=True)  # the local copy
        try:
            data = from_raw(raw, section) if raw is not None else None
        except ProtocolError as exc:
            return SourceFetched(target, uid, section, None, str(exc))
        error = "" if data is not None else f"message {uid} has no part {section}"
        return SourceFetched(target, uid, section, data, error)

    return job


def describe(section: str) -> str:
    return {WHOLE: "the whole message", HEADER: "the header block"}.get(section, f"part {section}")


def deliver(message: SourceFetched) -> None:
    """Hand the answer to the screen that asked, if it is still open."""
    target = message.target
    if getattr(target, "is_attached", True):
        target.source_arrived(message)
