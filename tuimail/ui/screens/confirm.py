"""A yes/no question as a modal."""
from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label

from tuimail.ui.render import inert


class ConfirmScreen(ModalScreen[bool]):
    """Dismisses with True only when the user picks the confirming button."""

    CSS_PATH = "../styles/confirm.tcss"
    BINDINGS = [
        Binding("escape", "no", "Cancel", id="confirm.cancel", tooltip="Answer no"),
    ]

    def __init__(self, question: str, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self._question, self._yes, self._no = question, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog"):
            yield Label(inert(self._question), id="confirm-question")
            with Horizontal(id="confirm-buttons"):
                yield Button(inert(self._yes), variant="warning", id="confirm-yes")
                yield Button(inert(self._no), variant="primary", id="confirm-no")

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    @on(Button.Pressed, "#confirm-yes")
    def _yes_pressed(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#confirm-no")
    def action_no(self) -> None:
        self.dismiss(False)
