"""The live protocol trace of the current account: what the client said (C) and heard (S) on
each of its connections, newest at the bottom.

A Line-API ScrollView over a bounded list of lines. It reads the app's TraceBook with a timer,
only while it is shown, and only the entries that came since its last look (TraceBook.since),
so the connections' threads never call into the UI. The lines are redacted already (no
password, no AUTH data; literals and bodies as {N bytes}); they are data from the network all
the same, so they are drawn as plain segments with controls stripped, never parsed as markup.
"""
from __future__ import annotations

from collections import deque

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer

from tuimail.model.text import strip_controls
from tuimail.protocols.trace import BookEntry, TraceBook

POLL_SECONDS = 0.25
MAX_LINES = 2_000
MAX_WIDTH = 1_000  # cells of one line kept for sideways scrolling; a trace entry is cut at 2 KB


class TracePanel(ScrollView, can_focus=True):
    """Hidden until toggled (the -open class). Follows new entries while scrolled to the end."""

    COMPONENT_CLASSES = {"trace-panel--meta", "trace-panel--client", "trace-panel--server"}
    DEFAULT_CSS = """
    TracePanel { display: none; height: 12; border: round $panel; border-title-color: $foreground; }
    TracePanel.-open { display: block; }
    TracePanel:focus { border: round $primary; }
    TracePanel > .trace-panel--meta { color: $text-muted; }
    TracePanel > .trace-panel--client { color: $accent; }
    TracePanel > .trace-panel--server { }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._lines: deque[tuple[str, str, str]] = deque(maxlen=MAX_LINES)  # (meta, direction, text)
        self._width = 0
        self._seq = 0  # the newest book entry looked at
        self._account: str | None = None
        self._book: TraceBook | None = None
        self._timer: Timer | None = None

    # Open, close, poll ------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.has_class("-open")

    def on_mount(self) -> None:  # ScrollView's own on_mount runs too (Textual calls each class's)
        self._timer = self.set_interval(POLL_SECONDS, self.poll, pause=True)

    def toggle(self) -> bool:
        """Show or hide; whether it is shown now."""
        self.set_class(not self.is_open, "-open")
        if self.is_open:
            self.poll()
            if self._timer is not None:
                self._timer.resume()
        elif self._timer is not None:
            self._timer.pause()
        return self.is_open

    def poll(self) -> None:
        """Take what the book recorded since the last look, for the screen's current account."""
        book = getattr(self.app, "trace_book", None)
        account = getattr(self.screen, "current", None)
        if book is not self._book or account != self._account:
            self._book, self._account = book, account
            self._start_over()
        if book is None or account is None:
            return
        self._seq, entries = book.read(self._seq, account)
        if entries:
            self._add(entries)

    def _start_over(self) -> None:
        self._lines.clear()
        self._width, self._seq = 0, 0
        self.border_title = f"Protocol trace · {strip_controls(self._account or '')}"
        self.virtual_size = Size(0, 0)
        self.scroll_to(0, 0, animate=False, immediate=True)
        self.refresh()

    def _add(self, entries: list[BookEntry]) -> None:
        # at the end (or not laid out yet, just shown): stay at the end once the lines are in
        following = (not self.size.height or self.is_vertical_scroll_end) and not self.is_vertical_scrollbar_grabbed
        for item in entries:
            meta = f"{item.clock()} {strip_controls(item.label.short())} "
            text = strip_controls(item.entry.text())[:MAX_WIDTH]
            self._lines.append((meta, item.entry.direction, text))
            self._width = min(max(self._width, cell_len(meta) + 3 + cell_len(text)), MAX_WIDTH + 40)
        self.virtual_size = Size(self._width, len(self._lines))
        if following:
            self._to_end()
            self.call_after_refresh(self._to_end)  # once the size the lines need is laid out
        self.refresh()

    def _to_end(self) -> None:
        self.scroll_end(animate=False, immediate=True, x_axis=False)

    # Reading what is shown (tests, copying) ---------------------------------------------

    @property
    def lines(self) -> list[str]:
        return [f"{meta}{direction}: {text}" for meta, direction, text in self._lines]

    # Rendering --------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if row >= len(self._lines) or width <= 0:
            return Strip.blank(max(width, 0), base)
        meta, direction, text = self._lines[row]
        side = "trace-panel--client" if direction == "C" else "trace-panel--server"
        strip = Strip([Segment(meta, base + self._component("trace-panel--meta")),
                       Segment(f"{direction}: {text}", base + self._component(side))])
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def _component(self, name: str) -> Style:
        return self.get_component_rich_style(name, partial=True)
