"""The reader's source views: every header (decoded or raw), the raw source of the message or
of one MIME part, and the MIME tree. What they show comes from the message: plain data on
the Line API (SourceView, TextView) or inert Content, never markup.
"""
from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from tuimail.model.decode import decode_header
from tuimail.model.mime import MimePart, human_size
from tuimail.model.text import strip_controls
from tuimail.ui.render import line
from tuimail.ui.widgets.source_fetch import HEADER, WHOLE, SourceFetched, describe
from tuimail.ui.widgets.source_view import SourceView, prepare, source_text
from tuimail.ui.widgets.status import StatusLine

BIG_SOURCE = 512 * 1024  # decoded and split on a thread above this, so the screen never stalls
MAX_FIELDS = 5000  # a hostile header block of a million one-line fields is cut for display


def header_fields(block: bytes) -> list[tuple[str, str]]:
    """(name, raw value with its folding) of every field of a header block, in order; a line
    that is neither a field nor a continuation is kept with an empty name."""
    fields: list[tuple[str, str]] = []
    for text in source_text(block).split("\n"):
        if not text.strip():
            if fields:
                break  # the blank line that ends the header block
            continue
        if text[:1] in (" ", "\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, f"{value}\n{text}")
        elif len(fields) >= MAX_FIELDS:
            break
        else:
            name, colon, value = text.partition(":")
            fields.append((name.strip(), value.lstrip()) if colon and " " not in name.strip() else ("", text))
    return fields


def full_headers_text(block: bytes, raw: bool) -> str:
    """Every header in order: decoded (RFC 2047 words, unfolded) or exactly as sent."""
    if raw:
        text = source_text(block).rstrip("\n")
        return strip_controls(text)
    lines = []
    for name, value in header_fields(block):
        shown = decode_header(value.replace("\n", "\r\n"))
        lines.append(strip_controls(f"{name}: {shown}" if name else shown))
    return "\n".join(lines) or "(no headers)"


def mime_lines(root: MimePart) -> list[tuple[MimePart, Content]]:
    """One row per part, indented by depth: section, type, encoding, size, file name."""
    rows: list[tuple[MimePart, Content]] = []
    stack: list[tuple[MimePart, int]] = [(root, 0)]
    while stack and len(rows) < 10_000:
        part, depth = stack.pop()
        section = part.part_id or "(root)"
        details = [part.encoding or "7bit", human_size(part.size)]
        if part.disposition:
            details.append(part.disposition)
        if part.charset:
            details.append(f"charset={part.charset}")
        pieces: list[str | tuple[str, str]] = ["  " * depth, (f"{section:<8} ", "bold"), (part.content_type, "bold"),
                                               f"  {', '.join(details)}"]
        if part.filename:
            pieces.append(("  " + part.filename, "italic"))
        rows.append((part, line(*pieces)))
        stack.extend((child, depth + 1) for child in reversed(part.children))
    return rows


class RawSourceScreen(Screen[None]):
    """The raw source of the whole message or of one part, fetched on demand."""

    CSS_PATH = "../styles/source.tcss"
    BINDINGS = [
        Binding("escape,q", "close", "Back", id="source.close", tooltip="Back to the message"),
        Binding("a", "whole", "Whole message", id="source.whole", tooltip="The raw source of the whole message"),
        Binding("p", "part", "This part", id="source.part",
                tooltip="The raw source of the highlighted attachment (or the displayed part)"),
        Binding("h", "header", "Header block", id="source.header", tooltip="Only the message's header block"),
    ]

    def __init__(self, reader, section: str = WHOLE, part: MimePart | None = None) -> None:
        super().__init__()
        self.reader = reader  # the MessageScreen: it fetches and keeps what was fetched
        self.section = section
        self.part = part
        self.loaded: str | None = None  # the section on screen

    def compose(self) -> ComposeResult:
        yield Static(id="source-title", markup=False)
        yield SourceView(id="source")
        yield StatusLine(id="source-status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(SourceView).focus()
        self.show(self.section)

    @property
    def status(self) -> StatusLine:
        return self.query_one("#source-status", StatusLine)

    def show(self, section: str) -> None:
        self.section = section
        self.query_one("#source-title", Static).update(line((f"Raw source: {self._what(section)}", "bold")))
        self.status.show(f"fetching {describe(section)}…", "busy")
        self.reader.request_source(section, self)

    def _what(self, section: str) -> str:
        if section in (WHOLE, HEADER) or self.part is None or self.part.part_id != section:
            return describe(section)
        return f"part {section} ({self.part.content_type}{', ' + self.part.filename if self.part.filename else ''})"

    def source_arrived(self, fetched: SourceFetched) -> None:
        if fetched.section != self.section:
            return  # an answer to an earlier choice
        if fetched.data is None:
            self.status.show(f"cannot fetch {describe(fetched.section)}: {fetched.error}", "error")
            return
        if len(fetched.data) <= BIG_SOURCE:
            self._show_lines(fetched.section, len(fetched.data), *prepare(fetched.data))
            return
        self.status.show(f"{describe(fetched.section)}: {human_size(len(fetched.data))}; laying out…", "busy")
        self._prepare(fetched.section, fetched.data)

    @work(thread=True, exclusive=True, group="source-layout", exit_on_error=False)
    def _prepare(self, section: str, data: bytes) -> None:
        lines, width = prepare(data)
        self.app.call_from_thread(self._show_lines, section, len(data), lines, width)

    def _show_lines(self, section: str, size: int, lines: list[str], width: int) -> None:
        if section != self.section or not self.is_attached:
            return
        self.query_one(SourceView).load_lines(lines, width)
        self.loaded = section
        self.status.show(f"{describe(section)}: {human_size(size)}, {len(lines):,} lines", "ok")

    def action_whole(self) -> None:
        self.show(WHOLE)

    def action_header(self) -> None:
        self.show(HEADER)

    def action_part(self) -> None:
        part = self.part or self.reader.source_part()
        if part is None:
            self.status.show("this message has no part to show alone", "info")
            return
        self.part = part
        self.show(part.part_id or WHOLE)

    def action_close(self) -> None:
        self.dismiss(None)


class MimeTreeScreen(Screen[None]):
    """Each part's section, type, encoding, size and file name; Enter shows a part's source."""

    CSS_PATH = "../styles/source.tcss"
    BINDINGS = [
        Binding("escape,q", "close", "Back", id="mime.close", tooltip="Back to the message"),
    ]

    def __init__(self, reader, root: MimePart | None) -> None:
        super().__init__()
        self.reader = reader
        self.root = root
        self.parts: list[MimePart] = []

    def compose(self) -> ComposeResult:
        yield Static(line(("MIME structure", "bold"), "  · Enter shows a part's raw source"),
                     id="source-title", markup=False)
        yield OptionList(id="mime-tree", markup=False)
        yield StatusLine(id="source-status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        if self.root is not None:
            self.show_tree(self.root)
        else:
            self.status.show("no cached structure: fetching the whole message to parse it…", "busy")
            self.reader.request_source(WHOLE, self)

    @property
    def status(self) -> StatusLine:
        return self.query_one("#source-status", StatusLine)

    def show_tree(self, root: MimePart) -> None:
        self.root = root
        rows = mime_lines(root)
        self.parts = [part for part, _ in rows]
        tree = self.query_one(OptionList)
        tree.clear_options()
        tree.add_options([Option(content, id=str(i)) for i, (_, content) in enumerate(rows)])
        self.status.show(f"{len(rows)} part{'s' if len(rows) != 1 else ''}", "ok")

    def source_arrived(self, fetched: SourceFetched) -> None:
        if fetched.data is None:
            self.status.show(f"cannot fetch the message: {fetched.error}", "error")
            return
        self.status.show("parsing the message…", "busy")
        self._parse(fetched.data)

    @work(thread=True, exclusive=True, group="mime-parse", exit_on_error=False)
    def _parse(self, data: bytes) -> None:
        from tuimail.model.message import DEFAULT_LIMITS, parse_message

        account = getattr(self.reader.controller, "account", None)
        root = parse_message(data, getattr(account, "limits", None) or DEFAULT_LIMITS).root
        self.app.call_from_thread(self._parsed, root)

    def _parsed(self, root: MimePart) -> None:
        if self.is_attached:
            self.show_tree(root)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        part = self.parts[event.option_index]
        self.app.push_screen(RawSourceScreen(self.reader, part.part_id or WHOLE, part))

    def action_close(self) -> None:
        self.dismiss(None)


def mime_summary(root: MimePart) -> str:
    """The tree as plain text (for tests and the status line)."""
    return "\n".join(content.plain for _, content in mime_lines(root))

