"""The search prompt: a query as a person types it, checked before it goes to the server."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from tuimail.model.query import FIELDS, Query, QueryError
from tuimail.ui.render import inert, line

EXAMPLE = 'from:alice subject:"big plans" invoice'


class SearchDialog(ModalScreen["Query | None"]):
    CSS_PATH = "../styles/search.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="search.cancel", tooltip="Do not search")]

    def __init__(self, folder: str, text: str = "") -> None:
        super().__init__()
        self.folder = folder
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(id="search-box"):
            yield Static(line(("Search ", "bold"), (self.folder, "bold"), " on the server"), markup=False)
            yield Input(self.text, placeholder=EXAMPLE, id="search-query")
            yield Static(inert(f"fields: {', '.join(f + ':' for f in FIELDS)}; other words search the whole "
                               "text; terms are ANDed", "dim"), markup=False, id="search-help")
            yield Static("", id="search-error", markup=False)

    def on_mount(self) -> None:
        self.query_one("#search-query", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            query = Query.parse(event.value)
        except QueryError as exc:
            self.query_one("#search-error", Static).update(inert(str(exc), "bold $error"))
            return
        self.dismiss(query)

    def action_cancel(self) -> None:
        self.dismiss(None)
