"""A message being written (the Draft), and the checks every value put into its headers passes.

Addresses are parsed with email's strict RFC 5322 parser (policy.default), never split by hand:
a Draft holds "Name <addr>" strings, and what counts is the addr-spec that parser finds.
"""
from __future__ import annotations

import email.policy
import re
import secrets
from dataclasses import dataclass, field
from email.errors import HeaderParseError
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from pathlib import Path

from tuimail.model.config import Account
from tuimail.model.rfc822 import VerbatimMessage
from tuimail.model.text import one_line

MAX_ADDRESS_CHARS = 320
MAX_MSGID_CHARS = 250
MAX_REFERENCES = 20
# printable ASCII without angle brackets between them: what a msg-id may hold, and nothing else
_MSGID = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]{1,%d}>" % MAX_MSGID_CHARS)
_LINE_BREAK = re.compile(r"[\r\n]")
# Defects of a header we still accept from a person typing addresses.
_HARMLESS_DEFECTS = ("NonASCIILocalPartDefect",)
_HARMLESS_TEXT = ("address-list entry with no content",)  # a trailing comma


class ComposeError(ValueError):
    """A draft that cannot become a safe message: a line break in a header value, a bad
    address, an unreadable attachment. The text is one line a person can act on."""


@dataclass(frozen=True)
class AttachmentData:
    """An attachment carried as bytes (an inline forward keeps the original's attachments)."""
    filename: str  # already made safe (safe_filename)
    content_type: str  # "maintype/subtype"
    data: bytes = field(repr=False)


@dataclass
class Draft:
    account: str  # the account's name in the config
    from_addr: str  # "Name <addr>" or "addr"
    to: list[str] = field(default_factory=list)  # each item: one address or a comma-separated list
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)  # envelope only, never a header
    subject: str = ""
    body: str = ""
    attachments: list[Path] = field(default_factory=list)
    in_reply_to: str | None = None  # a Message-ID "<...>"
    references: list[str] = field(default_factory=list)
    forward_raw: bytes | None = field(default=None, repr=False)  # carried byte for byte as message/rfc822
    extra_headers: dict[str, str] = field(default_factory=dict)
    attachment_data: list[AttachmentData] = field(default_factory=list)


def no_line_breaks(value: str, what: str) -> str:
    if _LINE_BREAK.search(value):
        raise ComposeError(f"{what}: a line break is not allowed in a header ({one_line(value, 60)!r})")
    return value


def parse_address_list(value: str, what: str = "address") -> list[HeaderAddress]:
    """The addresses in one typed field ("a@x, Name <b@y>"); ComposeError on anything that is
    not a plain list of valid mailboxes. Group syntax is refused."""
    no_line_breaks(value, what)
    if not value.strip():
        return []
    try:
        header = email.policy.default.header_factory("To", value)
        groups = header.groups
    except (ValueError, TypeError, IndexError, AttributeError, HeaderParseError) as exc:
        raise ComposeError(f"{what}: not an address list: {one_line(value, 80)!r} ({exc})") from None
    for defect in header.defects:
        if type(defect).__name__ not in _HARMLESS_DEFECTS and str(defect) not in _HARMLESS_TEXT:
            raise ComposeError(f"{what}: not a valid address: {one_line(value, 80)!r} ({defect})")
    found: list[HeaderAddress] = []
    for group in groups:
        if group.display_name is not None:
            raise ComposeError(f"{what}: group syntax is not supported ({one_line(value, 80)!r})")
        for address in group.addresses:
            _check_mailbox(address, what)
            found.append(address)
    return found


def _check_mailbox(address: HeaderAddress, what: str) -> None:
    spec = address.addr_spec
    if not address.username or not address.domain or len(spec) > MAX_ADDRESS_CHARS:
        raise ComposeError(f"{what}: not a valid address: {one_line(spec, 80)!r}")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in address.domain):
        raise ComposeError(f"{what}: not a valid domain: {one_line(address.domain, 80)!r}")


def parse_one_address(value: str, what: str = "address") -> HeaderAddress:
    found = parse_address_list(value, what)
    if len(found) != 1:
        raise ComposeError(f"{what}: expected one address, got {len(found)} in {one_line(value, 80)!r}")
    return found[0]


def parse_fields(values: list[str] | tuple[str, ...], what: str) -> list[HeaderAddress]:
    found: list[HeaderAddress] = []
    for value in values:
        found.extend(parse_address_list(value, what))
    return found


def format_address(name: str, addr: str) -> str | None:
    """"Name <addr>" that parses back to exactly this addr-spec (and name), else the bare
    addr-spec, else None: a display name can never change where mail goes."""
    name = one_line(name or "", 200)
    addr = (addr or "").strip()
    if not addr or _LINE_BREAK.search(addr):
        return None
    candidates = [(name, addr), ("", addr)] if name and name != addr else [("", addr)]
    for display, spec in candidates:
        try:
            text = str(HeaderAddress(display_name=display, addr_spec=spec))
            back = parse_one_address(text)
        except (ComposeError, ValueError, TypeError, IndexError, HeaderParseError):
            continue
        if back.addr_spec == spec and back.display_name == display:
            return text
    return None


def addr_spec_of(value: str) -> str:
    return parse_one_address(value).addr_spec


def identity(name: str, email_addr: str) -> str:
    """The From of an account: its display name and address."""
    text = format_address(name, email_addr)
    if text is None:
        raise ComposeError(f"the account's address is not valid: {one_line(email_addr, 80)!r}")
    return text


def msgid_tokens(value: str | None, limit: int = 1000) -> list[str]:
    """Message-IDs in a raw header value: only the <...> tokens, nothing between them."""
    if not value:
        return []
    return _MSGID.findall(value[: limit * (MAX_MSGID_CHARS + 3)])[:limit]


def check_msgid(value: str, what: str) -> str:
    value = no_line_breaks(value.strip(), what)
    if not _MSGID.fullmatch(value):
        raise ComposeError(f"{what}: not a Message-ID: {one_line(value, 80)!r}")
    return value


def bounded_references(ids: list[str]) -> list[str]:
    """The first Message-ID (the thread's root) and the newest ones; each once."""
    unique = list(dict.fromkeys(ids))
    if len(unique) <= MAX_REFERENCES:
        return unique
    return [unique[0], *unique[-(MAX_REFERENCES - 1):]]


def plain_header_text(text: str) -> str:
    """text that policy.default stores as itself. Text that merely looks like encoded-words
    ("=?utf-8?q?...?=", e.g. decoded from a doubly encoded Subject) would otherwise be decoded
    once more when set, possibly into a line break."""
    text = one_line(text, 2000)
    for _ in range(4):
        try:
            stored = str(email.policy.default.header_factory("Subject", text))
        except (ValueError, TypeError, IndexError, AttributeError, HeaderParseError):
            stored = ""
        if stored == text:
            return text
        text = one_line(stored, 2000)
    return text.replace("=?", "= ?")


def message_id(account: Account) -> str:
    """A new Message-ID in the account's own domain; random, so it tells nothing about us."""
    domain = account.email.rpartition("@")[2].strip().lower()
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        domain = ""
    if not re.fullmatch(r"[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?", domain):
        domain = "tuimail.invalid"
    return f"<{secrets.token_hex(16)}@{domain}>"


def check_headers(msg: EmailMessage) -> None:
    """Fold every header as the generator will and refuse any output line that would start a
    header of its own. Python before 3.11.10 writes a line break that an encoded-word decodes
    to straight into the output (CVE-2024-6923); this check does not depend on the version."""
    for part in msg.walk():
        if isinstance(part, VerbatimMessage):
            continue
        for name, value in part.items():
            if "\r" in str(value) or "\n" in str(value):
                raise ComposeError(f"{name}: its value holds a line break, which would start "
                                   "another header; refused")
            try:
                folded = part.policy.fold(name, value)
            except (ValueError, TypeError, IndexError, AttributeError, HeaderParseError) as exc:
                raise ComposeError(f"{name}: cannot be written ({one_line(str(exc), 120)})") from None
            lines = folded.split(part.policy.linesep)
            if lines and lines[-1] == "":
                lines.pop()
            for number, line in enumerate(lines):
                if "\r" in line or "\n" in line or (number and line[:1] not in (" ", "\t")):
                    raise ComposeError(f"{name}: its value holds a line break, which would start "
                                       "another header; refused")
