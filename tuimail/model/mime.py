"""The MIME part tree, whether it came from IMAP BODYSTRUCTURE or from parsing a whole message.

Part ids follow IMAP section numbering (RFC 3501 6.4.5), so a part chosen here can be fetched
with BODY.PEEK[part_id] without downloading anything else.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class MimePart:
    part_id: str  # IMAP section: "1", "2.1"; the root of a multipart message is ""
    content_type: str  # lower case, "text/plain"
    params: tuple[tuple[str, str], ...] = ()
    encoding: str | None = None  # Content-Transfer-Encoding, lower case
    size: int = 0  # encoded size in octets, as the server or the raw message says
    disposition: str | None = None  # "inline" | "attachment" | None
    filename: str | None = None  # decoded, as the message gives it: NOT safe as a path
    content_id: str | None = None
    description: str | None = None
    children: tuple["MimePart", ...] = field(default=())

    @property
    def maintype(self) -> str:
        return self.content_type.partition("/")[0]

    @property
    def subtype(self) -> str:
        return self.content_type.partition("/")[2]

    @property
    def charset(self) -> str | None:
        return self.param("charset")

    def param(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.params:
            if key == name:
                return value
        return None

    @property
    def is_multipart(self) -> bool:
        return self.maintype == "multipart"

    @property
    def is_attachment(self) -> bool:
        if self.is_multipart:
            return False
        if self.disposition == "attachment":
            return True
        if self.content_type == "message/rfc822":
            return True
        if self.maintype == "text":
            return bool(self.filename) and self.disposition != "inline"
        return True

    def walk(self, max_parts: int = 10_000):
        """Every part, depth first, without recursion (hostile nesting cannot overflow the stack)."""
        stack = [self]
        seen = 0
        while stack and seen < max_parts:
            part = stack.pop()
            seen += 1
            yield part
            stack.extend(reversed(part.children))


def display_part(root: MimePart) -> MimePart | None:
    """The part a reader shows as the body: text/plain preferred, else text/html.

    In multipart/alternative the richest part we can render wins, which for us is plain text,
    falling back to HTML (converted to text, never rendered). Attachments never count.
    """
    html: MimePart | None = None
    other_text: MimePart | None = None
    for part in root.walk():
        if part.is_multipart or part.is_attachment:
            continue
        if part.content_type == "text/plain":
            return part
        if part.content_type == "text/html":
            html = html or part
        elif part.maintype == "text":
            other_text = other_text or part  # text/enriched and friends: shown as plain text
    return html or other_text


def attachments(root: MimePart) -> list[MimePart]:
    """Parts a user can save, in message order; nested message/rfc822 counts as one."""
    found: list[MimePart] = []
    stack = [root]
    while stack:
        part = stack.pop()
        if part.is_attachment and part is not root:
            found.append(part)
            continue
        stack.extend(reversed(part.children))
    return found


def human_size(octets: int) -> str:
    units = ["B", "KB", "MB", "GB", "TB"]
    value = float(max(octets, 0))
    for unit in units:
        if value < 1024 or unit == units[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{octets} B"
