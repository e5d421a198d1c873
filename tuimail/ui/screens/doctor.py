"""`tuimail doctor` in the TUI: every configured server of the account checked step by step
(connect, TLS, certificate, capabilities, AUTH mechanisms, login), in a thread, then shown as
the same lines the CLI prints. The lines hold server words: shown inert, never markup."""
from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static
from textual.worker import get_current_worker

from tuimail.model.config import Account
from tuimail.model.secret import Secret
from tuimail.ui.render import inert


def line_style(text: str) -> str:
    stripped = text.lstrip()
    if stripped.startswith("FAIL") or " FAILED " in f" {stripped} ":
        return "bold red"
    if stripped.startswith("=>") or stripped == "all checks passed":
        return "bold"
    return "" if text.startswith(" ") else "bold"


class DoctorScreen(ModalScreen[None]):
    """Checks account's servers when shown; r checks again, escape closes."""

    CSS_PATH = "../styles/pop3_report.tcss"  # the same dialog frame as the POP3 report
    BINDINGS = [
        Binding("escape,q", "close", "Close", id="doctor.close", tooltip="Back to the mail"),
        Binding("r", "check", "Check again", id="doctor.check", tooltip="Run every check again"),
    ]

    def __init__(self, account: Account, password: Secret | None) -> None:
        super().__init__()
        self.account, self.password = account, password
        self.lines: list[str] = []
        self.running = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="pop3-dialog"):
            yield Static(inert(f"Doctor · {self.account.name}", "bold"), markup=False, classes="pop3-heading")
            with VerticalScroll(id="pop3-report-scroll"):
                yield Static(inert("checking…", "dim"), id="doctor-body", markup=False)
            with Horizontal(classes="pop3-buttons"):
                yield Button("Check again", id="doctor-check")
                yield Button("Close", variant="primary", id="doctor-close")

    def on_mount(self) -> None:
        self.query_one("#doctor-close", Button).focus()
        self.action_check()

    def action_check(self) -> None:
        if self.running:
            return
        self.running = True
        self.query_one("#doctor-body", Static).update(inert("checking…", "dim"))
        self._check()

    @work(thread=True, exclusive=True, group="doctor")
    def _check(self) -> None:
        from tuimail.protocols.doctor import format_report, run_doctor

        from tuimail.store.credentials import CredentialError, lookup_password

        password, problem = self.password, None
        if password is None:  # the password command or the keyring, as the CLI does
            try:
                password = lookup_password(self.account)
            except CredentialError as exc:
                problem = f"FAIL password: {exc}"
        try:
            lines = format_report(run_doctor(self.account, password, login=password is not None))
        except Exception as exc:  # noqa: BLE001 - anything unexpected is shown, never a traceback
            lines = [f"FAIL the checks stopped: {type(exc).__name__}: {exc}"]
        if problem:
            lines.append(problem)
        elif password is None:
            lines.append("login not checked: no password known (type it once in the TUI, or set "
                         "password_command / `tuimail password set`)")
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show, lines)

    def _show(self, lines: list[str]) -> None:
        self.running = False
        self.lines = lines
        text = Content("\n").join(inert(text, line_style(text)) for text in lines)
        self.query_one("#doctor-body", Static).update(text)

    @on(Button.Pressed, "#doctor-check")
    def _check_pressed(self) -> None:
        self.action_check()

    @on(Button.Pressed, "#doctor-close")
    def action_close(self) -> None:
        self.workers.cancel_group(self, "doctor")
        self.dismiss(None)
