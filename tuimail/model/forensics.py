"""The whole header analysis of one message, as the CLI's --json prints it (schema in README.md)."""
from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta

from tuimail.model.authres import AuthReport, auth_report
from tuimail.model.message import parse_message
from tuimail.model.received import Hop
from tuimail.model.route import Route, route_of

SCHEMA_VERSION = 1
# What forwarding clients put above an inline-forwarded original (tuimail's own first).
# Only blanks within the line: a \s* at ^ would run over every following empty line and
# make the search quadratic (100,000 empty lines took minutes).
_INLINE_MARKS = re.compile(
    r"^[ \t]*(?:-{2,}[ \t]*Forwarded message[ \t]*-{2,}|-{2,}[ \t]*Original Message[ \t]*-{2,}"
    r"|-{2,}[ \t]*Forwarded Message[ \t]*-{2,}|Begin forwarded message:"
    r"|-{2,}[ \t]*Weitergeleitete Nachricht[ \t]*-{2,}|-{2,}[ \t]*Message transféré[ \t]*-{2,})[ \t\r]*$",
    re.I | re.M)


def forward_kind(raw: bytes) -> str:
    """'attachment' (a message/rfc822 part), 'inline' (a forward block in the text) or 'none'."""
    try:
        parsed = parse_message(raw)
    except Exception:  # parse_message does not raise; a bug here must not break the analysis
        return "none"
    if any(p.content_type == "message/rfc822" for p in parsed.root.walk() if p is not parsed.root):
        return "attachment"
    if _INLINE_MARKS.search(parsed.body):
        return "inline"
    return "none"


def _seconds(delta: timedelta | None) -> float | None:
    return None if delta is None else delta.total_seconds()


def hop_json(hop: Hop) -> dict:
    return {"index": hop.index, "parsed": hop.parsed, "from_host": hop.from_host, "from_ip": hop.from_ip,
            "by_host": hop.by_host, "protocol": hop.protocol, "tls": hop.tls,
            "authenticated": hop.authenticated, "envelope_for": hop.envelope_for, "id": hop.id,
            "when": hop.when.isoformat() if hop.when else None, "delay_seconds": _seconds(hop.delay),
            "notes": list(hop.notes), "raw": hop.raw}


def route_json(route: Route) -> dict:
    return {"hops": [hop_json(h) for h in route.hops], "total_seconds": _seconds(route.total),
            "oddities": list(route.oddities)}


def auth_json(report: AuthReport) -> dict:
    return {"checks": [{"method": c.method, "result": c.result, "domain": c.domain, "selector": c.selector,
                        "authserv_id": c.authserv_id, "trusted": c.trusted, "source": c.source, "raw": c.raw}
                       for c in report.checks],
            "dkim_signatures": [dict(s) for s in report.dkim_signatures],
            "from_domain": report.from_domain, "return_path_domain": report.return_path_domain,
            "alignment": dict(report.alignment), "notes": list(report.notes)}


def analysis_json(raw: bytes, trusted_authserv_ids: Iterable[str] = ()) -> dict:
    """Route, authentication and forwarding of raw message bytes, as JSON-ready data."""
    return {"schema": SCHEMA_VERSION, "route": route_json(route_of(raw)),
            "auth": auth_json(auth_report(raw, trusted_authserv_ids)), "forward": forward_kind(raw)}
