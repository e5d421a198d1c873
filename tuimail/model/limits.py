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
    pop3_line_bytes: int = 1 * MIB  # one line of a TOP or RETR answer (status/CAPA/listing lines: <= 4 KiB)
    pop3_response_bytes: int = 256 * MIB  # one RETR answer, whatever LIST said, or listing (CAPA: <= 64 KiB)
    smtp_line_bytes: int = 8 * KIB  # at most aiosmtplib's own cap (SMTP_CEILINGS)
    smtp_response_bytes: int = 32 * KIB
    # What one message may make us parse and show.
    message_bytes: int = 64 * MIB  # a message parsed or fetched whole; also bounds text_fetch()
    header_bytes: int = 1 * MIB  # a header block: parsed, IMAP BODY[HEADER], POP3 TOP
    mime_parts: int = 2_000  # parts listed, of a parsed message or an IMAP BODYSTRUCTURE
    mime_depth: int = 40  # nesting listed, likewise
    body_chars: int = 2_000_000  # the displayed text of a body; IMAP fetches 2 bytes a character
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


def mime_parts_cut(value: int) -> str:
    """The notice for a MIME tree (parsed, or an IMAP BODYSTRUCTURE) cut at mime_parts parts."""
    return f"more than {amount('mime_parts', value)} MIME parts; the rest are not listed (limits.mime_parts)"


def mime_depth_cut(value: int) -> str:
    """The notice for a MIME tree (parsed, or an IMAP BODYSTRUCTURE) cut at mime_depth levels."""
    return f"MIME nesting deeper than {value} levels; inner parts are not listed (limits.mime_depth)"


TEXT_BYTES_PER_CHAR = 2


def text_fetch(limits: Limits) -> tuple[int, str]:
    """How many bytes of the part it displays an IMAP reader fetches, and the key setting it.

    Twice body_chars, so that an ASCII body sent base64 (4 bytes per 3, plus line breaks) or
    quoted-printable still fills body_chars characters; never more than message_bytes, the cap
    on a whole message. A part over it is fetched only that far, and the reader says so,
    naming the key.
    """
    by_chars = limits.body_chars * TEXT_BYTES_PER_CHAR
    if by_chars <= limits.message_bytes:
        return by_chars, "body_chars"
    return limits.message_bytes, "message_bytes"


def text_fetch_cut(part_id: str, size: int, limits: Limits) -> str:
    """The notice for a displayed part over text_fetch(): only its first bytes were fetched."""
    cap, key = text_fetch(limits)
    why = f"{TEXT_BYTES_PER_CHAR} bytes a character of limits.body_chars" if key == "body_chars" \
        else f"limits.{key}"
    return f"part {part_id}: only the first {cap:,} of {size:,} bytes fetched ({why})"
