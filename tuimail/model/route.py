"""The route a message took: its Received headers as hops, oldest first, with what looks wrong.

Every Received header becomes exactly one hop; a line that cannot be read stays as a hop with
parsed=False and its raw text, so nothing in the chain is ever dropped.
"""
from __future__ import annotations

import email.parser
import email.policy
import ipaddress
from dataclasses import dataclass, replace
from datetime import timedelta

from tuimail.model.message import MAX_HEADER_BYTES
from tuimail.model.received import Hop, parse_received

GAP = timedelta(minutes=30)  # a hop slower than this is worth a look
SKEW = timedelta(seconds=0)  # any step back in time is reported
MAX_HOPS = 500
# Named, not ipaddress.is_private: that also counts the documentation ranges as private.
_PRIVATE = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16", "100.64.0.0/10",
    "::1/128", "fc00::/7", "fe80::/10"))


@dataclass(frozen=True)
class Route:
    hops: tuple[Hop, ...]  # oldest first
    total: timedelta | None  # first time stamp to last
    oddities: tuple[str, ...]


def header_items(raw: bytes) -> list[tuple[str, str]]:
    """(name, raw value) of the top-level header block, in order; never raises."""
    ends = [e for e in (raw.find(b"\n\n"), raw.find(b"\r\n\r\n")) if e >= 0]
    head = raw[: min(min(ends) if ends else len(raw), MAX_HEADER_BYTES)]
    try:
        msg = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(head + b"\n\n", headersonly=True)
        return [(str(k), str(v)) for k, v in msg.raw_items()]
    except Exception:  # the stdlib parser on hostile bytes: nothing to show rather than a crash
        return []


def is_private(ip: str | None) -> bool:
    """Loopback, RFC 1918, link-local or unique-local: an address that means nothing outside."""
    if not ip:
        return False
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    return any(addr.version == net.version and addr in net for net in _PRIVATE)


def _human(delta: timedelta) -> str:
    seconds = int(abs(delta).total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def route_from_values(values: list[str]) -> Route:
    """Hops from Received values in header order (newest first, as MTAs prepend them)."""
    hops: list[Hop] = []
    oddities: list[str] = []
    previous = None
    for index, value in enumerate(reversed(values[:MAX_HOPS]), 1):
        hop = replace(parse_received(value), index=index)
        if hop.when is not None and previous is not None:
            hop = replace(hop, delay=hop.when - previous)
        if hop.when is not None:
            previous = hop.when
        hops.append(hop)
    if len(values) > MAX_HOPS:
        oddities.append(f"{len(values) - MAX_HOPS} more Received headers not analysed")
    last = len(hops)
    for hop in hops:
        n = hop.index
        if not hop.parsed:
            oddities.append(f"hop {n}: not understood; shown as written")
        if hop.delay is not None and hop.delay < -SKEW:
            oddities.append(f"hop {n}: clock goes backwards by {_human(hop.delay)}")
        elif hop.delay is not None and hop.delay > GAP:
            oddities.append(f"hop {n}: took {_human(hop.delay)} since the previous hop")
        if hop.parsed and hop.when is None:
            oddities.append(f"hop {n}: no readable time stamp")
        if hop.parsed and hop.tls is None and hop.from_host and not is_private(hop.from_ip) \
                and (hop.protocol or "").upper() not in ("LOCAL", "HTTP", "MAPI"):
            oddities.append(f"hop {n}: no TLS from {hop.from_host}")
        if 1 < n < last and is_private(hop.from_ip) and any(
                h.from_ip and not is_private(h.from_ip) for h in hops[: n - 1]):
            oddities.append(f"hop {n}: private or loopback address {hop.from_ip} after public hops")
    stamps = [h.when for h in hops if h.when is not None]
    total = stamps[-1] - stamps[0] if len(stamps) >= 2 else None
    return Route(hops=tuple(hops), total=total, oddities=tuple(oddities))


def route_of(raw: bytes) -> Route:
    """The route of raw message bytes; never raises."""
    values = [v for k, v in header_items(raw) if k.lower() == "received"]
    return route_from_values(values)
