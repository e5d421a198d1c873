"""One Received header (RFC 5321 4.4) read into a hop: who handed the message to whom, how, when.

Real MTAs write many dialects (Postfix, Exim, Sendmail, Exchange, Gmail, qmail, ...). The reader
is forgiving: it splits the value into its from/by/via/with/id/for clauses and comments, then
picks known shapes out of the comments. It never raises; what it cannot read stays in `raw`.
"""
from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from tuimail.model.decode import decode_header
from tuimail.model.text import one_line

MAX_RECEIVED_CHARS = 4_000
_KEYWORDS = ("from", "by", "via", "with", "id", "for")
_IPV4 = r"(?:\d{1,3}\.){3}\d{1,3}"
_IPV6 = r"(?:IPv6:)?[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?::" + _IPV4 + r")?"
_IP = re.compile(rf"(?<![\w.:])({_IPV4}|{_IPV6})(?![\w.:])")
_BRACKET_IP = re.compile(rf"\[({_IPV4}|{_IPV6})\]")
_TLS_PATTERNS = (
    # Postfix: (using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))
    re.compile(r"using\s+(TLSv?[\d.]+|SSLv\d)\s+with\s+cipher\s+([\w-]+)", re.I),
    # Sendmail, Gmail: (version=TLSv1.2 cipher=ECDHE-RSA-AES128-GCM-SHA256 bits=128/128);
    # Exchange: (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384)
    re.compile(r"version=(TLS[\w./]*|SSLv\d)[,\s]+cipher=([\w-]+)", re.I),
    # Exim 4.9x: with esmtps (TLS1.3) tls TLS_AES_256_GCM_SHA384
    re.compile(r"\((TLS[\d.]+)\)\s+tls\s+([\w-]+)", re.I),
    # older Exim: (TLSv1:AES256-SHA:256) or (TLS1.2:ECDHE_RSA_AES_256_GCM_SHA384:256)
    re.compile(r"\((TLSv?[\d.]+):([\w-]+):\d+\)", re.I),
)
_PROTOCOLS = {"SMTP", "ESMTP", "ESMTPS", "ESMTPA", "ESMTPSA", "LMTP", "LMTPS", "LMTPA", "LMTPSA",
              "UTF8SMTP", "UTF8SMTPS", "UTF8SMTPA", "UTF8SMTPSA", "UTF8LMTP", "UTF8LMTPS",
              "HTTP", "HTTPS", "LOCAL", "IMAP", "MAPI", "ASMTP"}


@dataclass(frozen=True)
class Hop:
    index: int  # 1 = the oldest hop of the route; 0 until placed in a route
    raw: str  # unfolded, controls stripped
    parsed: bool  # False: neither a from nor a by host could be read; show raw
    from_host: str | None = None
    from_ip: str | None = None
    by_host: str | None = None
    protocol: str | None = None  # upper case: SMTP, ESMTPS, ESMTPSA, LMTP, HTTP, ...
    tls: str | None = None  # "TLSv1.3 TLS_AES_256_GCM_SHA384", or "TLS" when only the protocol says so
    authenticated: bool = False
    envelope_for: str | None = None
    id: str | None = None
    when: datetime | None = None  # always aware
    delay: timedelta | None = None  # since the previous hop with a time
    notes: tuple[str, ...] = ()


def _clauses(text: str) -> tuple[dict[str, str], list[tuple[str | None, str]]]:
    """Top-level keyword clauses and every comment, each comment tagged with its clause."""
    clauses: dict[str, str] = {}
    comments: list[tuple[str | None, str]] = []
    current: str | None = None
    words: list[str] = []
    depth, start, i = 0, 0, 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "(":
            if depth == 0:
                start = i
            depth += 1
        elif c == ")" and depth:
            depth -= 1
            if depth == 0:
                comments.append((current, text[start + 1:i]))
        elif depth == 0 and not c.isspace():
            end = i
            while end < len(text) and not text[end].isspace() and text[end] != "(":
                end += 1
            word = text[i:end]
            if word.lower() in _KEYWORDS and word.lower() not in clauses:
                if current is not None:
                    clauses[current] = " ".join(words)
                current, words = word.lower(), []
            else:
                words.append(word)
            i = end
            continue
        i += 1
    if depth:  # an unclosed comment: keep what there is
        comments.append((current, text[start + 1:]))
    if current is not None:
        clauses[current] = " ".join(words)
    return clauses, comments


def _split_date(text: str) -> tuple[str, datetime | None]:
    body, sep, stamp = text.rpartition(";")
    if not sep:
        match = re.search(r"(?:\w{3},\s*)?\d{1,2}\s+\w{3}\s+\d{2,4}\s+\d{1,2}:\d{2}(?::\d{2})?(?:\s+\S+)?\s*$",
                          text)
        if not match:
            return text, None
        body, stamp = text[:match.start()], match.group(0)
    return body, _date(stamp)


def _date(stamp: str) -> datetime | None:
    stamp = re.sub(r"\([^)]*\)", " ", stamp).strip()
    if not stamp:
        return None
    try:
        when = email.utils.parsedate_to_datetime(stamp)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def _clean(value: str | None, limit: int = 255) -> str | None:
    if not value:
        return None
    value = one_line(value, limit).strip("<>[];,")
    return value or None


def _ip_of(value: str) -> str | None:
    match = _BRACKET_IP.search(value) or _IP.search(value)
    if not match:
        return None
    ip = match.group(1)
    return ip[5:] if ip.lower().startswith("ipv6:") else ip


def _tls(text: str) -> str | None:
    for pattern in _TLS_PATTERNS:
        match = pattern.search(text)
        if match:
            return f"{match.group(1)} {match.group(2)}"
    return None


def parse_received(value: str) -> Hop:
    """A Received header's value as a Hop (index 0, no delay); never raises."""
    try:
        return _parse(value)
    except Exception as exc:  # a parser bug must never lose the header
        text = one_line(decode_header(str(value)), MAX_RECEIVED_CHARS)
        return Hop(index=0, raw=text, parsed=False, notes=(f"could not be read ({type(exc).__name__})",))


def _parse(value: str) -> Hop:
    raw = one_line(decode_header(value), MAX_RECEIVED_CHARS)
    body, when = _split_date(raw)
    clauses, comments = _clauses(body)
    notes: list[str] = []
    all_comments = " ".join(c for _, c in comments)

    from_words = clauses.get("from", "").split()
    from_host = _clean(from_words[0]) if from_words else None
    from_comments = " ".join(c for k, c in comments if k == "from")
    helo = re.search(r"(?:helo=|\bHELO|\bEHLO)\s*([^\s)]+)", from_comments, re.I)
    if helo:
        notes.append(f"said HELO {one_line(helo.group(1), 255)}")
    # the address the receiver saw (Postfix: in the comment), never the one claimed in HELO
    seen = re.sub(r"(?:helo=|\bHELO|\bEHLO)\s*[^\s)]+", " ", from_comments, flags=re.I)
    from_ip = _ip_of(seen) or _ip_of(clauses.get("from", ""))
    by_words = clauses.get("by", "").split()
    by_host = _clean(by_words[0]) if by_words else None

    with_words = (clauses.get("with") or clauses.get("via") or "").split()
    protocol = None
    if with_words:
        word = with_words[0].upper()
        if word == "MICROSOFT" and len(with_words) > 1:  # "Microsoft SMTPSVC(6.0)", "Microsoft SMTP Server"
            word = "SMTP"
            notes.append("Microsoft Exchange / IIS")
        word = re.sub(r"\(.*", "", word)
        if "/" in word:  # IronPort: ESMTP/TLS/ECDHE-RSA-AES128-GCM-SHA256
            word, _, cipher = word.partition("/")
            notes.append(f"transport {one_line(cipher, 120)}")
        if word not in _PROTOCOLS:  # "IBM ESMTP SMTP Gateway": the first word naming a protocol
            word = next((w.upper() for w in with_words[1:4] if w.upper() in _PROTOCOLS), word)
        protocol = _clean(word, 40)
    elif "qmail" in all_comments.lower() and "invoked" in all_comments.lower():
        notes.append(one_line(all_comments, 120))

    tls = _tls(raw)
    ironport = re.search(r"\bwith\s+\w+/(TLS\w*)/([\w-]+)", body, re.I)
    if tls is None and ironport:
        tls = f"{ironport.group(1)} {ironport.group(2)}"
    if tls is None and protocol and re.fullmatch(r"(?:UTF8)?(?:ESMTP|LMTP|SMTP)S?A?|HTTPS", protocol) \
            and (protocol.endswith("S") or protocol.endswith("SA")):
        tls = "TLS"
    if tls is None and clauses.get("with") and re.search(r"\bversion=TLS", raw, re.I):
        tls = "TLS"
    authenticated = bool(protocol and re.fullmatch(r"(?:UTF8)?(?:E?SMTP|LMTP)S?A", protocol)) or bool(
        re.search(r"authenticated (?:sender|user|as)|\bauth(?:enticated)?=|\(authenticated\b", all_comments, re.I))

    for_words = clauses.get("for", "").split()
    envelope_for = _clean(for_words[0], 320) if for_words else None
    if envelope_for is None:
        match = re.search(r"\bfor\s+<([^>\s]+)>", all_comments)
        envelope_for = _clean(match.group(1), 320) if match else None
    id_words = clauses.get("id", "").split()
    ident = _clean(id_words[0], 200) if id_words else None
    if protocol is None and "with" not in clauses and re.search(r"\bvia\s+HTTP\b", raw, re.I):
        protocol = "HTTP"
    if protocol and protocol not in _PROTOCOLS:
        notes.append(f"unusual protocol {protocol}")
    if when is None:
        notes.append("no readable time stamp")
    parsed = bool(from_host or by_host) or (bool(notes) and "qmail" in raw.lower() and when is not None)
    return Hop(index=0, raw=raw, parsed=parsed, from_host=from_host, from_ip=from_ip, by_host=by_host,
               protocol=protocol, tls=tls, authenticated=authenticated, envelope_for=envelope_for, id=ident,
               when=when, notes=tuple(notes))
