"""One row of the message index: what ENVELOPE, FLAGS, INTERNALDATE, RFC822.SIZE and
BODYSTRUCTURE say about a message, plus its (de)serialisation for the header cache."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from tuimail.model.address import Address
from tuimail.model.mime import MimePart, attachments

SEEN, FLAGGED, ANSWERED, DELETED, DRAFT = "\\Seen", "\\Flagged", "\\Answered", "\\Deleted", "\\Draft"


@dataclass(frozen=True)
class MessageSummary:
    uid: int
    subject: str = ""
    sender: tuple[Address, ...] = ()
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    reply_to: tuple[Address, ...] = ()
    date: datetime | None = None  # the Date header, as the sender claims it
    internal_date: datetime | None = None  # when the server received it
    message_id: str = ""
    in_reply_to: str = ""
    flags: frozenset[str] = field(default_factory=frozenset)
    size: int = 0
    structure: MimePart | None = None

    @property
    def seen(self) -> bool:
        return SEEN in self.flags

    @property
    def flagged(self) -> bool:
        return FLAGGED in self.flags

    @property
    def answered(self) -> bool:
        return ANSWERED in self.flags

    @property
    def has_attachments(self) -> bool:
        return self.structure is not None and bool(attachments(self.structure))

    def with_flags(self, flags: frozenset[str]) -> "MessageSummary":
        return replace(self, flags=frozenset(flags))


def _addresses_to_json(addresses: tuple[Address, ...]) -> list[list[str]]:
    return [[a.name, a.email] for a in addresses]


def _addresses_from_json(data: Any) -> tuple[Address, ...]:
    return tuple(Address(str(name), str(email)) for name, email in (data or []))


def part_to_json(part: MimePart) -> dict:
    data: dict[str, Any] = {"id": part.part_id, "t": part.content_type}
    for key, value in (("p", [list(p) for p in part.params]), ("e", part.encoding), ("s", part.size),
                       ("d", part.disposition), ("f", part.filename), ("c", part.content_id),
                       ("ds", part.description)):
        if value:
            data[key] = value
    if part.children:
        data["k"] = [part_to_json(child) for child in part.children]
    return data


def part_from_json(data: dict) -> MimePart:
    # Iterative in spirit: cached trees were built by us under the same depth caps.
    return MimePart(
        part_id=str(data.get("id", "")), content_type=str(data.get("t", "application/octet-stream")),
        params=tuple((str(k), str(v)) for k, v in data.get("p", [])), encoding=data.get("e"),
        size=int(data.get("s", 0)), disposition=data.get("d"), filename=data.get("f"),
        content_id=data.get("c"), description=data.get("ds"),
        children=tuple(part_from_json(child) for child in data.get("k", [])),
    )


def _date_to_json(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _date_from_json(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def summary_to_json(summary: MessageSummary) -> dict:
    """Everything but uid and flags, which the cache keeps in columns of their own."""
    return {
        "s": summary.subject, "f": _addresses_to_json(summary.sender), "to": _addresses_to_json(summary.to),
        "cc": _addresses_to_json(summary.cc), "rt": _addresses_to_json(summary.reply_to),
        "d": _date_to_json(summary.date), "id": _date_to_json(summary.internal_date),
        "m": summary.message_id, "irt": summary.in_reply_to, "z": summary.size,
        "b": part_to_json(summary.structure) if summary.structure else None,
    }


def summary_from_json(uid: int, flags: frozenset[str], data: dict) -> MessageSummary:
    structure = data.get("b")
    return MessageSummary(
        uid=uid, subject=str(data.get("s", "")), sender=_addresses_from_json(data.get("f")),
        to=_addresses_from_json(data.get("to")), cc=_addresses_from_json(data.get("cc")),
        reply_to=_addresses_from_json(data.get("rt")), date=_date_from_json(data.get("d")),
        internal_date=_date_from_json(data.get("id")), message_id=str(data.get("m", "")),
        in_reply_to=str(data.get("irt", "")), flags=flags, size=int(data.get("z", 0)),
        structure=part_from_json(structure) if structure else None,
    )
