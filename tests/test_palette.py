"""The command palette (ctrl+p): a folder typed by name opens; themes and help are there too."""
from __future__ import annotations

from pathlib import Path

from textual.command import CommandPalette

from tests.tui_support import hermetic, wait_for
from tuimail.store.config_file import load_config
from tuimail.ui.app import TuimailApp
from tuimail.ui.screens.help import HelpScreen
from tuimail.ui.screens.main import MainScreen
from tuimail.ui.widgets.folder_pane import FolderPane
from tuimail.ui.widgets.folders import FolderList

__all__ = ["hermetic"]
SIZE = (120, 40)


def _pane_folder(app) -> str | None:
    panes = app.screen.query(FolderPane)
    return panes.first().folder.name if panes else None


async def _palette(pilot, app, query: str) -> None:
    await pilot.press("ctrl+p")
    await wait_for(pilot, lambda: CommandPalette.is_open(app), what="the palette")
    await pilot.press(*query)
    palette = app.screen
    # the hits arrive from the providers a moment after typing
    await wait_for(pilot, lambda: palette.query_one("CommandList").option_count, what="a hit")
    await pilot.pause(0.3)


async def test_palette_opens_a_folder_by_name_and_switches_theme(clean_testbed, hermetic: Path) -> None:
    testbed = clean_testbed
    testbed.fill("alice", 3, folder="Archive")
    hermetic.parent.mkdir(parents=True, exist_ok=True)
    hermetic.write_text(testbed.config_toml("alice"))
    app = TuimailApp(hermetic, load_config(hermetic))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.query_one(FolderList).folders,
                       what="the folder list")
        await wait_for(pilot, lambda: _pane_folder(app) == "INBOX", what="the INBOX")

        await _palette(pilot, app, "open folder archive")
        await pilot.press("enter")
        await wait_for(pilot, lambda: not CommandPalette.is_open(app), what="the palette to close")
        await wait_for(pilot, lambda: _pane_folder(app) == "Archive", what="Archive to open")

        await _palette(pilot, app, "theme tuimail-high-contrast")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.theme == "tuimail-high-contrast", what="the theme")

        await _palette(pilot, app, "help keys")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help screen")


async def test_palette_reaches_compare_and_doctor(clean_testbed, hermetic: Path) -> None:
    from tuimail.ui.screens.compare import CompareScreen
    from tuimail.ui.screens.doctor import DoctorScreen

    testbed = clean_testbed
    testbed.fill("alice", 3)
    hermetic.parent.mkdir(parents=True, exist_ok=True)
    hermetic.write_text(testbed.config_toml("alice"))
    app = TuimailApp(hermetic, load_config(hermetic))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: _pane_folder(app) == "INBOX", what="the INBOX")

        await _palette(pilot, app, "compare pop3")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen), what="the compare screen")
        compare = app.screen
        await wait_for(pilot, lambda: compare.report is not None or compare.error is not None, timeout=60,
                       what="the compare report")
        assert compare.error is None and compare.report.pop3_view.count == 3
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="the main screen")

        await _palette(pilot, app, "doctor")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DoctorScreen), what="the doctor")
        doctor = app.screen
        await wait_for(pilot, lambda: doctor.lines, timeout=30, what="the doctor's report")
        assert doctor.lines[-1] == "all checks passed", doctor.lines
