"""The keep-on-server policy of a POP3 account, and its size cap, edited and written to the
config file. The file is read again and only the policy keys of this account change; it is
written atomically (save_config) and read back before the screen closes. The config holds no
password, so none can be written."""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, RadioButton, RadioSet, Static

from tuimail.model.config import Account, ConfigError, with_account
from tuimail.store.config_file import load_config, save_config
from tuimail.ui.render import inert, line

MAX_DAYS = 36_500
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?)i?b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}


def parse_size(text: str) -> int | None:
    """"" is no cap; "500K", "5M", "1.5G" or a number of bytes. ValueError otherwise."""
    if not text.strip():
        return None
    found = _SIZE.match(text)
    if not found:
        raise ValueError(f"not a size: {text!r} (try 5M, 500K or a number of bytes)")
    size = int(float(found.group(1)) * _UNITS[found.group(2).lower()])
    if size < 1:
        raise ValueError("the size cap must be at least 1 byte (empty: no cap)")
    return size


def write_policy(path: Path, name: str, **policy) -> Account:
    """The account's policy keys changed in the config file at path; the account as read back."""
    config = load_config(path)
    save_config(with_account(config, replace(config.account(name), **policy)), path)
    return load_config(path).account(name)


@dataclass
class PolicySaved(Message):
    account: Account | None
    error: str = ""


class Pop3SettingsScreen(ModalScreen[Account | None]):
    """Dismisses with the account as saved, or None when cancelled."""

    CSS_PATH = "../styles/pop3_settings.tcss"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="pop3_settings.cancel", tooltip="Close without saving"),
        Binding("ctrl+s", "save", "Save", id="pop3_settings.save", tooltip="Write the policy to the config file"),
    ]

    def __init__(self, account: Account, config_path: Path) -> None:
        super().__init__()
        self.account, self.config_path = account, config_path

    def compose(self) -> ComposeResult:
        a = self.account
        mode = "delete" if not a.keep_on_server else "days" if a.delete_after_days else "keep"
        with Vertical(id="pop3-settings", classes="pop3-dialog"):
            yield Static(line((f"Keep policy · {a.name} (POP3)", "bold")), markup=False, classes="pop3-heading")
            yield Label("After a message is downloaded:")
            with RadioSet(id="keep-mode"):
                yield RadioButton("keep a copy on the server", value=mode == "keep", id="mode-keep")
                yield RadioButton("delete it from the server", value=mode == "delete", id="mode-delete")
                yield RadioButton("keep it, then delete it after some days", value=mode == "days", id="mode-days")
            with Horizontal(classes="pop3-row"):
                yield Label("days", classes="pop3-label")
                yield Input(str(a.delete_after_days or 30), type="integer", id="days")
            yield Checkbox("delete on the server when deleted here", a.delete_on_server_when_deleted_locally,
                           id="delete-local")
            with Horizontal(classes="pop3-row"):
                yield Label("size cap", classes="pop3-label")
                yield Input(str(a.max_download_size or ""), placeholder="none; e.g. 5M or 500K", id="max-size",
                            tooltip="Bigger messages show their headers only, until you ask for them")
            yield Static(inert(f"Written to {self.config_path}"), classes="pop3-dim", markup=False)
            yield Static("", id="settings-error", markup=False)
            with Horizontal(classes="pop3-buttons"):
                yield Button("Save", variant="primary", id="settings-save")
                yield Button("Cancel", id="settings-cancel")

    def on_mount(self) -> None:
        self.query_one(RadioSet).focus()
        self._days_enabled()

    @on(RadioSet.Changed)
    def _days_enabled(self) -> None:
        self.query_one("#days", Input).disabled = not self.query_one("#mode-days", RadioButton).value

    def _error(self, text: str) -> None:
        self.query_one("#settings-error", Static).update(inert(text, "bold $error"))

    def policy(self) -> dict:
        """The fields as config values; ValueError naming what is wrong."""
        keep = not self.query_one("#mode-delete", RadioButton).value
        days = None
        if self.query_one("#mode-days", RadioButton).value:
            raw = self.query_one("#days", Input).value.strip()
            if not raw.isdigit() or not 1 <= int(raw) <= MAX_DAYS:
                raise ValueError(f"days: a whole number from 1 to {MAX_DAYS}")
            days = int(raw)
        return {"keep_on_server": keep, "delete_after_days": days,
                "delete_on_server_when_deleted_locally": self.query_one("#delete-local", Checkbox).value,
                "max_download_size": parse_size(self.query_one("#max-size", Input).value)}

    @on(Button.Pressed, "#settings-save")
    def action_save(self) -> None:
        try:
            policy = self.policy()
        except ValueError as exc:
            self._error(str(exc))
            return
        self._error("")
        self.query_one("#settings-save", Button).disabled = True
        self._write(policy)

    @work(thread=True, exclusive=True, exit_on_error=False, group="pop3-settings")
    def _write(self, policy: dict) -> None:
        try:
            self.post_message(PolicySaved(write_policy(self.config_path, self.account.name, **policy)))
        except ConfigError as exc:
            self.post_message(PolicySaved(None, str(exc)))
        except OSError as exc:
            self.post_message(PolicySaved(None, f"{self.config_path}: cannot write: {exc.strerror or exc}"))

    def on_policy_saved(self, message: PolicySaved) -> None:
        if message.account is None:
            self.query_one("#settings-save", Button).disabled = False
            self._error(message.error)
            return
        self.dismiss(message.account)

    @on(Button.Pressed, "#settings-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
