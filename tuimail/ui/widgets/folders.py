"""The folder list: an account's mailboxes, names shown exactly as the server sent them, inert."""
from __future__ import annotations

from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tuimail.model.folder import Folder
from tuimail.model.mailbox import FolderStatus
from tuimail.ui.render import inert

# Single-cell symbols, so columns line up in any terminal font.
ROLE_ICONS = {"inbox": "▣", "sent": "➤", "drafts": "✎", "trash": "✗", "junk": "⚠", "archive": "▤"}
ROLE_LABELS = {"inbox": "Inbox", "sent": "Sent", "drafts": "Drafts", "trash": "Trash",
               "junk": "Junk", "archive": "Archive"}
ROLE_ORDER = {role: index for index, role in enumerate(ROLE_ICONS)}
POP3_INBOX = "INBOX (POP3)"


def tree_position(folder: Folder, listed: dict[str, Folder]) -> tuple[int, str]:
    """Depth under the listed ancestors, and the name relative to the nearest one.

    A name is only cut at a delimiter when the server listed the parent, so a name like
    "[/b]" with delimiter "/" is shown whole rather than as a made-up child "b]".
    """
    if not folder.delimiter:
        return 0, folder.display
    parts = folder.name.split(folder.delimiter)
    depth, parent = 0, None
    for i in range(1, len(parts)):
        ancestor = listed.get(folder.delimiter.join(parts[:i]))
        if ancestor is not None:
            depth, parent = depth + 1, ancestor
    if parent is not None and folder.display.startswith(parent.display + folder.delimiter):
        return depth, folder.display[len(parent.display) + len(folder.delimiter):]
    return depth, folder.display


def count_text(status: FolderStatus | None) -> str:
    """"unseen/total", "?" for what the server did not say; "" before STATUS answered."""
    if status is None:
        return ""
    unseen = "?" if status.unseen is None else f"{status.unseen:,}"
    total = "?" if status.messages is None else f"{status.messages:,}"
    return f"{unseen}/{total}"


def folder_prompt(folder: Folder, depth: int = 0, leaf: str | None = None,
                  status: FolderStatus | None = None) -> Content:
    """One row: role icon, indented name, the role when the name does not say it, counts."""
    leaf = folder.display if leaf is None else leaf
    icon = ROLE_ICONS.get(folder.role or "", " ")
    row = [Content.styled(f"{icon} ", "$accent" if folder.role else ""),
           Content("  " * depth), inert(leaf, "" if folder.selectable else "dim italic")]
    label = ROLE_LABELS.get(folder.role or "")
    if label and label.lower() != leaf.strip().lower():
        row.append(Content.styled(f"  {label}", "dim"))
    counts = count_text(status)
    if counts:
        row.append(Content.styled(f"  {counts}", "bold" if status and status.unseen else "dim"))
    return Content("").join(row)


def sort_folders(folders: list[Folder]) -> list[Folder]:
    """Inbox first; children stay under their parent (sorted by name within the tree)."""
    def key(folder: Folder) -> tuple[int, tuple[str, ...]]:
        parts = folder.display.split(folder.delimiter) if folder.delimiter else [folder.display]
        under_inbox = parts[0].upper() == "INBOX"
        return (0 if under_inbox else 1, tuple(part.casefold() for part in parts))
    return sorted(folders, key=key)


class FolderList(OptionList):
    """Lists Folder objects; the option id is the folder's index in `folders`."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(markup=False, id=id)
        self.folders: list[Folder] = []
        self.counts: dict[str, FolderStatus] = {}  # folder name -> its latest counts
        self.border_title = "Folders"

    def show_folders(self, folders: list[Folder], counts: dict[str, FolderStatus] | None = None) -> None:
        self.folders = sort_folders(folders)
        self.counts = dict(counts or {})
        listed = {folder.name: folder for folder in self.folders}
        self.clear_options()
        self.add_options(Option(self._prompt(folder, listed), id=str(index), disabled=not folder.selectable)
                         for index, folder in enumerate(self.folders))
        if self.folders:
            self.highlighted = 0

    def _prompt(self, folder: Folder, listed: dict[str, Folder]) -> Content:
        return folder_prompt(folder, *tree_position(folder, listed), status=self.counts.get(folder.name))

    def set_counts(self, counts: dict[str, FolderStatus]) -> None:
        """New unseen/total counts for some folders: redraw their rows only."""
        listed = {folder.name: folder for folder in self.folders}
        for index, folder in enumerate(self.folders):
            if folder.name in counts:
                self.counts[folder.name] = counts[folder.name]
                self.replace_option_prompt(str(index), self._prompt(folder, listed))

    def show_pop3_inbox(self) -> None:
        """POP3 has exactly one mailbox."""
        self.folders = [Folder(name="INBOX", display=POP3_INBOX, delimiter=None, role="inbox")]
        self.clear_options()
        self.add_option(Option(Content.assemble((f"{ROLE_ICONS['inbox']} ", "$accent"), POP3_INBOX),
                               id="0"))
        self.highlighted = 0

    def show_note(self, note: str) -> None:
        """A placeholder row (loading, failed) in place of the folders."""
        self.folders = []
        self.clear_options()
        self.add_option(Option(inert(note, "dim"), disabled=True))
