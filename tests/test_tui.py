"""The TUI shell: accounts and folders from a real Dovecot, help, quit, errors, inert names."""
from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App, ComposeResult

from tests.tui_support import hermetic, plaintext_keyring, rendered_lines, rendered_segments, wait_for
from tuimail.model.folder import Folder
from tuimail.store.config_file import load_config
from tuimail.ui.app import TuimailApp
from tuimail.ui.launch import launch
from tuimail.ui.screens.help import HelpScreen
from tuimail.ui.screens.main import MainScreen
from tuimail.ui.screens.password import PasswordScreen
from tuimail.ui.screens.setup import SetupScreen
from tuimail.ui.widgets.folders import FolderList
from tuimail.ui.widgets.status import StatusLine

__all__ = ["hermetic", "plaintext_keyring"]  # fixtures, used by name

SIZE = (110, 36)
SPECIAL = ("Sent", "Drafts", "Trash", "Junk", "Archive")


def write_config(path: Path, *sections: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(sections))
    return path


def shell(path: Path, **kwargs) -> TuimailApp:
    return TuimailApp(path, load_config(path), **kwargs)


def folder_rows(app: App) -> list[str]:
    return [row for row in rendered_lines(app.screen.query_one(FolderList)) if row.strip("│ ")]


async def folders_loaded(pilot, app: TuimailApp) -> None:
    await wait_for(pilot, lambda: app.screen.query_one(FolderList).folders
                   or app.screen.query_one(StatusLine).level == "error", what="the folder list")
    status = app.screen.query_one(StatusLine)
    assert status.level != "error", status.message  # ok, or already busy opening the INBOX


# -- against the real servers ---------------------------------------------------------------

async def test_shell_shows_accounts_and_special_use_folders(testbed, hermetic: Path) -> None:
    path = write_config(hermetic, testbed.config_toml("alice"), testbed.config_toml("bob", "pop3"))
    app = shell(path)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, MainScreen)
        accounts = "\n".join(rendered_lines(app.screen.query_one("#accounts")))
        assert "alice" in accounts and "alice@example.test" in accounts
        assert "bob" in accounts and "POP3" in accounts
        await folders_loaded(pilot, app)
        rows = folder_rows(app)
        text = "\n".join(rows)
        assert "▣ INBOX" in text
        for name, icon in zip(SPECIAL, ("➤", "✎", "✗", "⚠", "▤")):
            assert any(name in row and icon in row for row in rows), (name, rows)
        roles = {f.name: f.role for f in app.screen.query_one(FolderList).folders}
        assert {roles[n] for n in SPECIAL} == {n.lower() for n in SPECIAL}
        assert "6 folders" in app.screen.query_one(StatusLine).message

        await pilot.press("a", "question_mark")  # from the accounts: r is Refresh (in the index, Reply)
        assert isinstance(app.screen, HelpScreen)
        help_text = "\n".join(rendered_lines(app.screen.query_one("#help-keys")))
        for expected in ("Quit", "Help", "Refresh", "? / f1"):
            assert expected in help_text, help_text
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("q")  # q closes help first ...
        assert isinstance(app.screen, MainScreen)

        await pilot.press("a", "down", "enter")  # ... bob reads with POP3
        await wait_for(pilot, lambda: "INBOX (POP3)" in "\n".join(folder_rows(app)), what="POP3 inbox")
        assert folder_rows(app) == ["▣ INBOX (POP3)"]

        await pilot.press("q")  # ... and quits the app
        await wait_for(pilot, lambda: not app.is_running, what="the app to quit")
    assert app.return_code == 0


async def test_password_prompt_when_nothing_stores_it(testbed, plaintext_keyring, hermetic: Path) -> None:
    path = write_config(hermetic, testbed.config_toml("alice", password_command=None))
    app = shell(path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, PasswordScreen), what="the password prompt")
        await pilot.press(*"wrong-password", "enter")
        # refused: asked again, with the server's reason, and nothing crashed
        await wait_for(pilot, lambda: isinstance(app.screen, PasswordScreen)
                       and app.screen.query("#password-reason")
                       and app.screen.query_one("#password-reason").size.height, what="the second prompt")
        reason = "\n".join(rendered_lines(app.screen.query_one("#password-reason")))
        assert "127.0.0.1" in reason
        await pilot.press(*testbed.users["alice"], "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="the shell")
        await folders_loaded(pilot, app)
        assert any("Sent" in row for row in folder_rows(app))
    # typed passwords live in memory only
    assert "alice-secret-pw" not in path.read_text()


async def test_cancelled_password_prompt_leaves_app_usable(testbed, plaintext_keyring, hermetic: Path) -> None:
    path = write_config(hermetic, testbed.config_toml("alice", password_command=None))
    app = shell(path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, PasswordScreen), what="the password prompt")
        await pilot.press("escape")
        status = app.screen.query_one(StatusLine)
        assert status.level == "error" and "no password" in status.message
        await pilot.press("q")
    assert app.return_code == 0


async def test_hostile_folder_names_from_the_server_stay_inert(clean_testbed, hermetic: Path) -> None:
    # Dovecot's Maildir names allow no '.', so the action is the bare "quit"
    names = ["[@click=quit]x", "[b]bold", "$(touch pwned)", "☺ smile"]
    for name in names:
        clean_testbed.maildir("bob", name)
    try:
        app = shell(write_config(hermetic, clean_testbed.config_toml("bob")))
        async with app.run_test(size=SIZE) as pilot:
            await folders_loaded(pilot, app)
            text = "\n".join(folder_rows(app))
            for shown in names:  # "☺" travels as modified UTF-7 "&Jjo-" and is decoded
                assert shown in text, text
            await pilot.press("a", "f")  # from the accounts (in the index, f forwards)
            for _ in range(len(folder_rows(app))):
                await pilot.press("enter", "down")  # selecting each one runs no action
            assert app.is_running
    finally:
        clean_testbed.clear("bob")


# -- without servers ------------------------------------------------------------------------

UNREACHABLE = """\
[accounts.down]
email = "down@example.test"
password_command = "echo not-used"
timeout = 5
[accounts.down.imap]
host = "127.0.0.1"
port = 1
security = "tls"
"""


async def test_connection_error_is_a_readable_status_not_a_traceback(hermetic: Path) -> None:
    app = shell(write_config(hermetic, UNREACHABLE))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one(StatusLine).level == "error", what="the error")
        status = app.screen.query_one(StatusLine)
        shown = "\n".join(rendered_lines(status))
        assert "127.0.0.1:1" in shown and "Traceback" not in shown and "\n" not in status.message
        assert "could not list folders" in "\n".join(folder_rows(app))
        await pilot.press("a", "r")  # retry (from the accounts: in the index r replies): still an error
        await wait_for(pilot, lambda: app.screen.query_one(StatusLine).level == "error", what="the retry")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "q")
    assert app.return_code == 0


async def test_no_config_opens_setup_and_escape_writes_nothing(hermetic: Path) -> None:
    app = TuimailApp(hermetic, None)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, SetupScreen)
        await pilot.press("q")  # typed into the form, not a quit
        assert app.is_running and app.screen.query_one("#email").value == "q"
        await pilot.press("escape")
        await wait_for(pilot, lambda: not app.is_running, what="the app to exit")
    assert not hermetic.exists()


@pytest.mark.parametrize("text, where", [
    ("[accounts.w]\nemail = \"w@x.test\"\nport = 1\n", "key 'port'"),
    ("[accounts.w]\nemail = \"w@x.test\"\n[accounts.w.imap]\nhost = \"h\"\nsecurity = \"tls1\"\n", "imap.security"),
    ("not toml at all [", "not valid TOML"),
])
def test_invalid_config_is_one_line_and_exit_2(hermetic: Path, capsys, text: str, where: str) -> None:
    write_config(hermetic, text)
    assert launch(hermetic) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert str(hermetic) in err and where in err


def test_unknown_account_is_one_line_and_exit_2(hermetic: Path, capsys) -> None:
    write_config(hermetic, UNREACHABLE)
    assert launch(hermetic, account="nope") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no account named 'nope'" in err


async def test_broken_theme_file_is_reported_once_and_skipped(hermetic: Path, tmp_path: Path) -> None:
    themes = tmp_path / "themes"
    themes.mkdir()
    (themes / "broken.toml").write_text('name = "broken"\nprimary = "nope"\n')
    app = TuimailApp(hermetic, None, themes_dir=themes)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert len(messages) == 1 and "broken.toml" in messages[0]
        assert app.theme == "tuimail-dark"


# -- untrusted names render inert -----------------------------------------------------------

HOSTILE = [
    "[@click=app.quit]x[/]",
    "[b]bold[/b] and [link=https://evil.example]https://bank.example[/link]",
    "[/b] closes nothing",
    "clip\x1b]52;c;aGVsbG8=\x07board \x1b[2Jclear \x9b31mred\x1b]0;title\x07 end",
    "rtl\u202eevil.exe",
]


class FolderHost(App[None]):
    def compose(self) -> ComposeResult:
        yield FolderList(id="folders")
        yield StatusLine(id="status")

    def on_mount(self) -> None:
        folders = [Folder.from_list("INBOX", ".", ["\\HasNoChildren"])]
        folders += [Folder.from_list(name, ".", ["\\HasNoChildren"]) for name in HOSTILE]
        self.query_one(FolderList).show_folders(folders)
        self.query_one(StatusLine).show("server said: " + HOSTILE[0] + " " + HOSTILE[3], "error")


async def test_hostile_folder_names_render_verbatim_and_inert() -> None:
    app = FolderHost()
    async with app.run_test(size=(100, 12)) as pilot:
        folder_list = app.query_one(FolderList)
        rows = rendered_lines(folder_list)
        text = "\n".join(rows)
        assert "[@click=app.quit]x[/]" in text
        assert "[b]bold[/b] and [link=https://evil.example]https://bank.example[/link]" in text
        assert "[/b] closes nothing" in text
        assert "clipboard clear red end" in text  # the sequences are gone, their text is not
        assert "rtlevil.exe" in text
        drawn = rendered_segments(folder_list) + rendered_segments(app.query_one(StatusLine))
        assert not any(c in drawn for c in "\x1b\x07\x9b\u202e")
        # clicking the would-be action does nothing but highlight the row
        row = next(i for i, line in enumerate(rows) if "@click" in line)
        await pilot.click(FolderList, offset=(4, row))
        await pilot.pause()
        assert app.is_running
        status = "\n".join(rendered_lines(app.query_one(StatusLine)))
        assert "[@click=app.quit]x[/]" in status and "clipboard clear red end" in status
