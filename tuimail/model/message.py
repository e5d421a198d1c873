"""Parsing a whole raw message (POP3, --raw, saved files) into what a reader shows.

Hostile input is the normal case: sizes are capped before parsing, nesting is walked without
recursion, charsets and encodings never raise, and every problem is reported, not thrown.
"""
from __future__ import annotations

import email.parser
import re
import email.policy
from dataclasses import dataclass, field
from email.message import Message
from email.utils import collapse_rfc2231_value

from tuimail.model.address import Address, parse_addresses
from tuimail.model.decode import MAX_HEADER_CHARS, decode_bytes, decode_header, decode_transfer
from tuimail.model.html import html_to_text
from tuimail.model.limits import DEFAULT_LIMITS, Limits, mime_depth_cut, mime_parts_cut, over
from tuimail.model.mime import MimePart, attachments, display_part
from tuimail.model.text import one_line, strip_controls

# The default caps (config [limits]), for callers that have no account at hand.
MAX_MESSAGE_BYTES = DEFAULT_LIMITS.message_bytes
MAX_HEADER_BYTES = DEFAULT_LIMITS.header_bytes
MAX_PARTS = DEFAULT_LIMITS.mime_parts
MAX_DEPTH = DEFAULT_LIMITS.mime_depth
_SURROGATE = re.compile("[\udc80-\udcff]")


@dataclass(frozen=True)
class ParsedMessage:
    headers: tuple[tuple[str, str], ...]  # (name, decoded value), in order, controls stripped
    root: MimePart
    body: str  # the display text, controls stripped
    body_kind: str  # "plain" | "html" | "none"
    problems: tuple[str, ...] = field(default=())
    raw_headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # undecoded values

    def header(self, name: str) -> str:
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return ""

    def header_all(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self.headers if key.lower() == name]

    def addresses(self, name: str) -> tuple[Address, ...]:
        """Addresses of every `name` header, split before decoding (see address.py)."""
        name = name.lower()
        found: list[Address] = []
        for key, value in self.raw_headers:
            if key.lower() == name:
                found.extend(parse_addresses(value))
        return tuple(found)

    @property
    def attachments(self) -> list[MimePart]:
        return attachments(self.root)


def _parse(raw: bytes, limits: Limits = DEFAULT_LIMITS) -> tuple[Message, list[str], bool]:
    """The parsed message, problems met, and whether MIME structure had to be given up."""
    problems: list[str] = []
    if len(raw) > limits.message_bytes:
        problems.append(over("message", "message_bytes", limits.message_bytes) + "; the rest is not shown")
        raw = raw[:limits.message_bytes]
    ends = [e for e in (raw.find(b"\n\n"), raw.find(b"\r\n\r\n")) if e >= 0]
    head_len = min(ends) if ends else len(raw)
    if head_len > limits.header_bytes:
        problems.append(over("header block", "header_bytes", limits.header_bytes) + "; the rest is not shown")
        head = raw[:limits.header_bytes]
        raw = head[: head.rfind(b"\n") + 1] + b"\n" + raw[head_len:]
    parser = email.parser.BytesParser(policy=email.policy.compat32)
    try:
        return parser.parsebytes(raw), problems, False
    except (RecursionError, MemoryError):
        problems.append("MIME nesting too deep to parse; the body is shown as plain text")
        return parser.parsebytes(raw, headersonly=True), problems, True


def _raw_text(value: str) -> str:
    """A header value as text, raw 8-bit bytes decoded, encoded-words left alone."""
    if _SURROGATE.search(value):
        return decode_bytes(value.encode("utf-8", errors="surrogateescape"), None)
    return value


def _one_line(value: str) -> str:
    return one_line(value, MAX_HEADER_CHARS)


def _header_text(msg: Message, name: str) -> str:
    for key, value in msg.raw_items():
        if key.lower() == name.lower():
            return _one_line(decode_header(value))
    return ""


def _part_tree(msg: Message, problems: list[str],
               limits: Limits = DEFAULT_LIMITS) -> tuple[MimePart, dict[str, Message]]:
    """Our MimePart tree with IMAP section numbers, plus a map part_id -> email Message."""
    by_id: dict[str, Message] = {}
    count = 0

    def describe(part: Message, part_id: str, children: tuple[MimePart, ...]) -> MimePart:
        ctype = (part.get_content_type() or "text/plain").lower()
        params = tuple((k.lower(), _one_line(decode_header(collapse_rfc2231_value(v))))
                       for k, v in (part.get_params() or [])[1:] if isinstance(k, str))
        filename = None
        try:
            filename = part.get_filename()
        except (ValueError, LookupError, TypeError):
            problems.append(f"part {part_id or 'root'}: unreadable file name")
        payload = part.get_payload(decode=False)
        size = len(payload) if isinstance(payload, (str, bytes)) else 0
        disposition = part.get_content_disposition()
        return MimePart(
            part_id=part_id, content_type=ctype, params=params,
            encoding=(part.get("Content-Transfer-Encoding") or "").strip().lower() or None,
            size=size, disposition=disposition,
            filename=_one_line(decode_header(filename)) if filename else None,
            content_id=_header_text(part, "Content-ID") or None,
            description=_header_text(part, "Content-Description") or None,
            children=children,
        )

    # Walk top-down without recursion, recording each part's IMAP section; then build the
    # frozen tree bottom-up. Parts are tracked by identity: a message/rfc822 part and the
    # multipart message inside it share one section number.
    order: list[tuple[Message, str]] = []
    stack: list[tuple[Message, str, int]] = [(msg, "" if msg.is_multipart() else "1", 0)]
    while stack:
        part, part_id, depth = stack.pop()
        count += 1
        if count > limits.mime_parts:
            problems.append(mime_parts_cut(limits.mime_parts))
            break
        order.append((part, part_id))
        payload = part.get_payload()
        if not isinstance(payload, list):
            by_id[part_id] = part
            continue
        if depth >= limits.mime_depth:
            problems.append(mime_depth_cut(limits.mime_depth))
            continue
        stack.extend(reversed([(c, sec, depth + 1) for c, sec in child_sections(part, part_id)]))

    built: dict[int, MimePart] = {}
    for part, part_id in reversed(order):
        payload = part.get_payload()
        kids = [built[id(c)] for c in payload if id(c) in built] if isinstance(payload, list) else []
        built[id(part)] = describe(part, part_id, tuple(kids))
    return built[id(msg)], by_id


def part_text(part: MimePart, payload: bytes, transfer_decoded: bool = False,
              limits: Limits = DEFAULT_LIMITS) -> tuple[str, list[str]]:
    """Display text for a text part's payload: transfer-decoded, charset-decoded, HTML flattened."""
    problems: list[str] = []
    data, problem = (payload, None) if transfer_decoded else decode_transfer(payload, part.encoding)
    if problem:
        problems.append(f"part {part.part_id}: {problem}")
    charset = part.charset
    if charset and charset.lower() in ("utf-7", "unicode-1-1-utf-7") and part.subtype == "html":
        charset = "ascii"  # UTF-7 HTML is an XSS vector elsewhere; here it is only ever text
    text = decode_bytes(data, charset)
    if part.content_type == "text/html":
        text, html_problems = html_to_text(text, limits)
        problems.extend(html_problems)
    if len(text) > limits.body_chars:
        problems.append(over("body", "body_chars", limits.body_chars) + "; the rest is not shown")
        text = text[:limits.body_chars]
    return strip_controls(text), problems


def child_sections(part: Message, part_id: str) -> list[tuple[Message, str]]:
    """A multipart's (or message/rfc822's) children with their IMAP section numbers. The
    multipart inside a message/rfc822 part shares the part's number (RFC 3501 6.4.5)."""
    payload = part.get_payload()
    children = [c for c in payload if isinstance(c, Message)] if isinstance(payload, list) else []
    if part.get_content_type() == "message/rfc822":
        return [(c, part_id if c.is_multipart() else f"{part_id}.1") for c in children[:1]]
    return [(c, f"{part_id}.{i}" if part_id else str(i)) for i, c in enumerate(children, 1)]


def parse_message(raw: bytes, limits: Limits = DEFAULT_LIMITS) -> ParsedMessage:
    """What a reader sees of raw message bytes; never raises on hostile content."""
    msg, problems, flat = _parse(raw, limits)
    headers = tuple((_one_line(str(name)), _one_line(decode_header(str(value))))
                    for name, value in msg.raw_items())
    if flat:
        msg.set_type("text/plain")
    for defect in getattr(msg, "defects", [])[:5]:
        problems.append(f"defect: {type(defect).__name__}")
    root, by_id = _part_tree(msg, problems, limits)
    chosen = display_part(root)
    body, kind = "", "none"
    if chosen is not None:
        source = by_id.get(chosen.part_id)
        # decode=True undoes the transfer encoding (tolerating bad base64) and gives bytes
        payload = source.get_payload(decode=True) if source is not None else b""
        if not isinstance(payload, bytes):
            payload = b""
        body, body_problems = part_text(chosen, payload, transfer_decoded=True, limits=limits)
        problems.extend(body_problems)
        kind = "html" if chosen.content_type == "text/html" else "plain"
    raw_headers = tuple((str(name), _raw_text(str(value))) for name, value in msg.raw_items())
    return ParsedMessage(headers=headers, root=root, body=body, body_kind=kind, problems=tuple(problems),
                         raw_headers=raw_headers)


def part_bytes(raw: bytes, part_id: str, limits: Limits = DEFAULT_LIMITS) -> bytes | None:
    """The transfer-decoded payload of one part (as parse_message numbers them), or None
    when the message has no such leaf part."""
    msg, problems, _ = _parse(raw, limits)
    _, by_id = _part_tree(msg, problems, limits)
    part = by_id.get(part_id)
    if part is None:
        return None
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""
