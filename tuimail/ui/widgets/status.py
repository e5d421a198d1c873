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
