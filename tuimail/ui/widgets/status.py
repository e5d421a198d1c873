"""The one-line status area: progress and errors, always inert text."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Literal

from textual.widgets import Static

from tuimail.ui.render import inert

if TYPE_CHECKING:
    from tuimail.ui.widgets.progress import Progress  # loaded when some work first reports

Level = Literal["info", "busy", "ok", "error"]
_LEVELS: tuple[Level, ...] = ("info", "busy", "ok", "error")
_MARKS = {"info": "", "busy": "… ", "ok": "✔ ", "error": "✘ "}
MESSAGE_ROOM = 20  # cells of the message a progress bar leaves it, at least


class StatusLine(Static):
    """Shows the latest message or error; a server's words are shown, never interpreted.
    Long work under way adds its bar on the right (set_progress), until it ends."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", markup=False, id=id)
        self.message = ""
        self.level: Level = "info"
        self.progress: dict[str, Progress] = {}  # key -> the work's latest; the last one is drawn
        self._drawn_at = float("-inf")
        self._redraw = None  # the timer of a redraw held back by the throttle

    def show(self, message: str, level: Level = "info") -> None:
        self.message, self.level = message, level
        for name in _LEVELS:
            self.set_class(name == level, f"-{name}")
        # one line: a multi-line server message must not push the layout around
        flat = " ".join(message.split())
        self.update(inert(_MARKS[level] + flat))

    def set_progress(self, key: str, progress: Progress | None) -> None:
        """Show key's progress (None: its work ended or failed, and its bar goes). Redraws at
        most every progress.INTERVAL seconds; a start, an end and a finished bar at once."""
        if progress is None:
            if self.progress.pop(key, None) is not None:
                self._refresh_progress(now=True)
            return
        started = key not in self.progress
        self.progress.pop(key, None)
        self.progress[key] = progress  # the newest is drawn
        self._refresh_progress(now=started or progress.finished)

    def end_progress(self, key: str) -> None:
        self.set_progress(key, None)

    def _refresh_progress(self, now: bool) -> None:
        from tuimail.ui.widgets.progress import INTERVAL

        wait = INTERVAL - (time.monotonic() - self._drawn_at)
        if now or wait <= 0:
            if self._redraw is not None:
                self._redraw.stop()
                self._redraw = None
            self._drawn_at = time.monotonic()
            self.refresh()
        elif self._redraw is None:
            self._redraw = self.set_timer(wait, self._held_back)

    def _held_back(self) -> None:
        self._redraw = None
        self._refresh_progress(now=True)

    def render(self):
        if not self.progress:
            return super().render()
        from textual.content import Content

        from tuimail.ui.widgets.progress import progress_content

        width = self.size.width
        left = inert(_MARKS[self.level] + " ".join(self.message.split()))
        # the bar takes what it needs, leaving the message its first MESSAGE_ROOM cells
        right = progress_content(next(reversed(self.progress.values())),
                                 width - min(left.cell_length, MESSAGE_ROOM) - 2)
        room = width - right.cell_length - 2
        left = left.truncate(room, ellipsis=True) if room >= 8 else Content("")
        return left + Content(" " * max(width - left.cell_length - right.cell_length, 0)) + right


# worst first: the one shown when the folder's connections disagree
_WORST = ("offline", "reconnecting", "connecting", "connected", "IDLE")


class ConnectionState(Static):
    """account · folder · state, beside the status line; state is the worst of the folder's
    connections (the reading one and the IDLE watcher), IDLE once both are well."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", markup=False, id=id)
        self.account = self.folder = ""
        self.links: dict[str, str] = {}  # "reading" / "idle" -> its state

    @property
    def state(self) -> str:
        states = set(self.links.values())
        if not states:
            return ""
        worst = next(s for s in _WORST if s in states)
        # IDLE only says more than connected when the reading connection is well too
        return "IDLE" if worst == "connected" and "IDLE" in states else worst

    def place(self, account: str, folder: str, *, reset: bool = False) -> None:
        """The account and folder shown; reset forgets the old connections' states."""
        if reset:
            self.links = {"reading": "connecting"} if folder else {}
        self.account, self.folder = account, folder
        self._draw()

    def set_link(self, link: str, state: str) -> None:
        self.links[link] = state
        self._draw()

    def _draw(self) -> None:
        state = self.state
        for name in ("offline", "reconnecting", "IDLE"):
            self.set_class(state == name, f"-{name.lower()}")
        self.update(inert(" · ".join(part for part in (self.account, self.folder, state) if part)))
