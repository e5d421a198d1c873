"""What a POP3 sync did (or, in a dry run, would do): downloaded, deleted on the server, kept,
skipped with the reason. After a dry run it offers to run the sync for real."""
from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tuimail.model.mime import human_size
from tuimail.model.text import one_line
from tuimail.store.pop3_keep import Item, SyncReport
from tuimail.ui.render import line


def report_summary(report: SyncReport) -> str:
    if report.dry_run:
        return (f"would download {len(report.would_download)}, would delete {len(report.would_delete)} "
                f"on the server, skipped {len(report.skipped)}")
    return (f"downloaded {len(report.downloaded) + len(report.adopted)}, deleted {len(report.deleted)} "
            f"on the server, kept {report.kept}, skipped {len(report.skipped)}")


def _item(mark: str, item: Item) -> str:
    number = f"#{item.number}" if item.number else ""
    text = f"  {mark} {number:>7}  {human_size(item.size):>9}  {one_line(item.subject, 70) or item.key}"
    return text + (f"  ({one_line(item.reason, 120)})" if item.reason else "")


def report_lines(report: SyncReport) -> list[str | tuple[str, str]]:
    """The report as lines (text, or text and style); server text is made inert by line()."""
    mode = "dry run: nothing downloaded, nothing deleted" if report.dry_run else "done"
    lines: list[str | tuple[str, str]] = [
        (f"{report.account}: {report.count} message(s) on the server ({mode})", "bold"),
        f"policy: {report.policy}", ""]
    for title, mark, items in report.sections():
        if items:
            lines.append((f"{title.capitalize()} ({len(items)})", "bold"))
            lines += [_item(mark, item) for item in items]
    if not any(items for _, _, items in report.sections()):
        lines.append("Nothing to download, nothing to delete.")
    lines += [("note: " + one_line(note), "dim") for note in report.notes]
    lines += ["", (report_summary(report), "bold")]
    if report.error:
        lines.append((f"error: {one_line(report.error)}", "bold red"))
    return lines


class Pop3ReportScreen(ModalScreen[bool]):
    """Dismisses with True when the user asks to run, for real, the sync a dry run showed."""

    CSS_PATH = "../styles/pop3_report.tcss"
    BINDINGS = [
        Binding("escape,enter", "close", "Close", id="pop3_report.close", tooltip="Back to the message list"),
        Binding("S", "run", "Sync now", id="pop3_report.run", tooltip="After a dry run: run the sync for real"),
    ]

    def __init__(self, report: SyncReport) -> None:
        super().__init__()
        self.report = report

    def compose(self) -> ComposeResult:
        what = "POP3 dry run" if self.report.dry_run else "POP3 sync"
        with Vertical(id="pop3-report", classes="pop3-dialog"):
            yield Static(line((f"{what} · {self.report.account}", "bold")), markup=False, classes="pop3-heading")
            with VerticalScroll(id="pop3-report-scroll"):
                text = Content("\n").join(line(part) for part in report_lines(self.report))
                yield Static(text, id="pop3-report-body", markup=False)
            with Horizontal(classes="pop3-buttons"):
                if self.report.dry_run and not self.report.error:
                    yield Button("Sync now", variant="warning", id="pop3-report-run")
                yield Button("Close", variant="primary", id="pop3-report-close")

    def on_mount(self) -> None:
        self.query_one("#pop3-report-close", Button).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "run":
            return self.report.dry_run and not self.report.error
        return True

    @on(Button.Pressed, "#pop3-report-run")
    def action_run(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#pop3-report-close")
    def action_close(self) -> None:
        self.dismiss(False)
