"""Choosing a folder to move or copy messages into: the account's folders, names inert."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tuimail.model.folder import Folder
from tuimail.model.mailbox import FolderStatus
from tuimail.ui.render import line
from tuimail.ui.widgets.folders import folder_prompt, sort_folders, tree_position


class FolderPicker(ModalScreen["Folder | None"]):
    CSS_PATH = "../styles/picker.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="picker.cancel", tooltip="Leave the message where it is")]

    def __init__(self, folders: list[Folder], title: str,
                 counts: dict[str, FolderStatus] | None = None) -> None:
        super().__init__()
        self.folders = sort_folders([f for f in folders if f.selectable])
        self.title_text = title
        self.counts = counts or {}

    def compose(self) -> ComposeResult:
        listed = {folder.name: folder for folder in self.folders}
        with Vertical(id="picker-box"):
            yield Static(line((self.title_text, "bold")), markup=False, id="picker-title")
            yield OptionList(*(Option(folder_prompt(f, *tree_position(f, listed), status=self.counts.get(f.name)),
                                      id=str(i)) for i, f in enumerate(self.folders)),
                             id="picker-folders", markup=False)
            yield Static(line(("enter picks, escape cancels", "dim")), markup=False)

    def on_mount(self) -> None:
        self.query_one("#picker-folders", OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option_id is not None:
            self.dismiss(self.folders[int(event.option_id)])

    def action_cancel(self) -> None:
        self.dismiss(None)
