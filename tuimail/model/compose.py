"""Building the message to send from a Draft: new mail, replies, forwards, redirects.

Pure: no network and no UI (attachment files named in the Draft are read). Every header is set
through email's policy.default, never joined by hand, and build_message checks the result: a
CR or LF that reaches a header value, typed or copied from an original, is refused before it
could start a header of its own.
"""
from __future__ import annotations

import email.policy
import mimetypes
import re
from email.errors import HeaderParseError
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime, localtime
from pathlib import Path

from tuimail import __version__
from tuimail.model.config import Account
from tuimail.model.draft import (AttachmentData, ComposeError, Draft, bounded_references, check_headers,
                                 check_msgid, message_id, no_line_breaks, parse_fields, parse_one_address)
from tuimail.model.filenames import safe_filename
from tuimail.model.forward import forward_as_attachment, forward_inline_draft, redirect_draft
from tuimail.model.reply import reply_draft
from tuimail.model.rfc822 import VerbatimMessage, rfc822_part, verbatim_original
from tuimail.model.text import one_line

__all__ = [
    "AttachmentData", "ComposeError", "Draft", "build_message", "envelope", "message_bytes",
    "needs_8bitmime", "needs_smtputf8", "verbatim_original",
    "forward_as_attachment", "forward_inline_draft", "redirect_draft", "reply_draft",
]

USER_AGENT = f"tuimail/{__version__}"
MAX_ATTACHMENT_BYTES = 100 * 1024 * 1024
_FIELD_NAME = re.compile(r"[!-9;-~]{1,76}")  # RFC 5322 ftext
# Headers build_message writes itself, or that describe the MIME structure it builds.
_RESERVED = {"from", "to", "cc", "bcc", "subject", "date", "message-id", "in-reply-to", "references",
             "mime-version", "user-agent", "sender", "return-path", "received"}


def needs_smtputf8(draft: Draft) -> bool:
    """Whether an address (From or any recipient) has non-ASCII in its addr-spec (RFC 6531).
    Non-ASCII display names do not count: they are RFC 2047 encoded. Never raises."""
    try:
        addresses = parse_fields([draft.from_addr, *draft.to, *draft.cc, *draft.bcc], "address")
    except ComposeError:
        return False
    return any(not a.addr_spec.isascii() for a in addresses)


def envelope(draft: Draft) -> tuple[str, list[str]]:
    """(MAIL FROM addr-spec, RCPT TO addr-specs): To, Cc and Bcc, each address once."""
    sender = parse_one_address(draft.from_addr, "From").addr_spec
    recipients: list[str] = []
    seen: set[str] = set()
    for address in parse_fields([*draft.to, *draft.cc, *draft.bcc], "recipient"):
        key = address.addr_spec.lower()
        if key not in seen:
            seen.add(key)
            recipients.append(address.addr_spec)
    if not recipients:
        raise ComposeError("no recipients: add an address to To, Cc or Bcc")
    return sender, recipients


def build_message(draft: Draft, account: Account) -> EmailMessage:
    """The message for draft, ready to serialize (message_bytes) and send to envelope(draft).
    Bcc is not in it. With a non-ASCII addr-spec the policy is utf8 (send with SMTPUTF8)."""
    policy = email.policy.default.clone(utf8=True) if needs_smtputf8(draft) else email.policy.default
    msg = EmailMessage(policy=policy)
    sender = parse_one_address(draft.from_addr, "From")
    to, cc = parse_fields(draft.to, "To"), parse_fields(draft.cc, "Cc")
    parse_fields(draft.bcc, "Bcc")  # checked here too, so a bad Bcc fails before anything is queued
    _set(msg, "From", sender)
    if to:
        _set(msg, "To", tuple(to))
    if cc:
        _set(msg, "Cc", tuple(cc))
    if draft.subject:
        _set(msg, "Subject", no_line_breaks(draft.subject, "Subject"))
    _set(msg, "Date", format_datetime(localtime()))
    _set(msg, "Message-ID", message_id(account))
    if draft.in_reply_to:
        _set(msg, "In-Reply-To", check_msgid(draft.in_reply_to, "In-Reply-To"))
    references = [check_msgid(r, "References") for r in draft.references]
    if references:
        _set(msg, "References", " ".join(bounded_references(references)))
    _set(msg, "User-Agent", USER_AGENT)
    for name, value in draft.extra_headers.items():
        if not _FIELD_NAME.fullmatch(name) or name.lower() in _RESERVED or name.lower().startswith("content-"):
            raise ComposeError(f"header name not allowed: {one_line(name, 60)!r}")
        _set(msg, name, no_line_breaks(value, name))
    _set_body(msg, draft, policy)
    check_headers(msg)
    return msg


def _set(msg: EmailMessage, name: str, value) -> None:
    try:
        msg[name] = value
    except (ValueError, TypeError, IndexError, AttributeError, HeaderParseError) as exc:
        raise ComposeError(f"{name}: {one_line(str(exc), 120)}") from None


def _text_cte(body: str) -> str:
    data = body.encode("utf-8")
    if data.isascii() and max((len(line) for line in data.split(b"\n")), default=0) <= 998:
        return "7bit"
    return "quoted-printable"  # UTF-8 text that any server carries, 8BITMIME or not


def _set_body(msg: EmailMessage, draft: Draft, policy) -> None:
    body = draft.body.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    body = body.encode("utf-8", "replace").decode("utf-8")  # lone surrogates from a paste
    if body and not body.endswith("\n"):
        body += "\n"
    parts = [_file_part(Path(p), policy) for p in draft.attachments]
    parts += [_data_part(a, policy) for a in draft.attachment_data]
    if draft.forward_raw is not None:
        parts.append(rfc822_part(draft.forward_raw, _eml_name(draft.subject), policy))
    msg.set_content(body, subtype="plain", charset="utf-8", cte=_text_cte(body))
    if parts:
        msg.make_mixed()
        for part in parts:
            msg.attach(part)


def _eml_name(subject: str) -> str:
    stem = re.sub(r"^(?:fwd?|wg)\s*:\s*", "", one_line(subject, 60), flags=re.IGNORECASE)
    return safe_filename(stem, "forwarded message") + ".eml"


def _guess(name: str) -> tuple[str, str]:
    ctype, encoding = mimetypes.guess_type(name, strict=False)
    if not ctype or encoding or ctype.startswith("multipart/"):
        return "application", "octet-stream"  # a .gz is its bytes, not gzip-encoded text
    maintype, _, subtype = ctype.partition("/")
    return maintype, subtype


def _file_part(path: Path, policy) -> MIMEPart:
    try:
        if not path.is_file():
            raise ComposeError(f"attachment is not a file: {path}")
        if path.stat().st_size > MAX_ATTACHMENT_BYTES:
            raise ComposeError(f"attachment over {MAX_ATTACHMENT_BYTES // 2**20} MB: {path}")
        data = path.read_bytes()
    except OSError as exc:
        raise ComposeError(f"cannot read attachment {path}: {exc.strerror or exc}") from None
    name = safe_filename(path.name)
    maintype, subtype = _guess(name)
    if (maintype, subtype) == ("message", "rfc822"):
        return rfc822_part(data, name, policy)
    return _bytes_part(data, maintype, subtype, name, policy)


def _data_part(item: AttachmentData, policy) -> MIMEPart:
    name = safe_filename(item.filename)
    maintype, _, subtype = item.content_type.lower().partition("/")
    if not re.fullmatch(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}", maintype) or \
            not re.fullmatch(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}", subtype) or maintype == "multipart":
        maintype, subtype = "application", "octet-stream"
    if (maintype, subtype) == ("message", "rfc822"):
        return rfc822_part(item.data, name, policy)
    return _bytes_part(item.data, maintype, subtype, name, policy)


def _bytes_part(data: bytes, maintype: str, subtype: str, name: str, policy) -> MIMEPart:
    if maintype == "message":  # message/* other than rfc822 may not be base64 (RFC 2046 5.2)
        maintype, subtype = "application", "octet-stream"
    part = MIMEPart(policy=policy)
    part.set_content(data, maintype, subtype, disposition="attachment", filename=name)
    return part


def message_bytes(message: EmailMessage) -> bytes:
    """message as it goes on the wire: CRLF line ends, the message's own policy otherwise
    (utf8 when needs_smtputf8)."""
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


def needs_8bitmime(message: EmailMessage) -> bool:
    """Whether some part is sent 8bit (a forwarded original with 8-bit bytes)."""
    return any((part.get("Content-Transfer-Encoding") or "").lower() in ("8bit", "binary")
               for part in message.walk() if not isinstance(part, VerbatimMessage))
