"""The one-line status area: progress and errors, always inert text."""
from __future__ import annotations

from typing import Literal

from textual.widgets import Static

from tuimail.ui.render import inert

Level = Literal["info", "busy", "ok", "error"]
_LEVELS: tuple[Level, ...] = ("info", "busy", "ok", "error")
_MARKS = {"info": "", "busy": "… ", "ok": "✔ ", "error": "✘ "}


class StatusLine(Static):
    """Shows the latest progress or error; a server's words are shown, never interpreted."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", markup=False, id=id)
        self.message = ""
        self.level: Level = "info"

    def show(self, message: str, level: Level = "info") -> None:
        self.message, self.level = message, level
        for name in _LEVELS:
            self.set_class(name == level, f"-{name}")
        # one line: a multi-line server message must not push the layout around
        flat = " ".join(message.split())
        self.update(inert(_MARKS[level] + flat))
