"""The Textual application: themes, keymap, command palette, the first-run form or the mail
shell, and app-wide keys."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from tuimail.model.config import Config
from tuimail.model.secret import Secret
from tuimail.model.text import strip_controls
from tuimail.protocols.trace import TraceBook, activate, deactivate
from tuimail.ui.palette import MailCommands
from tuimail.ui.screens.main import MainScreen
from tuimail.ui.themes import THEMES_DIR, ThemedApp, install_themes, user_themes_dir

STARTUP_FALLBACK = 3.0  # seconds: start-up mode (launch.begin_startup) ends by then at the latest

if TYPE_CHECKING:
    from textual.notifications import SeverityLevel

    from tuimail.store.head_start import HeadStart


class TuimailApp(ThemedApp):
    """With a config, the mail shell; without one (or with no accounts), the setup form first."""

    TITLE = "tuimail"
    CSS_PATH = ["styles/app.tcss", "styles/main.tcss"]  # main's too: one parse at start, not two
    ENABLE_COMMAND_PALETTE = True
    COMMANDS = App.COMMANDS | {MailCommands}
    BINDINGS = [
        Binding("ctrl+p", "command_palette", "Commands", id="app.palette", priority=True,
                tooltip="Search every command: folders, accounts, compose, themes, keys"),
        Binding("q", "leave", "Quit", id="app.quit", tooltip="Leave tuimail"),
        Binding("question_mark,f1", "help", "Help", id="app.help",
                tooltip="Show the keys that work here"),
    ]

    def __init__(self, config_path: Path, config: Config | None, *, account: str | None = None,
                 themes_dir: Path = THEMES_DIR, user_themes: Path | None = None,
                 head_start: "HeadStart | None" = None, trace_book: TraceBook | None = None) -> None:
        super().__init__()
        self.head_start = head_start  # the INBOX being prepared since before Textual loaded
        # Every connection of this session records here (the trace panel reads it): launch.py
        # made it and let it record before the head start connected, else it starts on mount.
        self.trace_book = trace_book if trace_book is not None else TraceBook()
        self.config_path = config_path
        self.config = config
        self._account = account
        self._themes_dir = themes_dir
        self._user_themes = user_themes if user_themes is not None else user_themes_dir()
        # Before the stylesheet is first parsed: set on mount, the theme would parse it again.
        wanted = config.ui.theme if config else None
        self._theme_problems = install_themes(self, wanted, themes_dir, self._user_themes)
        # The stylesheet was made (App.__init__) with the default theme's variables: it gets
        # this theme's now, before its first parse, and the refresh_css that setting the theme
        # queued for after the start (a reparse of every stylesheet, a restyle of every node:
        # about 3% of the start's instructions) has nothing left to do and is skipped.
        self.stylesheet.set_variables(self.get_css_variables())
        self._first_parse_theme: str | None = self.theme
        if config is not None and config.keymap:
            self.set_keymap(config.keymap)  # ids checked when the config was read

    def refresh_css(self, animate: bool = True) -> None:
        if self._first_parse_theme is not None:
            redundant = self._first_parse_theme == self.theme
            self._first_parse_theme = None
            if redundant:
                return
        super().refresh_css(animate)

    def on_mount(self) -> None:
        from tuimail.ui.launch import end_startup  # begun by build_app

        self.call_after_refresh(self._after_first_frame)
        self.set_timer(STARTUP_FALLBACK, end_startup)  # if no frame comes (a hidden or stalled screen)
        for problem in self._theme_problems:
            self.notify(problem, title="Theme", severity="warning", markup=False)
        if not self._has_accounts():
            from tuimail.ui.screens.setup import SetupScreen  # only on first run: keeps start-up light

            self.push_screen(SetupScreen(self.config_path, self.config), self._setup_finished)

    def _has_accounts(self) -> bool:
        return self.config is not None and bool(self.config.accounts)

    def get_default_screen(self) -> Screen:
        """With accounts, the mail shell is the app's first screen (composed with the app,
        instead of a blank default screen to be styled and then covered by it)."""
        activate(self.trace_book)  # the first screen's connections start before on_mount
        if not self._has_accounts():
            return super().get_default_screen()
        return MainScreen(self.config, account=self._account, head_start=self.head_start)

    def _after_first_frame(self) -> None:
        """After the first frame, once the head start's thread is done too (see begin_startup)."""
        from tuimail.ui.launch import end_startup, in_startup

        if not in_startup():
            return  # ended already: by the fallback timer, or the app is ending
        if self.head_start is None or self.head_start.done.is_set():
            end_startup()
        else:
            self.set_timer(0.05, self._after_first_frame)

    def on_unmount(self) -> None:
        from tuimail.ui.launch import end_startup

        end_startup()
        deactivate(self.trace_book)

    def _setup_finished(self, result) -> None:
        if result is None:
            self.exit()
            return
        self.config = result.config
        passwords: dict[str, Secret] = {}
        if result.password:
            passwords[result.account] = result.password
        self.push_screen(MainScreen(result.config, account=result.account, passwords=passwords))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # In the setup form a stray q must not throw away what was typed (Escape cancels there).
        setup = sys.modules.get("tuimail.ui.screens.setup")
        if action == "leave" and setup is not None and isinstance(self.screen, setup.SetupScreen):
            return False
        return True

    def notify(self, message: str, *, title: str = "", severity: "SeverityLevel" = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Every toast lands here (Widget.notify passes markup=True by default): a server's or a
        message's words are data, so markup is always off and controls are stripped."""
        super().notify(strip_controls(message), title=strip_controls(title), severity=severity,
                       timeout=timeout, markup=False)

    async def action_leave(self) -> None:
        self.exit()

    def action_help(self) -> None:
        from tuimail.ui.screens.help import HelpScreen, bindings_of  # loaded when first asked for

        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(bindings_of(self.screen)))
