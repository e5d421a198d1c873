"""Untagged IMAP responses, as imaplib hands them over ((type, data) pairs in arrival order),
turned into model values. Pure functions; every number is checked (SECURITY-CASES B16, B17).
"""
from __future__ import annotations

import re
from typing import Any, Iterable

from imapclient.exceptions import IMAPClientError
from imapclient.response_parser import parse_fetch_response, parse_response

from tuimail.model.mailbox import FlagChange, FolderEvents, FolderStatus
from tuimail.model.uidset import MAX_NUMBER, SetError, UidSet, number
from tuimail.protocols.imap_parse import text

MAX_MODSEQ = 2**63 - 1  # RFC 7162: mod-sequence-value is below 2^63
MAX_COUNT = 2**32 - 1
Responses = list[tuple[str, Any]]
# What parsing a hostile response can raise; callers turn these into one ProtocolError.
PARSE_ERRORS = (SetError, ValueError, IndexError, TypeError, IMAPClientError)


def raw(data: Any) -> bytes:
    """The bytes of one untagged response's data (a literal-carrying one is joined)."""
    if data is None:
        return b""
    if isinstance(data, tuple):
        return b"".join(part for part in data if isinstance(part, bytes))
    return data if isinstance(data, bytes) else str(data).encode()


def last(responses: Responses, typ: str) -> bytes | None:
    found = None
    for kind, data in responses:
        if kind == typ:
            found = raw(data)
    return found


def has(responses: Responses, typ: str) -> bool:
    return any(kind == typ for kind, _ in responses)


def modseq(value: Any) -> int:
    """A MODSEQ/HIGHESTMODSEQ value (bytes, int, or imapclient's one-tuple); SetError if bad."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return number(value if isinstance(value, (str, bytes)) else "", "mod-sequence", MAX_MODSEQ)


def count(value: Any, what: str = "count") -> int:
    """A non-negative count such as EXISTS (0 allowed, unlike sequence numbers)."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    value = str(value).strip()
    if value == "0":
        return 0
    return number(value, what, MAX_COUNT)


def fetches(responses: Responses) -> dict[int, dict]:
    """Every FETCH response, keyed by sequence number, merged as imapclient does."""
    items = [data for kind, data in responses if kind == "FETCH"]
    if not items:
        return {}
    parsed = parse_fetch_response(items, normalise_times=False, uid_is_key=False)
    result = {}
    for seq, data in parsed.items():
        if not isinstance(seq, int) or not 0 < seq <= MAX_NUMBER:
            raise SetError(f"FETCH for sequence number {seq!r}")
        uid = data.get(b"UID")
        if uid is not None and (not isinstance(uid, int) or not 0 < uid <= MAX_NUMBER):
            raise SetError(f"FETCH with UID {uid!r}")
        result[seq] = data
    return result


def flags_of(data: dict) -> frozenset[str] | None:
    values = data.get(b"FLAGS")
    if values is None:
        return None
    return frozenset(f for f in (text(v, 100) for v in tuple(values)[:100]) if f and f.lower() != "\\recent")


def events(responses: Responses, exists: int | None = None, uidvalidity: int | None = None,
           skip_fetch: Iterable[int] = ()) -> FolderEvents:
    """What the untagged responses say changed in the selected folder, in the server's order.

    exists: the count before these responses (so EXPUNGEs without a later EXISTS still give
    a count). uidvalidity: the folder's known value; a different one is reported. FETCHes
    for sequence numbers in skip_fetch are answers to our own command, not news. A FETCH
    without a UID is numbered as when it was sent; later EXPUNGEs renumber it here (B15).
    """
    news = FolderEvents()
    current = exists
    skip = set(skip_fetch)
    group: list = []  # the items of one FETCH response (literals come as several)
    for kind, data in responses:
        if kind == "FETCH":
            group.append(data)
            if not isinstance(data, tuple):
                _fetch_news(news, group, skip)
                group = []
            continue
        if kind == "EXISTS":
            current = count(raw(data), "EXISTS")
            news.exists = current
        elif kind == "EXPUNGE":
            seq = number(raw(data).strip(), "EXPUNGE sequence number")
            if current is not None:
                if seq > current:
                    raise SetError(f"EXPUNGE {seq} beyond the {current} messages")
                current -= 1
                news.exists = current
            news.expunged.append(seq)
            news.seq_flags = {s - (s > seq): f for s, f in news.seq_flags.items() if s != seq}
        elif kind == "VANISHED":
            body = raw(data).strip()
            if body.upper().startswith(b"(EARLIER)"):
                continue  # only ever the answer to our own resync; see vanished_earlier()
            gone = UidSet.parse(body)
            news.vanished = UidSet.of_ranges(news.vanished.ranges + gone.ranges)
            news.seq_flags = {}  # numbers shifted by an unknown amount: unusable
            if current is not None:
                current = max(current - len(gone), 0)
                news.exists = current
        elif kind == "RECENT":
            news.recent = count(raw(data), "RECENT")
        elif kind == "UIDVALIDITY":
            value = number(raw(data).strip(), "UIDVALIDITY")
            if uidvalidity is not None and value != uidvalidity:
                news.uidvalidity = value
        elif kind == "HIGHESTMODSEQ":
            news.highestmodseq = max(news.highestmodseq, modseq(raw(data).strip()))
        elif kind == "BYE":
            news.closed = True
    if group:
        _fetch_news(news, group, skip)
    return news


_LEADING_NUMBER = re.compile(rb"\s*(\d{1,10})\s")


def _group_seq(group: list) -> int | None:
    """The sequence number a FETCH response starts with, read without parsing the rest."""
    first = group[0]
    head = first[0] if isinstance(first, tuple) and first else first
    match = _LEADING_NUMBER.match(head) if isinstance(head, bytes) else None
    return int(match.group(1)) if match else None


def _fetch_news(news: FolderEvents, group: list, skip: set[int]) -> None:
    if skip and _group_seq(group) in skip:
        return  # the answer to our own command, parsed by its caller already
    for seq, data in fetches([("FETCH", item) for item in group]).items():
        flags = flags_of(data)
        if seq in skip or flags is None:
            continue
        uid = data.get(b"UID")
        if uid is None:
            news.seq_flags[seq] = flags
            continue
        mod = modseq(data[b"MODSEQ"]) if b"MODSEQ" in data else 0
        news.flags[uid] = FlagChange(uid, flags, mod, seq)
        news.highestmodseq = max(news.highestmodseq, mod)


def vanished_earlier(responses: Responses) -> UidSet:
    ranges: list[tuple[int, int]] = []
    for kind, data in responses:
        body = raw(data).strip()
        if kind == "VANISHED" and body.upper().startswith(b"(EARLIER)"):
            ranges.extend(UidSet.parse(body[len(b"(EARLIER)"):]).ranges)
    return UidSet.of_ranges(ranges)


def esearch(responses: Responses) -> dict[str, Any]:
    """The last ESEARCH response as {"COUNT": n, "MIN": n, "MAX": n, "ALL": UidSet}."""
    body = last(responses, "ESEARCH")
    result: dict[str, Any] = {}
    if body is None:
        return result
    items = list(parse_response([body]))
    if items and isinstance(items[0], tuple):  # (TAG "A5")
        items = items[1:]
    if items and isinstance(items[0], bytes) and items[0].upper() == b"UID":
        items = items[1:]
    for key, value in zip(items[0::2], items[1::2]):
        name = text(key, 20).upper()
        value_text = value if isinstance(value, bytes) else str(value).encode()
        if name in ("COUNT",):
            result[name] = count(value_text, "ESEARCH COUNT")
        elif name in ("MIN", "MAX"):
            result[name] = number(value_text, f"ESEARCH {name}")
        elif name == "ALL":
            result[name] = UidSet.parse(value_text)
    return result


def search(responses: Responses) -> list[int]:
    found: list[int] = []
    for kind, data in responses:
        if kind != "SEARCH":
            continue
        body = raw(data).split(b"(MODSEQ", 1)[0]
        found.extend(number(word, "SEARCH result") for word in body.split())
    return found


def status(name: str, responses: Responses) -> FolderStatus:
    body = last(responses, "STATUS")
    values: dict[str, int] = {}
    if body is not None:
        items = list(parse_response([body]))
        pairs = items[1] if len(items) > 1 and isinstance(items[1], tuple) else ()
        for key, value in zip(pairs[0::2], pairs[1::2]):
            key_text = text(key, 30).upper()
            if key_text == "HIGHESTMODSEQ":
                values[key_text] = modseq(value)
            elif key_text in ("MESSAGES", "UNSEEN", "RECENT", "UIDNEXT", "UIDVALIDITY"):
                values[key_text] = count(str(value).encode(), f"STATUS {key_text}")
    return FolderStatus(name, values.get("MESSAGES"), values.get("UNSEEN"), values.get("RECENT"),
                        values.get("UIDNEXT"), values.get("UIDVALIDITY"), values.get("HIGHESTMODSEQ"))


def copyuid(responses: Responses) -> dict[int, int]:
    """COPYUID (UIDPLUS) as source uid -> destination uid; {} when absent or inconsistent."""
    body = last(responses, "COPYUID")
    if not body:
        return {}
    try:
        _, source, dest = body.split()[:3]
        src = UidSet.parse(source).expand(100_000)
        dst = UidSet.parse(dest).expand(100_000)
    except (ValueError, SetError):
        return {}
    return dict(zip(src, dst)) if len(src) == len(dst) else {}
