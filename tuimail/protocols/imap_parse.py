"""imapclient's FETCH results (byte-keyed dicts, Envelope, BodyData) turned into model objects.

Everything from the server is untrusted: sizes are bounded, strings are decoded with
replacement, nesting and part count follow the account's [limits] (mime_depth, mime_parts), and
a malformed item yields a partial summary, not an exception.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote_to_bytes

from tuimail.model.address import Address
from tuimail.model.decode import decode_bytes, decode_header
from tuimail.model.limits import DEFAULT_LIMITS, Limits, mime_depth_cut, mime_parts_cut
from tuimail.model.mime import MimePart
from tuimail.model.summary import MessageSummary
from tuimail.model.text import one_line

MAX_UID = 2**32 - 1
MAX_SIZE = 2**53  # RFC822.SIZE beyond this is a lie

FETCH_ITEMS = ["UID", "FLAGS", "ENVELOPE", "INTERNALDATE", "RFC822.SIZE", "BODYSTRUCTURE"]


def text(value: Any, limit: int = 2_000) -> str:
    """A server string (bytes, str or None) as one safe display line."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = decode_bytes(value, "utf-8")
    return one_line(str(value), limit)


def header_text(value: Any, limit: int = 2_000) -> str:
    """An ENVELOPE string, which may still hold RFC 2047 encoded-words."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = decode_bytes(value, "utf-8")
    return one_line(decode_header(str(value)), limit)


def _addresses(values: Any) -> tuple[Address, ...]:
    found = []
    for address in (values or ())[:500]:
        mailbox, host, name = getattr(address, "mailbox", None), getattr(address, "host", None), \
            getattr(address, "name", None)
        if host is None:  # group syntax start/end markers: no address of their own
            continue
        email = f"{text(mailbox, 256)}@{text(host, 256)}" if mailbox else ""
        found.append(Address(header_text(name, 200), email))
    return tuple(found)


def _flags(values: Any) -> frozenset[str]:
    flags = set()
    for flag in (values or ())[:100]:
        flag = text(flag, 100)
        if flag and flag.lower() != "\\recent":  # \Recent is per session; never worth keeping
            flags.add(flag)
    return frozenset(flags)


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _number(value: Any, limit: int) -> int:
    return value if isinstance(value, int) and 0 <= value <= limit else 0


def _params(values: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(values, (tuple, list)):
        return ()
    items = list(values)[:200]
    return tuple((text(k, 100).lower(), header_text(v, 1000)) for k, v in zip(items[0::2], items[1::2]))


def _disposition(value: Any) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    if isinstance(value, (tuple, list)) and value and isinstance(value[0], (bytes, str)):
        return text(value[0], 50).lower() or None, _params(value[1] if len(value) > 1 else None)
    return None, ()


def _filename(params: tuple[tuple[str, str], ...], disp_params: tuple[tuple[str, str], ...]) -> str | None:
    for source, key in ((disp_params, "filename"), (params, "name")):
        value = rfc2231_param(source, key)
        if value:
            return value
    return None


def rfc2231_param(params: tuple[tuple[str, str], ...], key: str) -> str | None:
    """A parameter's value, assembled from RFC 2231 pieces (key*, key*0*, key*1 ...) when the
    sender used them: charset'lang'percent-encoded text, decoded with replacement."""
    plain, pieces = None, {}
    for name, value in params:
        if name == key:
            plain = value
        elif name.startswith(key + "*"):
            rest = name[len(key) + 1:]
            encoded, number_text = rest.endswith("*") or rest == "", rest.rstrip("*")
            if number_text == "" or (number_text.isdigit() and len(number_text) <= 3):
                pieces[int(number_text or 0)] = (value, encoded)
    if not pieces:
        return plain
    charset, data = None, b""
    for index in sorted(pieces)[:100]:
        value, encoded = pieces[index]
        if encoded and index == min(pieces) and value.count("'") >= 2:
            charset, _, value = value.split("'", 2)
        data += unquote_to_bytes(value) if encoded else value.encode("utf-8", "replace")
    return one_line(decode_bytes(data, charset or "utf-8"), 1000) or plain


def structure(body: Any, limits: Limits = DEFAULT_LIMITS) -> MimePart | None:
    """BODYSTRUCTURE as a MimePart tree with IMAP section numbers; None if unreadable.

    Cut like a parsed message (model.message): a multipart (or the message inside a
    message/rfc822 part) at limits.mime_depth levels is not opened, and no part is built past
    limits.mime_parts. Where the tree is cut, the multipart left without its children (or with
    only the first ones) carries the notice as its description, which structure_notices()
    collects. A server never sets a multipart's description here, so it cannot fake a notice.
    """
    if not isinstance(body, (tuple, list)) or not body:
        return None
    count = 0

    def marker(part_id: str, notice: str) -> MimePart:
        return MimePart(part_id, "multipart/mixed", description=notice)

    def build(node: Any, part_id: str, depth: int) -> MimePart | None:
        """The part, or None when limits.mime_parts parts are built already."""
        nonlocal count
        if count >= limits.mime_parts:
            return None
        count += 1
        if isinstance(node[0], list):  # multipart: ([parts], subtype, params, disposition, ...)
            subtype = text(node[1], 50).lower() if len(node) > 1 else "mixed"
            params = _params(node[2]) if len(node) > 2 else ()
            disposition, _ = _disposition(node[3]) if len(node) > 3 else (None, ())
            cut: str | None = None
            children: list[MimePart] = []
            if depth >= limits.mime_depth:
                cut = mime_depth_cut(limits.mime_depth)
            else:
                for i, child in enumerate(node[0], start=1):
                    if not isinstance(child, (tuple, list)) or not child:
                        continue
                    built = build(child, f"{part_id}.{i}" if part_id else str(i), depth + 1)
                    if built is None:
                        cut = mime_parts_cut(limits.mime_parts)
                        break
                    children.append(built)
            return MimePart(part_id, f"multipart/{subtype}", params, disposition=disposition,
                            description=cut, children=tuple(children))
        part_id = part_id or "1"  # a single-part body is section 1
        fields = list(node) + [None] * 12
        maintype, subtype = text(fields[0], 50).lower(), text(fields[1], 50).lower()
        params = _params(fields[2])
        ctype = f"{maintype}/{subtype}"
        kids: tuple[MimePart, ...] = ()
        if ctype == "message/rfc822":
            inner = fields[8]
            if isinstance(inner, (tuple, list)) and inner:
                nested = build(inner, part_id, depth + 1) if depth < limits.mime_depth else None
                if nested is None:  # the inner message is not listed: say why
                    notice = mime_depth_cut(limits.mime_depth) if depth >= limits.mime_depth else \
                        mime_parts_cut(limits.mime_parts)
                    nested = marker(part_id, notice)
                elif not nested.is_multipart:
                    # a non-multipart inner body is section part_id.1; a multipart one shares part_id
                    nested = MimePart(f"{part_id}.1", nested.content_type, nested.params, nested.encoding,
                                      nested.size, nested.disposition, nested.filename,
                                      nested.content_id, nested.description)
                kids = (nested,)
            ext = 10
        else:
            ext = 8 if maintype == "text" else 7
        disposition, disp_params = _disposition(fields[ext + 1])
        return MimePart(
            part_id=part_id, content_type=ctype, params=params,
            encoding=text(fields[5], 50).lower() or None, size=_number(fields[6], MAX_SIZE),
            disposition=disposition, filename=_filename(params, disp_params),
            content_id=text(fields[3], 500) or None, description=header_text(fields[4], 500) or None,
            children=kids,
        )

    try:
        return build(body, "", 0)
    except (IndexError, TypeError, ValueError, RecursionError):  # RecursionError: a huge mime_depth
        return None


def structure_notices(root: MimePart | None) -> tuple[str, ...]:
    """The [limits] notices structure() left in a tree it cut, each once, in tree order."""
    found: list[str] = []
    for part in root.walk() if root is not None else ():
        notice = part.description
        if part.is_multipart and notice and "(limits.mime_" in notice and notice not in found:
            found.append(notice)
    return tuple(found)


def summary(uid: int, data: dict, limits: Limits = DEFAULT_LIMITS) -> MessageSummary | None:
    """A MessageSummary from one FETCH response dict (bytes keys); None for a bad UID.
    limits: the account's, for the BODYSTRUCTURE's depth and part count."""
    if not isinstance(uid, int) or not 0 < uid <= MAX_UID:
        return None
    envelope = data.get(b"ENVELOPE")
    get = (lambda name: getattr(envelope, name, None)) if envelope is not None else (lambda name: None)
    return MessageSummary(
        uid=uid,
        subject=header_text(get("subject")),
        sender=_addresses(get("from_")),
        to=_addresses(get("to")),
        cc=_addresses(get("cc")),
        reply_to=_addresses(get("reply_to")),
        date=_aware(get("date")),
        internal_date=_aware(data.get(b"INTERNALDATE")),
        message_id=text(get("message_id"), 1000),
        in_reply_to=text(get("in_reply_to"), 1000),
        flags=_flags(data.get(b"FLAGS")),
        size=_number(data.get(b"RFC822.SIZE"), MAX_SIZE),
        structure=structure(data.get(b"BODYSTRUCTURE"), limits),
    )
