"""The command palette's mail commands: folders, accounts, compose, themes, help, and every key
of the screen it was opened from.

Folder and account names come from the server or the config: they are shown inert (Textual's
own Matcher.highlight would parse them as markup).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Matcher, Provider
from textual.content import Content
from textual.markup import escape
from textual.theme import BUILTIN_THEMES

from tuimail.model.text import strip_controls
from tuimail.ui.render import inert


@dataclass(frozen=True)
class MailCommand:
    name: str  # untrusted pieces allowed: always shown inert
    help: str
    run: Callable[[], object]


def highlight(matcher: Matcher, name: str) -> Content:
    """name with the matched characters styled, never parsed as markup."""
    text = strip_controls(name)
    content = inert(text)
    score, offsets = matcher.fuzzy_search.match(matcher.query, text)
    if not score:
        return content
    for offset in offsets:
        if not text[offset].isspace():
            content = content.stylize(matcher.match_style, offset, offset + 1)
    return content


class MailCommands(Provider):
    """What tuimail can do from where the palette was opened."""

    def _commands(self) -> Iterator[MailCommand]:
        from tuimail.ui.screens.help import bindings_of  # the app imports this module first
        from tuimail.ui.screens.main import MainScreen
        from tuimail.ui.screens.message import MessageScreen

        screen, app = self.screen, self.app
        if isinstance(screen, MainScreen):
            for index, folder in enumerate(screen.listed_folders()):
                if folder.selectable:
                    yield MailCommand(f"Open folder {folder.display}", f"{screen.current}: show its messages",
                                      partial(screen.open_listed_folder, index))
            for name, account in screen.config.accounts.items():
                if name != screen.current:
                    yield MailCommand(f"Switch to account {name}", account.email, partial(screen.switch_account, name))
            pane = screen.open_pane()
            if pane is not None:
                yield MailCommand("Compose a new message", f"From {pane.account.email}", pane.start_compose)
        elif isinstance(screen, MessageScreen):
            yield MailCommand("Compose a new message", "Write a new message", screen.action_compose)
        for name in sorted(app.available_themes):
            if name not in BUILTIN_THEMES and name != app.theme:
                yield MailCommand(f"Theme {name}", "Use these colours until tuimail quits",
                                  partial(setattr, app, "theme", name))
        if hasattr(app, "action_help"):
            yield MailCommand("Help: keys on this screen", "Every key that works here, with its id",
                              app.action_help)
        for row in bindings_of(screen):
            if row.action and row.where != "everywhere":
                yield MailCommand(f"{row.description} ({row.keys})", row.tooltip or row.description,
                                  partial(app.run_action, row.action, row.node))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            score = matcher.match(strip_controls(command.name))
            if score > 0:
                yield Hit(score, highlight(matcher, command.name), command.run,
                          text=strip_controls(command.name), help=escape(strip_controls(command.help)))

    async def discover(self) -> Hits:
        for command in self._commands():
            yield DiscoveryHit(inert(command.name), command.run, text=strip_controls(command.name),
                               help=escape(strip_controls(command.help)))
