"""A read-only, soft-wrapped text viewer on the Line API, for message bodies of any size.

TextArea builds a document model with rich layout (seconds for a 100,000-line body); this only
wraps the lines into plain display rows, once per width, and render_line reads those rows. The text is
plain data: no markup, no highlighting; control characters were stripped before it got here.
"""
from __future__ import annotations

import textwrap

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from textual.binding import Binding
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip


def wrap_line(line: str, width: int) -> list[str]:
    """One source line as display rows of at most width cells (wide characters counted)."""
    line = line.expandtabs(8)
    if cell_len(line) <= width:
        return [line]
    if line.isascii():
        return textwrap.wrap(line, width, drop_whitespace=False, break_on_hyphens=False) or [""]
    rows, current = [], ""
    for char in line:
        if cell_len(current) + cell_len(char) > width:
            rows.append(current)
            current = ""
        current += char
    rows.append(current)
    return rows


def quote_depth(line: str) -> int:
    """How many levels of "> " quoting line starts with (">> a" and "> > a" are both 2)."""
    depth = 0
    for char in line:
        if char == ">":
            depth += 1
        elif char != " " or not depth:
            break
    return depth


class TextView(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    /* rows are wrapped to the width left of a scrollbar, whether or not one is shown yet */
    TextView { height: 1fr; overflow-x: hidden; scrollbar-gutter: stable; }
    TextView > .text-view--quote { color: $mail-quote-1; }
    TextView > .text-view--quote-2 { color: $mail-quote-2; }
    TextView > .text-view--quote-3 { color: $mail-quote-3; }
    """
    COMPONENT_CLASSES = {"text-view--quote", "text-view--quote-2", "text-view--quote-3"}
    QUOTE_CLASSES = ("text-view--quote", "text-view--quote-2", "text-view--quote-3")
    BINDINGS = [
        Binding("down,j", "scroll_down", "Down", id="text.down", show=False, tooltip="Scroll one line down"),
        Binding("up,k", "scroll_up", "Up", id="text.up", show=False, tooltip="Scroll one line up"),
        Binding("pagedown,space", "page_down", "Page down", id="text.page_down", show=False,
                tooltip="Scroll one screen down"),
        Binding("pageup,b", "page_up", "Page up", id="text.page_up", show=False, tooltip="Scroll one screen up"),
        Binding("home,g", "scroll_home", "Top", id="text.top", show=False, tooltip="The start of the text"),
        Binding("end,G", "scroll_end", "Bottom", id="text.bottom", show=False, tooltip="The end of the text"),
    ]

    def __init__(self, text: str = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._lines = text.split("\n")
        self.text = text
        self._width = 0
        self._rows: list[tuple[int, str]] = []  # (source line, display row text)

    def load(self, text: str) -> None:
        self.text = text
        self._lines = text.split("\n")
        self._width = 0
        self._layout()
        self.refresh()

    def on_resize(self) -> None:
        self._layout()

    def _layout(self) -> None:
        width = max(self.scrollable_content_region.width, 10)
        if width == self._width and self._rows:
            return
        self._width = width
        rows: list[tuple[int, str]] = []
        for number, line in enumerate(self._lines):
            rows.extend((number, row) for row in wrap_line(line, width))
        self._rows = rows
        self.virtual_size = Size(width, len(rows))

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if row >= len(self._rows):
            return Strip.blank(width, base)
        number, text = self._rows[row]
        style = base
        depth = quote_depth(self._lines[number])
        if depth:
            style = base + self.get_component_rich_style(self.QUOTE_CLASSES[min(depth, 3) - 1])
        return Strip([Segment(set_cell_size(text, width), style)], width)

    def action_page_down(self) -> None:
        self.scroll_page_down(animate=False)

    def action_page_up(self) -> None:
        self.scroll_page_up(animate=False)
