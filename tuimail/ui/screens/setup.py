"""First run: the account setup form. Nothing is written until the user presses Save."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Footer, Input, Label, RichLog, Select, Static
from textual.worker import Worker, WorkerState

from tuimail.model.config import Account, Config, ConfigError, Protocol, Security, with_account
from tuimail.model.secret import Secret
from tuimail.model.text import strip_controls
from tuimail.protocols.doctor import format_report, run_doctor
from tuimail.store.config_file import load_config, save_config
from tuimail.store.credentials import CredentialError, KeyringUnavailable, run_password_command, set_password
from tuimail.ui.render import inert
from tuimail.ui.screens.confirm import ConfirmScreen
from tuimail.ui.screens.setup_fields import (PROTOCOLS, FormValues, ServerFields, build_account,
                                             default_account_name, default_host, default_port,
                                             default_security, is_default_port)

_SECURITY_CHOICES = [("TLS (implicit)", Security.TLS), ("STARTTLS", Security.STARTTLS),
                     ("plain (no encryption)", Security.PLAIN)]
_ERROR_FIELDS = ("email", "name", "username", "display-name", "protocol", "ca-file", "password-command",
                 *(f"{p.value}-{part}" for p in PROTOCOLS for part in ("host", "port", "security")))


@dataclass(frozen=True)
class SetupResult:
    config: Config  # as read back from the file just written
    account: str
    password: Secret | None  # what was typed, for this session only


@dataclass
class CheckFinished(Message):
    lines: list[str]
    ok: bool
    failures: list[str]


@dataclass
class SaveFinished(Message):
    config: Config | None
    error: str = ""
    keyring_unavailable: bool = False


class SetupScreen(Screen[SetupResult | None]):
    """Asks for one account; dismisses with the saved config, or None when cancelled."""

    CSS_PATH = "../styles/setup.tcss"
    BINDINGS = [
        Binding("ctrl+t", "check", "Check", id="setup.check", tooltip="Connect to the servers and log in"),
        Binding("ctrl+s", "save", "Save", id="setup.save", tooltip="Write the config file"),
        Binding("escape", "cancel", "Cancel", id="setup.cancel", tooltip="Leave without writing anything"),
    ]

    def __init__(self, config_path: Path, existing: Config | None = None) -> None:
        super().__init__()
        self.config_path = config_path
        self.existing = existing  # a config file without accounts keeps its other settings
        self._auto: dict[str, set[str]] = {}  # every value we filled in, per field id
        self._edited: set[str] = set()  # fields the user typed into: no longer derived
        self._checked: tuple[Account, Secret | None] | None = None
        self._check_ok = False

    # -- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(inert("Set up a mail account"), id="setup-title", markup=False)
        yield Static(inert(f"Nothing is written until you press Save. Config file: {self.config_path}"),
                     id="setup-intro", markup=False)
        with VerticalScroll(id="setup-form"):
            yield from self._row("Email address", Input(placeholder="alice@example.org", id="email", compact=True))
            yield from self._row("Account name", Input(placeholder="derived from the address", id="name", compact=True))
            yield from self._row("User name", Input(placeholder="usually the address", id="username", compact=True))
            yield from self._row("Display name", Input(placeholder="Alice Example (optional)", id="display-name", compact=True))
            yield from self._row("Read mail with", Select([("IMAP", Protocol.IMAP), ("POP3", Protocol.POP3)],
                                                          value=Protocol.IMAP, allow_blank=False, id="protocol",
                                                          compact=True))
            for protocol in PROTOCOLS:
                yield from self._server_row(protocol)
            yield from self._row("CA file", Input(placeholder="optional: extra trusted CA (PEM)", id="ca-file", compact=True))
            yield from self._row("Password", Input(password=True, placeholder="used to check and to store",
                                                   id="password", compact=True))
            yield Checkbox("Store the password in the keyring", value=True, id="keyring", compact=True)
            yield from self._row("Password command", Input(
                placeholder="optional, instead of the keyring: e.g. pass show mail/work", id="password-command",
                compact=True))
        with Horizontal(id="setup-buttons"):
            yield Button("Check", variant="primary", id="check")
            yield Button("Save", variant="success", id="save")
            yield Button("Cancel", id="cancel")
        yield Static("", id="check-summary", markup=False)
        yield RichLog(id="check-log", markup=False, highlight=False, wrap=True)
        yield Footer()

    def _row(self, label: str, field: Input | Select) -> ComposeResult:
        with Horizontal(classes="field-row"):
            yield Label(label, classes="field-label")
            yield field
        yield Static("", id=f"{field.id}-error", classes="field-error", markup=False)

    def _server_row(self, protocol: Protocol) -> ComposeResult:
        name = protocol.value
        security = default_security(protocol)
        with Horizontal(classes="field-row server-row"):
            yield Label(f"{name.upper()} server", classes="field-label")
            yield Input(placeholder=f"host ({'optional' if protocol is not Protocol.IMAP else 'required'})",
                        id=f"{name}-host", classes="server-host", compact=True)
            yield Input(str(default_port(protocol, security)), id=f"{name}-port", classes="server-port",
                        restrict=r"[0-9]*", max_length=5, compact=True)
            yield Select(_SECURITY_CHOICES, value=security, allow_blank=False, id=f"{name}-security",
                         classes="server-security", compact=True)
        for part in ("host", "port", "security"):
            yield Static("", id=f"{name}-{part}-error", classes="field-error", markup=False)

    def on_mount(self) -> None:
        self.query_one("#email", Input).focus()
        self.query_one("#check-log", RichLog).display = False

    # -- derived defaults -----------------------------------------------------------------

    def _fill(self, field_id: str, value: str) -> None:
        if field_id in self._edited:
            return
        self._auto.setdefault(field_id, set()).add(value)
        self.query_one(f"#{field_id}", Input).value = value

    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        field_id = event.input.id or ""
        self._show_error(field_id, "")
        if field_id == "email":
            email = event.value
            self._fill("name", default_account_name(email) if "@" in email else "")
            self._fill("username", email.strip())
            for protocol in PROTOCOLS:
                self._fill(f"{protocol.value}-host", default_host(protocol, email))
        elif field_id in self._auto and event.value not in self._auto[field_id]:
            self._edited.add(field_id)

    @on(Select.Changed, ".server-security")
    def _security_changed(self, event: Select.Changed) -> None:
        if not isinstance(event.value, Security):
            return
        protocol = Protocol(str(event.select.id).split("-")[0])
        port = self.query_one(f"#{protocol.value}-port", Input)
        if is_default_port(protocol, port.value):
            port.value = str(default_port(protocol, event.value))

    # -- reading and validating -----------------------------------------------------------

    def _values(self) -> FormValues:
        def text(field_id: str) -> str:
            return self.query_one(f"#{field_id}", Input).value

        def chosen(field_id: str):
            return self.query_one(f"#{field_id}", Select).value

        servers = {p: ServerFields(text(f"{p.value}-host"), text(f"{p.value}-port"), chosen(f"{p.value}-security"))
                   for p in PROTOCOLS}
        return FormValues(email=text("email"), name=text("name"), username=text("username"),
                          display_name=text("display-name"), protocol=chosen("protocol"), servers=servers,
                          ca_file=text("ca-file"), password_command=text("password-command"))

    def _password(self) -> Secret | None:
        value = self.query_one("#password", Input).value
        return Secret(value) if value else None

    def _show_error(self, field_id: str, message: str) -> None:
        if field_id not in _ERROR_FIELDS:
            return
        error = self.query_one(f"#{field_id}-error", Static)
        error.update(inert(message))
        error.set_class(bool(message), "-shown")

    def _validated(self) -> Account | None:
        account, errors = build_account(self._values(), str(self.config_path), self.existing)
        for field_id in _ERROR_FIELDS:
            self._show_error(field_id, errors.get(field_id, ""))
        if errors:
            first = next(f for f in _ERROR_FIELDS if f in errors)
            self.query_one(f"#{first}").focus()
            count = len(errors)
            self._summary("1 field needs fixing: see the message under it." if count == 1 else
                          f"{count} fields need fixing: see the messages under them.", "error")
        return account

    def _summary(self, message: str, level: str) -> None:
        summary = self.query_one("#check-summary", Static)
        summary.update(inert(message))
        for name in ("ok", "error", "busy"):
            summary.set_class(name == level, f"-{name}")

    # -- check ----------------------------------------------------------------------------

    @on(Button.Pressed, "#check")
    def action_check(self) -> None:
        account = self._validated()
        if account is None:
            return
        password = self._password()
        self._checked, self._check_ok = (account, password), False
        self.query_one("#check", Button).disabled = True
        log = self.query_one("#check-log", RichLog)
        log.clear()
        log.display = True
        self._summary(f"Checking {', '.join(s.protocol.value.upper() for s in account.servers())}…", "busy")
        self._run_check(account, password)

    @work(thread=True, exclusive=True, exit_on_error=False, group="check")
    def _run_check(self, account: Account, password: Secret | None) -> None:
        if password is None and account.password_command:
            try:
                password = run_password_command(account)
            except CredentialError as exc:
                self.post_message(CheckFinished([str(exc)], False, [str(exc)]))
                return
        report = run_doctor(account, password)
        self.post_message(CheckFinished(format_report(report), report.ok, report.failures()))

    def on_check_finished(self, message: CheckFinished) -> None:
        self.query_one("#check", Button).disabled = False
        self._check_ok = message.ok
        log = self.query_one("#check-log", RichLog)
        for text in message.lines:
            style = "red" if "FAIL" in text else ("green" if text.strip().startswith("ok") else "")
            log.write(Text(strip_controls(text), style=style))
        if message.ok:
            self._summary("✔ All checks passed. Press Save to write the config.", "ok")
        else:
            count = len(message.failures)
            first = message.failures[0].removeprefix("FAIL ") if message.failures else "see the log below"
            servers = "1 server" if count == 1 else f"{count} servers"
            self._summary(f"✘ {servers} failed the check. {first}", "error")

    # -- save -----------------------------------------------------------------------------

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        account = self._validated()
        if account is None:
            return
        password = self._password()
        if self._check_ok and self._checked == (account, password):
            self._save(account, password)
            return
        question = ("The check did not pass. Save this account anyway?" if self._checked == (account, password)
                    else "These settings have not been checked. Save without checking?")

        def answered(yes: bool | None) -> None:
            if yes:
                self._save(account, password)

        self.app.push_screen(ConfirmScreen(question, yes="Save anyway", no="Go back"), answered)

    def _save(self, account: Account, password: Secret | None) -> None:
        use_keyring = self.query_one("#keyring", Checkbox).value and password is not None \
            and account.password_command is None
        config = with_account(self.existing or Config(path=str(self.config_path)), account)
        self.query_one("#save", Button).disabled = True
        self._summary("Saving…", "busy")
        self._write(config, account.name, password if use_keyring else None)

    @work(thread=True, exclusive=True, exit_on_error=False, group="save")
    def _write(self, config: Config, name: str, keyring_password: Secret | None) -> None:
        if keyring_password is not None:  # first, so a missing keyring writes nothing
            try:
                set_password(name, keyring_password)
            except KeyringUnavailable as exc:
                self.post_message(SaveFinished(None, str(exc), keyring_unavailable=True))
                return
            except CredentialError as exc:
                self.post_message(SaveFinished(None, str(exc)))
                return
        try:
            save_config(config, self.config_path)
            saved = load_config(self.config_path)
        except ConfigError as exc:
            self.post_message(SaveFinished(None, str(exc)))
        except OSError as exc:
            self.post_message(SaveFinished(None, f"{self.config_path}: cannot write: {exc.strerror or exc}"))
        else:
            self.post_message(SaveFinished(saved))

    def on_save_finished(self, message: SaveFinished) -> None:
        self.query_one("#save", Button).disabled = False
        if message.config is None:
            self._summary(message.error, "error")
            if message.keyring_unavailable:
                self.query_one("#keyring", Checkbox).value = False
                self._show_error("password-command", "no keyring here: give a command that prints the "
                                                     "password, or leave both empty to be asked each time")
                self.query_one("#password-command", Input).focus()
            return
        name = self.query_one("#name", Input).value.strip()
        self.dismiss(SetupResult(message.config, name, self._password()))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is not WorkerState.ERROR:
            return
        error = event.worker.error
        if event.worker.group == "check":
            self.query_one("#check", Button).disabled = False
        if event.worker.group == "save":
            self.query_one("#save", Button).disabled = False
        self._summary(f"unexpected error: {type(error).__name__}: {error}", "error")

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
