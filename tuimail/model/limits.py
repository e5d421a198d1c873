"""Resource caps against hostile servers and hostile mail: the config's [limits] table.

Each field is a config key of the same name ([limits], or [accounts.NAME.limits] for one
account). Every message about a cap being hit names its key, via over().
"""
from __future__ import annotations

from dataclasses import dataclass, fields

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True)
class Limits:
    # What one server may send.
    imap_line_bytes: int = 4 * MIB
    imap_literal_bytes: int = 80 * MIB  # above message_bytes, so that cap speaks first
    imap_response_bytes: int = 256 * MIB  # lines and literals answering one command
    imap_responses: int = 400_000  # untagged responses held for one command
    pop3_line_bytes: int = 1 * MIB  # one line of a TOP or RETR answer
    pop3_response_bytes: int = 256 * MIB  # one RETR answer, whatever LIST said
    smtp_line_bytes: int = 8 * KIB  # at most aiosmtplib's own cap (SMTP_CEILINGS)
    smtp_response_bytes: int = 32 * KIB
    # What one message may make us parse and show.
    message_bytes: int = 64 * MIB
    header_bytes: int = 1 * MIB  # a header block: parsed, IMAP BODY[HEADER], POP3 TOP
    mime_parts: int = 2_000
    mime_depth: int = 40
    body_chars: int = 2_000_000  # the displayed text of a body
    html_chars: int = 1_000_000  # html2text input; beyond it tags are stripped instead
    html_seconds: float = 2.0  # html2text time; beyond it tags are stripped instead


DEFAULT_LIMITS = Limits()
LIMIT_KEYS = tuple(f.name for f in fields(Limits))
# aiosmtplib stops reading past these whatever we allow; a higher value could never take effect.
SMTP_CEILINGS = {"smtp_line_bytes": 8 * KIB, "smtp_response_bytes": 32 * KIB}


def limit_problem(key: str, value: object) -> str | None:
    """Why value cannot be the limit key (an unknown key is the caller's business), or None."""
    kinds = (int, float) if key.endswith("_seconds") else (int,)
    if isinstance(value, bool) or not isinstance(value, kinds):
        return f"expected {'a number' if float in kinds else 'an integer'}, got {value!r}"
    if value <= 0:
        return f"must be more than 0, got {value!r}"
    ceiling = SMTP_CEILINGS.get(key)
    if ceiling is not None and value > ceiling:
        return f"at most {ceiling} (aiosmtplib's own cap), got {value!r}"
    return None


def amount(key: str, value: float) -> str:
    """A limit's value in words: "4 MiB", "2,000", "2 s"."""
    if key.endswith("_seconds"):
        return f"{value:g} s"
    if key.endswith("_bytes"):
        for unit, size in (("MiB", MIB), ("KiB", KIB)):
            if value >= size and value % size == 0:
                return f"{int(value // size)} {unit}"
        return f"{int(value)} bytes"
    noun = " characters" if key.endswith("_chars") else ""
    return f"{int(value):,}{noun}"


def over(what: str, key: str, value: float) -> str:
    """'server response over 256 MiB (limits.imap_response_bytes)': the cap and the key raising it."""
    return f"{what} over {amount(key, value)} (limits.{key})"
