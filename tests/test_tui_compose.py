"""Writing mail in the TUI against the real servers: compose with an attachment and send,
reply from the reader, forward as an attachment from the index, leaving with unsaved changes,
drafts kept on this machine and in the IMAP Drafts folder, and a send that cannot reach the
SMTP server. What arrived is read back by an independent imapclient connection."""
from __future__ import annotations

import email
import email.policy
import os
import stat
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import imapclient
import pytest
from textual import events

from tests.testbed.net import free_ports
from tests.tui_support import hermetic, pop3_pane_ready, rendered_lines, type_into, wait_for
from tuimail.model.config import ForwardMode
from tuimail.model.draft import Draft
from tuimail.model.mime import human_size
from tuimail.store.config_file import load_config
from tuimail.store.drafts import DraftStore, ImapCopy, draft_from_json, draft_to_json
from tuimail.store.editor import edit_text
from tuimail.store.outbox import Outbox, OutboxState
from tuimail.ui.app import TuimailApp
from tuimail.ui.screens.compose import ComposeScreen
from tuimail.ui.screens.compose_dialogs import (AttachDialog, DraftChooser, ForwardChooser, LeaveDialog,
                                                SendReport)
from tuimail.ui.screens.compose_fields import AddressSuggester, AttachmentList
from tuimail.ui.screens.message import MessageScreen
from tuimail.ui.widgets.folder_pane import FolderPane
from tuimail.ui.widgets.folders import FolderList
from tuimail.ui.widgets.message_list import MessageList

__all__ = ["hermetic"]
SIZE = (120, 40)
USER = "alice"


def _app(testbed, path: Path, ui: str = "", **overrides) -> TuimailApp:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(ui + testbed.config_toml(USER, display_name="Alice Example", **overrides))
    return TuimailApp(path, load_config(path))


def _client(testbed, user: str = USER) -> imapclient.IMAPClient:
    client = imapclient.IMAPClient(testbed.host, port=testbed.imaps_port, ssl_context=testbed.client_context(),
                                   timeout=10)
    client.login(user, testbed.users[user])
    return client


def _mail(subject: str, mid: str, sender: str = "Bob Builder <bob@example.test>", *, references: str = "",
          received: bool = False) -> bytes:
    msg = EmailMessage()
    if received:  # a route, as a forwarded-as-attachment message must carry it unchanged
        msg["Received"] = "from relay2.example.net (relay2 [192.0.2.7]) by mx.example.test; Mon, 1 Jun 2026 10:00:02 +0000"
        msg["Received"] = "from origin.example.org (origin [198.51.100.3]) by relay2.example.net; Mon, 1 Jun 2026 10:00:01 +0000"
    msg["From"], msg["To"] = sender, f"Alice <{USER}@example.test>"
    msg["Cc"] = "Carol <carol@example.test>"
    msg["Subject"], msg["Message-ID"] = subject, mid
    msg["Date"] = "Mon, 01 Jun 2026 10:00:00 +0000"
    if references:
        msg["In-Reply-To"], msg["References"] = references.split()[-1], references
    msg.set_content(f"The body of {subject}.\nSecond line.\n")
    return bytes(msg)


def _arrived(testbed, user: str, subject: str, timeout: float = 20.0) -> tuple[int, bytes, set[bytes]]:
    """(uid, raw bytes, flags) of the message with subject in user's INBOX, waiting for it."""
    deadline = time.monotonic() + timeout
    while True:
        with _client(testbed, user) as client:
            client.select_folder("INBOX", readonly=True)
            uids = client.search(["SUBJECT", subject])
            if uids:
                data = client.fetch(uids[-1:], ["BODY.PEEK[]", "FLAGS"])[uids[-1]]
                return uids[-1], data[b"BODY[]"], set(data[b"FLAGS"])
        if time.monotonic() > deadline:
            pytest.fail(f"no message {subject!r} arrived for {user}")
        time.sleep(0.2)


async def _index(pilot, app) -> tuple[FolderPane, MessageList]:
    await wait_for(pilot, lambda: app.screen.query(MessageList), what="the INBOX to open")
    widget = app.screen.query_one(MessageList)
    await wait_for(pilot, lambda: widget.index.count and widget.index.row(0) is not None, what="the first row")
    pane = app.screen.query_one(FolderPane)
    await wait_for(pilot, lambda: pane._password is not None, what="the password")
    widget.focus()
    return pane, widget


async def _compose(pilot, app, key: str = "m") -> ComposeScreen:
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(app.screen, ComposeScreen), what="the compose screen")
    return app.screen


async def _fill(pilot, screen: ComposeScreen, to: str, subject: str, body: str) -> None:
    await type_into(pilot, "#compose-to", to, paste=True)
    await type_into(pilot, "#compose-subject", subject, paste=True)
    area = screen.query_one("#compose-body")
    area.focus()
    await pilot.pause()
    pilot.app.post_message(events.Paste(body))  # as the terminal sends it: the app forwards it
    await wait_for(pilot, lambda: body in area.text, what="the body")


def _notifications(app) -> str:
    return "\n".join(str(n.message) for n in app._notifications)


def _rfc822_part(raw: bytes) -> bytes:
    """The exact bytes inside the message/rfc822 part of raw (a multipart with CRLF ends)."""
    outer = email.message_from_bytes(raw, policy=email.policy.default)
    boundary = outer.get_boundary().encode()
    for segment in raw.split(b"\r\n--" + boundary)[1:]:
        head, _, body = segment.partition(b"\r\n\r\n")
        if b"message/rfc822" in head.lower():
            return body
    pytest.fail("no message/rfc822 part")


# Pilot tests against the servers --------------------------------------------------------

async def test_compose_attach_send_and_read_it_back(clean_testbed, hermetic: Path, tmp_path: Path) -> None:
    testbed = clean_testbed
    testbed.deliver_files(USER, [_mail("hello there", "<h1@example.test>")])
    payload = bytes(range(256)) * 300 + b"\r\n\x00tail"  # every byte value, a NUL, a CRLF
    attachment = tmp_path / "report ü.bin"
    attachment.write_bytes(payload)
    app = _app(testbed, hermetic)
    async with app.run_test(size=SIZE) as pilot:
        await _index(pilot, app)
        screen = await _compose(pilot, app)
        assert screen.identity().address == "Alice Example <alice@example.test>"
        # completion from the addresses the header cache has seen (bob wrote to alice)
        await wait_for(pilot, lambda: screen.suggester.known, what="addresses from the header cache")
        await pilot.click("#compose-to")
        await pilot.press(*"ali")
        to = screen.query_one("#compose-to")
        await wait_for(pilot, lambda: to._suggestion == "alice@example.test", what="the completion")
        await pilot.press("right")
        assert to.value == "alice@example.test"
        await type_into(pilot, "#compose-subject", "Grüße with a file", paste=True)
        body = screen.query_one("#compose-body")
        body.focus()
        await pilot.press(*"Hi me,", "enter", *"see attached.")
        # attach through the dialog: a typed path
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: isinstance(app.screen, AttachDialog), what="the attach dialog")
        await type_into(pilot, "#attach-path", str(tmp_path / "missing.bin"), paste=True)
        await pilot.press("enter")
        assert isinstance(app.screen, AttachDialog)  # not a file: it says so and stays
        assert "not a file" in "".join(rendered_lines(app.screen.query_one("#attach-error")))
        await type_into(pilot, "#attach-path", str(attachment), paste=True)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen, what="back from the dialog")
        listed = screen.query_one(AttachmentList)
        assert listed.paths == [attachment.resolve()]
        shown = "\n".join(rendered_lines(listed))
        assert f"report ü.bin  ({human_size(len(payload))})" in shown, shown
        extra = tmp_path / "not this one.txt"
        extra.write_text("no")
        screen.attach(extra)
        assert len(listed.paths) == 2
        listed.focus()
        listed.highlighted = 1
        await pilot.press("x")  # removed again
        assert listed.paths == [attachment.resolve()]
        assert "not this one" not in "\n".join(rendered_lines(listed))
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, ComposeScreen), timeout=30, what="the send")
        (entry,) = Outbox.open_default().entries()
        assert entry.state is OutboxState.SENT, entry
        assert entry.id in _notifications(app) and "alice@example.test: accepted (250" in _notifications(app)
    _, raw, _ = _arrived(testbed, USER, "with a file")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"] == "Grüße with a file"
    assert message["From"] == "Alice Example <alice@example.test>"
    assert message["To"] == "alice@example.test"
    assert message.get_body(("plain",)).get_content().replace("\r\n", "\n") == "Hi me,\nsee attached.\n"
    (part,) = list(message.iter_attachments())
    assert part.get_filename() == "report ü.bin"
    assert part.get_content() == payload
    assert not list(DraftStore.open_default().root.glob("*.json"))  # sent: no draft left behind


async def test_reply_from_the_reader_threads_and_marks_answered(clean_testbed, hermetic: Path) -> None:
    testbed = clean_testbed
    testbed.deliver_files(USER, [_mail("project plan", "<plan-2@example.test>",
                                       references="<plan-0@example.test> <plan-1@example.test>")])
    app = _app(testbed, hermetic)
    async with app.run_test(size=SIZE) as pilot:
        pane, widget = await _index(pilot, app)
        uid = widget.current().uid
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MessageScreen), what="the reader")
        reader = app.screen
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ComposeScreen), what="the reply")
        screen = app.screen
        assert screen.query_one("#compose-to").value == "Bob Builder <bob@example.test>"
        assert screen.query_one("#compose-cc").value == ""  # reply, not reply-all
        assert screen.query_one("#compose-subject").value == "Re: project plan"
        text = screen.query_one("#compose-body").text
        assert "wrote:" in text and "> The body of project plan." in text
        await pilot.press(*"Agreed.")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is reader, timeout=30, what="back in the reader")
        await wait_for(pilot, lambda: reader.summary.answered, timeout=10, what="the \\Answered flag")
    _, raw, _ = _arrived(testbed, "bob", "Re: project plan")
    reply = email.message_from_bytes(raw, policy=email.policy.default)
    assert reply["In-Reply-To"] == "<plan-2@example.test>"
    assert reply["References"].split() == ["<plan-0@example.test>", "<plan-1@example.test>", "<plan-2@example.test>"]
    assert reply["Subject"] == "Re: project plan"
    assert reply.get_body(("plain",)).get_content().rstrip().endswith("Agreed.")
    with _client(testbed) as client:
        client.select_folder("INBOX", readonly=True)
        assert b"\\Answered" in client.get_flags([uid])[uid]


async def test_forward_as_an_attachment_from_the_index(clean_testbed, hermetic: Path) -> None:
    testbed = clean_testbed
    testbed.deliver_files(USER, [_mail("the contract", "<contract@example.test>", received=True)])
    with _client(testbed) as client:
        client.select_folder("INBOX", readonly=True)
        (uid,) = client.search("ALL")
        original = client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"]
    app = _app(testbed, hermetic, ui='[ui]\nforward = "attachment"\n')
    async with app.run_test(size=SIZE) as pilot:
        await _index(pilot, app)
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, ForwardChooser), what="the forward chooser")
        assert app.screen.default is ForwardMode.ATTACHMENT
        assert app.screen.focused.id == "forward-attachment"  # the config's default
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ComposeScreen), what="the forward")
        screen = app.screen
        assert screen.draft.forward_raw == original
        assert screen.query_one("#compose-subject").value == "Fwd: the contract"
        await type_into(pilot, "#compose-to", "bob@example.test", paste=True)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, ComposeScreen), timeout=30, what="the send")
    _, raw, _ = _arrived(testbed, "bob", "Fwd: the contract")
    carried = _rfc822_part(raw)
    assert carried == original
    assert carried.count(b"Received: ") == original.count(b"Received: ") >= 2
    outer_head = raw.split(b"\r\n\r\n", 1)[0]
    assert b"relay2.example.net" not in outer_head  # the original's route is inside, not on top


async def test_leaving_with_unsaved_changes_asks_first(clean_testbed, hermetic: Path) -> None:
    testbed = clean_testbed
    testbed.deliver_files(USER, [_mail("one", "<one@example.test>")])
    app = _app(testbed, hermetic)
    async with app.run_test(size=SIZE) as pilot:
        pane, widget = await _index(pilot, app)
        await _compose(pilot, app)
        await pilot.press("escape")  # nothing typed: leaves at once
        await wait_for(pilot, lambda: not isinstance(app.screen, ComposeScreen), what="leaving")
        assert widget.has_focus or app.screen.query_one(MessageList)
        screen = await _compose(pilot, app)
        await type_into(pilot, "#compose-subject", "quite half written")  # a typed q is a letter
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, LeaveDialog), what="the question")
        await pilot.press("enter")  # the focused answer is "Stay"
        await wait_for(pilot, lambda: app.screen is screen, what="staying")
        assert screen.query_one("#compose-subject").value == "quite half written"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, LeaveDialog), what="the question again")
        await pilot.click("#leave-discard")
        await wait_for(pilot, lambda: not isinstance(app.screen, (ComposeScreen, LeaveDialog)), what="discarded")
        await pilot.pause(0.2)
        assert DraftStore.open_default().list() == ([], [])
        # the main screen's own r and f still work where the index has no focus
        main = app.screen
        refreshed: list[bool] = []
        main.action_refresh = lambda: refreshed.append(True)
        main.query_one(FolderList).focus()
        await pilot.press("r")
        assert refreshed == [True]
        app.screen.query_one("#accounts").focus()
        await pilot.press("f")
        assert app.screen.query_one(FolderList).has_focus


async def test_draft_is_autosaved_offered_again_and_saved_to_imap_drafts(clean_testbed, hermetic: Path) -> None:
    testbed = clean_testbed
    testbed.deliver_files(USER, [_mail("one", "<one@example.test>")])
    app = _app(testbed, hermetic)
    async with app.run_test(size=SIZE) as pilot:
        await _index(pilot, app)
        screen = await _compose(pilot, app)
        await _fill(pilot, screen, "bob@example.test, Carol <carol@example.test>", "kept for later",
                    "Not finished yet.\n")
        drafts_dir = Path(os.environ["XDG_DATA_HOME"]) / "tuimail" / "drafts"
        await wait_for(pilot, lambda: list(drafts_dir.glob("*.json")), timeout=10, what="the autosave")
        (saved,) = drafts_dir.glob("*.json")
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600 and stat.S_IMODE(drafts_dir.stat().st_mode) == 0o700
        # the IMAP Drafts folder, with \Draft
        await pilot.press("ctrl+b")
        await wait_for(pilot, lambda: screen.status.level in ("ok", "error") and "Drafts" in screen.status.message,
                       timeout=20, what="saving to Drafts")
        assert screen.status.level == "ok", screen.status.message
        with _client(testbed) as client:
            client.select_folder("Drafts", readonly=True)
            (uid,) = client.search(["SUBJECT", "kept for later"])
            assert b"\\Draft" in client.get_flags([uid])[uid]
        await pilot.press("ctrl+b")  # again: the earlier copy is replaced, not duplicated
        await wait_for(pilot, lambda: screen.imap_copy is not None and screen.imap_copy.uid != uid
                       and not screen._busy, timeout=20, what="saving to Drafts again")
        with _client(testbed) as client:
            client.select_folder("Drafts", readonly=True)
            assert len(client.search(["SUBJECT", "kept for later"])) == 1
        await type_into(pilot, "#compose-subject", "kept for later, really", paste=True)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, LeaveDialog), what="the question")
        await pilot.click("#leave-keep")
        await wait_for(pilot, lambda: not isinstance(app.screen, (ComposeScreen, LeaveDialog)), what="leaving")
        app.screen.query_one(MessageList).focus()
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, DraftChooser), what="the draft offered")
        assert "kept for later, really" in "\n".join(rendered_lines(app.screen.query_one("#drafts-list")))
        await pilot.press("enter")  # the newest draft is highlighted
        await wait_for(pilot, lambda: isinstance(app.screen, ComposeScreen), what="the draft resumed")
        resumed = app.screen
        assert resumed.query_one("#compose-subject").value == "kept for later, really"
        assert resumed.query_one("#compose-to").value == "bob@example.test, Carol <carol@example.test>"
        assert resumed.query_one("#compose-body").text == "Not finished yet.\n"
        assert resumed.draft_id == saved.stem
        assert resumed.imap_copy is not None and resumed.imap_copy.folder == "Drafts"  # remembered
        # sent at last: neither the local draft nor the copy in Drafts stays behind
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, ComposeScreen), timeout=30, what="the send")
    _arrived(testbed, "bob", "kept for later, really")
    assert not list(drafts_dir.glob("*.json"))
    deadline = time.monotonic() + 10
    while True:
        with _client(testbed) as client:
            client.select_folder("Drafts", readonly=True)
            if not client.search("ALL"):
                break
        assert time.monotonic() < deadline, "the Drafts copy of the sent message is still there"
        time.sleep(0.2)


async def test_a_send_nobody_answers_stays_in_the_outbox(clean_testbed, hermetic: Path) -> None:
    testbed = clean_testbed
    testbed.deliver_files(USER, [_mail("one", "<one@example.test>")])
    (closed,) = free_ports(1, [testbed.host])  # nothing listens there
    app = _app(testbed, hermetic, smtp={"port": closed, "security": "starttls"}, timeout=5)
    async with app.run_test(size=SIZE) as pilot:
        await _index(pilot, app)
        screen = await _compose(pilot, app)
        await _fill(pilot, screen, "bob@example.test", "into the void", "Nobody is listening.\n")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, SendReport), timeout=30, what="the failure report")
        (entry,) = Outbox.open_default().entries()
        assert entry.state is OutboxState.FAILED and entry.recipients == ["bob@example.test"]
        report = " ".join(app.screen.lines)
        assert f"safe in the outbox as {entry.id}" in report
        assert f"tuimail outbox retry {entry.id}" in report and "connection refused" in report
        assert "safe in the outbox" in "".join(rendered_lines(app.screen.query_one("#report-lines")))
        assert "not sent" in screen.status.message.lower() and entry.id in screen.status.message
        await pilot.click("#report-close")
        await wait_for(pilot, lambda: not isinstance(app.screen, (ComposeScreen, SendReport)), what="closing")
    assert Outbox.open_default().raw(entry.id).count(b"Nobody is listening.") == 1


async def test_reply_all_from_a_pop3_index(clean_testbed, hermetic: Path) -> None:
    testbed = clean_testbed
    testbed.deliver_files("bob", [_mail("pop question", "<popq@example.test>", sender="Alice <alice@example.test>")
                                  .replace(b"To: Alice <alice@example.test>", b"To: bob@example.test")])
    hermetic.parent.mkdir(parents=True, exist_ok=True)
    hermetic.write_text(testbed.config_toml("bob", protocol="pop3"))
    app = TuimailApp(hermetic, load_config(hermetic))
    async with app.run_test(size=SIZE) as pilot:
        await pop3_pane_ready(pilot, app)
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, ComposeScreen), what="the reply")
        screen = app.screen
        assert screen.query_one("#compose-to").value == "Alice <alice@example.test>"
        assert screen.query_one("#compose-cc").value == "Carol <carol@example.test>"  # bob himself left out
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, ComposeScreen), timeout=30, what="the send")
    _, raw, _ = _arrived(testbed, USER, "Re: pop question")
    reply = email.message_from_bytes(raw, policy=email.policy.default)
    assert reply["In-Reply-To"] == "<popq@example.test>" and reply["From"] == "bob@example.test"
    assert reply["Cc"] == "Carol <carol@example.test>"


# Without servers ------------------------------------------------------------------------

def test_drafts_round_trip_atomically_and_privately(tmp_path: Path) -> None:
    store = DraftStore(tmp_path / "drafts")
    draft = Draft(account="a", from_addr="a@x.test", to=["b@x.test"], subject="é", body="line\n",
                  attachments=[tmp_path / "f.bin"], in_reply_to="<m@x>", references=["<r@x>", "<m@x>"],
                  forward_raw=b"Received: x\r\n\r\n\x00\xff")
    assert draft_from_json(draft_to_json(draft)) == draft
    saved = store.save("abc123", draft, ImapCopy("a", "Drafts", 7))
    assert store.load("abc123") == saved and saved.title == "é" and saved.imap_copy.uid == 7
    assert [p.name for p in store.root.iterdir()] == ["abc123.json"]  # no temp file left
    (store.root / "0bad.json").write_text("{not json")
    found, problems = store.list()
    assert [s.id for s in found] == ["abc123"] and len(problems) == 1 and "damaged" in problems[0]
    with pytest.raises(Exception, match="not a draft id"):
        store.path("../etc")
    store.delete("abc123")
    assert store.list()[0] == []


def test_the_editor_round_trip_uses_a_private_file(tmp_path: Path) -> None:
    seen = tmp_path / "seen"
    script = tmp_path / "ed.py"
    script.write_text("import os, stat, sys\n"
                      f"open({str(seen)!r}, 'w').write(oct(stat.S_IMODE(os.stat(sys.argv[1]).st_mode)))\n"
                      "text = open(sys.argv[1]).read()\n"
                      "open(sys.argv[1], 'w').write(text.upper())\n")
    assert edit_text("hello\n", [sys.executable, str(script)]) == "HELLO\n"
    assert seen.read_text() == "0o600"
    with pytest.raises(Exception, match="status 3"):
        edit_text("x", [sys.executable, "-c", "raise SystemExit(3)"])


def test_address_completion_keeps_what_was_typed() -> None:
    suggester = AddressSuggester()
    suggester.load([("Robert Roe", "bob@example.test"), ("", "alice@example.test"), ("O'Hara, Q", "q@x.test")])
    assert suggester.complete("bo") == "bob@example.test"
    assert suggester.complete("rob") == "Robert Roe <bob@example.test>"
    assert suggester.complete("carol@x.test, Al") == "carol@x.test, alice@example.test"
    assert suggester.complete("o'h") is None  # a name that needs quoting is not offered half-typed
    assert suggester.complete("") is None and suggester.complete("zz") is None
