"""Errors the user must acknowledge, as a modal: one title a person can read, then the words.

show_error is the one way in (a failed save, a login that stops an account; the report of a
failed send is this screen with a retry button). Transient news stays in the status line.
The text often comes from a server: it is shown, never interpreted.
"""
from __future__ import annotations

from typing import Callable

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tuimail.ui.render import inert

REPORT_CLOSE, REPORT_RETRY = "close", "retry"


class ErrorScreen(ModalScreen[str]):
    """Escape, or Enter on the focused Close, dismisses it with REPORT_CLOSE."""

    CSS_PATH = "../styles/error.tcss"
    BINDINGS = [Binding("escape", "close", "Close", id="report.close", tooltip="Back to the mail")]

    def __init__(self, title: str, text: str, retry_label: str | None = None) -> None:
        super().__init__()
        self.title_text, self.text, self.retry_label = title, text, retry_label

    def compose(self) -> ComposeResult:
        with Vertical(id="report-box", classes="error-dialog"):
            yield Static(inert(self.title_text, "bold"), markup=False, id="report-title")
            yield Static(inert(self.text), markup=False, id="report-lines")
            with Horizontal(classes="error-buttons"):
                if self.retry_label:
                    yield Button(inert(self.retry_label), id="report-retry", variant="warning")
                yield Button("Close", id="report-close", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#report-close", Button).focus()

    @on(Button.Pressed, "#report-retry")
    def _retry(self) -> None:
        self.dismiss(REPORT_RETRY)

    @on(Button.Pressed, "#report-close")
    def action_close(self) -> None:
        self.dismiss(REPORT_CLOSE)


def show_error(app: App, title: str, text: str, callback: Callable[[str | None], None] | None = None) -> None:
    """Show an error to acknowledge; the same one already on top is not stacked again."""
    top = app.screen
    if isinstance(top, ErrorScreen) and (top.title_text, top.text) == (title, text):
        return
    app.push_screen(ErrorScreen(title, text), callback)
