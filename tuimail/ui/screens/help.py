"""The help screen: every key that works on the screen it was opened from."""
from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Static

from tuimail import __version__
from tuimail.ui.render import inert


@dataclass(frozen=True)
class KeyHelp:
    keys: str  # "q" or "? / f1"
    description: str
    tooltip: str
    where: str  # which part of the screen owns it
    binding_id: str = ""  # what [keymap] in the config calls it
    action: str = ""
    node: DOMNode | None = None  # where the action runs (the command palette runs it there)


def bindings_of(screen: Screen) -> list[KeyHelp]:
    """The described bindings active on screen, keys of one binding merged onto one row."""
    rows: dict[tuple[str, str], list[str]] = {}
    info: dict[tuple[str, str], tuple] = {}
    for active in screen.active_bindings.values():
        binding = active.binding
        # Textual's own editing keys (show=False, no id) would drown the few that matter; ours
        # all carry an id, so those kept off the footer still belong here
        if not binding.description or binding.system or not (binding.show or binding.id
                                                               or active.node is screen.app):
            continue
        where = ("everywhere" if active.node is screen.app
                 else "this screen" if active.node is screen else type(active.node).__name__)
        key = (binding.description, where)  # ctrl+q and q both quit: one row
        display = screen.app.get_key_display(binding)
        rows.setdefault(key, [])
        if display not in rows[key]:
            rows[key].append(display)
        if key not in info or (binding.id and binding.tooltip):
            info[key] = (binding.description, binding.tooltip, where, binding.id or "", binding.action,
                         active.node)
    order = {"this screen": 0, "everywhere": 2}
    result = [KeyHelp(" / ".join(keys), *info[key]) for key, keys in rows.items()]
    return sorted(result, key=lambda row: order.get(row.where, 1))


def help_content(rows: list[KeyHelp]) -> Content:
    width = max((len(row.keys) for row in rows), default=4) + 2
    lines = [Content.assemble((f"tuimail {__version__}", "bold"), "  keys on this screen", "")]
    where = None
    for row in rows:
        if row.where != where:
            where = row.where
            lines.append(Content.styled(f"\n{where.capitalize()}", "bold underline"))
        lines.append(Content.assemble(
            (row.keys.ljust(width), "bold $accent"),
            inert(row.description.ljust(22)),
            inert(row.tooltip, "dim"),
            inert(f"  [{row.binding_id}]" if row.binding_id else "", "dim italic"),
        ))
    lines.append(Content(""))
    lines.append(Content.styled("Tab moves between panes; Enter opens the highlighted entry.", "dim"))
    lines.append(Content.styled("Ctrl+P: every command. Change a key in the config: [keymap] index.next = \"n\"",
                                "dim"))
    return Content("\n").join(lines)


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "../styles/help.tcss"
    BINDINGS = [
        Binding("escape,q,question_mark,f1", "close", "Close help", id="help.close",
                tooltip="Back to where you were"),
    ]

    def __init__(self, rows: list[KeyHelp]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog"):
            with VerticalScroll(id="help-scroll"):
                yield Static(help_content(self.rows), id="help-keys", markup=False)
            yield Button("Close", variant="primary", id="help-close")

    @on(Button.Pressed, "#help-close")
    def action_close(self) -> None:
        self.dismiss(None)
