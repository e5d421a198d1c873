"""Asking for a password the config and the keyring could not supply."""
from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from tuimail.model.secret import Secret
from tuimail.ui.render import inert


class PasswordScreen(ModalScreen[Secret | None]):
    """Dismisses with the typed password, or None when cancelled."""

    CSS_PATH = "../styles/password.tcss"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="password.cancel", tooltip="Close without a password"),
    ]

    def __init__(self, account: str, login: str, host: str, reason: str = "") -> None:
        super().__init__()
        self._account, self._login, self._host, self._reason = account, login, host, reason

    def compose(self) -> ComposeResult:
        with Vertical(id="password-dialog"):
            yield Label(inert(f"Password for account '{self._account}'"), id="password-title")
            yield Label(inert(f"{self._login} at {self._host}"), id="password-where")
            if self._reason:
                yield Label(inert(self._reason), id="password-reason")
            yield Input(password=True, placeholder="password", id="password-input")
            with Horizontal(id="password-buttons"):
                yield Button("Log in", variant="primary", id="password-ok")
                yield Button("Cancel", id="password-cancel")

    def on_mount(self) -> None:
        self.query_one("#password-input", Input).focus()

    @on(Input.Submitted, "#password-input")
    @on(Button.Pressed, "#password-ok")
    def _accept(self) -> None:
        field = self.query_one("#password-input", Input)
        value = field.value
        field.value = ""
        self.dismiss(Secret(value) if value else None)

    @on(Button.Pressed, "#password-cancel")
    def action_cancel(self) -> None:
        self.query_one("#password-input", Input).value = ""
        self.dismiss(None)
