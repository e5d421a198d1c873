"""The message index: a Line-API ScrollView over a LazyIndex, one line per message.

virtual_size is the folder's message count, so 100,000 rows cost nothing until drawn.
render_line() only reads the index (a dict lookup): a row not loaded yet draws a placeholder,
and a debounced check after scrolling asks for the missing windows through a message.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tuimail.model.index import LazyIndex, Window
from tuimail.model.mime import human_size
from tuimail.model.summary import DELETED, MessageSummary
from tuimail.model.text import one_line

MARGIN_ROWS = 60  # fetched beyond the visible rows, either side
DEBOUNCE_SECONDS = 0.03
MARGIN_DELAY = 0.25  # the rows beyond the screen wait until the screen is drawn and settled
SIZE_FROM = 72  # row width (cells) from which the size column is shown
DATE_FROM = 40  # and the date column
PAINT_FALLBACK = 0.5  # seconds when_painted waits for a frame at most


def local_now() -> datetime:
    """The local time the index dates are shown against (tests pin it here)."""
    return datetime.now(timezone.utc).astimezone()


def format_date(value: datetime | None, now: datetime | None = None) -> str:
    if value is None:
        return ""
    now = now or local_now()
    local = value.astimezone(now.tzinfo)
    if local.date() == now.date():
        return local.strftime("%H:%M")
    if local.year == now.year:
        return local.strftime("%b %d")
    return local.strftime("%Y-%m-%d")


def flag_marks(summary: MessageSummary) -> str:
    return "".join((
        "D" if DELETED in summary.flags else " " if summary.seen else "N",
        "!" if summary.flagged else " ",
        "r" if summary.answered else " ",
        "@" if summary.has_attachments else " ",
    ))


def _cell(text: str, width: int) -> str:
    """Exactly width cells: cut with an ellipsis or padded."""
    if width <= 0:
        return ""
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + "…"
    return set_cell_size(text, width)


@dataclass(frozen=True)
class Columns:
    """Cell widths of one index row; 0: the column is left out."""
    date: int
    sender: int
    subject: int
    size: int


def row_columns(width: int) -> Columns:
    """Narrow rows drop the size column (below SIZE_FROM cells), then the date (below DATE_FROM);
    the subject always gets what is left, so it stays readable at 60 columns."""
    size = 9 if width >= SIZE_FROM else 0
    date = 10 if width >= DATE_FROM else 0
    sender = max(min(24, width // 4), 8)
    used = 5 + (date + 1 if date else 0) + sender + 1 + (size + 1 if size else 0)  # flags, then a space each
    return Columns(date, sender, max(width - used, 0), size)


class MessageList(ScrollView, can_focus=True):
    COMPONENT_CLASSES = {
        "message-list--cursor",
        "message-list--unread",
        "message-list--flagged",
        "message-list--placeholder",
        "message-list--dim",
        "message-list--deleted",
    }
    DEFAULT_CSS = """
    MessageList { height: 1fr; overflow-x: hidden; }  /* rows are cut to the width, never scrolled sideways */
    MessageList > .message-list--cursor { background: $accent 40%; }
    MessageList:focus > .message-list--cursor { background: $accent; color: $text; }
    MessageList > .message-list--unread { text-style: bold; color: $mail-unread; }
    MessageList > .message-list--flagged { color: $mail-flagged; }
    MessageList > .message-list--placeholder { color: $text-muted; }
    MessageList > .message-list--dim { color: $text-muted; }
    MessageList > .message-list--deleted { color: $mail-deleted; text-style: strike; }
    """
    BINDINGS = [
        Binding("down,j", "cursor_down", "Next", id="index.next", show=False, tooltip="Next message"),
        Binding("up,k", "cursor_up", "Previous", id="index.previous", show=False, tooltip="Previous message"),
        Binding("pagedown,space", "page_down", "Page down", id="index.page_down", show=False,
                tooltip="One screen down"),
        Binding("pageup,b", "page_up", "Page up", id="index.page_up", show=False, tooltip="One screen up"),
        Binding("home,g", "first", "Newest", id="index.first", show=False, tooltip="The newest message"),
        Binding("end,G", "last", "Oldest", id="index.last", show=False, tooltip="The oldest message"),
        Binding("enter", "open", "Open", id="index.open", tooltip="Read the highlighted message"),
    ]

    cursor: reactive[int] = reactive(0, init=False)

    @dataclass
    class WindowsNeeded(Message):
        """Rows on screen (plus margin) that are not loaded: fetch these, newest first."""
        message_list: "MessageList"
        windows: list[Window]
        generation: int
        index: LazyIndex  # the one asked about: it may have been swapped out since

    @dataclass
    class Opened(Message):
        message_list: "MessageList"
        summary: MessageSummary

    def __init__(self, index: LazyIndex | None = None, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.index = index or LazyIndex(0)
        self._debounce = None
        self._margin_due: float | None = None  # when the rows beyond the screen may be fetched
        self._after_paint: list = []  # callbacks for once a frame with this list has been written
        self._pass_styles: dict | None = None  # while render_lines runs: styles already looked up
        self.folder_label = ""

    # Data in ----------------------------------------------------------------------------

    def set_index(self, index: LazyIndex, cursor: int = 0, top: int = 0) -> None:
        """Show index (a folder's, or a search or thread view), at row cursor."""
        self.index = index
        self._resize()
        last = max(index.count - 1, 0)
        self.scroll_to(0, min(top, last), animate=False, immediate=True)
        self.set_reactive(MessageList.cursor, min(cursor, last))
        self.scroll_to_region_row(self.cursor)
        self.refresh()

    def rows_arrived(self, rows: dict[int, MessageSummary], generation: int) -> None:
        if self.index.apply(rows, generation):
            self.refresh()
            self._schedule_check()

    def counts_changed(self) -> None:
        """The index count changed (new mail, expunge): resize and look for gaps."""
        self.cursor = min(self.cursor, max(self.index.count - 1, 0))
        self._resize()
        self.refresh()
        self._schedule_check()

    def _resize(self) -> None:
        self.virtual_size = Size(self.size.width, self.index.count)
        self.call_after_refresh(self._cursor_into_view, self.cursor)  # a smaller size clamped the view
        self._schedule_check()

    # Rendering --------------------------------------------------------------------------

    def when_painted(self, callback, fallback: float = PAINT_FALLBACK) -> None:
        """Call callback once the next frame showing this list has gone to the terminal, (or
        after fallback seconds, if the list is not drawn: hidden or covered): work that would
        compete with that frame for the CPU, such as a TLS handshake, waits for it."""
        self._after_paint.append(callback)
        self.set_timer(fallback, self._painted)

    def _painted(self) -> None:
        callbacks, self._after_paint = self._after_paint, []
        for callback in callbacks:
            callback()

    def render_lines(self, crop: Region) -> list[Strip]:
        # The styles are looked up once for all the lines of this pass, not for every line.
        self._pass_styles = {}
        if self._after_paint:  # this frame is being composed: the callbacks run once it is out
            self.call_later(self._painted)
        try:
            return super().render_lines(crop)
        finally:
            self._pass_styles = None

    def _style(self, component: str, alone: bool = False) -> Style:
        """The widget's style ("") or a component's, over the widget's unless alone."""
        memo = self._pass_styles
        key = (component, alone)
        if memo is not None and key in memo:
            return memo[key]
        if not component:
            style = self.rich_style
        else:
            style = self.get_component_rich_style(component)
            if not alone:
                style = self._style("") + style
        if memo is not None:
            memo[key] = style
        return style

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        width = self.scrollable_content_region.width  # the scrollbar is not ours to draw on
        base = self._style("")
        if row >= self.index.count:
            return Strip.blank(width, base)
        summary = self.index.row(row)
        if summary is None:
            style = self._style("message-list--placeholder")
            segments = [Segment(_cell("      ·  loading…", width), style)]
        else:
            segments = self._row_segments(row, summary, width, base)
        if row == self.cursor:
            cursor = self._style("message-list--cursor", alone=True)
            segments = [Segment(text, (style or Style()) + cursor) for text, style, _ in segments]
        return Strip(segments, width).crop_extend(0, width, base)

    def _row_segments(self, row: int, summary: MessageSummary, width: int, base: Style) -> list[Segment]:
        style = base
        if not summary.seen:
            style = style + self._style("message-list--unread", alone=True)
        if summary.flagged:
            style = style + self._style("message-list--flagged", alone=True)
        if DELETED in summary.flags:  # POP3: deleted here, still on the server until a sync
            style = style + self._style("message-list--deleted", alone=True)
        dim = self._style("message-list--dim")
        sender = summary.sender[0].short() if summary.sender else "(no sender)"
        date = format_date(summary.date or summary.internal_date)
        columns = row_columns(width)
        subject = self.index.decoration(row) + one_line(summary.subject or "(no subject)", 400)
        segments = [Segment(flag_marks(summary) + " ", style)]
        if columns.date:
            segments.append(Segment(_cell(date, columns.date) + " ", dim))
        segments.append(Segment(_cell(one_line(sender, 200), columns.sender) + " ", style))
        segments.append(Segment(_cell(subject, columns.subject), style))
        if columns.size:
            segments.append(Segment(" " + _cell(human_size(summary.size).rjust(columns.size), columns.size), dim))
        return segments

    # Asking for rows --------------------------------------------------------------------

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self._margin_due = None
        self._schedule_check()

    def on_resize(self) -> None:
        self._resize()

    def _schedule_check(self, delay: float = DEBOUNCE_SECONDS) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(delay, self._check_missing)

    def _check_missing(self) -> None:
        self._debounce = None
        if self.index.count == 0:
            return
        first = int(self.scroll_offset.y)
        last = first + max(self.size.height, 1) - 1
        visible_loaded = all(self.index.row(r) is not None for r in range(first, min(last + 1, self.index.count)))
        if visible_loaded:
            # the margin either side is low priority: only once the screen has been full a while
            now = time.monotonic()
            if self._margin_due is None:
                self._margin_due = now + MARGIN_DELAY
            if now < self._margin_due:
                self._schedule_check(self._margin_due - now)
                return
            windows = self.index.missing(first, last, margin=MARGIN_ROWS)
        else:
            self._margin_due = None
            windows = self.index.missing(first, last, margin=0)
        if windows:
            # the visible window first, then the margins
            windows.sort(key=lambda w: 0 if self.index.row_of_seq(w.seq_hi) <= last and
                         self.index.row_of_seq(w.seq_lo) >= first else 1)
            self.post_message(self.WindowsNeeded(self, windows, self.index.generation, self.index))

    def forget(self, windows: list[Window]) -> None:
        """Fetching these failed or was skipped: let them be asked for again."""
        for window in windows:
            self.index.forget_requests(window)

    # Cursor -----------------------------------------------------------------------------

    def watch_cursor(self, old: int, new: int) -> None:
        self.refresh_line(old)
        self.refresh_line(new)
        self.scroll_to_region_row(new)
        # and again once the layout is settled: a scroll made while the scrollable height was
        # stale is clamped (a full test run once left the cursor on row 119 with the view at 0)
        self.call_after_refresh(self._cursor_into_view, new)

    def _cursor_into_view(self, row: int) -> None:
        if row == self.cursor:  # the cursor has not moved on since (a scroll wheel may move the view)
            self.scroll_to_region_row(row)

    def scroll_to_region_row(self, row: int) -> None:
        # At once, not after the next refresh: a deferred scroll could land after a set_index()
        # that came in meanwhile had read the old offset, and leave the cursor off screen.
        top = int(self.scroll_offset.y)
        height = max(self.size.height, 1)
        if row < top:
            self.scroll_to(y=row, animate=False, immediate=True)
        elif row >= top + height:
            self.scroll_to(y=row - height + 1, animate=False, immediate=True)

    def _move(self, delta: int) -> None:
        if self.index.count:
            self.cursor = max(0, min(self.index.count - 1, self.cursor + delta))

    def action_cursor_down(self) -> None:
        self._move(1)

    def action_cursor_up(self) -> None:
        self._move(-1)

    def action_page_down(self) -> None:
        self._move(max(self.size.height - 1, 1))

    def action_page_up(self) -> None:
        self._move(-max(self.size.height - 1, 1))

    def action_first(self) -> None:
        self._move(-self.cursor)

    def action_last(self) -> None:
        self._move(self.index.count)

    def action_open(self) -> None:
        summary = self.index.row(self.cursor) if self.index.count else None
        if summary is not None:
            self.post_message(self.Opened(self, summary))

    def current(self) -> MessageSummary | None:
        return self.index.row(self.cursor) if self.index.count else None

    def on_click(self, event) -> None:
        row = int(self.scroll_offset.y) + event.y
        if 0 <= row < self.index.count:
            if row == self.cursor and event.chain >= 2:
                self.action_open()
            self.cursor = row
