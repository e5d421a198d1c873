"""Where to save an attachment: a directory, checked before anything is downloaded."""
from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from tuimail.model.filenames import safe_filename
from tuimail.model.mime import MimePart, human_size
from tuimail.ui.render import inert, line


class SaveDialog(ModalScreen["Path | None"]):
    CSS_PATH = "../styles/save.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="save.cancel", tooltip="Do not save")]

    def __init__(self, part: MimePart, directory: Path) -> None:
        super().__init__()
        self.part = part
        self.directory = directory

    def compose(self) -> ComposeResult:
        name = safe_filename(self.part.filename, fallback=f"part-{self.part.part_id}")
        with Vertical(id="save-box"):
            yield Static(line(("Save attachment", "bold")), markup=False)
            yield Static(line("as  ", (name, "bold"), f"  ({self.part.content_type}, {human_size(self.part.size)})"),
                         markup=False, id="save-name")
            yield Static(inert("into the folder (an existing file is never overwritten):"), markup=False)
            yield Input(str(self.directory), id="save-dir")
            yield Static("", id="save-error", markup=False)
            yield Button("Save", variant="primary", id="save-ok")

    def on_mount(self) -> None:
        self.query_one("#save-dir", Input).focus()

    def _accept(self) -> None:
        raw = self.query_one("#save-dir", Input).value.strip()
        directory = Path(raw).expanduser()
        if not raw or not directory.is_dir():
            self.query_one("#save-error", Static).update(inert(f"not a folder: {raw or '(empty)'}", "bold red"))
            return
        self.dismiss(directory)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._accept()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self._accept()

    def action_cancel(self) -> None:
        self.dismiss(None)
