"""Opening one message over IMAP: the summary (with its cached BODYSTRUCTURE) plus only the
part that is displayed. Attachments are listed from the structure, never downloaded."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tuimail.model.message import parse_message
from tuimail.model.mime import MimePart, attachments, display_part
from tuimail.model.summary import MessageSummary
from tuimail.protocols.imap_parse import structure_notices

if TYPE_CHECKING:
    from tuimail.protocols.imap import ImapSession


@dataclass(frozen=True)
class MessageView:
    summary: MessageSummary
    text: str  # the display text, controls stripped
    kind: str  # "plain" | "html" | "none"
    part: MimePart | None  # the part shown
    attachments: tuple[MimePart, ...]
    problems: tuple[str, ...] = ()
    headers_only: bool = False  # POP3: above max_download_size, not downloaded until asked


def read_message(session: ImapSession, summary: MessageSummary) -> MessageView:
    structure = summary.structure
    if structure is None:  # the server gave no usable BODYSTRUCTURE: parse the whole message
        parsed = parse_message(session.fetch_raw(summary.uid), session.account.limits)
        part = display_part(parsed.root)
        return MessageView(summary, parsed.body, parsed.body_kind, part, tuple(parsed.attachments),
                           parsed.problems + ("no BODYSTRUCTURE from the server; fetched whole",))
    cut = structure_notices(structure)  # BODYSTRUCTURE over the account's mime_depth / mime_parts
    part = display_part(structure)
    if part is None:
        return MessageView(summary, "", "none", None, tuple(attachments(structure)), cut)
    text, problems = session.fetch_text(summary.uid, part)
    kind = "html" if part.content_type == "text/html" else "plain"
    return MessageView(summary, text, kind, part, tuple(attachments(structure)), cut + tuple(problems))
