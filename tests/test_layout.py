"""The main screen's panes by terminal width, and the index under the mouse (no server: fixed mail)."""
from __future__ import annotations

from pathlib import Path

import pytest
from textual import events

from tests.fixed_mail import MESSAGES, READER, fixed_app, fixed_mail, index_ready
from tests.tui_support import rendered_lines, wait_for
from tuimail.ui.screens.main import MainScreen
from tuimail.ui.widgets.folders import FolderList
from tuimail.ui.widgets.message_list import MessageList, row_columns

__all__ = ["fixed_mail"]  # a fixture, used by name
NEWEST = READER.summary.subject


async def _ready(pilot) -> MessageList:
    await wait_for(pilot, lambda: index_ready(pilot.app), what="the cached INBOX and the folder list")
    await pilot.pause()
    return pilot.app.screen.query_one(MessageList)


def _shown(app, selector: str) -> bool:
    widget = app.screen.query_one(selector)
    return widget.display and widget.region.width > 0


def test_row_columns_keep_the_subject_and_drop_size_then_date() -> None:
    wide, narrow, tiny = row_columns(81), row_columns(56), row_columns(30)
    assert wide.size and wide.date and wide.subject >= 30
    assert not narrow.size and narrow.date and narrow.subject >= 20
    assert not tiny.size and not tiny.date and tiny.subject >= 10
    for width, columns in ((81, wide), (56, narrow), (30, tiny)):
        used = 5 + (columns.date + 1 if columns.date else 0) + columns.sender + 1 \
            + columns.subject + (columns.size + 1 if columns.size else 0)
        assert used == width


async def test_wide_terminal_shows_folders_index_and_every_column(fixed_mail: Path) -> None:
    app = fixed_app(fixed_mail)
    async with app.run_test(size=(120, 40)) as pilot:
        index = await _ready(pilot)
        assert app.screen.has_class("-wide") and not app.screen.has_class("-narrow")
        for pane in ("#sidebar", "#accounts", "#folders", "#content"):
            assert _shown(app, pane), pane
        assert "Archive" in "\n".join(rendered_lines(app.screen.query_one(FolderList)))
        top = rendered_lines(index)[0]
        assert NEWEST in top and "15:42" in top and "1.2 KB" in top, top  # today's mail by the hour
        assert "Mar 13" in rendered_lines(index)[3]  # this year's by the day


async def test_narrow_terminal_gives_the_index_the_width_and_keeps_subjects(fixed_mail: Path) -> None:
    app = fixed_app(fixed_mail)
    async with app.run_test(size=(60, 24)) as pilot:
        index = await _ready(pilot)
        assert app.screen.has_class("-narrow")
        assert not _shown(app, "#sidebar") and _shown(app, "#content")
        assert index.region.width >= 56
        rows = rendered_lines(index)
        assert NEWEST[:24] in rows[0] and "15:42" in rows[0] and "KB" not in rows[0], rows[0]
        assert all("Weekly status" in row for row in rows[8:12]), rows
        assert app.focused is index

        await pilot.press("a")  # the sidebar takes the content's place while it has the focus
        assert _shown(app, "#sidebar") and not _shown(app, "#content")
        assert app.screen.query_one("#sidebar").region.width == 60
        await pilot.press("f")
        assert isinstance(app.focused, FolderList) and _shown(app, "#folders")
        await pilot.press("escape")
        assert app.focused is index
        assert not _shown(app, "#sidebar") and _shown(app, "#content")


async def test_panes_follow_the_terminal_as_it_is_resized(fixed_mail: Path) -> None:
    app = fixed_app(fixed_mail)
    async with app.run_test(size=(120, 40)) as pilot:
        index = await _ready(pilot)
        sidebar = app.screen.query_one("#sidebar")
        assert sidebar.region.width == 34
        await pilot.resize_terminal(90, 30)
        await pilot.pause()
        assert _shown(app, "#sidebar") and sidebar.region.width == 27  # 30 %: the index keeps more
        assert NEWEST[:24] in rendered_lines(index)[0]
        await pilot.resize_terminal(70, 24)
        await pilot.pause()
        assert not _shown(app, "#sidebar") and index.region.width >= 66
        assert NEWEST[:30] in rendered_lines(index)[0]
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert _shown(app, "#sidebar") and sidebar.region.width == 34


@pytest.mark.parametrize("size", [(60, 24), (120, 40)])
async def test_a_click_selects_a_row_and_the_wheel_scrolls(fixed_mail: Path, size: tuple[int, int]) -> None:
    app = fixed_app(fixed_mail)
    async with app.run_test(size=size) as pilot:
        index = await _ready(pilot)
        assert index.cursor == 0
        assert await pilot.click(MessageList, offset=(12, 3))
        assert index.cursor == 3
        assert MESSAGES[-4].summary.subject[:20] in rendered_lines(index)[3]

        for _ in range(3):
            await pilot._post_mouse_events([events.MouseScrollDown], MessageList, offset=(12, 2))
        await pilot.pause()
        top = int(index.scroll_offset.y)
        assert top > 0 and index.cursor == 3  # the wheel scrolls the view, not the cursor
        assert MESSAGES[-1 - top].summary.subject[:20] in rendered_lines(index)[0]
        assert await pilot.click(MessageList, offset=(12, 1))
        assert index.cursor == top + 1  # the row under the pointer, wherever the view is

        await pilot._post_mouse_events([events.MouseScrollUp], MessageList, offset=(12, 2))
        await pilot.pause()
        assert int(index.scroll_offset.y) < top
        assert [type(s) for s in app.screen_stack] == [MainScreen]  # nothing was opened


async def test_end_with_a_stale_scroll_range_still_brings_the_cursor_into_view(fixed_mail: Path) -> None:
    """A cursor move made while the scrollable height is stale is clamped by Textual; once the
    size is right again the view must follow the cursor (a full CI run once left the cursor on
    the last row with the view at the top, so the last rows were never fetched)."""
    from textual.geometry import Size

    app = fixed_app(fixed_mail)
    async with app.run_test(size=(100, 24)) as pilot:
        widget = await _ready(pilot)
        widget.focus()
        await pilot.pause()
        widget.virtual_size = Size(widget.size.width, 5)  # stale: shorter than the screen
        await pilot.press("end")
        assert widget.cursor == len(MESSAGES) - 1
        widget._resize()  # the folder's real count comes back, as after a resync or a resize
        await wait_for(pilot, lambda: widget.scroll_offset.y + widget.size.height > widget.cursor,
                       what=lambda: f"the cursor in view (scroll {widget.scroll_offset.y}, "
                                    f"height {widget.size.height}, cursor {widget.cursor})", timeout=5)
