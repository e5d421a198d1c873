"""The small modals around composing: attach a file, forward how, resume a draft, leave
unsent, and the report of a send that did not go through."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, DirectoryTree, Input, OptionList, Static
from textual.widgets.option_list import Option

from tuimail.model.config import ForwardMode
from tuimail.store.drafts import DraftStore, SavedDraft
from tuimail.ui.render import inert, line
from tuimail.ui.screens.error import ErrorScreen

DIALOG_CSS = "../styles/compose_dialogs.tcss"


class AttachDialog(ModalScreen["Path | None"]):
    """A path typed (Enter) or a file picked in the tree; a typed folder becomes the tree's root."""

    CSS_PATH = DIALOG_CSS
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="attach.cancel", tooltip="Attach nothing")]

    def __init__(self, start: Path) -> None:
        super().__init__()
        self.start = start

    def compose(self) -> ComposeResult:
        with Vertical(id="attach-box", classes="compose-dialog"):
            yield Static(line(("Attach a file", "bold"), "  type a path and press Enter, or pick one below"),
                         markup=False)
            yield Input(str(self.start) + "/", id="attach-path")
            yield Static("", id="attach-error", markup=False)
            yield DirectoryTree(self.start, id="attach-tree")

    def on_mount(self) -> None:
        self.query_one("#attach-path", Input).focus()

    def _error(self, text: str) -> None:
        self.query_one("#attach-error", Static).update(inert(text, "bold $error"))

    @on(Input.Submitted, "#attach-path")
    def _typed(self, event: Input.Submitted) -> None:
        raw = event.value.strip()
        path = Path(raw).expanduser() if raw else None
        if path is not None and path.is_dir():
            self.query_one("#attach-tree", DirectoryTree).path = path
            self._error("")
            return
        self._accept(path, raw)

    @on(DirectoryTree.FileSelected)
    def _picked(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self._accept(event.path, str(event.path))

    def _accept(self, path: Path | None, raw: str) -> None:
        if path is None or not path.is_file():
            self._error(f"not a file: {raw or '(empty)'}")
            return
        try:
            with path.open("rb"):
                pass
        except OSError as exc:
            self._error(f"cannot read {raw}: {exc.strerror or exc}")
            return
        self.dismiss(path.resolve())

    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True)
class ForwardChoice:
    mode: ForwardMode
    include_attachments: bool = False  # inline only: carry the original's attachments over


class ForwardChooser(ModalScreen["ForwardChoice | None"]):
    CSS_PATH = DIALOG_CSS
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="forward.cancel", tooltip="Do not forward"),
        Binding("i", "inline", "Inline", id="forward.inline", tooltip="Quote the original in a new message"),
        Binding("a", "attachment", "As attachment", id="forward.attachment",
                tooltip="Carry the original, every header, as message/rfc822"),
    ]

    def __init__(self, default: ForwardMode, subject: str = "") -> None:
        super().__init__()
        self.default = default
        self.subject = subject

    def compose(self) -> ComposeResult:
        with Vertical(id="forward-box", classes="compose-dialog"):
            yield Static(line(("Forward", "bold"), "  ", self.subject), markup=False, id="forward-title")
            yield Checkbox("Inline: carry the attachments over too", id="forward-attachments")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Inline", id="forward-inline", variant="primary")
                yield Button("As attachment", id="forward-attachment", variant="primary")
                yield Button("Cancel", id="forward-cancel")

    def on_mount(self) -> None:
        self.query_one(f"#forward-{self.default.value}", Button).focus()

    @on(Button.Pressed, "#forward-inline")
    def action_inline(self) -> None:
        self.dismiss(ForwardChoice(ForwardMode.INLINE, self.query_one("#forward-attachments", Checkbox).value))

    @on(Button.Pressed, "#forward-attachment")
    def action_attachment(self) -> None:
        self.dismiss(ForwardChoice(ForwardMode.ATTACHMENT))

    @on(Button.Pressed, "#forward-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


NEW_MESSAGE = "new"


class DraftChooser(ModalScreen["SavedDraft | str | None"]):
    """Drafts left from earlier sessions: resume one, or start a new message."""

    CSS_PATH = DIALOG_CSS
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="drafts.cancel", tooltip="Do not compose"),
        Binding("delete,d", "delete", "Delete draft", id="drafts.delete",
                tooltip="Throw the highlighted draft away"),
    ]

    def __init__(self, drafts: list[SavedDraft], store: DraftStore | None = None) -> None:
        super().__init__()
        self.drafts = list(drafts)
        self.store = store

    def compose(self) -> ComposeResult:
        with Vertical(id="drafts-box", classes="compose-dialog"):
            yield Static(line(("Unsent drafts", "bold"), "  saved on this machine; Enter resumes one, d deletes"),
                         markup=False)
            options = [Option(inert("New message"), id=NEW_MESSAGE)]
            options += [Option(inert(draft_label(saved)), id=saved.id) for saved in self.drafts]
            yield OptionList(*options, id="drafts-list", markup=False)

    def on_mount(self) -> None:
        chooser = self.query_one("#drafts-list", OptionList)
        chooser.highlighted = 1 if self.drafts else 0
        chooser.focus()

    @on(OptionList.OptionSelected, "#drafts-list")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option_id == NEW_MESSAGE:
            self.dismiss(NEW_MESSAGE)
            return
        self.dismiss(next((d for d in self.drafts if d.id == event.option_id), None))

    def action_delete(self) -> None:
        chooser = self.query_one("#drafts-list", OptionList)
        index = chooser.highlighted
        if self.store is None or index is None or index == 0:
            return
        saved = self.drafts.pop(index - 1)
        self.store.delete(saved.id)
        chooser.remove_option_at_index(index)
        self.notify(f"draft {saved.title!r} deleted", markup=False)

    def action_cancel(self) -> None:
        self.dismiss(None)


def draft_label(saved: SavedDraft) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(saved.saved_at))
    to = ", ".join(saved.draft.to) or "(no recipient)"
    return f"{when}  {saved.title}  → {to}"


LEAVE_KEEP, LEAVE_DISCARD = "keep", "discard"


class LeaveDialog(ModalScreen["str | None"]):
    """The message was changed and not sent: keep the draft, throw it away, or stay."""

    CSS_PATH = DIALOG_CSS
    BINDINGS = [Binding("escape", "stay", "Stay", id="leave.stay", tooltip="Back to the message")]

    def compose(self) -> ComposeResult:
        with Vertical(id="leave-box", classes="compose-dialog"):
            yield Static(inert("This message has unsaved changes and was not sent. Leave it? "
                               "A kept draft is offered the next time you compose (m)."),
                         markup=False, id="leave-question")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Keep draft", id="leave-keep", variant="primary")
                yield Button("Discard", id="leave-discard", variant="error")
                yield Button("Stay", id="leave-stay")

    def on_mount(self) -> None:
        self.query_one("#leave-stay", Button).focus()

    @on(Button.Pressed, "#leave-keep")
    def _keep(self) -> None:
        self.dismiss(LEAVE_KEEP)

    @on(Button.Pressed, "#leave-discard")
    def _discard(self) -> None:
        self.dismiss(LEAVE_DISCARD)

    @on(Button.Pressed, "#leave-stay")
    def action_stay(self) -> None:
        self.dismiss(None)


class SendReport(ErrorScreen):
    """What happened to a send that did not fully succeed; lines are already worded."""

    def __init__(self, title: str, lines: list[str], retry_label: str | None = None) -> None:
        super().__init__(title, "\n".join(lines), retry_label)
        self.lines = lines
