"""What receiving servers claim about SPF, DKIM, DMARC and ARC, and whose claims to believe.

Authentication-Results (RFC 8601), ARC-Authentication-Results and Received-SPF are read;
DKIM-Signature tags are listed. Anyone can write these headers before the mail reaches the
user's server, so a result counts only when its authserv-id is one the user trusts
(trusted_authserv_ids); the rest are kept as untrusted claims. Nothing is verified here.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from tuimail.model.address import parse_addresses
from tuimail.model.decode import decode_header
from tuimail.model.route import header_items
from tuimail.model.text import one_line

NOT_VERIFIED = "DKIM signatures are not verified cryptographically here (no network); results are the servers' claims"
MAX_CHECKS = 200


@dataclass(frozen=True)
class AuthCheck:
    method: str  # "spf", "dkim", "dmarc", "arc", ... lower case
    result: str  # "pass", "fail", "softfail", "none", ... lower case
    domain: str | None
    selector: str | None
    authserv_id: str
    trusted: bool
    source: str  # "Authentication-Results", "ARC-Authentication-Results" or "Received-SPF"
    raw: str  # the whole header value, one line


@dataclass(frozen=True)
class AuthReport:
    checks: tuple[AuthCheck, ...]
    dkim_signatures: tuple[dict, ...]  # {"d": str, "s": str, "h": [header names], "a": str, "i": str}
    from_domain: str | None
    return_path_domain: str | None
    alignment: dict[str, str]  # {"dkim": ..., "spf": ...}: "aligned" | "not aligned" | "none"
    notes: tuple[str, ...]


def _strip_comments(text: str) -> str:
    out, depth, quoted = [], 0, False
    for c in text:
        if c == '"' and not depth:
            quoted = not quoted
        elif not quoted and c == "(":
            depth += 1
            continue
        elif not quoted and c == ")" and depth:
            depth -= 1
            continue
        if not depth:
            out.append(c)
    return "".join(out)


def _split(text: str, sep: str = ";") -> list[str]:
    parts, current, quoted = [], [], False
    for c in text:
        if c == '"':
            quoted = not quoted
        if c == sep and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def _domain(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip().strip('"<>();,').rstrip(".")
    domain = one_line(value.rpartition("@")[2].lower(), 255)
    return domain if domain and domain != "none" else None


def _trusted(authserv_id: str, trusted_ids: set[str]) -> bool:
    return authserv_id.lower() in trusted_ids


def parse_authentication_results(value: str, source: str, trusted_ids: set[str]) -> list[AuthCheck]:
    """The checks of one Authentication-Results (or ARC-Authentication-Results) value."""
    raw = one_line(decode_header(value), 2000)
    pieces = _split(_strip_comments(raw))
    if source.startswith("ARC") and pieces and re.match(r"i\s*=\s*\d+", pieces[0]):
        pieces = pieces[1:]  # the ARC instance tag comes first
    if not pieces:
        return []
    if re.match(r"[\w.-]+\s*=", pieces[0]):  # no authserv-id (Microsoft 365 writes none)
        pieces.insert(0, "")
    authserv_id = one_line(pieces[0].split()[0] if pieces[0].split() else "", 255)
    trusted = _trusted(authserv_id, trusted_ids)
    checks = []
    for piece in pieces[1:]:
        match = re.match(r"([\w.-]+)(?:\s*/\s*\d+)?\s*=\s*([\w.-]+)(.*)", piece, re.S)
        if not match:
            continue  # "none", or something this reader does not know
        method, result, rest = match.group(1).lower(), match.group(2).lower(), match.group(3)
        props = {k.lower(): v.strip('"') for k, v in re.findall(r"([\w-]+\.[\w.-]+)\s*=\s*(\"[^\"]*\"|\S+)", rest)}
        domain = selector = None
        if method == "dkim" or method == "domainkeys":
            domain = _domain(props.get("header.d") or props.get("header.i"))
            selector = props.get("header.s")
        elif method == "spf":
            domain = _domain(props.get("smtp.mailfrom") or props.get("smtp.mail") or props.get("smtp.helo"))
        elif method in ("dmarc", "bimi"):
            domain = _domain(props.get("header.from") or props.get("header.d"))
        checks.append(AuthCheck(method=one_line(method, 40), result=one_line(result, 40), domain=domain,
                                selector=one_line(selector, 255) if selector else None,
                                authserv_id=authserv_id, trusted=trusted, source=source, raw=raw))
    return checks


def parse_received_spf(value: str, trusted_ids: set[str]) -> AuthCheck | None:
    raw = one_line(decode_header(value), 2000)
    words = raw.split()
    if not words:
        return None
    result = words[0].lower()
    tags = {k.lower(): v.strip('"') for k, v in re.findall(r"([\w-]+)\s*=\s*(\"[^\"]*\"|[^\s;]+)",
                                                          _strip_comments(raw))}
    comment = re.search(r"\(([^():\s]+):", raw)  # "(google.com: domain of ...)"
    authserv_id = tags.get("receiver") or (comment.group(1) if comment else "")
    domain = _domain(tags.get("envelope-from") or tags.get("helo"))
    if domain is None:
        found = re.search(r"domain of\s+(\S+)", raw)
        domain = _domain(found.group(1)) if found else None
    return AuthCheck(method="spf", result=one_line(result, 40), domain=domain, selector=None,
                     authserv_id=one_line(authserv_id, 255), trusted=_trusted(authserv_id, trusted_ids),
                     source="Received-SPF", raw=raw)


def dkim_signature(value: str) -> dict:
    """The d=, s=, h=, a= and i= tags of a DKIM-Signature (the signature itself is not checked)."""
    flat = re.sub(r"\s+", "", decode_header(value))
    tags = {}
    for piece in flat.split(";"):
        key, sep, val = piece.partition("=")
        if sep and key.lower() in ("d", "s", "h", "a", "i") and key.lower() not in tags:
            tags[key.lower()] = val
    return {"d": (one_line(tags["d"], 255).lower() or None) if "d" in tags else None,
            "s": one_line(tags["s"], 255) or None if "s" in tags else None,
            "h": [one_line(h, 100).lower() for h in tags.get("h", "").split(":") if h][:100],
            "a": one_line(tags["a"], 40) or None if "a" in tags else None,
            "i": one_line(tags["i"], 320) or None if "i" in tags else None}


def organizational(domain: str) -> str:
    """A rough organizational domain (no public suffix list): the last two labels, or three
    under a two-letter country code with a short second level (example.co.uk)."""
    labels = domain.lower().rstrip(".").split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and len(labels[-2]) <= 3:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _aligned(domain: str | None, from_domain: str | None) -> bool:
    return bool(domain and from_domain and organizational(domain) == organizational(from_domain))


def auth_report(raw: bytes, trusted_authserv_ids: Iterable[str] = ()) -> AuthReport:
    """Every authentication claim in the message's header, judged against the trusted ids."""
    trusted_ids = {t.strip().lower() for t in trusted_authserv_ids if t and t.strip()}
    checks: list[AuthCheck] = []
    signatures: list[dict] = []
    from_domain = return_path = None
    for name, value in header_items(raw):
        key = name.lower()
        if len(checks) >= MAX_CHECKS:
            break
        if key in ("authentication-results", "arc-authentication-results"):
            source = "Authentication-Results" if key == "authentication-results" else "ARC-Authentication-Results"
            checks.extend(parse_authentication_results(value, source, trusted_ids))
        elif key == "received-spf":
            check = parse_received_spf(value, trusted_ids)
            if check:
                checks.append(check)
        elif key == "dkim-signature" and len(signatures) < 50:
            signatures.append(dkim_signature(value))
        elif key == "from" and from_domain is None:
            found = parse_addresses(value)
            from_domain = _domain(found[0].email) if found and "@" in found[0].email else None
        elif key == "return-path" and return_path is None:
            return_path = _domain(one_line(value, 400)) if "@" in value else None
    dkim_domains = [s["d"] for s in signatures if s["d"]] + [c.domain for c in checks
                                                             if c.method == "dkim" and c.domain]
    alignment = {
        "dkim": "none" if not dkim_domains or not from_domain else
        "aligned" if any(_aligned(d, from_domain) for d in dkim_domains) else "not aligned",
        "spf": "none" if not return_path or not from_domain else
        "aligned" if _aligned(return_path, from_domain) else "not aligned",
    }
    notes = [NOT_VERIFIED, "alignment compares organizational domains approximately (no public suffix list)"]
    untrusted = sorted({c.authserv_id for c in checks if not c.trusted})
    if untrusted:
        notes.append("untrusted claims from: " + ", ".join(u or "(no id)" for u in untrusted)
                     + " (add trusted_authserv_ids to the account to trust them)")
    return AuthReport(checks=tuple(checks), dkim_signatures=tuple(signatures), from_domain=from_domain,
                      return_path_domain=return_path, alignment=alignment, notes=tuple(notes))
