"""Issue #8 item 3 (cases 18, 32, 33): network text is drawn as data in every widget.

Hostile markup ("[bold red]x[/]", "[@click=app.quit]…", "[link=…]…", a lone "[") must be drawn
verbatim, and terminal controls (ESC sequences, OSC 52, CSI 2J, C1, NUL, DEL, bidi) must be gone,
with no link and no click action in any drawn segment: index rows, the reader (headers, body,
full headers), folders from the server (markup, modified UTF-7), the folder picker, the account
list, the confirm dialog, the status line and notifications (a JobFailed with markup).
"""
from __future__ import annotations

import base64
from pathlib import Path

from rich.segment import Segment
from textual.app import App, ComposeResult
from textual.widget import Widget

from tests.fixed_mail import fixed_app, fixed_mail, index_ready
from tests.imap_support import other_client
from tests.tui_support import hermetic, rendered_lines, wait_for
from tuimail.model.config import parse_config
from tuimail.model.folder import Folder
from tuimail.store.config_file import load_config
from tuimail.ui.app import TuimailApp
from tuimail.ui.connection import JobFailed
from tuimail.ui.screens.confirm import ConfirmScreen
from tuimail.ui.screens.folder_picker import FolderPicker
from tuimail.ui.screens.message import MessageScreen
from tuimail.ui.widgets.accounts import AccountList
from tuimail.ui.widgets.folder_pane import FolderPane
from tuimail.ui.widgets.folders import FolderList
from tuimail.ui.widgets.message_list import MessageList
from tuimail.ui.widgets.status import StatusLine

__all__ = ["fixed_mail", "hermetic"]  # fixtures, used by name
SIZE = (220, 45)
USER = "bob"

MARKUP = "[bold red]x[/] [@click=app.quit]click[/] [link=https://evil.example]y[/link] " \
         "[link='https://evil.example']z[/link] ["
CONTROLS = "clip\x1b]52;c;aGVsbG8=\x07board\x1b[2J\x9b31m\x1b]0;title\x07\u202etxt.exe\x00\x7f"
CONTROLS_SHOWN = "clipboardtxt.exe"  # the sequences are gone, their text is not
FORBIDDEN = set("\x1b\x07\x9b\x9d\x00\x7f\u202e")


def segments(widget: Widget) -> list[Segment]:
    return [segment for y in range(widget.size.height) for segment in widget.render_line(y)]


def assert_inert(widget: Widget, *needles: str) -> str:
    """Every needle drawn verbatim; no control character, link or click action drawn."""
    text = "\n".join(rendered_lines(widget))
    flat = " ".join(text.split())  # a dialog wraps long lines at spaces
    for needle in needles:
        assert " ".join(needle.split()) in flat, f"{needle!r} not drawn in:\n{text}"
    drawn = segments(widget)
    assert not FORBIDDEN & set("".join(s.text for s in drawn)), text
    for segment in drawn:
        style = segment.style
        if style is None:
            continue
        assert not style.link, (segment.text, style.link)
        assert "@click" not in (style.meta or {}), (segment.text, style.meta)
    return text


def _words(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="


def hostile_message() -> bytes:
    body = f"Body {MARKUP}\nline2 {CONTROLS}\n[/b] closes nothing\n"
    return (f"From: {_words('[@click=app.quit]Eve[/]' + chr(27) + '[2J')} <eve@example.test>\r\n"
            f"To: {_words('[link=https://evil.example]Bob[/link]')} <bob@example.test>\r\n"
            f"Subject: {_words(f'S {MARKUP} {CONTROLS}')}\r\n"
            "Date: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <hostile@example.test>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n").encode() + base64.encodebytes(body.encode())


def _app(testbed, config: Path) -> TuimailApp:
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(testbed.config_toml(USER))
    return TuimailApp(config, load_config(config))


async def _index(pilot, app: TuimailApp) -> MessageList:
    await wait_for(pilot, lambda: app.screen.query(MessageList), what="the INBOX to open")
    widget = app.screen.query_one(MessageList)
    await wait_for(pilot, lambda: widget.index.count and widget.index.row(0) is not None, what="the first row")
    return widget


# -- from the real Dovecot -------------------------------------------------------------------

async def test_index_row_and_reader_show_a_hostile_message_verbatim(clean_testbed, hermetic: Path) -> None:
    testbed = clean_testbed
    testbed.deliver_files(USER, [hostile_message()])
    try:
        app = _app(testbed, hermetic)
        async with app.run_test(size=SIZE) as pilot:
            widget = await _index(pilot, app)
            row = assert_inert(widget, f"S {MARKUP} clipboard", "[@click=app.quit]Eve[/]")
            assert "S [bold red]x[/]" in row.splitlines()[0]
            widget.focus()
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, MessageScreen), what="the message")
            screen = app.screen
            await pilot.pause()
            assert_inert(screen.query_one("#h-from"), "[@click=app.quit]Eve[/]")
            assert_inert(screen.query_one("#h-to"), "[link=https://evil.example]Bob[/link]")
            assert_inert(screen.query_one("#h-subject"), f"S {MARKUP} {CONTROLS_SHOWN}")
            assert_inert(screen.query_one("#body"), f"Body {MARKUP}", f"line2 {CONTROLS_SHOWN}",
                         "[/b] closes nothing")
            await pilot.press("h")  # every header, decoded
            await wait_for(pilot, lambda: screen.query("#full-headers") and screen.query_one("#full-headers").display,
                           what="the full headers")
            await pilot.pause()
            assert_inert(screen.query_one("#full-headers"), f"Subject: S {MARKUP} {CONTROLS_SHOWN}")
            assert app.is_running
    finally:
        testbed.clear(USER)


# Dovecot's Maildir names allow no "." and "/" is the hierarchy delimiter. An unbalanced "["
# (a folder named "[") is left out: imapclient's lexer cannot parse it as an atom (see the report).
SERVER_FOLDERS = ["[bold red]x", "[@click=quit]click", "[link=https:evil]y", "☺[@click=quit]smile"]


async def test_folder_list_and_picker_show_server_folder_names_verbatim(clean_testbed, hermetic: Path) -> None:
    testbed = clean_testbed
    testbed.deliver_files(USER, [hostile_message()])
    with other_client(testbed) as client:
        for name in SERVER_FOLDERS:  # imapclient sends "☺" as modified UTF-7 ("&Jjo-")
            client.create_folder(name)
            client.subscribe_folder(name)
    try:
        app = _app(testbed, hermetic)
        async with app.run_test(size=SIZE) as pilot:
            widget = await _index(pilot, app)
            folders = app.screen.query_one(FolderList)
            await wait_for(pilot, lambda: len(folders.folders) > len(SERVER_FOLDERS), what="the folders")
            await pilot.pause()
            assert_inert(folders, *SERVER_FOLDERS)
            widget.focus()
            await pilot.press("M")  # move to…: the picker lists the same names
            await wait_for(pilot, lambda: isinstance(app.screen, FolderPicker), what="the folder picker")
            await pilot.pause()
            assert_inert(app.screen.query_one("#picker-folders"), *SERVER_FOLDERS)
            await pilot.press("escape")
            assert app.is_running
    finally:
        testbed.clear(USER)


# -- without a server ------------------------------------------------------------------------

HOSTILE_FOLDER = Folder.from_list(f"{MARKUP}{CONTROLS}", "/", ["\\HasNoChildren"])


class DialogHost(App[None]):
    def compose(self) -> ComposeResult:
        # account names are restricted to [A-Za-z0-9._-] by the config; the address is not
        config = parse_config("""
[accounts.acct]
email = "[@click=app.quit]me[/]\\u001b[2J[link=https://evil.example]@example.test"
[accounts.acct.imap]
host = "imap.example.test"
""")
        yield AccountList(list(config.accounts.values()), id="accounts")


async def test_account_list_confirm_dialog_and_picker_are_inert() -> None:
    app = DialogHost()
    async with app.run_test(size=(160, 30)) as pilot:
        assert_inert(app.query_one(AccountList), "[@click=app.quit]me[/][link=https://evil.example]@example.test")
        answers: list[bool] = []
        question = f"Delete message 7 for good? ({HOSTILE_FOLDER.display} is the Trash)"
        app.push_screen(ConfirmScreen(question, yes="[b]Delete[/b]", no="[@click=app.quit]Keep[/]"), answers.append)
        await pilot.pause()
        screen = app.screen
        assert_inert(screen.query_one("#confirm-question"), MARKUP, CONTROLS_SHOWN)
        assert_inert(screen.query_one("#confirm-yes"), "[b]Delete[/b]")
        assert_inert(screen.query_one("#confirm-no"), "[@click=app.quit]Keep[/]")
        await pilot.click("#confirm-no")
        await pilot.pause()
        assert answers == [False] and app.is_running
        picked: list[Folder | None] = []
        inbox = Folder.from_list("INBOX", "/", [])
        app.push_screen(FolderPicker([inbox, HOSTILE_FOLDER], f"Move {MARKUP} to…"), picked.append)
        await pilot.pause()
        assert_inert(app.screen.query_one("#picker-title"), f"Move {MARKUP} to…")
        assert_inert(app.screen.query_one("#picker-folders"), MARKUP + CONTROLS_SHOWN)
        await pilot.press("escape")
        assert picked == [None] and app.is_running


def _toasts(app: App) -> list[Widget]:
    return list(app.screen.query("Toast"))


async def test_status_line_and_notifications_show_server_errors_verbatim(fixed_mail: Path) -> None:
    app = fixed_app(fixed_mail)
    async with app.run_test(size=(160, 45), notifications=True) as pilot:  # run_test hides toasts
        await wait_for(pilot, lambda: index_ready(app), what="the fixed index")
        pane = app.screen.query_one(FolderPane)
        reason = f"NO [ALERT] {MARKUP} {CONTROLS}"
        pane.post_message(JobFailed(pane.account.name, "opening message 7", reason))
        status = app.screen.query_one(StatusLine)
        await wait_for(pilot, lambda: status.level == "error", what="the error on the status line")
        await pilot.pause()
        assert_inert(status, f"opening message 7: NO [ALERT] {MARKUP} {CONTROLS_SHOWN}"[:100])
        # a toast with the server's words, asked for with markup on as Widget.notify does by default
        pane.notify(f"server said {MARKUP} {CONTROLS}", title=f"[b]{CONTROLS}[/b]", markup=True)
        await wait_for(pilot, lambda: _toasts(app), what="the toast")
        await pilot.pause()
        toast = _toasts(app)[-1]
        assert_inert(toast, f"[b]{CONTROLS_SHOWN}[/b]", "server said [bold red]x[/]", "[@click=app.quit]click[/]")
        await pilot.click(toast)  # a click dismisses it, and runs nothing
        await pilot.pause()
        assert app.is_running
