"""Fetching a message's source for the header views (full headers, raw source, route, MIME
tree), as jobs on the pane's connection thread: over IMAP by BODY.PEEK (HEADER, the whole
message, one part with its MIME header, or the message a message/rfc822 part carries), for
POP3 from the local copy.

A job answers with SourceFetched, which the pane hands to the screen that asked
(its source_arrived method); nothing here blocks the event loop.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from textual.message import Message

from tuimail.model.decode import decode_transfer
from tuimail.model.limits import over
from tuimail.model.message import MAX_HEADER_BYTES, _parse, _part_tree
from tuimail.protocols.errors import ProtocolError

if TYPE_CHECKING:
    from tuimail.store.folder_sync import FolderSync

WHOLE = ""  # the whole message
HEADER = "HEADER"  # the top-level header block
ATTACHED = "message:"  # + a part id: the message a message/rfc822 part carries, as it was sent
_BLANK = re.compile(rb"\n\r?\n")  # the end of a header block


def attached_section(part_id: str) -> str:
    return ATTACHED + part_id


def attached_part(section: str) -> str | None:
    """The part id of an attached-message section, else None."""
    return section[len(ATTACHED):] if section.startswith(ATTACHED) else None


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


def _head_body(entity: bytes) -> tuple[bytes, bytes]:
    """An entity's header block and its body, split at the first empty line."""
    if entity.startswith((b"\r\n", b"\n")):
        return b"", entity[2 if entity.startswith(b"\r") else 1:]
    found = _BLANK.search(entity)
    return (entity, b"") if found is None else (entity[:found.start() + 1], entity[found.end():])


def _content(head: bytes) -> tuple[str, bytes | None, str | None]:
    """(content type, boundary, transfer encoding) of a header block; text/plain by default."""
    import email.parser
    import email.policy

    fields = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(head + b"\n")
    boundary = fields.get_param("boundary") if fields.get_content_maintype() == "multipart" else None
    if isinstance(boundary, tuple):  # RFC 2231 parameter
        boundary = boundary[2]
    cte = fields.get("Content-Transfer-Encoding")
    return (fields.get_content_type().lower(), boundary.encode("utf-8", "surrogateescape") if boundary else None,
            str(cte).strip().lower() if cte else None)


def _parts(body: bytes, boundary: bytes) -> list[bytes]:
    """A multipart body's parts, each with its MIME header; the line end before a delimiter
    belongs to the delimiter (RFC 2046 5.1.1), so each part's bytes are as they were sent."""
    delimiter = re.compile(rb"^--" + re.escape(boundary) + rb"(--)?[ \t]*\r?$", re.MULTILINE)
    parts: list[bytes] = []
    start: int | None = None
    for found in delimiter.finditer(body):
        if start is not None:
            end = found.start()
            end -= 2 if body[end - 2:end] == b"\r\n" else 1 if body[end - 1:end] == b"\n" else 0
            parts.append(body[start:max(end, start)])
        if found.group(1):
            return parts
        start = found.end() + (1 if body[found.end():found.end() + 1] == b"\n" else 0)
    if start is not None:  # no close delimiter: the last part runs to the end
        parts.append(body[start:])
    return parts


def _children(entity: bytes, is_message: bool) -> list[bytes]:
    """The entities numbered below this one: a multipart's parts; for a message (the whole
    one, or one carried by a message/rfc822 part) its parts when it is multipart, else the
    message itself (its part 1), as IMAP numbers them (RFC 3501 6.4.5)."""
    head, body = _head_body(entity)
    ctype, boundary, _ = _content(head)
    if ctype.startswith("multipart/"):
        return _parts(body, boundary) if boundary else []
    return [entity] if is_message else []


def encapsulated(raw: bytes, part_id: str) -> bytes | None:
    """The body of a message/rfc822 part of raw, as its bytes stand in raw (what IMAP's
    BODY[part] gives); None when raw has no such part. Part ids as parse_message and IMAP
    number them. A transfer encoding (RFC 2046 forbids one there, but senders use it) is the
    caller's to undo, by the part's encoding, as for BODY[part]."""
    numbers = part_id.split(".")
    if not all(n.isdigit() and 0 < int(n) < 100_000 for n in numbers):
        return None
    entity, is_message, body = raw, True, b""
    for number in numbers:
        children = _children(entity, is_message)
        if int(number) > len(children):
            return None
        head, body = _head_body(children[int(number) - 1])
        ctype, _, cte = _content(head)
        is_message = ctype == "message/rfc822"
        # what comes below a message/rfc822 part is numbered in the message it carries
        entity = decode_transfer(body, cte)[0] if is_message else children[int(number) - 1]
    return body if is_message else None


def from_raw(raw: bytes, section: str) -> bytes | None:
    if section == WHOLE:
        return raw
    if section == HEADER:
        return header_block(raw)
    part_id = attached_part(section)
    if part_id is not None:
        return encapsulated(raw, part_id)
    return part_source(raw, section)


def imap_job(target: object, uid: int, section: str):
    def job(sync: "FolderSync") -> Message:
        session = sync.session
        try:
            if section == HEADER:
                data = session.fetch_header(uid)
            elif section == WHOLE:
                data = session.fetch_raw(uid)
            elif (part_id := attached_part(section)) is not None:  # the carried message, byte for byte
                data = _attached(session, uid, part_id)
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


def _attached(session, uid: int, part_id: str) -> bytes:
    """BODY.PEEK[part] of a message/rfc822 part: the message it carries, as it was sent."""
    data = session.fetch_part(uid, part_id)
    cap = session.account.limits.message_bytes
    if len(data) > cap:
        raise ProtocolError(over(f"the message attached as part {part_id} of UID {uid}", "message_bytes", cap))
    return data


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
    part_id = attached_part(section)
    if part_id is not None:
        return f"the message attached as part {part_id}"
    return {WHOLE: "the whole message", HEADER: "the header block"}.get(section, f"part {section}")


def deliver(message: SourceFetched) -> None:
    """Hand the answer to the screen that asked, if it is still open."""
    target = message.target
    if getattr(target, "is_attached", True):
        target.source_arrived(message)
