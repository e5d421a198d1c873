"""Addresses as the user sees them: the real addr-spec always shown next to any display name."""
from __future__ import annotations

from dataclasses import dataclass

from tuimail.model.decode import decode_header
from tuimail.model.text import one_line

MAX_ADDRESSES = 500


@dataclass(frozen=True)
class Address:
    name: str  # decoded display name, controls stripped; may be empty
    email: str  # the addr-spec mail really goes to

    def display(self) -> str:
        """'Name <addr>' or 'addr': the real address is never hidden behind a name."""
        return f"{self.name} <{self.email}>" if self.name and self.name != self.email else self.email

    def short(self) -> str:
        return self.name or self.email


def parse_addresses(value: str | None) -> tuple[Address, ...]:
    """Addresses from a raw header value (encoded-words allowed); never raises.

    The display name is decoded after the addr-spec is split off, so an encoded-word cannot
    smuggle a comma or angle brackets into the structure.
    """
    if not value:
        return ()
    from email.utils import getaddresses  # here: summaries from the cache never need it

    try:
        pairs = getaddresses([value.replace("\r", " ").replace("\n", " ")])
    except (ValueError, TypeError, IndexError, RecursionError):  # a To of thousands of groups
        return (Address(name=one_line(decode_header(value)), email=""),)
    found = []
    for name, addr in pairs[:MAX_ADDRESSES]:
        if not name and not addr:
            continue
        found.append(Address(name=one_line(decode_header(name), 200), email=one_line(addr, 320)))
    if not found and value.strip():
        # Pythons with the strict getaddresses (3.11.10+, and distributions' backports) give
        # nothing for a malformed list: the raw text is shown, and no address is taken from it
        return (Address(name=one_line(decode_header(value), 200), email=""),)
    return tuple(found)
