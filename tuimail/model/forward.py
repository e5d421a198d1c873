"""Forwarding: inline (a new message quoting the original), as an attachment (the original's
exact bytes as message/rfc822), and redirect (the original resent with Resent-* headers).

Inline, none of the original's headers become headers of the new message: its From, Date,
Subject, To and Cc appear only as text in the "Forwarded message" block.
"""
from __future__ import annotations

import email.policy
import io
import re
from collections.abc import Sequence
from email.generator import BytesGenerator
from email.message import EmailMessage, Message
from email.utils import format_datetime, localtime

from tuimail.model.config import Account
from tuimail.model.draft import (AttachmentData, ComposeError, Draft, check_headers, identity, message_id,
                                 parse_fields, plain_header_text)
from tuimail.model.filenames import safe_filename
from tuimail.model.message import MAX_DEPTH, MAX_PARTS, ParsedMessage, _parse, child_sections, parse_message
from tuimail.model.reply import addresses_of, quote
from tuimail.model.rfc822 import canonical_line_ends
from tuimail.model.text import one_line, strip_controls

FORWARD_MARK = "---------- Forwarded message ----------"
MAX_CARRIED_ATTACHMENTS = 100
# "Fwd:", "FW:", and the common translations (WG, TR, RV, ENC, Doorst, VB, PD, I)
_FORWARD_PREFIX = re.compile(
    r"^(?:\s*(?:fwd?|wg|tr|rv|enc|doorst|vb|pd|转发|轉寄)\s*(?:\[\d{1,6}\])?\s*[:：])+\s*", re.IGNORECASE)


def forward_subject(subject: str) -> str:
    rest = _FORWARD_PREFIX.sub("", one_line(subject, 2000), count=1)
    return plain_header_text(f"Fwd: {rest}".rstrip())


def forwarded_block(parsed: ParsedMessage) -> str:
    """The summary of the original: only From, Date, Subject, To and Cc, as text."""
    lines = [FORWARD_MARK]
    for label, value in (("From", ", ".join(a.display() for a in addresses_of(parsed, "From"))),
                         ("Date", parsed.header("Date")),
                         ("Subject", parsed.header("Subject")),
                         ("To", ", ".join(a.display() for a in addresses_of(parsed, "To"))),
                         ("Cc", ", ".join(a.display() for a in addresses_of(parsed, "Cc")))):
        if value or label in ("From", "Subject"):
            lines.append(f"{label}: {one_line(value, 2000)}")
    return "\n".join(lines)


def forward_inline_draft(original: bytes, account: Account, *, to: Sequence[str] = (),
                         include_attachments: bool = False, quote_text: bool = True) -> Draft:
    """A new message with the original's display text under a "Forwarded message" block
    ("> " quoted unless quote_text is False); its attachments carried over if asked."""
    parsed = parse_message(original)
    text = strip_controls(parsed.body.replace("\r\n", "\n").replace("\r", "\n")).rstrip()
    shown = quote(text) if quote_text else text
    body = "\n\n" + forwarded_block(parsed) + "\n\n" + (shown + "\n" if shown else "")
    carried = carried_attachments(original, parsed) if include_attachments else []
    return Draft(account=account.name, from_addr=identity(account.display_name, account.email),
                 to=list(to), subject=forward_subject(parsed.header("Subject")), body=body,
                 attachment_data=carried)


def forward_as_attachment(original: bytes, account: Account, *, to: Sequence[str] = (),
                          note: str = "") -> Draft:
    """A short text part (note) and the original, byte for byte, as a message/rfc822 part."""
    parsed = parse_message(original)
    return Draft(account=account.name, from_addr=identity(account.display_name, account.email),
                 to=list(to), subject=forward_subject(parsed.header("Subject")), body=note,
                 forward_raw=bytes(original))


def redirect_draft(original: bytes, account: Account, *, to: Sequence[str]) -> tuple[bytes, list[str]]:
    """The original resent unchanged to `to` (RFC 5322 3.6.6): Resent-From, Resent-To,
    Resent-Date and Resent-Message-ID on top, CRLF line ends, and the envelope recipients.
    Send it with MAIL FROM the account's address."""
    recipients = parse_fields(list(to), "Resent-To")
    if not recipients:
        raise ComposeError("redirect: no recipients")
    sender = identity(account.display_name, account.email)
    utf8 = any(not a.addr_spec.isascii() for a in recipients) or not account.email.isascii()
    policy = email.policy.default.clone(utf8=utf8)
    head = EmailMessage(policy=policy)
    for name, value in (("Resent-From", sender), ("Resent-To", tuple(recipients)),
                        ("Resent-Date", format_datetime(localtime())),
                        ("Resent-Message-ID", message_id(account))):
        try:
            head[name] = value
        except (ValueError, TypeError) as exc:
            raise ComposeError(f"{name}: {one_line(str(exc), 120)}") from None
    check_headers(head)
    block = head.as_bytes(policy=policy.clone(linesep="\r\n"))
    block = block[:-2] if block.endswith(b"\r\n\r\n") else block  # headers only: no blank line
    envelope = list(dict.fromkeys(a.addr_spec for a in recipients))
    return block + canonical_line_ends(original), envelope


def carried_attachments(original: bytes, parsed: ParsedMessage | None = None) -> list[AttachmentData]:
    """The original's attachments as bytes (transfer-decoded; a forwarded message as a whole)."""
    parsed = parsed or parse_message(original)
    wanted = parsed.attachments[:MAX_CARRIED_ATTACHMENTS]
    if not wanted:
        return []
    by_section = _sections(original)
    carried = []
    for part in wanted:
        source = by_section.get(part.part_id)
        if source is None:
            continue
        if part.content_type == "message/rfc822" and source.is_multipart():
            inner = source.get_payload(0)
            data = _flatten(inner) if isinstance(inner, Message) else b""
        else:
            payload = source.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
        name = part.filename or ("forwarded message.eml" if part.content_type == "message/rfc822" else "")
        carried.append(AttachmentData(filename=safe_filename(name), content_type=part.content_type, data=data))
    return carried


def _flatten(message: Message) -> bytes:
    out = io.BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=email.policy.compat32.clone(linesep="\r\n")).flatten(message)
    return out.getvalue()


def _sections(raw: bytes) -> dict[str, Message]:
    """Every part by IMAP section, numbered as parse_message numbers them (a message/rfc822
    part and the multipart inside it share a number: the outer part is kept)."""
    msg, _, _ = _parse(raw)
    found: dict[str, Message] = {}
    stack: list[tuple[Message, str, int]] = [(msg, "" if msg.is_multipart() else "1", 0)]
    count = 0
    while stack and count < MAX_PARTS:
        part, part_id, depth = stack.pop()
        count += 1
        found.setdefault(part_id, part)
        payload = part.get_payload()
        if not isinstance(payload, list) or depth >= MAX_DEPTH:
            continue
        stack.extend(reversed([(c, s, depth + 1) for c, s in child_sections(part, part_id)]))
    return found
