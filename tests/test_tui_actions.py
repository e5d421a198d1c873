"""Acting on mail in the TUI against the real Dovecot: folder counts, flags, delete, move,
copy, search, threads and "open with", each checked from the server's side by an
independent imapclient connection."""
from __future__ import annotations

import json
import stat
import sys
from email.message import EmailMessage
from pathlib import Path

import imapclient

from tests.tui_support import hermetic, rendered_lines, wait_for
from tuimail.model.index import UidListIndex
from tuimail.model.threads import ThreadIndex
from tuimail.store.config_file import load_config
from tuimail.ui.app import TuimailApp
from tuimail.ui.screens.confirm import ConfirmScreen
from tuimail.ui.screens.folder_picker import FolderPicker
from tuimail.ui.screens.help import HelpScreen
from tuimail.ui.screens.message import MessageScreen
from tuimail.ui.screens.search import SearchDialog
from tuimail.ui.widgets.folder_pane import FolderPane
from tuimail.ui.widgets.folders import FolderList
from tuimail.ui.widgets.message_list import MessageList

__all__ = ["hermetic"]
SIZE = (120, 40)
USER = "alice"


def _app(testbed, path: Path, ui: str = "") -> TuimailApp:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(ui + testbed.config_toml(USER))
    return TuimailApp(path, load_config(path))


def _client(testbed) -> imapclient.IMAPClient:
    client = imapclient.IMAPClient(testbed.host, port=testbed.imaps_port, ssl_context=testbed.client_context())
    client.login(USER, testbed.users[USER])
    return client


def _mail(subject: str, mid: str, sender: str = "Carol <carol@example.test>", reply_to: str = "",
          day: int = 1, attachment: tuple[str, bytes] | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"] = sender, f"{USER}@example.test"
    msg["Subject"], msg["Message-ID"] = subject, mid
    msg["Date"] = f"Mon, {day:02d} Jun 2026 10:00:00 +0000"
    if reply_to:
        msg["In-Reply-To"], msg["References"] = reply_to, reply_to
    msg.set_content(f"about {subject}\n")
    if attachment:
        msg.add_attachment(attachment[1], maintype="application", subtype="octet-stream", filename=attachment[0])
    return bytes(msg)


async def _index(pilot, app) -> tuple[FolderPane, MessageList]:
    await wait_for(pilot, lambda: app.screen.query(MessageList), what="the INBOX to open")
    await wait_for(pilot, lambda: app.screen.query_one(FolderList).folders, what="the folder list")
    pane = app.screen.query_one(FolderPane)
    widget = pane.index_widget
    await wait_for(pilot, lambda: pane.full.count and widget.index.row(0) is not None
                   and pane.full is widget.index, what="the first row")
    widget.focus()
    return pane, widget


def _folder_row(app, name: str) -> str:
    rows = rendered_lines(app.screen.query_one(FolderList))
    return next((row for row in rows if f" {name} " in row + " "), "")  # "" until the list is in


async def test_folder_counts_come_from_status_and_follow_changes(clean_testbed, hermetic: Path) -> None:
    testbed = clean_testbed
    testbed.deliver_files(USER, [_mail(f"read {i}", f"<r{i}@x>", day=1) for i in range(7)], flags="S")
    testbed.deliver_files(USER, [_mail(f"new {i}", f"<n{i}@x>", day=2) for i in range(5)])
    testbed.deliver_files(USER, [_mail("archived", "<arch@x>")], folder="Archive")
    with _client(testbed) as client:
        inbox = client.folder_status("INBOX", ["MESSAGES", "UNSEEN"])
    unseen, total = inbox[b"UNSEEN"], inbox[b"MESSAGES"]
    assert (unseen, total) == (5, 12)
    app = _app(testbed, hermetic)
    async with app.run_test(size=SIZE) as pilot:
        pane, widget = await _index(pilot, app)
        await wait_for(pilot, lambda: f"{unseen}/{total}" in _folder_row(app, "INBOX"), what="INBOX counts")
        await wait_for(pilot, lambda: "1/1" in _folder_row(app, "Archive"), what="Archive counts")
        # STATUS answers come one folder at a time: Trash's may still be on its way
        await wait_for(pilot, lambda: "0/0" in _folder_row(app, "Trash"), what="Trash counts")
        first = widget.index.row(0)
        await pilot.press("N")  # the count follows the flag
        now = unseen - 1 if not first.seen else unseen + 1
        await wait_for(pilot, lambda: f"{now}/{total}" in _folder_row(app, "INBOX"), what="the new INBOX count")

        await pilot.press("question_mark")  # every action key is in the help
        assert isinstance(app.screen, HelpScreen)
        help_text = "\n".join(rendered_lines(app.screen.query_one("#help-keys")))
        for key, what in (("N", "Read/unread"), ("F", "Flag"), ("d", "Delete"), ("M", "Move"), ("C", "Copy"),
                          ("/", "Search"), ("t", "Threads"), ("m", "Compose"), ("r", "Reply"),
                          ("R", "Reply all"), ("f", "Forward")):
            assert any(line.strip().startswith(key) and what in line for line in help_text.splitlines()), what


async def test_flag_and_read_toggles_reach_the_server(clean_testbed, hermetic: Path) -> None:
    testbed = clean_testbed
    testbed.deliver_files(USER, [_mail(f"message {i}", f"<m{i}@x>", day=i + 1) for i in range(5)])
    app = _app(testbed, hermetic)
    async with app.run_test(size=SIZE) as pilot:
        pane, widget = await _index(pilot, app)
        await pilot.press("j")
        uid = widget.current().uid
        assert not widget.current().flagged and not widget.current().seen
        await pilot.press("F", "N")
        await wait_for(pilot, lambda: widget.index.row(1).flagged and widget.index.row(1).seen,
                       what="the flags in the index")
        assert rendered_lines(widget)[1].startswith(" !")  # read, flagged
        with _client(testbed) as client:
            client.select_folder("INBOX", readonly=True)
            assert {b"\\Flagged", b"\\Seen"} <= set(client.get_flags([uid])[uid])
        await pilot.press("F")
        await wait_for(pilot, lambda: not widget.index.row(1).flagged, what="unflagged")
        with _client(testbed) as client:
            client.select_folder("INBOX", readonly=True)
            assert b"\\Flagged" not in client.get_flags([uid])[uid]


async def test_delete_moves_to_trash_and_highlights_the_next(clean_testbed, hermetic: Path) -> None:
    testbed = clean_testbed
    testbed.deliver_files(USER, [_mail(f"message {i}", f"<d{i}@x>", day=i + 1) for i in range(6)])
    app = _app(testbed, hermetic)
    async with app.run_test(size=SIZE) as pilot:
        pane, widget = await _index(pilot, app)
        await pilot.press("j", "j")
        doomed, following = widget.index.row(2), widget.index.row(3)
        await pilot.press("d")
        await wait_for(pilot, lambda: pane.full.count == 5, what="the row to go")
        assert widget.cursor == 2 and widget.current().uid == following.uid
        assert all(widget.index.row(r).uid != doomed.uid for r in range(5))
        with _client(testbed) as client:
            client.select_folder("INBOX", readonly=True)
            assert doomed.uid not in client.search("ALL")
            client.select_folder("Trash", readonly=True)
            (trashed,) = client.search("ALL")
            envelope = client.fetch([trashed], ["ENVELOPE"])[trashed][b"ENVELOPE"]
            assert envelope.message_id.decode() == doomed.message_id
        await wait_for(pilot, lambda: "0/1" in _folder_row(app, "Trash") or "1/1" in _folder_row(app, "Trash"),
                       what="the Trash count")


async def test_move_and_copy_through_the_folder_picker(clean_testbed, hermetic: Path) -> None:
    testbed = clean_testbed
    testbed.maildir(USER, "Projects")
    testbed.deliver_files(USER, [_mail(f"message {i}", f"<v{i}@x>", day=i + 1) for i in range(4)])
    app = _app(testbed, hermetic)
    async with app.run_test(size=SIZE) as pilot:
        pane, widget = await _index(pilot, app)

        async def pick(key: str, name: str) -> None:
            await pilot.press(key)
            await wait_for(pilot, lambda: isinstance(app.screen, FolderPicker), what="the folder picker")
            picker = app.screen
            position = next(i for i, f in enumerate(picker.folders) if f.name == name)
            picker.query_one("#picker-folders").highlighted = position
            await pilot.press("enter")

        moved = widget.current()
        await pick("M", "Projects")
        await wait_for(pilot, lambda: pane.full.count == 3, what="the moved row to go")
        copied = widget.current()
        assert copied.uid != moved.uid
        await pick("C", "Projects")
        await wait_for(pilot, lambda: "Projects" in app.screen.query_one("#status").message
                       and "copied" in app.screen.query_one("#status").message, what="the copy")
        assert pane.full.count == 3 and widget.current().uid == copied.uid
        await wait_for(pilot, lambda: "0/2" in _folder_row(app, "Projects")
                       or "2/2" in _folder_row(app, "Projects"), what="Projects counts")
    with _client(testbed) as client:
        client.select_folder("Projects", readonly=True)
        ids = {d[b"ENVELOPE"].message_id.decode() for d in client.fetch(client.search("ALL"), ["ENVELOPE"]).values()}
        assert ids == {moved.message_id, copied.message_id}
        client.select_folder("INBOX", readonly=True)
        assert len(client.search("ALL")) == 3


async def test_search_shows_the_servers_matches_and_escape_returns(clean_testbed, hermetic: Path) -> None:
    testbed = clean_testbed
    alice, bob = "Alice Smith <alice@example.test>", "Bob <bob@example.test>"
    testbed.deliver_files(USER, [
        _mail("quarterly report", "<s1@x>", alice, day=1),
        _mail("report draft", "<s2@x>", bob, day=2),
        _mail("lunch", "<s3@x>", alice, day=3),
        _mail("final report", "<s4@x>", alice, day=4),
    ] + [_mail(f"filler {i}", f"<f{i}@x>", day=5) for i in range(30)])
    with _client(testbed) as client:
        client.select_folder("INBOX", readonly=True)
        expected = sorted(client.search(["FROM", "alice", "SUBJECT", "report"]), reverse=True)
    assert len(expected) == 2
    app = _app(testbed, hermetic)
    async with app.run_test(size=SIZE) as pilot:
        pane, widget = await _index(pilot, app)
        await pilot.press("j", "j")
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.screen, SearchDialog), what="the search prompt")
        await pilot.press(*'from:alice subject:"report', "enter")  # unbalanced quote: said so, not sent
        assert isinstance(app.screen, SearchDialog)
        assert "cannot read" in "\n".join(rendered_lines(app.screen.query_one("#search-error")))
        await pilot.press("backspace", "backspace", "backspace", "backspace", "backspace", "backspace",
                          "backspace", *"report", "enter")
        await wait_for(pilot, lambda: isinstance(widget.index, UidListIndex), what="the search result")
        view = widget.index
        assert view.uids == expected
        await wait_for(pilot, lambda: all(view.row(r) is not None for r in range(view.count)), what="the rows")
        assert [view.row(r).subject for r in range(2)] == ["final report", "quarterly report"]
        title = "\n".join(rendered_lines(pane.query_one("#folder-title")))
        assert 'search: from:alice subject:report (2 matches)' in title
        assert rendered_lines(widget)[2] == ""  # only the matches are drawn
        await pilot.press("d")  # acting in the view removes the row from both lists
        await wait_for(pilot, lambda: view.count == 1 and pane.full.count == 33, what="the deleted match")
        assert "(1 match)" in "\n".join(rendered_lines(pane.query_one("#folder-title")))
        await pilot.press("escape")
        assert widget.index is pane.full and widget.cursor == 2
        assert "33 messages" in "\n".join(rendered_lines(pane.query_one("#folder-title")))


async def test_thread_view_groups_replies_under_their_parent(clean_testbed, hermetic: Path) -> None:
    testbed = clean_testbed
    testbed.deliver_files(USER, [
        _mail("plans", "<p@x>", day=1),
        _mail("lunch", "<l@x>", day=2),
        _mail("Re: plans", "<p2@x>", reply_to="<p@x>", day=3),
        _mail("Re: Re: plans", "<p3@x>", reply_to="<p2@x>", day=4),
        _mail("news", "<n@x>", day=5),
        _mail("Re: plans (another)", "<p4@x>", reply_to="<p@x>", day=6),
    ])
    app = _app(testbed, hermetic)
    async with app.run_test(size=SIZE) as pilot:
        pane, widget = await _index(pilot, app)
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(widget.index, ThreadIndex), what="the thread view")
        view = widget.index
        await wait_for(pilot, lambda: all(view.row(r) is not None for r in range(view.count)), what="the rows")
        await pilot.pause()
        subjects = [view.row(r).subject for r in range(view.count)]
        assert subjects == ["plans", "Re: plans", "Re: Re: plans", "Re: plans (another)", "news", "lunch"]
        lines = rendered_lines(widget)
        assert "├─▸ Re: plans" in lines[1] and "│ └─▸ Re: Re: plans" in lines[2]
        assert "└─▸ Re: plans (another)" in lines[3] and "─▸" not in lines[4]
        title = "\n".join(rendered_lines(pane.query_one("#folder-title")))
        assert "threads: 6 messages in 3 threads" in title
        await pilot.press("t")  # t again: the plain list
        assert widget.index is pane.full


OPENER = """\
import json, os, shutil, sys
path = sys.argv[-1]
out = os.environ["TUIMAIL_TEST_OPENED"]
shutil.copy(path, os.path.join(out, "copy"))
info = os.stat(os.path.dirname(path))
json.dump({"argv": sys.argv, "dir_mode": info.st_mode}, open(os.path.join(out, "argv.json.tmp"), "w"))
os.rename(os.path.join(out, "argv.json.tmp"), os.path.join(out, "argv.json"))
"""


async def test_open_with_runs_the_configured_command_on_a_safe_name(clean_testbed, hermetic: Path,
                                                                   tmp_path: Path, monkeypatch) -> None:
    testbed = clean_testbed
    payload = b"%PDF-1.4 not really\n" * 100
    hostile = "../../$(touch pwned); rm -rf ~ `id`.pdf"
    testbed.deliver_files(USER, [_mail("the report", "<o@x>", attachment=(hostile, payload))])
    script, out = tmp_path / "opener.py", tmp_path / "opened"
    script.write_text(OPENER)
    out.mkdir()
    monkeypatch.setenv("TUIMAIL_TEST_OPENED", str(out))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "runtime"))
    (tmp_path / "runtime").mkdir(mode=0o700)
    command = f"{sys.executable} -I '{script}' --flag 'two words'"
    app = _app(testbed, hermetic, ui=f"[ui]\nopen_command = {json.dumps(command)}\n\n")
    async with app.run_test(size=SIZE) as pilot:
        pane, widget = await _index(pilot, app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MessageScreen), what="the message")
        screen = app.screen
        await pilot.press("o")
        await wait_for(pilot, lambda: (out / "argv.json").exists(), what="the opener to run")
        await wait_for(pilot, lambda: screen.status.level in ("ok", "error"), what="the status")
        assert screen.status.level == "ok", screen.status.message
        record = json.loads((out / "argv.json").read_text())
        path = Path(record["argv"][-1])
        assert record["argv"][1:-1] == ["--flag", "two words"]  # the command's own words, no shell
        assert path.is_absolute() and "/" not in path.name and not path.name.startswith((".", "-"))
        assert path.parent.parent == tmp_path / "runtime"
        assert stat.S_IMODE(record["dir_mode"]) == 0o700
        assert (out / "copy").read_bytes() == payload
        assert path.stat().st_mode & 0o777 == 0o600
        assert not list(tmp_path.rglob("pwned")) and not (Path.cwd() / "pwned").exists()
        assert f"with {sys.executable}" in screen.status.message
    assert not path.parent.exists()  # the private directory goes with the session


async def test_open_with_a_missing_program_is_a_status_error(clean_testbed, hermetic: Path) -> None:
    testbed = clean_testbed
    testbed.deliver_files(USER, [_mail("the report", "<o2@x>", attachment=("r.pdf", b"x"))])
    app = _app(testbed, hermetic, ui='[ui]\nopen_command = "/nonexistent/viewer --x"\n\n')
    async with app.run_test(size=SIZE) as pilot:
        pane, widget = await _index(pilot, app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MessageScreen), what="the message")
        screen = app.screen
        await pilot.press("o")
        await wait_for(pilot, lambda: screen.status.level == "error", what="the error")
        assert "/nonexistent/viewer" in screen.status.message and app.is_running


async def test_delete_in_trash_asks_then_expunges(clean_testbed, hermetic: Path) -> None:
    testbed = clean_testbed
    testbed.deliver_files(USER, [_mail("old", "<t1@x>", day=1), _mail("older", "<t2@x>", day=2)], folder="Trash")
    app = _app(testbed, hermetic)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one(FolderList).folders, what="the folder list")
        folders = app.screen.query_one(FolderList)
        trash = next(f for f in folders.folders if f.role == "trash")
        app.screen.open_folder(trash)
        await wait_for(pilot, lambda: app.screen.query_one(FolderPane).folder is trash, what="Trash")
        pane, widget = await _index(pilot, app)
        doomed = widget.current()
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        await pilot.click("#confirm-yes")
        await wait_for(pilot, lambda: pane.full.count == 1, what="the expunge")
        assert "deleted" in app.screen.query_one("#status").message
    with _client(testbed) as client:
        client.select_folder("Trash", readonly=True)
        left = client.search("ALL")
        assert len(left) == 1 and doomed.uid not in left
