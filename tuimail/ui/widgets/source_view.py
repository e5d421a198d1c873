"""Raw message source on the Line API: one display row per source line, no wrapping (scroll
sideways), so loading a 60 MB message costs one split and each frame draws only what shows.

Source text is untrusted: escape sequences and control characters are stripped from each
row as it is drawn, never parsed as markup.
"""
from __future__ import annotations

from rich.segment import Segment
from textual.binding import Binding
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tuimail.model.decode import decode_bytes
from tuimail.model.text import strip_controls


def source_text(data: bytes) -> str:
    """Bytes as text for display: UTF-8, else cp1252 (decode_bytes' fallback), line ends made LF."""
    return decode_bytes(data, None).replace("\r\n", "\n")


def source_lines(text: str) -> list[str]:
    lines = text.split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    return lines


def prepare(data: bytes) -> tuple[list[str], int]:
    """The lines of a source and its width in characters (close enough to cells for scrolling)."""
    lines = source_lines(source_text(data))
    return lines, max(map(len, lines), default=0) + 1


class SourceView(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    SourceView { height: 1fr; }
    """
    BINDINGS = [
        Binding("down,j", "scroll_down", "Down", id="source.down", show=False, tooltip="Scroll one line down"),
        Binding("up,k", "scroll_up", "Up", id="source.up", show=False, tooltip="Scroll one line up"),
        Binding("right,l", "scroll_right", "Right", id="source.right", show=False, tooltip="Scroll right"),
        Binding("left", "scroll_left", "Left", id="source.left", show=False, tooltip="Scroll left"),
        Binding("pagedown,space", "page_down", "Page down", id="source.page_down", show=False,
                tooltip="Scroll one screen down"),
        Binding("pageup,b", "page_up", "Page up", id="source.page_up", show=False, tooltip="Scroll one screen up"),
        Binding("home,g", "scroll_home", "Top", id="source.top", show=False, tooltip="The start of the source"),
        Binding("end,G", "scroll_end", "Bottom", id="source.bottom", show=False, tooltip="The end of the source"),
    ]

    def __init__(self, text: str = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._lines: list[str] = []
        self._rows: dict[int, str] = {}  # cleaned rows drawn lately
        self.load(text)

    @property
    def lines(self) -> list[str]:
        return self._lines

    def load(self, text: str) -> None:
        self.load_lines(source_lines(text))

    def load_lines(self, lines: list[str], width: int | None = None) -> None:
        """Lines split (and width measured) beforehand, on a thread for a big source."""
        self._lines = lines
        self._rows.clear()
        width = width if width is not None else max(map(len, lines), default=0) + 1
        self.virtual_size = Size(width, len(self._lines))
        if self.is_mounted:
            self.scroll_to(0, 0, animate=False, immediate=True)
        self.refresh()

    def _row(self, number: int) -> str:
        row = self._rows.get(number)
        if row is None:
            if len(self._rows) > 4096:
                self._rows.clear()
            row = self._rows[number] = strip_controls(self._lines[number]).expandtabs(8)
        return row

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        number = scroll_y + y
        width = self.scrollable_content_region.width
        if number >= len(self._lines):
            return Strip.blank(width, self.rich_style)
        strip = Strip([Segment(self._row(number), self.rich_style)])
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)

    def action_page_down(self) -> None:
        self.scroll_page_down(animate=False)

    def action_page_up(self) -> None:
        self.scroll_page_up(animate=False)
