"""A message attached byte for byte (forward as attachment): a message/rfc822 part whose
content is the original's exact bytes, which email's generator neither re-folds nor re-encodes.

How: the generator writes a part's headers by calling the part's own `_write_headers(generator)`
when it has one (email/generator.py, Generator._write), and the body through a handler chosen by
content type. VerbatimMessage has no headers and no payload, so the handler writes nothing, and
its `_write_headers` writes the original bytes. The only change is line ends, which become the
generator's: an original with CRLF line ends (all of IMAP, and the wire) comes out identical
when the message is written with CRLF (policy.SMTP, message_bytes()).
"""
from __future__ import annotations

import email.policy
import re
from email.generator import BytesGenerator
from email.message import EmailMessage, MIMEPart
from email.policy import Policy

MAX_LINE = 998  # RFC 5322 2.1.1; longer lines need CTE binary, which SMTP rarely carries
_LINE_END = re.compile(rb"\r\n|\r|\n")
_LONG_LINE = re.compile(rb"[^\r\n]{%d}" % (MAX_LINE + 1))


def canonical_line_ends(raw: bytes, linesep: bytes = b"\r\n") -> bytes:
    """raw with every line end (CRLF, bare LF, bare CR) written as linesep; other bytes kept."""
    if linesep == b"\r\n" and raw.count(b"\r") == raw.count(b"\n") == raw.count(b"\r\n"):
        return raw  # already CRLF throughout: untouched
    return _LINE_END.sub(linesep, raw)


def transfer_encoding(raw: bytes) -> str:
    """The Content-Transfer-Encoding raw needs as a message/rfc822 body: 7bit, 8bit or binary."""
    if b"\x00" in raw or _LONG_LINE.search(raw):
        return "binary"
    return "7bit" if raw.isascii() else "8bit"


class VerbatimMessage(EmailMessage):
    """The payload of a message/rfc822 part that the generator writes as these exact bytes."""

    def __init__(self, raw: bytes):
        super().__init__(policy=email.policy.default)
        self.raw = bytes(raw)

    def _write_headers(self, generator) -> None:  # the generator's hook; see the module doc
        linesep = generator.policy.linesep.encode("ascii")
        data = canonical_line_ends(self.raw, linesep)
        if isinstance(generator, BytesGenerator):
            generator._fp.write(data)
        else:  # the str Generator (as_string): bytes carried as surrogate escapes, as email does
            generator._fp.write(data.decode("ascii", "surrogateescape"))


def verbatim_original(message: EmailMessage) -> bytes | None:
    """The bytes of the first verbatim-forwarded message in message, or None."""
    for part in message.walk():
        if isinstance(part, VerbatimMessage):
            return part.raw
    return None


def rfc822_part(raw: bytes, filename: str, policy: Policy) -> MIMEPart:
    """The attachment carrying raw. A message SMTP cannot carry as message/rfc822 (NUL bytes,
    lines over 998 octets) goes as application/octet-stream in base64 instead: its decoded
    bytes are still the original's, with CRLF line ends."""
    part = MIMEPart(policy=policy)
    cte = transfer_encoding(raw)
    if cte == "binary":
        part.set_content(canonical_line_ends(raw), "application", "octet-stream",
                         disposition="attachment", filename=filename)
    else:
        part.set_content(VerbatimMessage(raw), cte=cte, disposition="attachment", filename=filename)
    return part
