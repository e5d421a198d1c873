"""Replying: who the reply goes to, its subject, its threading headers, the quoted text.

Addresses come from parse_message's parse_addresses, the function behind what the reader shows,
and the reply goes to the addr-spec found there; a display name is kept only as a name.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from email.utils import parsedate_to_datetime

from tuimail.model.address import Address, parse_addresses
from tuimail.model.config import Account
from tuimail.model.draft import (Draft, bounded_references, format_address, identity, msgid_tokens,
                                 plain_header_text)
from tuimail.model.message import ParsedMessage, parse_message
from tuimail.model.text import one_line, strip_controls

MAX_QUOTE_CHARS = 200_000
# "Re:", "RE:", "Re[2]:", "Re(2):", and the common translations (Aw, Sv, Vs, Antw, Odp, Ynt, Rif, Res)
_REPLY_PREFIX = re.compile(
    r"^(?:\s*(?:re|aw|sv|vs|antw|odp|ynt|rif|res|回复|回覆|答复)\s*(?:\[\d{1,6}\]|\(\d{1,6}\))?\s*[:：])+\s*",
    re.IGNORECASE)


def reply_subject(subject: str) -> str:
    rest = _REPLY_PREFIX.sub("", one_line(subject, 2000), count=1)
    return plain_header_text(f"Re: {rest}".rstrip())


def thread_references(parsed: ParsedMessage) -> tuple[str | None, list[str]]:
    """(In-Reply-To, References) for a reply to parsed: the original's Message-ID, and its
    References (else its In-Reply-To) followed by that Message-ID, first one and newest kept.
    Only <...> tokens are taken from the raw headers, so nothing else can ride along."""
    raw = dict((k.lower(), v) for k, v in reversed(parsed.raw_headers))  # the first of each wins
    own = msgid_tokens(raw.get("message-id"), limit=1)
    chain = msgid_tokens(raw.get("references")) or msgid_tokens(raw.get("in-reply-to"), limit=1)
    return (own[0] if own else None), bounded_references(chain + own)


def _own_set(account: Account, own_addresses: Iterable[str]) -> set[str]:
    own = {account.email.strip().lower()}
    for value in own_addresses:
        found = parse_addresses(value)
        own.update(a.email.strip().lower() for a in found if a.email)
        if not found:
            own.add(value.strip().lower())
    return own


def addresses_of(parsed: ParsedMessage, name: str) -> tuple[Address, ...]:
    """parsed.addresses(name), or none when the stdlib parser recurses too deep on it (a
    header of thousands of ':' groups; parse_addresses does not catch RecursionError)."""
    try:
        return parsed.addresses(name)
    except RecursionError:
        return ()


def _usable(addresses: Iterable[Address]) -> list[Address]:
    return [a for a in addresses if a.email and "@" in a.email]


def _pick(addresses: Iterable[Address], own: set[str], seen: set[str]) -> list[str]:
    chosen = []
    for address in addresses:
        key = address.email.lower()
        if key in own or key in seen:
            continue
        text = format_address(address.name, address.email)
        if text is not None:
            seen.add(key)
            chosen.append(text)
    return chosen


def reply_recipients(parsed: ParsedMessage, own: set[str], reply_all: bool) -> tuple[list[str], list[str]]:
    """(To, Cc). Reply-To if present, else From; reply-all adds the original To and Cc. The
    user's own addresses are left out; replying to one's own message goes to its recipients."""
    primary = _usable(addresses_of(parsed, "Reply-To")) or _usable(addresses_of(parsed, "From"))
    to_orig, cc_orig = _usable(addresses_of(parsed, "To")), _usable(addresses_of(parsed, "Cc"))
    if primary and all(a.email.lower() in own for a in primary):
        primary = to_orig  # a reply to something I sent continues with the people I sent it to
    seen: set[str] = set()
    to = _pick(primary, own, seen)
    cc: list[str] = []
    if reply_all:
        to += _pick(to_orig, own, seen)
        cc = _pick(cc_orig, own, seen)
    return to, cc


def attribution(parsed: ParsedMessage) -> str:
    senders = addresses_of(parsed, "From")
    who = ", ".join(a.display() for a in senders[:3]) or "someone"
    raw_date = parsed.header("Date")
    when = ""
    if raw_date:
        try:
            when = parsedate_to_datetime(raw_date).strftime("%a, %d %b %Y at %H:%M %z").strip()
        except (ValueError, TypeError, IndexError, OverflowError):
            when = one_line(raw_date, 80)
    return one_line(f"On {when}, {who} wrote:" if when else f"{who} wrote:", 400)


def quote(text: str) -> str:
    """text as "> " lines; already quoted lines get one more ">"."""
    text = strip_controls(text.replace("\r\n", "\n").replace("\r", "\n"))
    if len(text) > MAX_QUOTE_CHARS:
        text = text[:MAX_QUOTE_CHARS] + "\n[... the rest is not quoted ...]"
    lines = text.rstrip().split("\n") if text.strip() else []
    return "\n".join((">" + line) if line.startswith(">") or not line else ("> " + line)
                     for line in (line.rstrip() for line in lines))


def reply_draft(original: bytes, account: Account, *, reply_all: bool = False,
                own_addresses: Iterable[str] = (), quote_body: str | None = None) -> Draft:
    """A reply to original (raw bytes): recipients, subject, threading headers and the quoted
    text (quote_body if given, e.g. what the reader shows, else the original's display text)."""
    parsed = parse_message(original)
    to, cc = reply_recipients(parsed, _own_set(account, own_addresses), reply_all)
    in_reply_to, references = thread_references(parsed)
    text = parsed.body if quote_body is None else quote_body
    quoted = quote(text)
    body = attribution(parsed) + "\n" + (quoted + "\n" if quoted else "") + "\n"
    return Draft(account=account.name, from_addr=identity(account.display_name, account.email),
                 to=to, cc=cc, subject=reply_subject(parsed.header("Subject")), body=body,
                 in_reply_to=in_reply_to, references=references)
