"""IMAP sequence sets ("1:3,7,9:12") as sorted ranges, parsed strictly (SECURITY-CASES B17).

A server's VANISHED or ESEARCH ALL may name a range of millions of UIDs in a few bytes, so a
set is kept as ranges and never expanded unless the caller asks for a bounded expansion.
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import Iterable, Iterator

MAX_NUMBER = 2**32 - 1  # UIDs and sequence numbers are nz-number (RFC 3501: 1 .. 2^32 - 1)
MAX_RANGES = 100_000  # more ranges than this in one response is an attack, not a mailbox


class SetError(ValueError):
    """A sequence set that is not well formed: empty parts, 0, over 2^32, junk."""


def number(text: str | bytes, what: str = "number", limit: int = MAX_NUMBER) -> int:
    """A strictly decimal nz-number within limit; SetError otherwise."""
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    if not text or len(text) > 20 or not text.isascii() or not text.isdigit():
        raise SetError(f"bad {what}: {text[:40]!r}")
    value = int(text)
    if not 0 < value <= limit:
        raise SetError(f"{what} out of range: {text[:40]}")
    return value


@dataclass(frozen=True)
class UidSet:
    """Disjoint, sorted, inclusive ranges."""
    ranges: tuple[tuple[int, int], ...] = ()

    @classmethod
    def parse(cls, text: str | bytes, star: int | None = None) -> "UidSet":
        """Parse a sequence set; '*' needs star (the largest value) or raises SetError."""
        if isinstance(text, bytes):
            text = text.decode("ascii", "replace")
        text = text.strip()
        if not text:
            raise SetError("empty sequence set")
        parts = text.split(",")
        if len(parts) > MAX_RANGES:
            raise SetError(f"sequence set with more than {MAX_RANGES} parts")
        ranges = []
        for part in parts:
            lo_text, colon, hi_text = part.partition(":")
            lo = _bound(lo_text, star)
            hi = _bound(hi_text, star) if colon else lo
            ranges.append((min(lo, hi), max(lo, hi)))
        return cls.of_ranges(ranges)

    @classmethod
    def of_ranges(cls, ranges: Iterable[tuple[int, int]]) -> "UidSet":
        merged: list[list[int]] = []
        for lo, hi in sorted(ranges):
            if merged and lo <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        return cls(tuple((lo, hi) for lo, hi in merged))

    @classmethod
    def of(cls, values: Iterable[int]) -> "UidSet":
        return cls.of_ranges((v, v) for v in values)

    def __bool__(self) -> bool:
        return bool(self.ranges)

    def __len__(self) -> int:
        return sum(hi - lo + 1 for lo, hi in self.ranges)

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int):
            return False
        i = bisect_right(self.ranges, (value, MAX_NUMBER + 1)) - 1
        return i >= 0 and self.ranges[i][0] <= value <= self.ranges[i][1]

    def __iter__(self) -> Iterator[int]:
        for lo, hi in self.ranges:
            yield from range(lo, hi + 1)

    def intersect(self, values: Iterable[int]) -> set[int]:
        """The given values that are in this set (bounded by the values, not by the set)."""
        return {v for v in values if v in self}

    def expand(self, limit: int) -> list[int]:
        """Every member, ascending; SetError when there are more than limit."""
        if len(self) > limit:
            raise SetError(f"sequence set of {len(self)} members, more than {limit}")
        return list(self)

    def imap(self) -> str:
        return ",".join(f"{lo}" if lo == hi else f"{lo}:{hi}" for lo, hi in self.ranges)

    def __str__(self) -> str:
        return self.imap()


def _bound(text: str, star: int | None) -> int:
    if text == "*":
        if star is None:
            raise SetError("'*' where a number is needed")
        return star
    return number(text, "sequence set member")


def imap_set(values: Iterable[int]) -> str:
    """Client side: a compact set string for UIDs we send; ValueError for an empty or bad set."""
    uids = UidSet.of(values)
    if not uids:
        raise ValueError("no messages given")
    if uids.ranges[0][0] < 1 or uids.ranges[-1][1] > MAX_NUMBER:
        raise ValueError("message number out of range")
    return uids.imap()
