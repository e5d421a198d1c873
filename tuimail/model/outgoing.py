"""A message on its way out, as raw bytes: the header facts sending needs, read without
re-serialising anything (a forwarded original must leave byte for byte as it came).

Pure: no I/O. The header section is read with the compat32 parser, which never raises on odd
headers; only the fields this module removes or adds are touched, and every other byte stays.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from email.utils import format_datetime, getaddresses, make_msgid

from tuimail.model.text import one_line

# Header fields that name recipients to hide: removed before the message is stored or sent.
HIDDEN_FIELDS = ("bcc", "resent-bcc")
RECIPIENT_FIELDS = ("to", "cc", "bcc")
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_FIELD_NAME = re.compile(rb"^([\x21-\x39\x3b-\x7e]+)[ \t]*:")
# What an envelope address may hold: no spaces, controls, angle brackets or quotes-to-break-out.
_ADDRESS = re.compile(r'^(?:"[^"\\\x00-\x1f\x7f]*"|[^\s<>@"\x00-\x1f\x7f]+)@[^\s<>@"\x00-\x1f\x7f]+$')


def split_head(raw: bytes) -> tuple[bytes, bytes]:
    """(header section including its line ends, the rest: the blank line and the body)."""
    match = _BLANK_LINE.search(raw)
    if raw.startswith((b"\r\n", b"\n")):
        return b"", raw
    if match is None:
        return raw, b""
    end = match.start() + (2 if raw[match.start():match.start() + 2] == b"\r\n" else 1)
    return raw[:end], raw[end:]


def _fields(head: bytes) -> list[tuple[str, bytes]]:
    """(lowercased name, the field's bytes with its folded lines) in order; a line that is no
    field and no continuation is kept with the field before it."""
    fields: list[tuple[str, bytes]] = []
    for line in head.splitlines(keepends=True):
        match = _FIELD_NAME.match(line)
        if match is None and fields:
            name, data = fields[-1]
            fields[-1] = (name, data + line)
        else:
            name = match.group(1).decode("ascii").lower() if match else ""
            fields.append((name, line))
    return fields


def strip_fields(raw: bytes, names: tuple[str, ...] = HIDDEN_FIELDS) -> bytes:
    """raw without the named header fields (continuation lines included); the rest unchanged."""
    head, rest = split_head(raw)
    kept = [data for name, data in _fields(head) if name not in names]
    return b"".join(kept) + rest


def has_field(raw: bytes, name: str) -> bool:
    return any(n == name.lower() for n, _ in _fields(split_head(raw)[0]))


def header_values(raw: bytes, name: str) -> list[str]:
    """Every value of the named field, unfolded, RFC 2047 words left as they are."""
    head = split_head(raw)[0]
    parsed = BytesHeaderParser().parsebytes(head + b"\n")
    return [_utf8(str(v)) for v in parsed.get_all(name, [])]


def _utf8(text: str) -> str:
    """Bytes that are not UTF-8 (kept by the parser as surrogates) as U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def decoded_header(raw: bytes, name: str) -> str:
    """The first value of a field, RFC 2047 decoded, on one line, safe to show."""
    values = header_values(raw, name)
    if not values:
        return ""
    try:
        text = str(make_header(decode_header(values[0])))
    except (ValueError, LookupError, UnicodeError):
        text = values[0]
    return one_line(text, 500)


def addresses(raw: bytes, names: tuple[str, ...] = RECIPIENT_FIELDS) -> list[str]:
    """The bare addresses in the named fields, in order, each once."""
    values = [v for name in names for v in header_values(raw, name)]
    found: list[str] = []
    for _, address in getaddresses(values):
        if address and address not in found:
            found.append(address)
    return found


def check_address(address: str) -> str:
    """address if it can go into MAIL FROM or RCPT TO as is; ValueError otherwise."""
    if not isinstance(address, str) or not _ADDRESS.match(address) or len(address) > 320 or \
            "\ufffd" in address or not address.isprintable():
        raise ValueError(f"not an email address for the envelope: {one_line(repr(address), 120)}")
    return address


def message_id(raw: bytes) -> str:
    values = header_values(raw, "message-id")
    return values[0].strip() if values else ""


def with_required_fields(raw: bytes, domain: str, now: datetime | None = None) -> bytes:
    """raw with a Message-ID and a Date added on top when it has none (RFC 5322 wants both,
    and the Sent folder is searched by Message-ID); nothing else changes."""
    head, _ = split_head(raw)
    eol = b"\r\n" if b"\r\n" in head or (not head and b"\r\n" in raw) else b"\n"
    added = b""
    if not has_field(raw, "date"):
        when = now or datetime.now(timezone.utc)
        added += b"Date: " + format_datetime(when).encode("ascii") + eol
    if not has_field(raw, "message-id"):
        safe_domain = re.sub(r"[^A-Za-z0-9.-]", "", domain) or "localhost"
        added += b"Message-ID: " + make_msgid(domain=safe_domain).encode("ascii") + eol
    return added + raw


def needs_smtputf8(raw: bytes, envelope: list[str]) -> bool:
    """Non-ASCII in an envelope address or in the header section (RFC 6531)."""
    return not all(a.isascii() for a in envelope) or not split_head(raw)[0].isascii()


def has_8bit(raw: bytes) -> bool:
    return not raw.isascii()
