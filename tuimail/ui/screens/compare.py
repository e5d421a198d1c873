"""The Compare screen: one account through IMAP and POP3 side by side, measured on the live
server (store/compare_run.py) in a worker thread, with the step in progress shown meanwhile.

The IMAP and POP3 columns (connection, what each sees, cost) line up row by row; below them the
match table, the semantics checks, the keep-policy dry run and the plain-language summary. e and
E export the report (Markdown, JSON) as a 0600 file; x runs the experiments after a confirm,
r runs again. Given a ready CompareReport the screen only shows it (no network): the snapshot
test does that. Every string from a server is drawn inert (compare_view.safe, Content).

Open it with open_compare(app, account, password).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Static
from textual.worker import Worker, WorkerState

from tuimail.model.compare import QUESTIONS, CompareOptions, CompareReport
from tuimail.model.config import Account, Protocol
from tuimail.model.secret import Secret
from tuimail.ui.render import inert, line
from tuimail.ui.widgets.compare_view import (MATCH_COLUMNS, SideBySide, check_lines, column_rows, export_report,
                                             keep_lines, match_cells, match_heading, run_line, safe, summary_lines)
from tuimail.ui.widgets.status import StatusLine

HEADING = "bold $text-accent"
TASKS = {"login": "log in", "list_newest": "list the newest headers", "open_one": "open one message"}
FIRST_STEP = "check both servers without logging in: TLS, certificate, capabilities, AUTH mechanisms"
# what the run does between two measured steps (they report no step of their own)
AFTER = {"pop3.login": "IMAP: list the folders and count their messages (STATUS)",
         "pop3.open_one": "match the INBOX messages (Message-ID, else size and Date); the keep-policy dry run"}
EXPERIMENT_QUESTION = (
    "Run the experiments on account '{name}'?\n\n"
    "They change the server for a moment: they APPEND a test message to the INBOX, set a flag on it "
    "over IMAP, RETR it and then DELE it over POP3, and delete it again over IMAP at the end. "
    "Nothing else on the server is touched.")
KINDS = {"md": "Markdown", "json": "JSON"}


def step_label(name: str) -> str:
    """ "imap.login" -> "IMAP: log in"; "experiment.ID" -> the question it answers."""
    side, _, task = name.partition(".")
    if side == "experiment":
        return f"experiment: {QUESTIONS.get(task, task)}"
    return f"{side.upper()}: {TASKS.get(task, task)}"


@dataclass
class CompareStep(Message):
    run: int
    phase: str  # "start" | "end"
    name: str


@dataclass
class CompareDone(Message):
    run: int
    report: CompareReport
    password: Secret


@dataclass
class CompareFailed(Message):
    run: int
    title: str
    reason: str
    bad_password: bool = False


@dataclass
class ComparePasswordNeeded(Message):
    run: int


class CompareScreen(Screen[None]):
    DEFAULT_CSS = """
    CompareScreen #compare-title { height: 1; padding: 0 1; background: $panel; }
    CompareScreen #compare-scroll { height: 1fr; padding: 0 1; }
    CompareScreen #compare-progress { height: auto; margin: 1 0; }
    CompareScreen #compare-error { height: auto; margin: 1 0; padding: 0 1; border: round $error; }
    CompareScreen #compare-report { height: auto; }
    CompareScreen .compare-heading { margin-top: 1; }
    CompareScreen #compare-run { color: $text-muted; margin-bottom: 1; }
    CompareScreen #compare-matches { height: auto; max-height: 16; margin-top: 1; }
    CompareScreen .compare-lines { height: auto; }
    CompareScreen #compare-status { height: 1; padding: 0 1; }
    """
    BINDINGS = [
        Binding("escape,q", "close", "Back", id="compare.close", tooltip="Back to the mail"),
        Binding("r", "rerun", "Run again", id="compare.rerun", tooltip="Compare again (changes nothing on the server)"),
        Binding("x", "experiment", "Experiments", id="compare.experiment",
                tooltip="Run again with the semantics experiments: they APPEND a test message and delete it again"),
        Binding("e", "export('md')", "Export Markdown", id="compare.export_markdown",
                tooltip="Write the report as a Markdown file (under $XDG_DATA_HOME/tuimail/reports)"),
        Binding("E", "export('json')", "Export JSON", id="compare.export_json",
                tooltip="Write the report as a JSON file (under $XDG_DATA_HOME/tuimail/reports)"),
        Binding("down,j", "scroll_down", "Down", id="compare.down", show=False, tooltip="Scroll one line down"),
        Binding("up,k", "scroll_up", "Up", id="compare.up", show=False, tooltip="Scroll one line up"),
    ]

    def __init__(self, account: Account, password: Secret | None = None, *, report: CompareReport | None = None,
                 options: CompareOptions | None = None, reports_dir: Path | None = None) -> None:
        """report: show this report and run nothing (until r or x). reports_dir: where e and E
        write (default $XDG_DATA_HOME/tuimail/reports)."""
        super().__init__()
        self.account = account
        self.password = password  # the session's, if known; else looked up (keyring, password_command)
        self.options = options or CompareOptions()
        self.reports_dir = reports_dir
        self.report: CompareReport | None = report
        self.running = False
        self.error: tuple[str, str] | None = None
        self.exported: list[Path] = []
        self._run = 0  # results of an older run are dropped
        self._steps: list[list] = []  # [label, done]
        self._experiment = False
        self._parts: dict[str, Widget] = {}

    def compose(self) -> ComposeResult:
        # The parts are kept by id and used through _part: on_mount may run before the scroll's
        # own children are mounted, when a query would not find them yet.
        def part(widget):
            self._parts[widget.id] = widget
            return widget

        def heading(text: str) -> Static:
            return Static(line((text, HEADING)), markup=False, classes="compare-heading")

        def lines(widget_id: str) -> Static:
            return part(Static(Content(""), id=widget_id, markup=False, classes="compare-lines"))

        email = f" <{self.account.email}>" if self.account.email else ""
        yield Static(line(("Compare IMAP and POP3", "bold"), f" · {self.account.name}{email}"),
                     id="compare-title", markup=False)
        with part(VerticalScroll(id="compare-scroll")):
            yield lines("compare-progress")
            yield lines("compare-error")
            with part(Vertical(id="compare-report")):
                yield lines("compare-run")
                yield part(SideBySide(id="compare-columns"))
                yield heading("Match table: INBOX messages by protocol")
                yield lines("compare-match-heading")
                yield part(DataTable(id="compare-matches", cursor_type="row", zebra_stripes=True))
                yield heading("Semantics (observed on this server, never assumed)")
                yield lines("compare-checks")
                yield heading("Keep-on-server policy (dry run: nothing deleted)")
                yield lines("compare-keep")
                yield heading("What this means for this account")
                yield lines("compare-summary")
        yield StatusLine(id="compare-status")
        yield Footer()

    def _part(self, widget_id: str):
        return self._parts[widget_id]

    @property
    def status(self) -> StatusLine:
        return self.query_one("#compare-status", StatusLine)

    def on_mount(self) -> None:
        self._part("compare-scroll").focus()
        self._part("compare-error").display = False
        self._part("compare-progress").display = False
        if self.report is not None:
            self._show(self.report)
        else:
            self._part("compare-report").display = False
            self.start()

    # Running ------------------------------------------------------------------------------------

    def missing_server(self) -> str | None:
        for protocol in (Protocol.IMAP, Protocol.POP3):
            if self.account.server(protocol) is None:
                return (f"account '{self.account.name}' has no [accounts.{self.account.name}.{protocol.value}] "
                        f"server; compare needs both IMAP and POP3 on the same account")
        return None

    def start(self, experiment: bool = False) -> None:
        """Compare again (with the experiments when experiment), replacing what is shown."""
        missing = self.missing_server()
        if missing is not None:
            self._fail("Cannot compare this account", missing)
            return
        self._run += 1
        self.running, self._experiment = True, experiment
        self.report, self.error = None, None
        self._part("compare-report").display = False
        self._part("compare-error").display = False
        self._steps = [[FIRST_STEP, False]]
        self._draw_progress()
        what = "with the experiments" if experiment else "changing nothing on the server"
        self.status.show(f"{self.account.name}: comparing IMAP and POP3 ({what})", "busy")
        self.refresh_bindings()
        options = CompareOptions(limit=self.options.limit, list_count=self.options.list_count,
                                 experiment=experiment, timeout=self.options.timeout, margin=self.options.margin)
        self._compare(self._run, options, self.password)

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def _compare(self, run: int, options: CompareOptions, password: Secret | None) -> None:
        """Blocking: the password lookup (password_command, keyring) and both sessions."""
        from tuimail.protocols.errors import AuthError, MailError
        from tuimail.store.compare_run import run_compare
        from tuimail.store.credentials import CredentialError, lookup_password

        try:
            if password is None:
                password = lookup_password(self.account)
            if password is None:
                self.post_message(ComparePasswordNeeded(run))
                return
            report = run_compare(self.account, password, options,
                                 on_step=lambda phase, name: self.post_message(CompareStep(run, phase, name)))
        except AuthError as exc:
            self.post_message(CompareFailed(run, "Login failed", str(exc), bad_password=True))
        except (MailError, CredentialError) as exc:
            self.post_message(CompareFailed(run, "The compare stopped", str(exc)))
        else:
            self.post_message(CompareDone(run, report, password))

    def on_compare_step(self, message: CompareStep) -> None:
        if message.run != self._run:
            return
        label = step_label(message.name)
        if message.phase == "start":
            for step in self._steps:
                step[1] = True
            self._steps.append([label, False])
        else:
            for step in self._steps:
                if step[0] == label:
                    step[1] = True
            if message.name in AFTER:
                self._steps.append([AFTER[message.name], False])
        self._draw_progress()
        current = next((s[0] for s in reversed(self._steps) if not s[1]), None)
        if current:
            self.status.show(f"{self.account.name}: {current}", "busy")

    def _draw_progress(self) -> None:
        widget = self._part("compare-progress")
        mode = ("with the experiments: a test message is appended and deleted again" if self._experiment
                else "read only: nothing on the server is changed")
        lines = [line((f"Comparing IMAP and POP3 on {self.account.name}", "bold"), f" ({mode})")]
        for label, done in self._steps:
            lines.append(line(("  ✔ ", "$success"), label) if done else line(("  … ", "bold $warning"), (label, "bold")))
        widget.update(Content("\n").join(lines))
        widget.display = True

    def on_compare_done(self, message: CompareDone) -> None:
        if message.run != self._run:
            return
        self.running = False
        self.password = message.password  # it worked: r and x need not look it up again
        for step in self._steps:
            step[1] = True
        self._part("compare-progress").display = False
        self._show(message.report)
        self.refresh_bindings()

    def on_compare_failed(self, message: CompareFailed) -> None:
        if message.run != self._run:
            return
        if message.bad_password:
            self.password = None  # r looks it up (or asks) again
        self._fail(message.title, message.reason)

    def on_compare_password_needed(self, message: ComparePasswordNeeded) -> None:
        if message.run != self._run:
            return
        from tuimail.ui.screens.password import PasswordScreen  # only when a password is asked for

        server = self.account.imap or self.account.pop3
        host = f"{server.host}:{server.port}" if server else "?"
        experiment = self._experiment

        def answered(password: Secret | None) -> None:
            if password is None:
                self._fail("No password", f"{self.account.name}: no password given, so nothing was compared "
                                          f"(r to try again)")
                return
            self.password = password
            self.start(experiment)

        self.app.push_screen(PasswordScreen(self.account.name, self.account.username, host,
                                            "to compare IMAP and POP3"), answered)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Anything the worker did not expect still ends as a readable error, never a traceback.
        if event.state is WorkerState.ERROR and event.worker.group in ("compare", "compare-export"):
            error = event.worker.error
            if event.worker.group == "compare":
                self._fail("Unexpected error", f"{type(error).__name__}: {error}")
            else:
                self.status.show(f"export failed: {type(error).__name__}: {error}", "error")

    def _fail(self, title: str, reason: str) -> None:
        self.running = False
        self.error = (title, reason)
        self._part("compare-progress").display = False
        self._part("compare-report").display = False
        box = self._part("compare-error")
        box.update(Content("\n").join([line((title, "bold $error")), line(safe(reason, 2000)),
                                       line(("r to try again, escape to go back", "dim"))]))
        box.display = True
        self.status.show(f"{title}: {reason}", "error")
        self.refresh_bindings()

    # Showing -------------------------------------------------------------------------------------

    def _show(self, report: CompareReport) -> None:
        self.report = report
        self._part("compare-run").update(inert(run_line(report)))
        self._part("compare-columns").set_rows(column_rows(report))
        table = report.matches
        self._part("compare-match-heading").update(inert(match_heading(table)))
        grid = self._part("compare-matches")
        grid.clear(columns=True)
        grid.add_columns(*MATCH_COLUMNS)
        grid.add_rows(match_cells(row) for row in table.rows)
        grid.display = bool(table.rows)
        for widget_id, lines in (("#compare-checks", check_lines(report)), ("#compare-keep", keep_lines(report.keep)),
                                 ("#compare-summary", summary_lines(report))):
            self._part(widget_id[1:]).update(Content("\n").join(lines))
        self._part("compare-report").display = True
        self.status.show(f"{report.account}: compared in {report.seconds:.2f} s · e Markdown, E JSON, "
                         f"x experiments, r again", "ok")

    @property
    def text(self) -> str:
        """What the report part of the screen says, as plain text (for tests)."""
        ids = ("#compare-run", "#compare-match-heading", "#compare-checks", "#compare-keep", "#compare-summary")
        parts = [self._part(i[1:]).content for i in ids]
        columns = self._part("compare-columns")
        return "\n".join([columns.column_text("imap"), columns.column_text("pop3")]
                         + [getattr(p, "plain", str(p)) for p in parts])

    # Keys ------------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("rerun", "experiment"):
            return None if self.running else True
        if action == "export":
            return True if self.report is not None else None
        return True

    def action_close(self) -> None:
        self.dismiss(None)

    def action_rerun(self) -> None:
        if not self.running:
            self.start(experiment=False)

    def action_experiment(self) -> None:
        if self.running:
            return
        from tuimail.ui.screens.confirm import ConfirmScreen

        def answered(yes: bool | None) -> None:
            if yes and not self.running:
                self.start(experiment=True)

        self.app.push_screen(ConfirmScreen(EXPERIMENT_QUESTION.format(name=self.account.name),
                                           yes="Run the experiments", no="Cancel"), answered)

    def action_export(self, kind: str) -> None:
        if self.report is None or kind not in KINDS:
            return
        self.status.show(f"writing the {KINDS[kind]} report…", "busy")
        self._export(self.report, kind)

    @work(thread=True, group="compare-export", exit_on_error=False)
    def _export(self, report: CompareReport, kind: str) -> None:
        try:
            path = export_report(report, kind, self.reports_dir)
        except OSError as exc:
            self.app.call_from_thread(self._export_failed, kind, str(exc.strerror or exc))
            return
        self.app.call_from_thread(self._exported, kind, path)

    def _exported(self, kind: str, path: Path) -> None:
        self.exported.append(path)
        self.app.notify(f"{KINDS[kind]} report written to {path}", title="Compare report", markup=False)
        if self.is_attached:
            self.status.show(f"{KINDS[kind]} report written to {path}", "ok")

    def _export_failed(self, kind: str, reason: str) -> None:
        self.app.notify(f"cannot write the {KINDS[kind]} report: {reason}", title="Compare report",
                        severity="error", markup=False)
        if self.is_attached:
            self.status.show(f"cannot write the {KINDS[kind]} report: {reason}", "error")

    def action_scroll_down(self) -> None:
        self._part("compare-scroll").scroll_down(animate=False)

    def action_scroll_up(self) -> None:
        self._part("compare-scroll").scroll_up(animate=False)


def open_compare(app: App, account: Account, password: Secret | None = None, **keywords) -> CompareScreen:
    """Push the Compare screen for account and start the compare. password: the one this
    session already uses for the account, if any (else it is looked up, or asked for).
    keywords: CompareScreen's (options=CompareOptions(...), reports_dir=...)."""
    screen = CompareScreen(account, password, **keywords)
    app.push_screen(screen)
    return screen
